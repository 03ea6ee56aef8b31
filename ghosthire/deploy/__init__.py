"""Putting the built pack into a running Splunk or Kibana over their APIs, and taking it out again.

`splunk` and `kibana` are the two installers; `report` and `retry` are what they share (step runner, diff
report, backoff); `splunk_package` reads a built app package (its confs through `ghosthire.splunk.conf`).
"""
