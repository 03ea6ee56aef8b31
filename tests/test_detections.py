"""Every rule against its own test events on the local engine: must-fire events fire, the others do not."""

from __future__ import annotations

import pytest

from ghosthire.content import rules_dir
from ghosthire.hunt import HuntPlan, hunt_events
from ghosthire.policy import check_pack
from ghosthire.rules import RulePack, load_pack
from ghosthire.rules.cases import Case, RuleCases, load_cases
from tests.conftest import DETECTION_CASES

CASES = load_cases(DETECTION_CASES)
PACK = load_pack(rules_dir())
PARAMS = [
    pytest.param(rule_name, verdict, case, id=f"{rule_name}-{verdict}-{index}")
    for rule_name, cases in sorted(CASES.items())
    for verdict, listed in (("fire", cases.must_fire), ("quiet", cases.must_not_fire))
    for index, case in enumerate(listed)
]


def test_every_rule_has_test_events_and_passes_policy(pack: RulePack) -> None:
    assert check_pack(pack, DETECTION_CASES) == []


def test_every_rule_runs_locally(hunt_plan: HuntPlan) -> None:
    assert hunt_plan.skipped == {}


@pytest.mark.parametrize(("rule_name", "verdict", "case"), PARAMS)
def test_rule_verdict(rule_name: str, verdict: str, case: Case, hunt_plan: HuntPlan) -> None:
    cases: RuleCases = CASES[rule_name]
    outcome = hunt_events(hunt_plan.with_building_blocks(), case.events, source=cases.source_of(case))
    assert outcome.result.report.problems == []
    assert outcome.result.stats.unrecognised == 0, "an event was not recognised as any log source"
    alerts = [alert for alert in outcome.alerts if alert.rule.name == rule_name]
    rule = PACK.get(rule_name)
    if verdict == "quiet":
        assert alerts == [], f"{case.name}: must not fire, got {[a.to_json() for a in alerts]}"
    elif rule.is_correlation:
        assert alerts, f"{case.name}: correlation must fire"
    else:
        fired_lines = {location.line for alert in alerts for location in alert.locations}
        missed = [n for n in range(1, len(case.events) + 1) if n not in fired_lines]
        assert not missed, f"{case.name}: events {missed} must each fire on their own"
