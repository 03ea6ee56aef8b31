"""The hostile-value property, shared by the suite's short run and the longer campaign in scripts/.

A rule compares `CommandLine` with a generated value (plain, contains, startswith, endswith). For every
target the query must parse in the target's own grammar (or be skipped for a reason the target really
has), an event holding the value literally must match, and a near variant (the value less its last
character, which can satisfy none of the four comparisons) must not. Each target is judged by the
evaluator the suite already trusts for it: the local engine itself, eql's PythonEngine, the ES|QL
evaluator on the real grammar, the Lucene evaluator on luqum, and the SPL interpreter. The local engine
is also judged on the two values as the second element of a JSON list (a multi-valued field matches when
any element does), which runs each value through the rules' element-wise comparisons, and on the text
of that list held as a string, which is one value (compared whole, as Python compares it).
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from ghosthire.compile import compile_target, load_targets
from ghosthire.compile.syntax import SYNTAX_CHECKS
from ghosthire.elastic.ecs import to_ecs
from ghosthire.hunt import build_plan
from ghosthire.hunt.engine import HuntEngine
from ghosthire.hunt.readers import ReadReport, batches_from_events
from ghosthire.rules import load_pack
from tests.elastic.engines import eql_matching
from tests.elastic.esql_eval import EsqlQuery
from tests.elastic.lucene_eval import matches, parse_lucene
from tests.splunk.spl_window import run as run_spl
from tests.splunk.splunk_events import splunk_events

MODIFIERS = ("", "|contains", "|startswith", "|endswith")
# Characters with a meaning in some target's syntax, whitespace and control characters, and text beyond
# ASCII (accented, Cyrillic, outside the BMP). Letters whose case mapping changes their length (ß, İ) are
# left out: targets fold case differently for them by design, which is not an escaping question.
ALPHABET = [*"aZ09 \t\n\r*?\\\"'`|()[]{}<>:;,=!&~^/%_$#@.-+", "é", "ж", "€", "😀"]
# "-" alone is Windows' "no value": Elastic's Windows integrations drop it at ingest (backends/elastic/windows.yml),
# so it is absent there by design, not by escaping.
VALUES = st.text(alphabet=st.sampled_from(ALPHABET), min_size=1, max_size=12).filter(
    lambda value: value != "-"
)
CASES = st.lists(st.tuples(VALUES, st.sampled_from(MODIFIERS)), min_size=1, max_size=6)

# What a target may say instead of a query: each names a real limit of the target, never an escaping bug.
ALLOWED_SKIPS = {
    "splunk": ("literal *", "control character", "backtick"),
    "eql": ("cannot mix wildcards with a literal",),
    "esql": (),
    "lucene": (),
    "local": (),
}

RULE = """\
title: Hostile value
id: 9a1d2c3e-0000-4000-8000-{number:012d}
name: hostile_value_{number}
status: experimental
description: A generated value compared with the command line.
logsource: {{product: windows, category: process_creation}}
detection:
  selection:
    CommandLine{modifier}: {value}
  condition: selection
level: low
"""
SYSMON_PROCESS: dict[str, Any] = {
    "Event": {
        "System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}},
            "EventID": 1,
            "Channel": "Microsoft-Windows-Sysmon/Operational",
            "Computer": "lt-0142.corp.example",
            "TimeCreated": {"#attributes": {"SystemTime": "2025-06-01T10:00:00.000Z"}},
        },
        "EventData": {"Image": "C:\\Windows\\System32\\cmd.exe", "CommandLine": ""},
    }
}


def sigma_literal(value: str) -> str:
    """A Sigma string meaning exactly `value`: `*` and `?` are wildcards, `\\` escapes them and itself."""
    return value.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")


def rule_text(number: int, value: str, modifier: str) -> str:
    quoted = yaml.safe_dump(sigma_literal(value), allow_unicode=True, default_style='"', width=1_000_000)
    return RULE.format(number=number, modifier=modifier, value=quoted.strip().removesuffix("..."))


def event_with(command_line: str | list[str]) -> dict[str, Any]:
    event = copy.deepcopy(SYSMON_PROCESS)
    event["Event"]["EventData"]["CommandLine"] = command_line
    return event


@cache
def _targets() -> list[Any]:
    return load_targets()


Case = tuple[str, str]  # (value, modifier)


def verdicts(directory: Path, cases: list[Case]) -> list[dict[str, str]]:
    """Per case and target: "ok", "skipped: <reason>" for an allowed skip, or what went wrong. The cases
    are one pack (compiled once per target, hunted in one run), each rule judged on its own two events:
    the value, and the value less its last character."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.yml"):
        stale.unlink()
    for number, (value, modifier) in enumerate(cases):
        (directory / f"hostile_value_{number}.yml").write_text(rule_text(number, value, modifier), "utf-8")
    pack = load_pack(directory, require_metadata=False)
    events = [[event_with(value), event_with(value[:-1])] for value, _ in cases]
    spelled = [
        [json.dumps(["", text], ensure_ascii=False) for text in (value, value[:-1])] for value, _ in cases
    ]
    local = _local_hits(
        pack,
        [
            [
                *pair,
                *(event_with(["", e["Event"]["EventData"]["CommandLine"]]) for e in pair),
                *map(event_with, texts),
            ]
            for pair, texts in zip(events, spelled, strict=True)
        ],
    )
    found: list[dict[str, str]] = [{} for _ in cases]
    for target in _targets():
        for item in compile_target(pack, target).compiled:
            number = int(item.rule.name.rsplit("_", 1)[1])
            value, modifier = cases[number]
            expected = [True, False, True, False] + [
                _compared_whole(text, value, modifier) for text in spelled[number]
            ]
            hits = local.get(item.rule.name)
            found[number][target.id] = _verdict(target, item, pack, events[number], hits, expected)
    return found


