"""Values of an unexpected type, and what each target makes of them.

Decided as the targets themselves read them: a scalar is compared as the text it is. `EventID` written
`1.0` or `" 1 "` is another value than 1 (an Elasticsearch keyword, a Splunk field and the SQLite
reference's TEXT column all differ from "1"), so it matches on no target; an EVTX `{"#text": 1}` element is
its text. A list is a multi-valued field: Elasticsearch (EQL, Lucene) and the local engine match it when
any value matches, at any depth (Elasticsearch flattens nested arrays; the engine reads 8 levels and
reports deeper ones), EventID included; ES|QL makes a comparison on a multi-valued field null, so it does
not; Splunk names a JSON list `Image{}`, which a rule on `Image` does not read (an XML Windows event cannot
hold one; a multi-valued field Splunk extracts, an mvfield, matches when any value does). A string that
spells a list is one value everywhere. An object is no value of a field: the engine reports it.
SigmaHQ's SQLite reference stores a list as one text column (Zircolite writes its Python text), which only
a `contains` reaches: a storage artefact, not a meaning, so the engine follows Elasticsearch.
"""

from __future__ import annotations

import copy
import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ghosthire.elastic.ecs import to_ecs
from ghosthire.hunt import build_plan
from ghosthire.hunt.engine import HuntEngine, Uncomparable
from ghosthire.hunt.extract import DEEP, LISTED_OBJECT, MAX_LIST_DEPTH
from ghosthire.hunt.output import WRITERS
from ghosthire.hunt.persons import assess
from ghosthire.hunt.readers import ReadReport, batches_from_events
from ghosthire.hunt.run import hunt
from ghosthire.hunt.summary import summarise
from ghosthire.identities import Directory
from ghosthire.rules import load_pack
from tests.elastic.engines import eql_matching
from tests.elastic.esql_eval import EsqlQuery
from tests.elastic.lucene_eval import matches, parse_lucene
from tests.hostile.properties import EVALUATORS, SYSMON_PROCESS, compile_target, load_targets

RULE = """\
title: cmd.exe started
id: 9a1d2c3e-0000-4000-8000-000000000123
name: cmd_started
status: experimental
description: A process creation whose image is cmd.exe.
logsource: {product: windows, category: process_creation}
detection:
  selection:
    Image|endswith: '\\cmd.exe'
  condition: selection
level: low
"""
FAILED_LOGON = """\
title: Failed logon of bob
id: 9a1d2c3e-0000-4000-8000-000000000124
name: bob_failed_logon
status: experimental
description: A failed logon of bob.
logsource: {product: windows, service: security}
detection:
  selection:
    EventID: 4625
    TargetUserName: bob
  condition: selection
level: low
"""
CMD_OUTSIDE_SYSTEM = """\
title: cmd.exe started outside System32
id: 9a1d2c3e-0000-4000-8000-000000000125
name: cmd_outside_system
status: experimental
description: A process creation whose image is a cmd.exe, none of them in System32.
logsource: {product: windows, category: process_creation}
detection:
  selection:
    Image|endswith: '\\cmd.exe'
  system:
    Image|startswith: 'C:\\Windows\\System32\\'
  condition: selection and not system
level: low
"""
WHOAMI_OUTSIDE_WINDOWS = """\
title: whoami run from outside Windows
id: 9a1d2c3e-0000-4000-8000-000000000126
name: whoami_outside_windows
status: experimental
description: A command line that runs whoami, not from the Windows folder.
logsource: {product: windows, category: process_creation}
detection:
  selection:
    CommandLine|contains: whoami
  windows:
    CommandLine|startswith: 'C:\\Windows\\'
  condition: selection and not windows
level: low
"""
CMD = "C:\\Windows\\System32\\cmd.exe"
TOOLS = "C:\\Tools\\x.exe"


SECURITY_LOGON: dict[str, Any] = {
    "Event": {
        "System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing"}},
            "EventID": 4625,
            "Channel": "Security",
            "Computer": "dc-01.corp.example",
            "TimeCreated": {"#attributes": {"SystemTime": "2025-06-01T10:00:00.000Z"}},
        },
        "EventData": {"TargetUserName": "bob"},
    }
}
# EventID 4625 as an export may write it, and the text an Elasticsearch keyword (event.code) keeps of it.
LOGON_IDS: list[tuple[Any, str]] = [
    (4625, "4625"),
    ("4625", "4625"),
    (4625.0, "4625.0"),
    (" 4625 ", " 4625 "),
    ("04625", "04625"),
]


def _event(event_id: Any = 1, image: Any = CMD, command_line: Any = "") -> dict[str, Any]:
    event = copy.deepcopy(SYSMON_PROCESS)
    event["Event"]["System"]["EventID"] = event_id
    event["Event"]["EventData"]["Image"] = image
    event["Event"]["EventData"]["CommandLine"] = command_line
    return event


