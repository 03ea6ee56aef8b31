"""The hunt reads every accepted input layout and reports alerts in the documented shape."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ghosthire.cli import _register, cli
from ghosthire.hunt import hunt
from ghosthire.rules import load_pack

PUBLIC_SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "public-samples"

ADMIN_GROUP_RULE = """\
title: Member added to local Administrators
id: 9a1d2c3e-0000-4000-8000-0000000000a1
name: admin_group_add
status: experimental
description: test
logsource: {product: windows, service: security}
detection:
  selection:
    EventID: 4732
    TargetSid: S-1-5-32-544
  condition: selection
level: high
"""
OKTA_RULE = """\
title: Okta proxy session
id: 9a1d2c3e-0000-4000-8000-0000000000a2
name: okta_proxy
status: experimental
description: test
logsource: {product: okta, service: okta}
detection:
  selection:
    eventType: user.session.start
    securityContext.isProxy: 'true'
  condition: selection
level: medium
"""

EVTX_LAYOUT = {
    "Event": {
        "System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing"}},
            "EventID": 4732,
            "Channel": "Security",
            "Computer": "laptop-17.corp.example",
            "TimeCreated": {"#attributes": {"SystemTime": "2025-06-01T10:00:00.000Z"}},
        },
        "EventData": {"TargetSid": "S-1-5-32-544", "MemberName": "-", "TargetUserName": "Administrators"},
    }
}
FLAT_LAYOUT = {
    "EventCode": "4732",
    "LogName": "Security",
    "TargetSid": "s-1-5-32-544",
    "_time": "2025-06-01T11:00:00Z",
}
WINLOGBEAT_7 = {
    "@timestamp": "2025-06-01T12:00:00.000Z",
    "winlog": {
        "event_id": 4732,
        "channel": "Security",
        "computer_name": "laptop-18.corp.example",
        "event_data": {"TargetSid": "S-1-5-32-544", "MemberSid": "S-1-5-21-1-2-3-1104"},
    },
}
WINLOGBEAT_6 = {
    "@timestamp": "2025-06-01T13:00:00.000Z",
    "event_id": 4732,
    "log_name": "Security",
    "computer_name": "laptop-19.corp.example",
    "event_data": {"TargetSid": "S-1-5-32-544"},
}
OKTA_NESTED = {
    "eventType": "user.session.start",
    "actor": {"alternateId": "a@example.com"},
    "securityContext": {"isProxy": True},
    "published": "2025-06-01T12:00:00.000Z",
}
OKTA_DOTTED = {
    "eventType": "user.session.start",
    "actor.alternateId": "b@example.com",
    "securityContext.isProxy": "TRUE",
    "published": "2025-06-01T13:00:00Z",
}


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    directory = tmp_path / "rules"
    directory.mkdir()
    (directory / "admin_group_add.yml").write_text(ADMIN_GROUP_RULE)
    (directory / "okta_proxy.yml").write_text(OKTA_RULE)
    return directory


def _alert_lines(rules: Path, *paths: Path, **options: object) -> list[tuple[str, str, int]]:
    outcome = hunt(load_pack(rules, require_metadata=False), list(paths), **options)
    assert outcome.result.report.problems == []
    return sorted(
        (alert.rule.name, Path(location.file).name, location.line)
        for alert in outcome.alerts
        for location in alert.locations
    )


def test_ndjson_gzip_json_array_graph_document_and_csv(rules: Path, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "windows.ndjson").write_text(json.dumps(EVTX_LAYOUT) + "\n\n" + json.dumps(FLAT_LAYOUT) + "\n")
    (logs / "winlogbeat.ndjson").write_text(json.dumps(WINLOGBEAT_7) + "\n" + json.dumps(WINLOGBEAT_6) + "\n")
    with gzip.open(logs / "okta.jsonl.gz", "wt") as handle:
        handle.write(json.dumps(OKTA_NESTED) + "\n")
    (logs / "okta-array.json").write_text(json.dumps([OKTA_DOTTED], indent=2))
    (logs / "okta-graph.json").write_text(json.dumps({"value": [OKTA_NESTED]}, indent=2))
    with (logs / "windows.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(FLAT_LAYOUT))
        writer.writeheader()
        writer.writerow(FLAT_LAYOUT)
    assert _alert_lines(rules, logs) == [
        ("admin_group_add", "windows.csv", 2),
        ("admin_group_add", "windows.ndjson", 1),
        ("admin_group_add", "windows.ndjson", 3),
        ("admin_group_add", "winlogbeat.ndjson", 1),
        ("admin_group_add", "winlogbeat.ndjson", 2),
        ("okta_proxy", "okta-array.json", 1),
        ("okta_proxy", "okta-graph.json", 1),
        ("okta_proxy", "okta.jsonl.gz", 1),
    ]


def test_every_alert_carries_its_event_whatever_the_layout(rules: Path, tmp_path: Path) -> None:
    """NDJSON lines (plain or gzip) are read again where they start, records of documents and CSV are
    kept with their window: every alert, of every rule on a record, shows the record it is about."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "windows.ndjson").write_text(json.dumps(EVTX_LAYOUT) + "\n\n" + json.dumps(WINLOGBEAT_7) + "\n")
    with gzip.open(logs / "okta.jsonl.gz", "wt") as handle:
        handle.write(json.dumps(OKTA_DOTTED) + "\n" + json.dumps(OKTA_NESTED) + "\n")
    (logs / "okta-graph.json").write_text(json.dumps({"value": [OKTA_DOTTED, OKTA_NESTED]}, indent=2))
    with (logs / "windows.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(FLAT_LAYOUT))
        writer.writeheader()
        writer.writerow(FLAT_LAYOUT)
    # A second rule on the same events: every alert on one record carries it.
    twin = ADMIN_GROUP_RULE.replace("0000000000a1", "0000000000a3").replace("admin_group_add", "admin_twin")
    (rules / "admin_twin.yml").write_text(twin)
    outcome = hunt(load_pack(rules, require_metadata=False), [logs])
    assert sorted(alert.rule.name for alert in outcome.alerts).count("admin_twin") == 3
    events = {
        (alert.rule.name, Path(alert.locations[0].file).name, alert.locations[0].line): alert.event
        for alert in outcome.alerts
    }
    assert {(file, line): event for (_, file, line), event in events.items()} == {
        ("windows.ndjson", 1): EVTX_LAYOUT,
        ("windows.ndjson", 3): WINLOGBEAT_7,
        ("okta.jsonl.gz", 1): OKTA_DOTTED,
        ("okta.jsonl.gz", 2): OKTA_NESTED,
        ("okta-graph.json", 1): OKTA_DOTTED,
        ("okta-graph.json", 2): OKTA_NESTED,
        ("windows.csv", 2): FLAT_LAYOUT,
    }
    assert all(event is not None for event in events.values())


def test_source_option_forces_the_log_source(rules: Path, tmp_path: Path) -> None:
    unrecognisable = {
        "eventType": "user.session.start",
        "securityContext": {"isProxy": True},
        "published": "2025-06-01",
    }
    log = tmp_path / "export.ndjson"
    log.write_text(json.dumps(unrecognisable) + "\n")
    assert _alert_lines(rules, log) == []
    assert _alert_lines(rules, log, source="okta") == [("okta_proxy", "export.ndjson", 1)]


def test_since_and_until_bound_the_hunt(rules: Path, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    log = tmp_path / "okta.ndjson"
    log.write_text(json.dumps(OKTA_NESTED) + "\n" + json.dumps(OKTA_DOTTED) + "\n")
    since = datetime(2025, 6, 1, 12, 30, tzinfo=UTC)
    assert _alert_lines(rules, log, since=since) == [("okta_proxy", "okta.ndjson", 2)]
    assert _alert_lines(rules, log, until=since) == [("okta_proxy", "okta.ndjson", 1)]


@pytest.mark.skipif(not PUBLIC_SAMPLES.is_dir(), reason="shared public samples not present")
def test_evtx_file_directly(rules: Path) -> None:
    evtx = PUBLIC_SAMPLES / "evtx-attack-samples" / "Network_Service_Guest_added_to_admins_4732.evtx"
    lines = _alert_lines(rules, evtx)
    assert lines and all(name == "admin_group_add" for name, _, _ in lines)
    outcome = hunt(load_pack(rules, require_metadata=False), [evtx])
    assert all(alert.event and "Event" in alert.event for alert in outcome.alerts)


def test_cli_jsonl_has_the_documented_keys(rules: Path, tmp_path: Path) -> None:
    log = tmp_path / "windows.ndjson"
    log.write_text(json.dumps(EVTX_LAYOUT) + "\n")
    _register()
    result = CliRunner().invoke(cli, ["hunt", "--rules", str(rules), "--format", "jsonl", str(log)])
    assert result.exit_code == 0, result.output
    alerts = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert["rule_id"] == "9a1d2c3e-0000-4000-8000-0000000000a1"
    assert alert["title"] == "Member added to local Administrators"
    assert alert["level"] == "high"
    assert alert["time"] == "2025-06-01T10:00:00Z"
    assert alert["event"] == EVTX_LAYOUT
