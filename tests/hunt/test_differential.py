"""The engine and SigmaHQ's SQLite backend agree on every pack rule over every rule's test events.

Both read the same normalised rows (the engine's per-source tables, exported to SQLite) with rules
compiled through the same local pipeline; single rules must match the same events, correlations must
fire for the same groups at the same window ends (the engine's occurrences, before merging).

Single-event rules judge each event on its own, so the cases of all of them go through one engine run
and one reference run per forced log source, each case's events at lines of their own; a case's verdict
is the matches on its lines. A correlation's case runs alone with the rules it needs.

An event whose field read by the rule holds a JSON array is left out of the comparison: the engine
matches any element (as Elasticsearch does), the reference stores the array as one text column
(tests/hostile/test_value_types.py judges that semantics).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

import pytest
from sigma.rule import SigmaDetection, SigmaRule

from ghosthire.hunt import HuntPlan, build_plan
from ghosthire.model.sources import field_value
from ghosthire.rules import RulePack
from ghosthire.rules.cases import Case
from tests.conftest import shipped_cases, shipped_pack
from tests.hunt.reference import Outcome, engine_outcome, sqlite_outcome

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


@cache
def _correlation_plan(rule_name: str) -> HuntPlan:
    return build_plan(_subset(rule_name))


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
        batches[source] = Batch(engine, sqlite_outcome(subset.rules, rows), lines)
    return batches


@pytest.mark.parametrize(("rule_name", "index", "case", "source"), PARAMS)
def test_engine_agrees_with_sqlite_backend(
    rule_name: str, index: int, case: Case, source: str | None, single_event_batches: dict[str | None, Batch]
) -> None:
    subset = _subset(rule_name)
    lines: list[int] | None = None  # a correlation's case ran alone: all its lines are its own
    if PACK.get(rule_name).is_correlation:
        texts = [json.dumps(event) for event in case.events]
        engine, rows = engine_outcome(_correlation_plan(rule_name), texts, source)
        reference = sqlite_outcome(subset.rules, rows)
        assert engine.correlations == reference.correlations, case.name
    else:
        batch = single_event_batches[source]
        engine, reference = batch.engine, batch.reference
        arrays = _array_lines(rule_name, case)
        if len(arrays) == len(case.events):
            pytest.skip("every event holds a JSON array where the rule reads it (judged in tests/hostile)")
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


def _fields(detection: SigmaDetection) -> set[str]:
    found: set[str] = set()
    for item in detection.detection_items:
        if isinstance(item, SigmaDetection):
            found |= _fields(item)
        elif item.field:
            found.add(item.field)
    return found


def _on(outcome: Outcome, rules: set[str], lines: list[int] | None) -> set[tuple[str, int]]:
    """The single-event matches of these rules, on these lines (None: every line)."""
    return {
        (rule, line) for rule, line in outcome.singles if rule in rules and (lines is None or line in lines)
    }