def _logon(event_id: Any) -> dict[str, Any]:
    event = copy.deepcopy(SECURITY_LOGON)
    event["Event"]["System"]["EventID"] = event_id
    return event


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Any:
    directory: Path = tmp_path_factory.mktemp("types")
    for name, text in (
        ("cmd_started", RULE),
        ("bob_failed_logon", FAILED_LOGON),
        ("cmd_outside_system", CMD_OUTSIDE_SYSTEM),
        ("whoami_outside_windows", WHOAMI_OUTSIDE_WINDOWS),
    ):
        (directory / f"{name}.yml").write_text(text, encoding="utf-8")
    return load_pack(directory, require_metadata=False)


def _local(pack: Any, events: list[dict[str, Any]], rule: str = "cmd_started") -> list[bool]:
    engine = HuntEngine(build_plan(pack))
    try:
        result = engine.run(batches_from_events([json.dumps(event) for event in events]), ReadReport())
    finally:
        engine.close()
    lines = {hit.line for hit in result.hits if hit.detection.rule.name == rule}
    return [number in lines for number in range(1, len(events) + 1)]


def _rule(pack: Any, name: str) -> Any:
    return next(rule for rule in pack.rules if rule.rule.name == name)


@pytest.fixture(scope="module")
def queries(pack: Any) -> dict[str, dict[str, str]]:
    """Per target, the pack's query per rule, compiled once for the module."""
    return {
        target.id: {item.rule.name: str(item.queries[0]) for item in compile_target(pack, target).ok()}
        for target in load_targets()
    }


def _judged(
    pack: Any, queries: dict[str, dict[str, str]], target: str, rule: str, events: list[dict[str, Any]]
) -> list[bool]:
    """The target's evaluator on raw events (it reads them as the first rule's log source)."""
    return EVALUATORS[target](replace(pack, rules=[_rule(pack, rule)]), queries[target][rule], events)


def test_event_id_is_compared_as_the_text_it_is(pack: Any) -> None:
    events = [_event(1), _event("1"), _event({"#text": 1}), _event(1.0), _event(" 1 "), _event("01")]
    assert _local(pack, events) == [True, True, True, False, False, False]


def test_an_event_id_list_matches_when_any_value_does_and_an_object_is_reported(
    pack: Any, tmp_path: Path
) -> None:
    """The key that splits Windows' rules (EventID) holding a list: each value is read in its own record
    group, so a rule of any of them fires, once however many values match it (nested lists too); a string
    that spells a list is one value. An object is no value: reported with its position, the record kept."""
    events = [
        _logon([4624, 4625]),
        _logon([1, [4625]]),
        _logon([4625, "4625"]),
        _logon(["4624"]),
        _logon([]),
        _logon(json.dumps([4625])),
        _logon({"id": 4625}),
        _event(event_id=[4688, 1]),
    ]
    assert _local(pack, events, "bob_failed_logon") == [True, True, True, False, False, False, False, False]
    logs = tmp_path / "ids.json"
    logs.write_text("".join(json.dumps(event) + "\n" for event in events), encoding="utf-8")
    outcome = hunt(pack, [logs])
    fired = sorted((hit.detection.rule.name, hit.line) for hit in outcome.result.hits)
    assert fired == [
        ("bob_failed_logon", 1),
        ("bob_failed_logon", 2),
        ("bob_failed_logon", 3),
        ("cmd_started", 8),
    ]
    assert outcome.result.stats.records == len(events)
    assert outcome.result.stats.uncomparable == [Uncomparable("EventID", str(logs), 1, 7)]


def test_event_id_in_the_rule_is_compared_as_the_text_it_is_on_every_target(
    pack: Any, queries: dict[str, dict[str, str]]
) -> None:
    expected = [True, True, False, False, False]
    records = [_logon(event_id) for event_id, _ in LOGON_IDS]
    assert _local(pack, records, "bob_failed_logon") == expected
    assert _judged(pack, queries, "splunk", "bob_failed_logon", records) == expected
    logsource = _rule(pack, "bob_failed_logon").rule.logsource
    documents = [to_ecs(_logon(4625), logsource) for _ in LOGON_IDS]
    for document, (_, keyword) in zip(documents, LOGON_IDS, strict=True):
        document["event"]["code"] = keyword
    eql = set(eql_matching(queries["eql"]["bob_failed_logon"], documents))
    assert [index in eql for index in range(len(documents))] == expected
    esql = EsqlQuery.parse(queries["esql"]["bob_failed_logon"])
    assert [bool(esql.run([document])) for document in documents] == expected
    lucene = parse_lucene(queries["lucene"]["bob_failed_logon"])
    assert [matches(lucene, document) for document in documents] == expected


@pytest.mark.parametrize(("target", "fires"), [("eql", True), ("lucene", True), ("esql", False)])
def test_a_list_matches_when_any_value_does_where_the_target_says_so(
    pack: Any, queries: dict[str, dict[str, str]], target: str, fires: bool
) -> None:
    events = [_event(image=[TOOLS, CMD]), _event(image=[TOOLS])]
    assert _judged(pack, queries, target, "cmd_started", events) == [fires, False]


