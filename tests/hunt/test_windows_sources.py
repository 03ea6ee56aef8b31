"""Windows log sources on the local engine: which events a category or service means (pySigma's Sysmon
and Windows pipelines), and where Windows exports keep a field.

Field conditions also run through SigmaHQ's SQLite backend on the engine's rows (tests/hunt/reference.py);
keyword searches have no counterpart there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ghosthire.hunt import build_plan
from ghosthire.rules import load_pack
from tests.hunt.reference import engine_outcome, sqlite_outcome

RULE = """\
title: {name}
id: 9a1d2c3e-0000-4000-8000-{number:012d}
name: {name}
status: test
description: windows source test
logsource:
{logsource}
detection:
{detection}
level: low
"""
SYSMON = "Microsoft-Windows-Sysmon/Operational"


def _event(event_id: int, channel: str, data: dict[str, Any], *, user_data: bool = False) -> dict[str, Any]:
    system = {
        "EventID": event_id,
        "Channel": channel,
        "TimeCreated": {"#attributes": {"SystemTime": "2025-06-01T10:00:00Z"}},
    }
    body = {"UserData": data} if user_data else {"EventData": data}
    return {"Event": {"System": system, **body}}


def _rule(tmp_path: Path, logsource: str, detection: str) -> None:
    text = RULE.format(name="rule", number=1, logsource=logsource, detection=detection)
    (tmp_path / "rule.yml").write_text(text, encoding="utf-8")


def fired(tmp_path: Path, events: list[dict[str, Any]], *, reference: bool = True) -> list[int]:
    pack = load_pack(tmp_path, require_metadata=False)
    plan = build_plan(pack)
    assert not plan.skipped, plan.skipped
    engine, rows = engine_outcome(plan, [json.dumps(event) for event in events], "windows")
    if reference:
        expected = sqlite_outcome(pack.rules, rows)
        assert engine.singles == expected.singles, "engine and SQLite backend disagree"
    return sorted(line for _, line in engine.singles)


IMAGE_LOAD = "    product: windows\n    category: image_load"
SELECTION = "  sel:\n    Image|endswith: '\\\\evil.exe'\n  condition: sel"


def test_a_category_reads_only_its_sysmon_events(tmp_path: Path) -> None:
    """image_load is Sysmon event 7: the same Image on a process creation, a file event or event 7 of
    another channel is not an image load."""
    _rule(tmp_path, IMAGE_LOAD, SELECTION)
    data = {"Image": "C:\\Temp\\evil.exe", "ImageLoaded": "C:\\Temp\\x.dll"}
    events = [
        _event(7, SYSMON, data),
        _event(1, SYSMON, data),
        _event(11, SYSMON, data),
        _event(7, "Security", data),
    ]
    assert fired(tmp_path, events) == [1]


def test_process_creation_reads_sysmon_1_and_security_4688(tmp_path: Path) -> None:
    _rule(tmp_path, "    product: windows\n    category: process_creation", SELECTION)
    events = [
        _event(1, SYSMON, {"Image": "C:\\Temp\\evil.exe"}),
        _event(4688, "Security", {"NewProcessName": "C:\\Temp\\evil.exe"}),
        _event(7, SYSMON, {"Image": "C:\\Temp\\evil.exe"}),
    ]
    assert fired(tmp_path, events) == [1, 2]


def test_a_service_reads_only_its_channel(tmp_path: Path) -> None:
    """windefend is Defender's operational channel (pySigma's windows-logsources mapping)."""
    _rule(
        tmp_path,
        "    product: windows\n    service: windefend",
        "  sel:\n    EventID: 1116\n  condition: sel",
    )
    events = [
        _event(1116, "Microsoft-Windows-Windows Defender/Operational", {}),
        _event(1116, "Application", {}),
    ]
    assert fired(tmp_path, events) == [1]


def test_a_category_no_pipeline_maps_is_not_run_with_the_reason(tmp_path: Path) -> None:
    _rule(tmp_path, "    product: windows\n    category: file_access", SELECTION)
    plan = build_plan(load_pack(tmp_path, require_metadata=False))
    assert plan.detections == ()
    assert "no event condition for logsource product=windows, category=file_access" in plan.skipped["rule"]


def test_eventdata_names_with_spaces(tmp_path: Path) -> None:
    """Defender writes `Source Name` and `Threat Name`; Sigma rules say SourceName and ThreatName."""
    _rule(
        tmp_path,
        "    product: windows\n    service: windefend",
        "  sel:\n    SourceName: Real-Time Protection\n    ThreatName|endswith: EICAR_Test_File\n  condition: sel",
    )
    channel = "Microsoft-Windows-Windows Defender/Operational"
    events = [
        _event(
            1116, channel, {"Source Name": "Real-Time Protection", "Threat Name": "Virus:DOS/EICAR_Test_File"}
        ),
        _event(1116, channel, {"Source Name": "Scheduled scan", "Threat Name": "Virus:DOS/EICAR_Test_File"}),
    ]
    assert fired(tmp_path, events) == [1]


def test_userdata_fields_under_any_element(tmp_path: Path) -> None:
    """WMI-Activity keeps its fields in UserData under `Operation_ClientFailure`, not `EventXML`."""
    _rule(
        tmp_path,
        "    product: windows\n    service: wmi",
        "  sel:\n    Operation|contains: ClearEventLog\n  condition: sel",
    )
    channel = "Microsoft-Windows-WMI-Activity/Operational"
    events = [
        _event(
            5858,
            channel,
            {"Operation_ClientFailure": {"Operation": "ExecMethod : ClearEventLog"}},
            user_data=True,
        ),
        _event(5858, channel, {"EventXML": {"Operation": "ExecMethod : ClearEventLog"}}, user_data=True),
        _event(5858, channel, {"Operation_ClientFailure": {"Operation": "ExecQuery"}}, user_data=True),
    ]
    assert fired(tmp_path, events) == [1, 2]


def test_keyword_with_a_backslash(tmp_path: Path) -> None:
    """A keyword is searched in the record's JSON text, where a backslash is written twice."""
    _rule(tmp_path, IMAGE_LOAD, "  keywords:\n    - '\\Temp\\evil.exe'\n  condition: keywords")
    events = [
        _event(7, SYSMON, {"ImageLoaded": "C:\\Temp\\evil.exe"}),
        _event(7, SYSMON, {"ImageLoaded": "C:\\Temp\\good.exe"}),
    ]
    assert fired(tmp_path, events, reference=False) == [1]


def test_keyword_with_non_ascii_characters(tmp_path: Path) -> None:
    """A writer puts a non-ASCII character in the JSON text as it is or as a `\\uXXXX` escape (Python's
    json does, as do the readers of JSON documents, CSV and Zeek): a keyword finds both, in any case."""
    _rule(tmp_path, IMAGE_LOAD, "  keywords:\n    - 'Café'\n  condition: keywords")
    events = [_event(7, SYSMON, {"CommandLine": text}) for text in ("café au lait", "CAFÉ", "cafe")]
    texts = [json.dumps(event, ensure_ascii=False) for event in events] + [
        json.dumps(event) for event in events
    ]
    assert "\\u00c9" in texts[4], "the second three are escaped"
    engine, _ = engine_outcome(build_plan(load_pack(tmp_path, require_metadata=False)), texts, "windows")
    assert sorted(line for _, line in engine.singles) == [1, 2, 4, 5]
