"""Elastic fixtures: the pack compiled for eql/esql/lucene once, the Kibana NDJSON, ECS-shaped test events,
parsed ES|QL queries, and the list of rules a target may leave out (with why)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sigma.correlations import SigmaCorrelationRule

from ghosthire.compile import CompiledRule, TargetOutput
from ghosthire.content import splunk_app_dir
from ghosthire.deploy.kibana_lists import tuning_objects
from ghosthire.elastic.ecs import to_ecs
from ghosthire.elastic.exceptions import run_time_filters
from ghosthire.elastic.identity_checks import country_documents
from ghosthire.elastic.kibana import load_settings
from ghosthire.elastic.persons import identity_documents
from ghosthire.elastic.work_patterns import CONTINUOUS_UNSUPPORTED, time_zone_documents
from ghosthire.identities.lookups import load_watched_countries
from ghosthire.model.sources import source_by_id
from ghosthire.rules import PackRule, RulePack
from ghosthire.rules.cases import RuleCases
from tests.elastic.engines import KibanaExceptions
from tests.elastic.esql_eval import EsqlQuery

ELASTIC_TARGETS = ("eql", "esql", "lucene")

# Every rule a target may leave out, as (target, rule kind or name) -> words its skip reason contains.
# A skip not listed here fails test_skips_are_expected: a skip must be a real inexpressibility.
EXPECTED_SKIPS: dict[tuple[str, str], str] = {
    # EQL cannot count distinct values or match unordered groups within a timespan; Kibana gets the
    # correlation as an ES|QL rule instead (an ordered temporal correlation compiles to an EQL sequence).
    ("eql", "correlation"): "the Elastic rule for this correlation is ES|QL",
    ("eql", "hr_bank_account_change_after_start"): "",
    # Lucene has no aggregation.
    ("lucene", "correlation"): "Backend does not support correlation rules",
    # ES|QL's STATS cannot require an order of events within a group.
    ("esql", "hr_bank_account_change_after_start"): "ES|QL cannot require an order",
    # ES|QL correlations group on one field name; the registration and the sign-in name the user differently.
    (
        "esql",
        "entra_security_info_registered_near_anonymiser_or_vpn_signin",
    ): "field aliases across referenced rules",
    # The MFA phone is inside JSON text that the Azure integration indexes by position (the rule's
    # implementation): no ECS field holds it, so no Elastic target has the building block or its correlation.
    **{
        (target, "entra_mfa_phone_number_set"): "not mapped: mfaPhoneNumber"
        for target in ("eql", "esql", "lucene")
    },
    **{
        (target, "entra_mfa_phone_shared_by_users"): "'entra_mfa_phone_number_set' cannot be expressed"
        for target in ("eql", "esql", "lucene")
    },
}

# Rules compared with the identity lookup are ES|QL rules (LOOKUP JOIN); EQL and Lucene cannot join.
IDENTITY_CHECK_SKIP = "the comparison with the identity lookup"
# Work-pattern rules aggregate each person's events in ES|QL (LOOKUP JOIN, STATS); EQL and Lucene cannot,
# and ES|QL cannot measure the gaps between a person's consecutive events (continuous activity).
WORK_PATTERN_SKIP = "aggregates each person's events against the identity lookup"


# Must-fire cases ES|QL misses by its semantics, (rule, case) -> why: a comparison on a multi-valued field
# is null (docs/elastic.md). The rule's Kibana rule is EQL, which matches any value, and fires.
ESQL_MULTIVALUE_MISSES: dict[tuple[str, str], str] = {
    (
        "entra_signin_from_anonymised_ip",
        "sign-in flagged with several risks including a malicious IP",
    ): "risk_event_types_v2 holds two values",
    (
        "gws_login_from_consumer_vpn_operator",
        "login whose address is announced by two networks, one a VPN's",
    ): "source.as.number holds two values",
}


def expected_skip(target: str, pack_rule: PackRule) -> str | None:
    """The words the target's skip reason for this rule must contain; None when it must compile."""
    if pack_rule.meta and pack_rule.meta.identity_check:
        return None if target == "esql" else IDENTITY_CHECK_SKIP
    if pack_rule.meta and pack_rule.meta.work_pattern:
        if target != "esql":
            return WORK_PATTERN_SKIP
        return (
            CONTINUOUS_UNSUPPORTED if pack_rule.meta.work_pattern.measure == "continuous_activity" else None
        )
    by_name = EXPECTED_SKIPS.get((target, pack_rule.name))
    if by_name is not None:
        return by_name or None
    return EXPECTED_SKIPS.get((target, "correlation")) if pack_rule.is_correlation else None


@dataclass(frozen=True)
class EcsCase:
    """One test scenario of a rule, its events converted to ECS documents."""

    rule: PackRule
    name: str
    must_fire: bool
    documents: list[dict[str, Any]]

    @property
    def id(self) -> str:
        return f"{self.rule.name}:{'fire' if self.must_fire else 'quiet'}:{self.name}"


@pytest.fixture(scope="session")
def elastic_outputs(target_outputs: dict[str, TargetOutput]) -> dict[str, TargetOutput]:
    return {target: output for target, output in target_outputs.items() if target in ELASTIC_TARGETS}


@pytest.fixture(scope="session")
def compiled(elastic_outputs: dict[str, TargetOutput]) -> dict[str, dict[str, CompiledRule]]:
    """target -> rule id -> its compiled item (ok or skipped)."""
    return {target: {item.rule.id: item for item in out.compiled} for target, out in elastic_outputs.items()}


@pytest.fixture(scope="session")
def esql_queries(elastic_outputs: dict[str, TargetOutput]) -> dict[str, EsqlQuery]:
    """rule id -> its ES|QL query, parsed once with the real ES|QL grammar."""
    return {item.rule.id: EsqlQuery.parse(str(item.queries[0])) for item in elastic_outputs["esql"].ok()}


@pytest.fixture(scope="session")
def esql_lookups() -> dict[str, list[dict[str, Any]]]:
    """The lookup indices the installer loads from the shipped lookups, by name, for LOOKUP JOIN."""
    settings = load_settings()
    return {
        settings.person_risk.identities_index: identity_documents(splunk_app_dir() / "lookups").documents,
        settings.identity_checks.countries_index: list(
            country_documents(load_watched_countries(splunk_app_dir() / "lookups", [])).values()
        ),
        settings.work_patterns.time_zones_index: list(time_zone_documents().values()),
    }


@pytest.fixture(scope="session")
def kibana_exceptions(pack: RulePack) -> KibanaExceptions:
    """The exception and value lists the installer makes from the shipped lookups."""
    return KibanaExceptions(tuning_objects(run_time_filters(pack), splunk_app_dir() / "lookups"))


def base_rules(pack: RulePack, pack_rule: PackRule) -> list[PackRule]:
    return [dep for dep in pack.dependencies(pack_rule) if not isinstance(dep.rule, SigmaCorrelationRule)]


@pytest.fixture(scope="session")
def ecs_cases(pack: RulePack, rule_cases: dict[str, RuleCases]) -> list[EcsCase]:
    converted = []
    for name, cases in sorted(rule_cases.items()):
        pack_rule = pack.get(name)
        logsource = base_rules(pack, pack_rule)[0].rule.logsource
        for must_fire, scenarios in ((True, cases.must_fire), (False, cases.must_not_fire)):
            for case in scenarios:
                source_id = cases.source_of(case)
                source = source_by_id(source_id) if source_id else None
                documents = [to_ecs(event, logsource, source) for event in case.events]
                converted.append(EcsCase(pack_rule, case.name, must_fire, documents))
    return converted
