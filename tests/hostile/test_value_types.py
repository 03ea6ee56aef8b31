"""Values of an unexpected type, and what each target makes of them.

Decided as the targets themselves and the SQLite reference read them: a value is compared as the text it
is. `EventID` written `1.0` or `" 1 "` is another value than 1 (an Elasticsearch keyword, a Splunk field
and the reference's TEXT column all differ from "1"), so it does not match; an EVTX `{"#text": 1}` element
is its text. A list is a multi-valued field: Elasticsearch (EQL, Lucene) matches it when any value matches;
ES|QL makes a comparison on a multi-valued field null, so it does not; Splunk names a JSON list `Image{}`,
which a rule on `Image` does not read (and an XML Windows event cannot hold one).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from ghosthire.hunt import build_plan
from ghosthire.hunt.engine import HuntEngine
from ghosthire.hunt.readers import ReadReport, batches_from_events
from ghosthire.rules import load_pack
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
CMD = "C:\\Windows\\System32\\cmd.exe"


def _event(event_id: Any = 1, image: Any = CMD) -> dict[str, Any]:
    event = copy.deepcopy(SYSMON_PROCESS)
    event["Event"]["System"]["EventID"] = event_id
    event["Event"]["EventData"]["Image"] = image
    return event


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Any:
    directory: Path = tmp_path_factory.mktemp("types")
    (directory / "cmd_started.yml").write_text(RULE, encoding="utf-8")
    return load_pack(directory, require_metadata=False)


def _local(pack: Any, events: list[dict[str, Any]]) -> list[bool]:
    engine = HuntEngine(build_plan(pack))
    try:
        result = engine.run(batches_from_events([json.dumps(event) for event in events]), ReadReport())
    finally:
        engine.close()
    lines = {hit.line for hit in result.hits}
    return [number in lines for number in range(1, len(events) + 1)]


def test_event_id_is_compared_as_the_text_it_is(pack: Any) -> None:
    events = [_event(1), _event("1"), _event({"#text": 1}), _event(1.0), _event(" 1 "), _event("01")]
    assert _local(pack, events) == [True, True, True, False, False, False]


@pytest.mark.parametrize(("target", "fires"), [("eql", True), ("lucene", True), ("esql", False)])
def test_a_list_matches_when_any_value_does_where_the_target_says_so(
    pack: Any, target: str, fires: bool
) -> None:
    compiled = next(compile_target(pack, t) for t in load_targets() if t.id == target).compiled[0]
    events = [_event(image=["C:\\Tools\\x.exe", CMD]), _event(image=["C:\\Tools\\x.exe"])]
    assert EVALUATORS[target](pack, str(compiled.queries[0]), events) == [fires, False]


@pytest.mark.xfail(
    strict=True,
    reason="the local engine compares a list as its JSON text, so it matches none of its values (issue #15)",
)
def test_local_engine_matches_a_list_when_any_value_does(pack: Any) -> None:
    assert _local(pack, [_event(image=["C:\\Tools\\x.exe", CMD])]) == [True]
