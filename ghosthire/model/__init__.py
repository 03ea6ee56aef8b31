"""The neutral layer: what every target (Splunk, Elastic, the local hunt) and the policy share, defined once.

`sources` (the log sources and how their raw records are read), `attack` (the MITRE ATT&CK technique and
tactic table), `levels` (Sigma levels and their order), `time` (reading a record's time). Nothing here
imports a target package.
"""
