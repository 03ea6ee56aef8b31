"""The Kibana triage rule: its ES|QL parses with the real grammar, and over a small set of alerts joined
with the identities lookup index it raises exactly the persons the triage policy says, each once."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ghosthire.content import shipped_lookups_dir
from ghosthire.elastic.ecs import set_path
from ghosthire.elastic.kibana import load_settings
from ghosthire.elastic.persons import (
    PERSON_RULE_ID,
    PERSONS_FIELD,
    entity_field,
    identifier_keys,
    identity_documents,
)
from ghosthire.hunt import HuntOutcome
from ghosthire.hunt.alerts import Alert
from ghosthire.hunt.persons import assess, risk_objects
from ghosthire.identities import Directory
from ghosthire.rules import Guidance, PackRule, RiskEntity, RulePack
from ghosthire.triage import load_triage_policy
from tests.elastic.conftest import expected_skip
from tests.elastic.esql_eval import EsqlQuery

IDENTITIES = """identity,first,last,email,category,watchlist,startDate,work_country
jsmith|jordan.smith@acme-corp.com|jsmith-acme|E100142,Jordan,Smith,jordan.smith@acme-corp.com,employee,false,2020-01-06,US
akim|alex.kim@acme-corp.com|E100077,Alex,Kim,alex.kim@acme-corp.com,employee,false,2019-03-04,US
newbie|new.hire@acme-corp.com,New,Hire,new.hire@acme-corp.com,employee,false,{start},US
contractor|pair-login,Some,Contractor,,contractor,false,,US
pair|pair-login,Another,Contractor,,contractor,false,,US
"""
ASSETS = """ip,nt_host,dns,owner,category,device_id
10.8.0.17,LT-JSMITH-0142,LT-JSMITH-0142.corp.example.com,jordan.smith@acme-corp.com,laptop,8b4c2f6e-3d1a
10.8.1.5,KIOSK-01,KIOSK-01.corp.example.com,akim,kiosk|shared,
"""
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def lookup(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("lookups")
    start = (NOW - timedelta(days=20)).date().isoformat()
    (folder / "ghosthire_identities.csv").write_text(IDENTITIES.format(start=start), encoding="utf-8")
    (folder / "ghosthire_assets.csv").write_text(ASSETS, encoding="utf-8")
    return identity_documents(folder).documents


@pytest.fixture(scope="module")
def triage(kibana_rules: list[dict]) -> EsqlQuery:
    rule = next(rule for rule in kibana_rules if rule["rule_id"] == PERSON_RULE_ID)
    query = EsqlQuery.parse(rule["query"])
    assert query.errors == 0, rule["query"]
    return query


def pick(pack: RulePack, area: Guidance, kind: RiskEntity, building_block: bool = False) -> PackRule:
    """A rule of this guidance area about this kind of entity that Kibana runs (an identity comparison,
    a work pattern or a rule every Elastic target skips is not expressed on Elastic)."""
    for rule in pack.rules:
        if (
            rule.meta is not None
            and rule.meta.identity_check is None
            and rule.meta.work_pattern is None
            and rule.meta.guidance == [area]
            and rule.meta.risk.entity is kind
            and bool(rule.rule.custom_attributes.get("building_block")) is building_block
            and any(expected_skip(target, rule) is None for target in ("eql", "esql"))
        ):
            return rule
    raise AssertionError(f"no rule for {area} / {kind}")


def alert(pack: RulePack, rule: PackRule, entity: str, days_ago: float = 1, **extra: str) -> dict[str, Any]:
    document: dict[str, Any] = {"@timestamp": (NOW - timedelta(days=days_ago)).isoformat()}
    set_path(document, "kibana.alert.rule.rule_id", rule.id)
    set_path(document, "kibana.alert.rule.name", rule.title)
    set_path(document, "kibana.alert.workflow_status", extra.get("status", "open"))
    if rule.rule.custom_attributes.get("building_block"):
        set_path(document, "kibana.alert.building_block_type", "default")
    set_path(document, entity_field(pack, rule), entity)
    return document


def test_the_triage_rule_is_an_esql_rule_over_the_alerts_with_suppression(kibana_rules: list[dict]) -> None:
    rule = next(rule for rule in kibana_rules if rule["rule_id"] == PERSON_RULE_ID)
    settings = load_settings().person_risk
    policy = load_triage_policy()
    assert (rule["type"], rule["interval"]) == ("esql", settings.interval)
    # The window, the new-hire period a hiring-stage alert counts through, and the year the hiring
    # correlations look back.
    days = policy.window_length.days + policy.hiring_alerts_days_after_start + 365
    assert rule["from"] == f"now-{days}d"
    assert rule["query"].startswith(f"from {settings.alerts_index}\n")
    assert f"| lookup join {settings.identities_index} on ghosthire.identifier" in rule["query"]
    assert rule["alert_suppression"]["group_by"] == ["ghosthire.person"]
    assert rule["alert_suppression"]["duration"] == {"value": 24, "unit": "h"}
    assert "8.19" in rule["setup"] and "LOOKUP JOIN" in rule["setup"]


def test_one_person_across_identifiers_reaches_the_queue(
    pack: RulePack, triage: EsqlQuery, lookup: list[dict[str, Any]]
) -> None:
    host = pick(pack, Guidance.REMOTE_ACCESS, RiskEntity.HOST)
    okta = pick(pack, Guidance.MULTI_LOGIN, RiskEntity.USER)
    exfil = pick(pack, Guidance.EXFILTRATION, RiskEntity.USER)
    alerts = [
        alert(pack, host, "LT-JSMITH-0142.corp.example.com"),
        alert(pack, okta, "ACME\\JSmith", days_ago=3),
        alert(pack, exfil, "jsmith-acme", days_ago=5),
        # Alex: two areas, below the threshold.
        alert(pack, host, "lt-akim-0077"),
        alert(pack, okta, "alex.kim@acme-corp.com"),
    ]
    rows = triage.run(alerts, {"ghosthire-identities": lookup})
    assert [row["ghosthire.person"] for row in rows] == ["jsmith"]
    row = rows[0]
    assert row["ghosthire.guidance_areas"] == 3 and row["ghosthire.alerts"] == 3
    assert sorted(row["ghosthire.identifiers"]) == ["jsmith", "jsmith-acme", "lt-jsmith-0142"]
    expected = sum(rule.meta.risk.score for rule in (host, okta, exfil))  # type: ignore[union-attr]
    assert row["ghosthire.risk_score"] == expected


def test_alerts_count_in_the_window_and_hiring_alerts_through_the_new_hire_period(
    pack: RulePack, triage: EsqlQuery, lookup: list[dict[str, Any]]
) -> None:
    """Alerts raised before the window do not count, except a hiring-stage alert about a person who
    started within the new-hire period (newbie, 20 days ago; akim started years ago)."""
    host = pick(pack, Guidance.REMOTE_ACCESS, RiskEntity.HOST)
    okta = pick(pack, Guidance.MULTI_LOGIN, RiskEntity.USER)
    exfil = pick(pack, Guidance.EXFILTRATION, RiskEntity.USER)
    hiring = pick(pack, Guidance.HIRING, RiskEntity.USER)
    window = load_triage_policy().window_length.days
    for person, user in (("newbie", "new.hire@acme-corp.com"), ("akim", "alex.kim@acme-corp.com")):
        old = [alert(pack, rule, user, days_ago=window + 10) for rule in (host, okta, exfil, hiring)]
        recent = [alert(pack, rule, user, days_ago=1) for rule in (okta, exfil)]
        rows = triage.run([*old, *recent], {"ghosthire-identities": lookup}, now=NOW.isoformat())
        areas = {row["ghosthire.person"]: row["ghosthire.guidance_areas"] for row in rows}
        assert areas == ({person: 3} if person == "newbie" else {}), person


def test_unresolved_entities_stay_themselves_and_closed_alerts_do_not_count(
    pack: RulePack, triage: EsqlQuery, lookup: list[dict[str, Any]]
) -> None:
    host = pick(pack, Guidance.REMOTE_ACCESS, RiskEntity.HOST)
    okta = pick(pack, Guidance.MULTI_LOGIN, RiskEntity.USER)
    exfil = pick(pack, Guidance.EXFILTRATION, RiskEntity.USER)
    unknown = [alert(pack, rule, "mallory") for rule in (host, okta, exfil)]
    assert [row["ghosthire.person"] for row in triage.run(unknown, {"ghosthire-identities": lookup})] == [
        "mallory"
    ]
    closed = [*unknown[:2], alert(pack, exfil, "mallory", status="closed")]
    assert triage.run(closed, {"ghosthire-identities": lookup}) == []


def test_building_blocks_add_risk_but_never_raise_alone(
    pack: RulePack, triage: EsqlQuery, lookup: list[dict[str, Any]]
) -> None:
    blocks = [
        rule
        for rule in pack.rules
        if rule.meta is not None
        and not rule.is_correlation
        and rule.rule.custom_attributes.get("building_block")
    ]
    areas: dict[Guidance, PackRule] = {}
    for rule in blocks:
        if rule.meta.risk.entity is RiskEntity.USER:  # type: ignore[union-attr]
            areas.setdefault(rule.meta.guidance[0], rule)  # type: ignore[union-attr]
    assert len(areas) >= 1
    only_blocks = [alert(pack, rule, "akim") for rule in areas.values()] * 10
    assert triage.run(only_blocks, {"ghosthire-identities": lookup}) == []


def test_a_rule_that_fires_again_adds_nothing_and_new_hires_weigh_more(
    pack: RulePack, triage: EsqlQuery, lookup: list[dict[str, Any]]
) -> None:
    """Three user rules of three areas whose scores sum below the score condition, raised above it for a
    new hire: repeated alerts leave a long-standing employee out, the new hire reaches the queue."""
    condition = next(c for c in load_triage_policy().queue_when if c.min_score)
    rules = _three_areas_below(pack, triage, condition.min_guidance_areas, condition.min_score)
    plain = [alert(pack, rule, "akim") for rule in rules] * 5
    assert triage.run(plain, {"ghosthire-identities": lookup}) == []
    hire = [alert(pack, rule, "new.hire") for rule in rules]
    [row] = triage.run(hire, {"ghosthire-identities": lookup})
    assert row["ghosthire.person"] == "newbie"
    raised = sum(min(100, round(rule.meta.risk.score * 1.5)) for rule in rules)  # type: ignore[union-attr]
    assert row["ghosthire.risk_score"] == raised


def _three_areas_below(pack: RulePack, triage: EsqlQuery, areas: int, limit: int) -> list[PackRule]:
    """`areas` alerting user rules the triage rule reads, one area each, summing below `limit` but
    reaching it raised by 1.5."""
    candidates: dict[Guidance, list[PackRule]] = {}
    for rule in pack.rules:
        meta = rule.meta
        if (
            meta is not None
            and meta.identity_check is None
            and len(meta.guidance) == 1
            and meta.risk.entity is RiskEntity.USER
            and not rule.rule.custom_attributes.get("building_block")
            and rule.id in triage.text
            and re.fullmatch(r"[\w.]+", entity_field(pack, rule))  # a bare name, no quoting needed
        ):
            candidates.setdefault(meta.guidance[0], []).append(rule)
    for combination in itertools.product(*candidates.values()):
        for chosen in itertools.combinations(combination, areas):
            scores = [rule.meta.risk.score for rule in chosen]  # type: ignore[union-attr]
            if sum(scores) < limit <= sum(min(100, round(score * 1.5)) for score in scores):
                return list(chosen)
    raise AssertionError("no rules for the scenario")


def test_lookup_documents_normalise_and_report_conflicts(
    lookup: list[dict[str, Any]], tmp_path: Path
) -> None:
    keys = {doc["ghosthire"]["identifier"]: doc["ghosthire"]["person"] for doc in lookup}
    jordan = (
        "jsmith-acme",
        "lt-jsmith-0142",
        "lt-jsmith-0142.corp.example.com",
        "8b4c2f6e-3d1a",
        "10.8.0.17",
    )
    assert {keys[key] for key in jordan} == {"jsmith"}
    assert keys["jsmith@acme-corp.com"] == keys["jordan.smith"] == "jsmith", "company-domain forms"
    assert "pair-login" not in keys, "an identifier two persons claim resolves to nobody"
    assert "kiosk-01" not in keys and "10.8.1.5" not in keys, "a shared kiosk is nobody's evidence"
    (tmp_path / "ghosthire_identities.csv").write_text(IDENTITIES.format(start=""), encoding="utf-8")
    assert identity_documents(tmp_path).conflicts["pair-login"] == ["contractor", "pair"]
    assert identifier_keys("ACME\\JSmith") == {"jsmith"}
    assert identifier_keys("jsmith", domains=["acme-corp.com"]) == {"jsmith", "jsmith@acme-corp.com"}
    assert identifier_keys("LT-1.corp.example.com", host=True) == {"lt-1.corp.example.com", "lt-1"}
    assert identifier_keys("10.8.0.17", host=True) == {"10.8.0.17"}


def test_the_kibana_triage_rule_queues_whom_the_local_hunt_queues_on_the_examples(
    pack: RulePack, triage: EsqlQuery, kibana_rules: list[dict], examples_hunt: HuntOutcome
) -> None:
    """The same person-level view on both targets: the examples hunted locally, their alerts as Kibana
    would hold them, the triage rule run as Kibana schedules it (each run over the policy's window)."""
    lookups = shipped_lookups_dir()
    findings = assess(examples_hunt, Directory.load(lookups))
    local = {risk.key for risk in findings.persons if risk.triage}
    assert local, "the examples hold planted workers"
    in_kibana = {rule["rule_id"] for rule in kibana_rules}
    timed = [
        (found.time, _alert_of(pack, found))
        for found in findings.alerts
        if found.time is not None and found.entity and found.rule.id in in_kibana
    ]
    index = {"ghosthire-identities": identity_documents(lookups).documents}
    window = load_triage_policy().window_length
    queued: set[str] = set()
    for end in sorted({time for time, _ in timed}):
        run = [document for time, document in timed if end - window <= time <= end]
        queued |= {row["ghosthire.person"] for row in triage.run(run, index)}
    assert queued == local, (sorted(queued), sorted(local))


def _alert_of(pack: RulePack, found: Alert) -> dict[str, Any]:
    """The Kibana alert of a local one; a shared entity's rule also holds its counted values."""
    document = alert(pack, found.rule, found.entity or "")
    document["@timestamp"] = found.time.isoformat() if found.time else None
    behind = [identifier.lower() for _, identifier, is_behind in risk_objects(found, 10**6) if is_behind]
    if behind:
        document[PERSONS_FIELD] = behind if len(behind) > 1 else behind[0]
    return document
