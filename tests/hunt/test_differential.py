"""The engine and SigmaHQ's SQLite backend agree on every pack rule over every rule's test events.

Both read the same normalised rows (the engine's per-source tables, exported to SQLite) with rules
compiled through the same local pipeline; single rules must match the same events, correlations must
fire for the same groups at the same window ends (the engine's occurrences, before merging).

Single-event rules judge each event on its own, so the cases of all of them go through one engine run
and one reference run per forced log source, each case's events at lines of their own; a case's verdict
is the matches on its lines. A correlation's case runs alone with the rules it needs (hunted once for this
test and tests/test_detections.py: tests/hunt/correlation_runs.py).

A field holding a JSON list matches when any of its values does (as Elasticsearch reads it); the
reference stores a list as one text, so it runs once per combination of the lists' values, each value a
record of its own, and a rule matches an event when it matches one of them. That is the same meaning where
each list is read by one comparison of the rule (several values of one item are one comparison) outside
any `not` (a filter is a `not`); an event whose list the rule reads otherwise is left out of the
comparison (tests/hostile/test_value_types.py judges it).
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache
from typing import Any

import pyarrow as pa
import pytest
from sigma.conditions import ConditionAND
from sigma.rule import SigmaDetection, SigmaRule

from ghosthire.hunt import build_plan
from ghosthire.model.sources import field_value
from ghosthire.rules import RulePack
from ghosthire.rules.cases import Case
from tests.conftest import shipped_cases, shipped_pack
from tests.hunt.correlation_runs import correlation_run
from tests.hunt.reference import (
    Outcome,
    detection_items,
    engine_matches,
    engine_outcome,
    filter_fields,
    sqlite_outcome,
)

CASES = shipped_cases()
PACK = shipped_pack()
PARAMS = [
    pytest.param(rule_name, index, case, cases.source_of(case), id=f"{rule_name}-{index}")
    for rule_name, cases in sorted(CASES.items())
    for index, case in enumerate([*cases.must_fire, *cases.must_not_fire])
]


@cache
def _subset(rule_name: str) -> RulePack:
    return PACK.subset([rule_name])


@dataclass(frozen=True)
class Batch:
    """One engine run and one reference run over many cases, and the lines each case's events hold."""

    engine: Outcome
    reference: Outcome
    lines: dict[tuple[str, int], range]


@pytest.fixture(scope="module")
def single_event_batches() -> dict[str | None, Batch]:
    """The single-event rules' cases, one batch per forced source (None: each record recognised)."""
    by_source: dict[str | None, list[tuple[str, int, Case]]] = {}
    for param in PARAMS:
        rule_name, index, case, source = param.values
        if not PACK.get(rule_name).is_correlation:
            by_source.setdefault(source, []).append((rule_name, index, case))
    batches = {}
    for source, cases in by_source.items():
        subset = PACK.subset(sorted({rule_name for rule_name, _, _ in cases}))
        texts: list[str] = []
        lines = {}
        for rule_name, index, case in cases:
            lines[rule_name, index] = range(len(texts) + 1, len(texts) + len(case.events) + 1)
            texts += [json.dumps(event) for event in case.events]
        engine, rows = engine_outcome(build_plan(subset), texts, source)
        reference = Outcome(set(), set())
        for run in _value_runs(rows, texts):
            reference.singles |= sqlite_outcome(subset.rules, run).singles
        batches[source] = Batch(engine, reference, lines)
    return batches


def _value_runs(rows: dict[str, pa.Table], texts: list[str]) -> list[dict[str, pa.Table]]:
    """The rows once per combination of the values of the fields that hold JSON lists: the k-th run
    holds each record's k-th combination (its last, once it has fewer)."""
    combinations = {
        table: [_combinations(record, texts) for record in data.to_pylist()] for table, data in rows.items()
    }
    runs = max((len(found) for per_record in combinations.values() for found in per_record), default=1)
    return [
        {
            table: pa.Table.from_pylist([found[min(run, len(found) - 1)] for found in per_record])
            for table, per_record in combinations.items()
        }
        for run in range(runs)
    ]


