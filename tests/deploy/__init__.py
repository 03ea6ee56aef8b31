"""Tests of the Splunk and Kibana installers against loopback fakes (and, marked live, real servers)."""
