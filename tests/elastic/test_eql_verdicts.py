"""Every rule's EQL (and, for correlations, ES|QL) gives the Sigma verdicts on the ECS-shaped test events."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ghosthire.compile import TargetOutput
from ghosthire.elastic.kibana import seconds
from ghosthire.rules import RulePack
from tests.elastic.conftest import EcsCase, base_rules
from tests.elastic.engines import EsqlAggregation, eql_matching, kibana_runs

PHASES = 6


def _query(outputs: dict[str, TargetOutput], target: str, rule_id: str) -> str:
    item = next(item for item in outputs[target].compiled if item.rule.id == rule_id)
    assert item.ok, f"{target} skipped {item.rule.name}: {item.skipped}"
    return str(item.queries[0])


def test_every_case_verdict(ecs_cases: list[EcsCase], pack: RulePack, elastic_outputs, kibana_rules) -> None:
    """One test over all cases so that the failures list every wrong verdict at once."""
    by_id = {rule["rule_id"]: rule for rule in kibana_rules}
    wrong = []
    for case in ecs_cases:
        if case.rule.is_correlation:
            fired = _correlation_fires(case, pack, elastic_outputs, by_id[case.rule.id])
        else:
            fired = bool(eql_matching(_query(elastic_outputs, "eql", case.rule.id), case.documents))
        if fired is not case.must_fire:
            wrong.append(f"{case.id}: fired={fired}")
    assert not wrong, "\n".join(wrong)


def _correlation_fires(case: EcsCase, pack: RulePack, outputs, kibana_rule: dict) -> bool:
    """Filter with the base rules' EQL, aggregate as the ES|QL tail says, over Kibana's scheduled windows.

    A must-fire burst has to fire whatever the schedule's phase; a quiet case must never fire.
    """
    matched = set()
    for base in base_rules(pack, case.rule):
        matched.update(eql_matching(_query(outputs, "eql", base.id), case.documents))
    documents = [case.documents[number] for number in sorted(matched)]
    if not documents:
        return False
    aggregation = EsqlAggregation.parse(kibana_rule["query"])
    lookback = timedelta(seconds=seconds(kibana_rule["from"].removeprefix("now-")))
    interval = timedelta(seconds=seconds(kibana_rule["interval"]))
    verdicts = {
        any(
            aggregation.fires(window)
            for window in kibana_runs(documents, lookback, interval, interval * k / PHASES)
        )
        for k in range(PHASES)
    }
    if len(verdicts) > 1:
        pytest.fail(f"{case.id}: the verdict depends on the schedule's phase (burst near the window length)")
    return verdicts.pop()