def _combinations(record: dict[str, Any], texts: list[str]) -> list[dict[str, Any]]:
    """A record's row once per combination of the values of its fields that hold lists (as the engine
    reads a value: JSON scalars as their text)."""
    event = json.loads(texts[record["_line"] - 1])
    listed = {
        name: _scalars(value) or [None]
        for name in record
        if not name.startswith("_") and isinstance(value := field_value(event, name), list)
    }
    return [
        {**record, **dict(zip(listed, chosen, strict=True))} for chosen in itertools.product(*listed.values())
    ]


def _scalars(value: Any) -> list[str | None]:
    if isinstance(value, list):
        return [scalar for item in value for scalar in _scalars(item)]
    if isinstance(value, dict):
        return []
    return [value if isinstance(value, str) or value is None else json.dumps(value)]


@pytest.mark.parametrize(("rule_name", "index", "case", "source"), PARAMS)
def test_engine_agrees_with_sqlite_backend(
    rule_name: str, index: int, case: Case, source: str | None, single_event_batches: dict[str | None, Batch]
) -> None:
    subset = _subset(rule_name)
    lines: list[int] | None = None  # a correlation's case ran alone: all its lines are its own
    if PACK.get(rule_name).is_correlation:
        run = correlation_run(rule_name, case)
        engine, reference = engine_matches(run.outcome.result), sqlite_outcome(subset.rules, run.rows)
        assert engine.correlations == reference.correlations, case.name
    else:
        batch = single_event_batches[source]
        engine, reference = batch.engine, batch.reference
        arrays = _array_lines(rule_name, case) if _lists_read_otherwise(rule_name) else set()
        if len(arrays) == len(case.events):
            pytest.skip(
                "every event holds a JSON list the rule reads under a `not` or by several comparisons, "
                "which the reference (one value per record) cannot judge (judged in tests/hostile)"
            )
        lines = [line for offset, line in enumerate(batch.lines[rule_name, index]) if offset not in arrays]
    own = {rule.name for rule in subset.rules}
    assert _on(engine, own, lines) == _on(reference, own, lines), case.name


def _array_lines(rule_name: str, case: Case) -> set[int]:
    """The positions of the case's events that hold a JSON array in a field the rule reads."""
    rule = PACK.get(rule_name).rule
    assert isinstance(rule, SigmaRule)
    fields = {name for detection in rule.detection.detections.values() for name in _fields(detection)}
    return {
        offset
        for offset, event in enumerate(case.events)
        if any(isinstance(field_value(event, name), list) for name in fields)
    }


@cache
def _lists_read_otherwise(rule_name: str) -> bool:
    """Whether the rule may read a field under a `not` (its condition has one, or a filter of the pack
    reads the field) or by several comparisons (two items, or one item whose values must all match)."""
    rule = PACK.get(rule_name).rule
    assert isinstance(rule, SigmaRule)
    items = [item for detection in rule.detection.detections.values() for item in detection_items(detection)]
    counts = Counter(item.field for item in items if item.field)
    negated = any(re.search(r"\bnot\b", condition, re.IGNORECASE) for condition in rule.detection.condition)
    return (
        negated
        or any(count > 1 for count in counts.values())
        or any(item.value_linking is ConditionAND and len(item.value) > 1 for item in items)
        or bool(set(counts) & filter_fields(PACK.get(rule_name)))
    )


def _fields(detection: SigmaDetection) -> set[str]:
    return {item.field for item in detection_items(detection) if item.field}


def _on(outcome: Outcome, rules: set[str], lines: list[int] | None) -> set[tuple[str, int]]:
    """The single-event matches of these rules, on these lines (None: every line)."""
    return {
        (rule, line) for rule, line in outcome.singles if rule in rules and (lines is None or line in lines)
    }