def _compared_whole(text: str, value: str, modifier: str) -> bool:
    """Whether a Sigma comparison of one string value holds (case-insensitive, as Sigma means)."""
    text, value = text.lower(), value.lower()
    tests = {"": text == value, "|contains": value in text, "|startswith": text.startswith(value)}
    return tests.get(modifier, text.endswith(value))


def _verdict(
    target: Any,
    item: Any,
    pack: Any,
    events: list[dict[str, Any]],
    local: list[bool] | None,
    local_expected: list[bool],
) -> str:
    if not item.ok:
        allowed = any(reason in str(item.skipped) for reason in ALLOWED_SKIPS[target.id])
        return f"skipped: {item.skipped}" if allowed else f"WRONG skip: {item.skipped}"
    query = str(item.queries[0])
    if target.syntax:
        SYNTAX_CHECKS[target.syntax](query)
    hits = local if target.id == "local" else EVALUATORS[target.id](pack, query, events)
    expected = local_expected if target.id == "local" else [True, False]
    return (
        "ok"
        if hits == expected
        else f"WRONG: matched {hits} for {[e['Event']['EventData']['CommandLine'] for e in events]}"
    )


def _local_hits(pack: Any, events: list[list[dict[str, Any]]]) -> dict[str, list[bool]]:
    """The local engine over every case's events in one run: per rule, whether each of its events fired."""
    texts = [json.dumps(event) for case in events for event in case]
    engine = HuntEngine(build_plan(pack))
    try:
        result = engine.run(batches_from_events(texts), ReadReport())
    finally:
        engine.close()
    fired = {(hit.detection.rule.name, hit.line) for hit in result.hits}
    first_lines = itertools.accumulate((len(case) for case in events), initial=1)
    return {
        f"hostile_value_{number}": [
            (f"hostile_value_{number}", first + offset) in fired for offset in range(len(case))
        ]
        for number, (case, first) in enumerate(zip(events, first_lines, strict=False))
    }


def _documents(pack: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    logsource = pack.rules[0].rule.logsource  # every case reads the same log source
    return [to_ecs(event, logsource) for event in events]


def _eql(pack: Any, query: Any, events: list[dict[str, Any]]) -> list[bool]:
    documents = _documents(pack, events)
    found = set(eql_matching(str(query), documents))
    return [index in found for index in range(len(documents))]


def _esql(pack: Any, query: Any, events: list[dict[str, Any]]) -> list[bool]:
    parsed = EsqlQuery.parse(str(query))
    return [bool(parsed.run([document])) for document in _documents(pack, events)]


def _lucene(pack: Any, query: Any, events: list[dict[str, Any]]) -> list[bool]:
    tree = parse_lucene(str(query))
    return [matches(tree, document) for document in _documents(pack, events)]


_MACRO = re.compile(r"`([^`(]+)`")


def _splunk(_pack: Any, query: Any, events: list[dict[str, Any]]) -> list[bool]:
    """The real search text; its source macro reads the Sysmon events, its filter macro keeps all."""
    text = str(query)
    source, *others = _MACRO.findall(text)
    macros = {source: "sourcetype=XmlWinEventLog", **dict.fromkeys(others, "search *")}
    return [bool(run_spl(text, splunk_events([event]), macros=macros)) for event in events]


EVALUATORS: dict[str, Callable[[Any, Any, list[dict[str, Any]]], list[bool]]] = {
    "eql": _eql,
    "esql": _esql,
    "lucene": _lucene,
    "splunk": _splunk,
}