def test_local_engine_matches_a_list_when_any_value_does(pack: Any) -> None:
    events = [
        _event(image=[TOOLS, CMD]),
        _event(image=[TOOLS]),
        _event(image=[]),
        # Text that begins like a list is still text: compared whole, never an error.
        _event(image="[C:\\Tools\\cmd.exe"),
        _event(image='["C:\\Tools\\x.exe"'),
        # Lists inside a list are its values too, at any depth the engine reads; objects in it are not.
        _event(image=[[TOOLS, [CMD]]]),
        _event(image=[[TOOLS], {"path": CMD}]),
    ]
    assert _local(pack, events) == [True, False, False, True, False, True, False]


def test_a_string_that_spells_a_list_is_one_value(pack: Any) -> None:
    """Text is compared whole even when it is the JSON of a list, so an event can neither meet a selection
    nor escape a filter through values it only spells: `not CommandLine|startswith C:\\Windows\\` holds
    for the spelled list, whose text starts with `[`, so its alert stands; a real list with such a value
    is excluded. A real list in another field of the record does not change that."""
    whoami = "C:\\Windows\\System32\\whoami.exe /all"
    events = [
        _event(image=json.dumps([TOOLS, CMD])),
        _event(image=[TOOLS, CMD], command_line=json.dumps([whoami])),
    ]
    assert _local(pack, events) == [False, True]
    filtered = [
        _event(command_line=json.dumps([whoami])),
        _event(image=[TOOLS], command_line=json.dumps([whoami])),
        _event(command_line=[whoami]),
        _event(command_line=["D:\\whoami.exe", whoami]),
    ]
    assert _local(pack, filtered, "whoami_outside_windows") == [True, True, False, False]


def test_not_over_a_list_excludes_it_when_any_value_matches(
    pack: Any, queries: dict[str, dict[str, str]]
) -> None:
    """`not system` over a list: any value in System32 is a match of `system`, so the NOT excludes the
    event, as Elasticsearch reads it (a must_not over a multi-valued field); a list with no such value
    is not excluded. The EQL evaluator feeds a list one value at a time, which cannot judge a NOT."""
    other = "D:\\Portable\\cmd.exe"
    events = [_event(image=[other, CMD]), _event(image=[TOOLS, other])]
    assert _local(pack, events, "cmd_outside_system") == [False, True]
    assert _judged(pack, queries, "lucene", "cmd_outside_system", events) == [False, True]


def _nested(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = [value]
    return value


def test_objects_and_lists_too_deep_are_reported_and_the_records_kept(pack: Any, tmp_path: Path) -> None:
    """An object in a field no value can equal, and lists nested deeper than the engine reads: counted per
    field and file with the first position, in the hunt summary and the HTML report (escaped); the
    record is still read (and counted), the others match as ever."""
    logs = tmp_path / "<b>objects.json"
    events = [
        _event(image=CMD),
        _event(image={"path": CMD}),
        _logon("4625"),
        _event(image={"path": TOOLS}),
        _event(image=[CMD, {"path": CMD}]),
        _event(image=_nested(CMD, MAX_LIST_DEPTH)),
        _event(image=[TOOLS, _nested(CMD, MAX_LIST_DEPTH)]),
    ]
    logs.write_text("".join(json.dumps(event) + "\n" for event in events), encoding="utf-8")
    outcome = hunt(pack, [logs])
    stats = outcome.result.stats
    assert stats.records == len(events)
    assert stats.uncomparable == [
        Uncomparable("Image", str(logs), 1, 7, DEEP),
        Uncomparable("Image", str(logs), 1, 5, LISTED_OBJECT),
        Uncomparable("Image", str(logs), 2, 2),
    ]
    fired = {(hit.detection.rule.name, hit.line) for hit in outcome.result.hits}
    assert fired == {("cmd_started", 1), ("bob_failed_logon", 3), ("cmd_started", 5), ("cmd_started", 6)}
    lines = summarise(outcome).lines()
    assert any(
        "Image holds a JSON object" in line and f"{logs}:2" in line and " 2 records" in line for line in lines
    )
    assert any(
        f"Image holds lists nested more than {MAX_LIST_DEPTH} deep" in line and f"{logs}:7" in line
        for line in lines
    )
    assert any(
        "Image holds a list with a JSON object in it" in line and f"{logs}:5" in line for line in lines
    )
    report = io.StringIO()
    WRITERS["html"](assess(outcome, Directory.from_rows([], [])), report)
    page = report.getvalue()
    assert "<b>objects" not in page
    assert (
        f"Image holds a JSON object, which no rule value can equal (compared as its JSON text): 2 records, first at {tmp_path}/&lt;b&gt;objects.json:2"
        in page
    )
    assert "&lt;b&gt;objects.json:7" in page
