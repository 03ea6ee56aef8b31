"""Machine-readable hunt output: ATT&CK fields in JSON lines and CSV, and Timesketch's JSONL import format."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from ghosthire.hunt import HuntPlan, alert_rows, hunt_events
from ghosthire.hunt.alerts import MatchedTexts
from ghosthire.hunt.output import WRITERS
from ghosthire.hunt.persons import Findings, assess
from ghosthire.hunt.wording import summary_of
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


def test_timesketch_written_by_duckdb_says_what_each_alert_says(findings: Findings) -> None:
    """Each line: the alert's record without its events, its time as `datetime`, and what Timesketch
    requires and shows (message, timestamp_desc, tag, data_type)."""
    lines = [json.loads(line) for line in _written(findings, "timesketch").splitlines()]
    persons = findings.person_of_alert()
    expected = []
    for alert in findings.alerts:
        record = {**alert.to_json(), "person": persons.get(id(alert))}
        for events in ("event", "events"):
            record.pop(events, None)
        moment = record.pop("time")
        expected.append(
            {
                **record,
                "datetime": moment,
                "message": f"[{alert.level}] {alert.rule.title}: {summary_of(alert)}",
                "timestamp_desc": "Event time" if alert.group is None else "Correlation condition met",
                "tag": ["ghosthire", *record["guidance"], *record["attack_techniques"]],
                "data_type": "ghosthire:alert",
            }
        )
    assert lines == expected


@pytest.mark.parametrize("name", ["jsonl", "timesketch", "csv"])
def test_rows_are_the_same_in_chunks_and_to_a_file(
    findings: Findings, name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Alerts turned into rows a few at a time, and written as bytes to a UTF-8 file, read the same."""
    whole = _written(findings, name)
    monkeypatch.setattr(alert_rows, "CHUNK_ROWS", 1)
    assert _written(findings, name) == whole
    with (tmp_path / "out").open("w", encoding="utf-8", newline="") as stream:
        WRITERS[name](findings, stream)
    assert (tmp_path / "out").read_bytes().decode("utf-8") == whole


def test_matched_texts_are_taken_across_chunks() -> None:
    """Texts asked for by row, from a column of several chunks, come back in the order asked."""
    chunks = [pa.array(["a", "b"]), pa.array(["c"]), pa.array(["d", "e", "f"])]
    table = pa.table(
        {
            "file": pa.chunked_array([pa.array([0, 0]), pa.array([1]), pa.array([1, 1, 2])]),
            "number": pa.chunked_array([pa.array([1, 2]), pa.array([1]), pa.array([2, 3, 1])]),
            "text": pa.chunked_array(chunks),
        }
    )
    texts = MatchedTexts(table)
    assert texts.texts_at(np.array([5, 0, 3, 2, 1, 3])).to_pylist() == ["f", "a", "d", "c", "b", "d"]
    assert texts.texts_at(np.array([4, 3])).to_pylist() == ["e", "d"]  # from one chunk
    rows = texts.rows_of(np.array([1, 2, 0, 3]), np.array([3, 1, 2, 1]))
    assert rows == [4, 5, 1, -1]
