"""Each correlation's test cases hunted once per process, for both tests that judge them: tests/test_detections.py
(the verdict) and tests/hunt/test_differential.py (the engine against SigmaHQ's SQLite backend).

A correlation's verdict depends on every event of its case, so each case runs alone with the correlation
and the rules it references (nothing else can change what the correlation sees), building blocks alerting
too. Both test files are one unit of work under xdist (conftest.SHARED_UNITS), so one process runs them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

import pyarrow as pa

from ghosthire.hunt import HuntOutcome, HuntPlan, build_plan, hunt_events
from ghosthire.hunt.engine import HuntEngine
from ghosthire.hunt.readers import batches_from_events
from ghosthire.rules.cases import Case
from tests.conftest import shipped_cases, shipped_pack


@dataclass(frozen=True)
class CorrelationRun:
    """One case hunted as `hunt_events` hunts it, and each source's rows as the rules read them."""

    outcome: HuntOutcome
    rows: dict[str, pa.Table]


@cache
def correlation_plan(rule_name: str) -> HuntPlan:
    plan = build_plan(shipped_pack().subset([rule_name]))
    assert plan.skipped == {} and [c.rule.name for c in plan.correlations] == [rule_name]
    return plan.with_building_blocks()


def correlation_run(rule_name: str, case: Case) -> CorrelationRun:
    return _rule_runs(rule_name)[case.name]


@cache
def _rule_runs(rule_name: str) -> dict[str, CorrelationRun]:
    """Every case of the correlation; the rows are read by one engine per forced source."""
    cases = shipped_cases()[rule_name]
    listed = [*cases.must_fire, *cases.must_not_fire]
    assert len({case.name for case in listed}) == len(listed), f"{rule_name}: case names repeat"
    plan = correlation_plan(rule_name)
    runs = {}
    for source in {cases.source_of(case) for case in listed}:
        engine = HuntEngine(plan, source=source)
        try:
            for case in (case for case in listed if cases.source_of(case) == source):
                texts = [json.dumps(event) for event in case.events]
                rows = engine.source_rows(batches_from_events(texts))
                runs[case.name] = CorrelationRun(hunt_events(plan, case.events, source=source), rows)
        finally:
            engine.close()
    return runs
