"""First-seen rules on Elastic: a single-event one is a `new_terms` rule keyed on its risk entity with a
history of `first_seen.history_days`, a correlation is suppressed per group for that long. Checked on the
session's NDJSON with Kibana's rule schema (the loopback fake's checks) and, for new terms, by running the
rule's Lucene query over a must-fire case with and without the same events earlier in the history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ghosthire.elastic.ecs import get_path
from ghosthire.elastic.kibana import first_seen_days
from ghosthire.rules import PackRule, RulePack
from tests.elastic.conftest import EcsCase
from tests.elastic.engines import new_terms_alerts
from tests.fakes.kibana import _validate as kibana_schema_problem


def _first_seen_rules(pack: RulePack) -> list[PackRule]:
    rules = [rule for rule in pack.rules if first_seen_days(rule)]
    assert rules, "no first-seen rule in the pack"
    return rules


def test_first_seen_rules_become_new_terms_or_suppressed_correlations(
    pack: RulePack, kibana_rules: list[dict]
) -> None:
    by_id = {rule["rule_id"]: rule for rule in kibana_rules}
    for pack_rule in _first_seen_rules(pack):
        rule, days = by_id[pack_rule.id], first_seen_days(pack_rule)
        assert kibana_schema_problem(rule) is None, pack_rule.name
        assert f"{days} days" in rule["setup"], pack_rule.name
        if pack_rule.is_correlation or pack_rule.meta.identity_check:  # ES|QL rules
            assert rule["type"] == "esql" and "new_terms_fields" not in rule, pack_rule.name
            assert rule["alert_suppression"]["duration"] == {"value": days * 24, "unit": "h"}, pack_rule.name
            continue
        assert (rule["type"], rule["language"]) == ("new_terms", "lucene"), pack_rule.name
        assert rule["history_window_start"] == f"now-{days}d", pack_rule.name
        fields = rule["new_terms_fields"]
        assert len(fields) == 1 + len(pack_rule.meta.first_seen.fields), pack_rule.name
        for field in fields:
            assert field in {entry["name"] for entry in rule["required_fields"]}, pack_rule.name
            assert not field[0].isupper() and "-" not in field, (
                f"{pack_rule.name}: {field} is not mapped to ECS"
            )
    assert all(
        "new_terms_fields" not in rule for rule in kibana_rules if rule["rule_id"] not in _ids(pack)
    ), "only first-seen rules are new terms rules"


def test_the_fake_kibana_rejects_a_new_terms_rule_without_its_fields(kibana_rules: list[dict]) -> None:
    rule = next(rule for rule in kibana_rules if rule["type"] == "new_terms")
    assert kibana_schema_problem({**rule, "new_terms_fields": []}) is not None
    assert kibana_schema_problem({k: v for k, v in rule.items() if k != "history_window_start"}) is not None


def _ids(pack: RulePack) -> set[str]:
    return {rule.id for rule in _first_seen_rules(pack)}


def _at(documents: list[dict[str, Any]], when: datetime) -> list[dict[str, Any]]:
    """The documents as if they all happened at `when` (@timestamp and event.ingested)."""
    stamp = when.isoformat().replace("+00:00", "Z")
    moved = []
    for document in documents:
        copy = {**document, "@timestamp": stamp}
        if get_path(document, "event.ingested"):
            copy["event"] = {**document["event"], "ingested": stamp}
        moved.append(copy)
    return moved


@pytest.mark.parametrize("history", ["none", "within", "before"])
def test_a_new_term_alerts_once_per_history_window(
    pack: RulePack, kibana_rules: list[dict], ecs_cases: list[EcsCase], history: str
) -> None:
    """Each first-seen rule's first must-fire case in one run: alone it alerts; with the same events three
    days earlier it does not; with them just before the history window, it alerts again."""
    by_id = {rule["rule_id"]: rule for rule in kibana_rules}
    run_at = datetime(2025, 6, 20, 12, 0, tzinfo=UTC)
    checked = 0
    for pack_rule in _first_seen_rules(pack):
        rule, days = by_id[pack_rule.id], first_seen_days(pack_rule) or 0
        if rule["type"] != "new_terms":
            continue
        case = next(c for c in ecs_cases if c.rule.name == pack_rule.name and c.must_fire)
        now = _at(case.documents, run_at - timedelta(minutes=1))
        before = {"none": None, "within": timedelta(days=3), "before": timedelta(days=days, hours=1)}[history]
        earlier = _at(case.documents, run_at - before) if before else []
        alerts = new_terms_alerts(rule, earlier + now, run_at)
        assert bool(alerts) is (history != "within"), f"{pack_rule.name}: {history}: {alerts}"
        checked += 1
    assert checked >= 4
