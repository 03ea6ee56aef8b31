"""The engine and SigmaHQ's SQLite backend agree on every pack rule over every rule's test events.

Both read the same normalised rows (the engine's per-source tables, exported to SQLite) with rules
compiled through the same local pipeline; single rules must match the same events, correlations must
fire for the same groups at the same window ends (the engine's occurrences, before merging).
"""

from __future__ import annotations

import json
from functools import cache

import pytest

from ghosthire.content import rules_dir
from ghosthire.hunt import HuntPlan, build_plan
from ghosthire.rules import RulePack, load_pack
from ghosthire.rules.cases import Case, load_cases
from tests.conftest import DETECTION_CASES
from tests.hunt.reference import engine_outcome, sqlite_outcome

CASES = load_cases(DETECTION_CASES)
PACK = load_pack(rules_dir())
PARAMS = [
    pytest.param(rule_name, case, cases.source_of(case), id=f"{rule_name}-{index}")
    for rule_name, cases in sorted(CASES.items())
    for index, case in enumerate([*cases.must_fire, *cases.must_not_fire])
]


@cache
def _subset(rule_name: str) -> tuple[RulePack, HuntPlan]:
    subset = PACK.subset([rule_name])
    return subset, build_plan(subset)


@pytest.mark.parametrize(("rule_name", "case", "source"), PARAMS)
def test_engine_agrees_with_sqlite_backend(rule_name: str, case: Case, source: str | None) -> None:
    subset, plan = _subset(rule_name)
    engine, rows = engine_outcome(plan, [json.dumps(event) for event in case.events], source)
    reference = sqlite_outcome(subset.rules, rows)
    assert engine.singles == reference.singles, case.name
    assert engine.correlations == reference.correlations, case.name
