"""Sigma verdicts on the ECS-shaped test events: every single-event rule's EQL, and every Kibana rule of
the NDJSON as Kibana runs it (EQL or Lucene per event; ES|QL correlations over the schedule's sliding windows).
Every rule a target leaves out must be an expected, explained skip."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from ghosthire.elastic.kibana import rule_languages, seconds
from ghosthire.rules import RulePack
from tests.elastic.conftest import ELASTIC_TARGETS, EcsCase, expected_skip
from tests.elastic.engines import KibanaExceptions, eql_matching, kibana_runs
from tests.elastic.lucene_eval import matches, parse_lucene

PHASES = 6
# A work-pattern rule runs daily and judges whole UTC days: the phase only decides which run judges a day.
WORK_PATTERN_PHASES = 2


def test_skips_are_expected(pack: RulePack, compiled) -> None:
    """Each skip names a real inexpressibility (conftest.EXPECTED_SKIPS); nothing else is left out."""
    wrong = []
    for target in ELASTIC_TARGETS:
        for pack_rule in pack.rules:
            item = compiled[target][pack_rule.id]
            expected = expected_skip(target, pack_rule)
            if item.ok and expected is not None:
                wrong.append(f"{target} {pack_rule.name}: compiled, but a skip ({expected!r}) is expected")
            elif not item.ok and (expected is None or expected not in str(item.skipped)):
                wrong.append(f"{target} {pack_rule.name}: unexpected skip: {item.skipped}")
    assert not wrong, "\n".join(wrong)


def test_every_eql_verdict(ecs_cases: list[EcsCase], compiled) -> None:
    """Every single-event rule's EQL on its cases (one test, so that the failures list every wrong one)."""
    wrong = []
    for case in ecs_cases:
        if case.rule.is_correlation:
            continue
        item = compiled["eql"][case.rule.id]
        if not item.ok and expected_skip("eql", case.rule):
            continue  # not expressible in EQL, an expected skip (test_skips_are_expected)
        if not item.ok:
            wrong.append(f"{case.id}: no EQL query ({item.skipped})")
            continue
        fired = bool(eql_matching(str(item.queries[0]), case.documents))
        if fired is not case.must_fire:
            wrong.append(f"{case.id}: fired={fired}")
    assert not wrong, "\n".join(wrong)


def test_every_kibana_rule_verdict(
    ecs_cases: list[EcsCase],
    compiled,
    kibana_rules,
    esql_queries,
    esql_lookups,
    kibana_exceptions: KibanaExceptions,
) -> None:
    """Each case through the Kibana rule of its Sigma rule, as Kibana runs it (with its exceptions, made
    from the shipped lookups as the installer makes them)."""
    by_id = {rule["rule_id"]: rule for rule in kibana_rules}
    wrong = []
    for case in ecs_cases:
        kibana_rule = by_id.get(case.rule.id)
        if kibana_rule is None:
            language = rule_languages(case.rule)[0]
            item = compiled[language][case.rule.id]
            if not item.ok and expected_skip(language, case.rule):
                continue  # not expressible on Elastic, an expected skip (test_skips_are_expected)
            why = f"skipped: {item.skipped}" if not item.ok else "compiled but not written"
            wrong.append(f"{case.id}: no Kibana rule in the NDJSON for {case.rule.name} ({language} {why})")
            continue
        if kibana_rule["type"] == "new_terms":  # a first term always alerts: the case has no history
            query = parse_lucene(kibana_rule["query"])
            matched = [document for document in case.documents if matches(query, document)]
            fired = any(not kibana_exceptions.excepted(kibana_rule, document) for document in matched)
        elif case.rule.meta and case.rule.meta.work_pattern:  # per person over days, on its schedule
            query = esql_queries[case.rule.id]
            assert query.text == kibana_rule["query"]
            fired = _scheduled_fires(
                case,
                kibana_rule,
                lambda window, at, q=query: q.run(window, esql_lookups, at.isoformat()),
                WORK_PATTERN_PHASES,
            )
        elif not case.rule.is_correlation and kibana_rule["type"] == "esql":  # an identity comparison
            assert esql_queries[case.rule.id].text == kibana_rule["query"]
            fired = bool(esql_queries[case.rule.id].run(case.documents, esql_lookups))
        elif not case.rule.is_correlation:
            matched = [case.documents[n] for n in eql_matching(kibana_rule["query"], case.documents)]
            fired = any(not kibana_exceptions.excepted(kibana_rule, document) for document in matched)
        elif kibana_rule["type"] == "eql":
            fired = _scheduled_fires(
                case, kibana_rule, lambda window, _, text=kibana_rule["query"]: eql_matching(text, window)
            )
        else:
            query = esql_queries[case.rule.id]
            assert query.text == kibana_rule["query"], "the Kibana rule's query is the compiled ES|QL"
            fired = _scheduled_fires(case, kibana_rule, lambda window, _, q=query: q.run(window))
        if fired is not case.must_fire:
            wrong.append(f"{case.id}: fired={fired}")
    assert not wrong, "\n".join(wrong)


def _scheduled_fires(
    case: EcsCase, kibana_rule: dict, run: Callable[[list[dict], datetime], list], phases: int = PHASES
) -> bool:
    """A correlation or work-pattern rule over every window Kibana's schedule gives it (from:
    now-<lookback>, every interval; `run` gets the window's documents and the run's time). A must-fire
    burst has to fire whatever the schedule's phase; a quiet case must never fire.
    """
    lookback = timedelta(seconds=seconds(kibana_rule["from"].removeprefix("now-")))
    interval = timedelta(seconds=seconds(kibana_rule["interval"]))
    verdicts = {
        any(
            run(window, at)
            for at, window in kibana_runs(case.documents, lookback, interval, interval * k / phases)
            if window
        )
        for k in range(phases)
    }
    if len(verdicts) > 1:
        pytest.fail(f"{case.id}: the verdict depends on the schedule's phase (burst near the window length)")
    return verdicts.pop()
