"""Machine-readable hunt output: ATT&CK fields in JSON lines and CSV, and Timesketch's JSONL import format."""

from __future__ import annotations

import csv
import io
import json

import pytest

from ghosthire.hunt import HuntPlan, hunt_events
from ghosthire.hunt.output import WRITERS
from ghosthire.hunt.persons import Findings, assess
from ghosthire.rules.cases import RuleCases

# A single-event rule tagged with two techniques across three tactics, and a correlation.
SINGLE = "win_chrome_remote_desktop_headless_enrolment_without_pin"
CORRELATION = "okta_authenticator_device_shared_by_users"


@pytest.fixture(scope="module")
def findings(hunt_plan: HuntPlan, rule_cases: dict[str, RuleCases]) -> Findings:
    events = [event for name in (SINGLE, CORRELATION) for event in rule_cases[name].must_fire[0].events]
    return assess(hunt_events(hunt_plan, events))


def _written(findings: Findings, name: str) -> str:
    stream = io.StringIO()
    WRITERS[name](findings, stream)
    return stream.getvalue()


def test_jsonl_and_csv_carry_attack_techniques_and_tactics(findings: Findings) -> None:
    by_rule = {
        record["rule_name"]: record for record in map(json.loads, _written(findings, "jsonl").splitlines())
    }
    assert by_rule[SINGLE]["attack_techniques"] == ["T1219.002", "T1543.003"]
    assert by_rule[SINGLE]["attack_tactics"] == ["persistence", "privilege-escalation", "command-and-control"]
    rows = {row["rule_name"]: row for row in csv.DictReader(io.StringIO(_written(findings, "csv")))}
    assert rows[SINGLE]["attack_techniques"] == "T1219.002 T1543.003"
    assert rows[SINGLE]["attack_tactics"] == "persistence privilege-escalation command-and-control"


def test_timesketch_lines_have_the_three_required_fields(findings: Findings) -> None:
    lines = [json.loads(line) for line in _written(findings, "timesketch").splitlines()]
    assert {line["rule_name"] for line in lines} >= {SINGLE, CORRELATION}
    for line in lines:
        assert line["message"] and line["timestamp_desc"]
        assert line["datetime"].endswith("Z") and "T" in line["datetime"]
        assert "ghosthire" in line["tag"] and "event" not in line
    described = {line["rule_name"]: line["timestamp_desc"] for line in lines}
    assert described[SINGLE] == "Event time"
    assert described[CORRELATION] == "Correlation condition met"


def test_jsonl_written_by_duckdb_says_what_each_alert_says(findings: Findings) -> None:
    """The lines DuckDB writes (events copied as their text) hold each alert's record, key for key."""
    lines = [json.loads(line) for line in _written(findings, "jsonl").splitlines()]
    persons = findings.person_of_alert()
    expected = [{**alert.to_json(), "person": persons.get(id(alert))} for alert in findings.alerts]
    assert lines == expected
    assert [list(line) for line in lines] == [sorted(record) for record in expected]
    assert {line["rule_name"] for line in lines if "events" in line} == {CORRELATION}
