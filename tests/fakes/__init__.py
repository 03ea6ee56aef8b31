"""Loopback fakes of the servers the installers talk to (splunkd, Kibana), with fault injection."""
