"""Every rule against its own test events on the local engine: must-fire events fire, the others do not.

Single-event rules judge each event on its own (a work-pattern rule, whose events are measured per person
after matching, fires on its case as a whole), so all their cases run through one engine run (one per
forced log source), each case an input of its own: an alert's location (case, event number) says
which case and which event fired. A correlation's verdict depends on every event of its case, so each
correlation case runs alone, with the correlation and the rules it references (nothing else can change
what a correlation sees; tests/hunt/correlation_runs.py, shared with the differential test).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from ghosthire.hunt import HuntOutcome, HuntPlan, hunt_event_sets
from ghosthire.hunt.run import EVENTS_NAME
from ghosthire.policy import check_pack
from ghosthire.rules import RulePack
from ghosthire.rules.cases import Case, RuleCases
from tests.conftest import DETECTION_CASES, shipped_cases, shipped_pack
from tests.hunt.correlation_runs import correlation_run

CASES = shipped_cases()
PACK = shipped_pack()
PARAMS = [
    pytest.param(rule_name, verdict, case, id=f"{rule_name}-{verdict}-{index}")
    for rule_name, cases in sorted(CASES.items())
    for verdict, listed in (("fire", cases.must_fire), ("quiet", cases.must_not_fire))
    for index, case in enumerate(listed)
]


@dataclass(frozen=True)
class CaseRun:
    """What one case's events produced: (rule name, event number) of every event an alert cites, the
    records skipped, and the records no source recognised."""

    fired: set[tuple[str, int]]
    problems: list[str]
    unrecognised: int


def _case_id(rule_name: str, case: Case) -> str:
    return f"{rule_name}/{case.name}"


def _single_event_cases() -> list[tuple[str, RuleCases, Case]]:
    return [
        (rule_name, cases, case)
        for rule_name, cases in sorted(CASES.items())
        if not PACK.get(rule_name).is_correlation
        for case in [*cases.must_fire, *cases.must_not_fire]
    ]


def _case_run(outcome: HuntOutcome, name: str) -> CaseRun:
    return CaseRun(
        fired={
            (alert.rule.name, location.line)
            for alert in outcome.alerts
            for location in alert.locations
            if location.file == name
        },
        problems=[problem.reason for problem in outcome.result.report.problems if problem.file == name],
        unrecognised=outcome.result.stats.unrecognised_in.get(name, 0),
    )


@pytest.fixture(scope="module")
def single_event_runs(hunt_plan: HuntPlan) -> dict[str, CaseRun]:
    """Every single-event rule's cases through one engine run per forced source, rules that only feed
    correlations alerting too."""
    plan = hunt_plan.with_building_blocks()
    by_source: dict[str | None, dict[str, list[dict]]] = {}
    for rule_name, cases, case in _single_event_cases():
        by_source.setdefault(cases.source_of(case), {})[_case_id(rule_name, case)] = case.events
    runs: dict[str, CaseRun] = {}
    for source, event_sets in by_source.items():
        outcome = hunt_event_sets(plan, event_sets, source=source)
        runs.update((name, _case_run(outcome, name)) for name in event_sets)
    return runs


def test_every_rule_has_test_events_and_passes_policy(pack: RulePack) -> None:
    assert check_pack(pack, DETECTION_CASES) == []


def test_every_rule_runs_locally(hunt_plan: HuntPlan) -> None:
    assert hunt_plan.skipped == {}


@pytest.mark.parametrize(("rule_name", "verdict", "case"), PARAMS)
def test_rule_verdict(
    rule_name: str, verdict: str, case: Case, single_event_runs: dict[str, CaseRun]
) -> None:
    rule = PACK.get(rule_name)
    run = (
        _case_run(correlation_run(rule_name, case).outcome, EVENTS_NAME)
        if rule.is_correlation
        else single_event_runs[_case_id(rule_name, case)]
    )
    assert run.problems == []
    assert run.unrecognised == 0, "an event was not recognised as any log source"
    fired_lines = {line for name, line in run.fired if name == rule_name}
    if verdict == "quiet":
        assert not fired_lines, f"{case.name}: must not fire, fired on events {sorted(fired_lines)}"
    elif rule.is_correlation or (rule.meta and rule.meta.work_pattern):
        assert fired_lines, f"{case.name}: correlation or work pattern must fire"
    else:
        missed = [n for n in range(1, len(case.events) + 1) if n not in fired_lines]
        assert not missed, f"{case.name}: events {missed} must each fire on their own"
