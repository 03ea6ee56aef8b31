"""The person-level view on Elastic: one ES|QL rule over the Security alerts index that resolves each
alert's entity to a person through a lookup-mode index (`LOOKUP JOIN`) and raises the triage incident when
a person crosses the triage policy's thresholds within its window.

What a rule contributes (its guidance areas, risk score and the field naming its entity) is the pack's
metadata, written into the query at build time; who is who is the company's identities and assets
lookups, which the installer loads into the lookup index (`identity_documents`), so editing them needs no
rebuild. Needs Elasticsearch/Kibana 8.19 or 9.1 and later (LOOKUP JOIN generally available, lookup index
mode).
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from ghosthire.elastic.backends import string_literal
from ghosthire.elastic.ecs import rule_field_ecs_name
from ghosthire.elastic.fields import STRING_TYPES, field_type
from ghosthire.elastic.schedule import Duration
from ghosthire.identities import ASSETS_FILE, Directory, LookupProblem, Person
from ghosthire.identities.countries import country_code
from ghosthire.identities.lookups import read_assets
from ghosthire.model.leaving import access_end
from ghosthire.rules import PackRule, RulePack
from ghosthire.rules.metadata import Guidance, RiskEntity
from ghosthire.triage import TriagePolicy, load_triage_policy
from ghosthire.tuning import NEW_HIRE_DAYS, NEW_HIRE_SCORE_FACTOR

PERSON_RULE_ID = "5e1f0b7a-9c3d-4e8a-b2f6-7d4c1a0e9b31"
# The lookup index's fields; the join key has the same name in the query (LOOKUP JOIN ... ON needs it).
IDENTIFIER = "ghosthire.identifier"
PERSON = "ghosthire.person"
BEHIND = "ghosthire.behind"
START_DATE = "ghosthire.start_date"
# When a leaver's access ends (ghosthire.model.leaving): the after-end-date comparison reads it.
ACCESS_END = "ghosthire.access_end"
# A value_count rule's counted values (ghosthire.elastic.backends), for rules with `risk.persons`.
PERSONS_FIELD = "distinct_values"
LOOKUP_MAPPING: dict[str, Any] = {
    "properties": {
        "ghosthire": {
            "properties": {
                "identifier": {"type": "keyword"},
                "person": {"type": "keyword"},
                "person_name": {"type": "keyword"},
                "category": {"type": "keyword"},
                "bunit": {"type": "keyword"},
                "work_country": {"type": "keyword"},
                "watchlist": {"type": "boolean"},
                "start_date": {"type": "date"},
                "end_date": {"type": "date"},
                "access_end": {"type": "date"},
                "time_zone": {"type": "keyword"},
            }
        }
    }
}


class PersonRiskSettings(BaseModel):
    """backends/elastic/kibana.yml, `person_risk`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    alerts_index: str
    identities_index: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
    interval: Duration
    suppression: Duration


# --- the query -------------------------------------------------------------------------------------------


def person_risk_query(
    pack: RulePack, rules: list[PackRule], settings: PersonRiskSettings, policy: TriagePolicy
) -> str:
    """The ES|QL of the triage rule over the alerts of `rules` (those with risk metadata count); the rule
    searches the policy's window."""
    rules = [rule for rule in rules if rule.meta is not None]
    flags = {area: [rule for rule in rules if area in rule.meta.guidance] for area in Guidance}  # type: ignore[union-attr]
    names = {
        area: f"ghosthire.guidance.{area.value.replace('-', '_')}"
        for area, members in flags.items()
        if members
    }
    guidance = ",\n  ".join(f"{names[area]} = {_case_in(flags[area], '1', '0')}" for area in names)
    maxima = ", ".join(f"{name} = MAX({name})" for name in names.values())
    days = f'DATE_DIFF("days", {START_DATE}, @timestamp)'
    return "\n".join(
        [
            f"from {settings.alerts_index}",
            f"| eval ghosthire.score = {_score(rules)}",
            '| where ghosthire.score is not null and kibana.alert.workflow_status != "closed"',
            f"| eval {IDENTIFIER} = {_entity(pack, rules)}",
            *_persons_behind(rules, policy.shared_alert_max_persons),
            f"| lookup join {settings.identities_index} on {IDENTIFIER}",
            *([f"| where not {BEHIND} or {PERSON} is not null"] if _sharing(rules) else []),
            f"| eval {PERSON} = COALESCE({PERSON}, {IDENTIFIER}),",
            "  ghosthire.signal = CASE(kibana.alert.building_block_type is null, 1, 0),",
            f"  ghosthire.score = CASE({_raised(rules)}{days} >= 0 and {days} <= {NEW_HIRE_DAYS}, "
            f"LEAST(ROUND(ghosthire.score * {NEW_HIRE_SCORE_FACTOR}), 100.0), ghosthire.score * 1.0),",
            f"  {guidance}",
            f"| where {_counts_now(names, policy)}",
            # Each rule counts with its highest score: a rule that fires again adds nothing.
            f"| stats {maxima}, ghosthire.score = MAX(ghosthire.score), "
            "ghosthire.signal = MAX(ghosthire.signal), ghosthire.alerts = COUNT(*), "
            "ghosthire.first_seen = MIN(@timestamp), ghosthire.last_seen = MAX(@timestamp), "
            f"ghosthire.identifiers = VALUES({IDENTIFIER}), ghosthire.rules = VALUES(kibana.alert.rule.name) "
            f"by {PERSON}, kibana.alert.rule.rule_id",
            f"| stats {maxima}, ghosthire.risk_score = SUM(ghosthire.score), "
            "ghosthire.signals = SUM(ghosthire.signal), ghosthire.alerts = SUM(ghosthire.alerts), "
            "ghosthire.first_seen = MIN(ghosthire.first_seen), ghosthire.last_seen = MAX(ghosthire.last_seen), "
            "ghosthire.identifiers = VALUES(ghosthire.identifiers), ghosthire.rules = VALUES(ghosthire.rules) "
            f"by {PERSON}",
            f"| eval ghosthire.guidance_areas = {' + '.join(names.values())}, "
            "ghosthire.risk_score = ROUND(ghosthire.risk_score)",
            f"| where {queue_condition(policy)}",
            "| sort ghosthire.guidance_areas desc, ghosthire.risk_score desc",
        ]
    )


def _counts_now(names: dict[Guidance, str], policy: TriagePolicy) -> str:
    """Which alerts count in the window ending now: those raised in it (Kibana dates an alert when a run
    raises it, after its events), and a hiring-stage alert about a person with a start date through the
    policy's new-hire period after that date."""
    window = int(policy.window_length.total_seconds())
    recent = f'DATE_DIFF("seconds", @timestamp, NOW()) <= {window}'
    hiring, days = names.get(Guidance.HIRING), policy.hiring_alerts_days_after_start
    if hiring is None or not days:
        return recent
    reach = window + days * 86400
    return f'{recent} or ({hiring} == 1 and DATE_DIFF("seconds", {START_DATE}, NOW()) <= {reach})'


def _sharing(rules: list[PackRule]) -> list[PackRule]:
    """The rules about something several persons share (`risk.persons`)."""
    return [rule for rule in rules if rule.meta.risk.persons]  # type: ignore[union-attr]


def _persons_behind(rules: list[PackRule], max_persons: int) -> list[str]:
    """One row per risk object of an alert: its entity (marked with a leading `=`), and for a rule about
    a shared entity each person behind it that its counted values name (`distinct_values`), when there are
    at most `max_persons`; `ghosthire.behind` tells the two apart."""
    sharing = _sharing(rules)
    if not sharing:
        return []
    objects = "ghosthire.objects"
    return [
        f'| eval {objects} = MV_APPEND(CONCAT("=", {IDENTIFIER}), '
        f"CASE({_rule_in(sharing)} and MV_COUNT({PERSONS_FIELD}) <= {max_persons}, {PERSONS_FIELD}, null))",
        f"| mv_expand {objects}",
        f'| eval {BEHIND} = not STARTS_WITH({objects}, "="), {IDENTIFIER} = CASE(STARTS_WITH({objects}, "="), '
        f'SUBSTRING({objects}, 2), REPLACE(TO_LOWER({objects}), "^.*\\\\\\\\", ""))',
    ]


def _raised(rules: list[PackRule]) -> str:
    """The new-hire escalation is the alert's entity's: a person behind a shared entity is not raised."""
    return f"not {BEHIND} and " if _sharing(rules) else ""


def _rule_in(rules: list[PackRule]) -> str:
    return f"kibana.alert.rule.rule_id in ({', '.join(string_literal(rule.id) for rule in rules)})"


def queue_condition(policy: TriagePolicy) -> str:
    """The policy's `queue_when` over the per-person columns; building blocks alone do not queue."""
    conditions = " or ".join(
        "("
        + " and ".join(
            [f"ghosthire.guidance_areas >= {c.min_guidance_areas}"]
            + ([f"ghosthire.risk_score >= {c.min_score}"] if c.min_score else [])
        )
        + ")"
        for c in policy.queue_when
    )
    return (
        f"({conditions})"
        if policy.building_blocks_queue_alone
        else f"ghosthire.signals > 0 and ({conditions})"
    )


def _case_in(rules: list[PackRule], then: str, otherwise: str) -> str:
    return f"CASE({_rule_in(rules)}, {then}, {otherwise})"


def _score(rules: list[PackRule]) -> str:
    by_score: dict[int, list[PackRule]] = defaultdict(list)
    for rule in rules:
        by_score[rule.meta.risk.score].append(rule)  # type: ignore[union-attr]
    branches = ", ".join(
        f"kibana.alert.rule.rule_id in ({', '.join(string_literal(r.id) for r in members)}), {score}"
        for score, members in sorted(by_score.items())
    )
    return f"CASE({branches}, null)"


def _entity(pack: RulePack, rules: list[PackRule]) -> str:
    """The alert's entity, normalised as the lookup keys are: lower-cased, a user without its `DOMAIN\\`,
    a host without its DNS domain."""
    by_field: dict[tuple[RiskEntity, str], list[PackRule]] = defaultdict(list)
    for rule in rules:
        by_field[(rule.meta.risk.entity, entity_field(pack, rule))].append(rule)  # type: ignore[union-attr]
    branches = []
    for (kind, field), members in sorted(by_field.items()):
        value = _lowered(field)
        if kind is RiskEntity.USER:
            value = user_key(field)
        elif kind is RiskEntity.HOST:
            value = f'REPLACE({value}, "^([^.]*[^0-9.][^.]*)\\\\..*$", "$1")'
        ids = ", ".join(string_literal(rule.id) for rule in members)
        branches.append(f"kibana.alert.rule.rule_id in ({ids}), {value}")
    return f"CASE({', '.join(branches)}, null)"


def user_key(field: str) -> str:
    """A user field as the lookup index keys users: lower-cased, without its `DOMAIN\\`."""
    return f'REPLACE({_lowered(field)}, "^.*\\\\\\\\", "")'


def _lowered(field: str) -> str:
    return f"TO_LOWER({field if field_type(field) in STRING_TYPES else f'TO_STRING({field})'})"


def entity_field(pack: RulePack, pack_rule: PackRule) -> str:
    """The ECS field holding the entity a rule's risk is about."""
    return rule_field_ecs_name(pack, pack_rule, pack_rule.meta.risk.field)  # type: ignore[union-attr]


# --- the lookup index's documents -----------------------------------------------------------------------


@dataclass(frozen=True)
class IdentityLookup:
    """The lookup index's documents (one per normalised identifier), the identifiers left out because two
    persons claim them, and the lookup rows that could not be used (file:line: why)."""

    documents: list[dict[str, Any]]
    conflicts: dict[str, list[str]]
    problems: list[str]


def identifier_keys(identifier: str, host: bool = False, domains: Iterable[str] = ()) -> set[str]:
    """The normalised forms an alert's entity can take for this identifier, as ghosthire.identities
    resolves them: lower-cased, without a `DOMAIN\\`; an address at a company domain also as its bare name,
    a bare name also at each company domain; a DNS host name also as its short name."""
    text = identifier.strip().lower().rsplit("\\", 1)[-1]
    if not text:
        return set()
    keys = {text}
    if host:
        text = text.rstrip("$")
        keys |= {text} | ({text.split(".", 1)[0]} if "." in text and not _is_ip(text) else set())
        return keys
    local, _, domain = text.partition("@")
    if domain and domain in domains:
        keys.add(local)
    if not domain:
        keys.update(f"{text}@{company}" for company in domains)
    return keys


def identity_documents(lookups: Path) -> IdentityLookup:
    """One document per identifier of every person of the identities lookup and of every asset one person
    owns (assets lookup), keyed by the normalised identifier (ghosthire.identities reads both files); a
    leaver's `access_end` takes the triage policy's grace."""
    directory = Directory.load(lookups)
    end_date_grace = load_triage_policy().end_date_grace_length
    domains = sorted(directory.company_domains)
    claims: dict[str, set[str]] = defaultdict(set)
    for person in directory.persons.values():
        for identifier in {*person.identifiers, *([person.email] if person.email else [])}:
            for key in identifier_keys(identifier, domains=domains):
                claims[key].add(person.key)
        for host in (*person.hosts, *person.device_ids):
            for key in identifier_keys(host, host=True):
                claims[key].add(person.key)
    problems: list[LookupProblem] = []
    for asset in read_assets(lookups / ASSETS_FILE, problems):
        owner = None if asset.shared else directory.resolve("user", asset.owner)
        for address in asset.ips if owner is not None else ():
            if _is_ip(address):  # a range cannot be a join key; ghosthire.identities resolves those locally
                claims[address.lower()].add(owner.key)
    documents, conflicts = [], {}
    for key, owners in sorted(claims.items()):
        if len(owners) > 1:
            conflicts[key] = sorted(owners)
            continue
        person = directory.persons[next(iter(owners))]
        documents.append({"ghosthire": {**_person_fields(person, end_date_grace), "identifier": key}})
    return IdentityLookup(documents, conflicts, [str(problem) for problem in directory.problems])


def _person_fields(person: Person, end_date_grace: timedelta) -> dict[str, Any]:
    end = access_end(person.end_date, person.start_date, person.time_zone, end_date_grace)
    fields: dict[str, Any] = {
        "person": person.key,
        "person_name": person.display_name,
        "category": list(person.categories) or None,
        "bunit": person.bunit or None,
        # alpha-2, as the countries lookup index gives an event's country (ghosthire.elastic.identity_checks)
        "work_country": country_code(person.work_country) or person.work_country,
        "watchlist": person.watchlist,
        "start_date": person.start_date.isoformat() if person.start_date else None,
        "end_date": person.end_date.isoformat() if person.end_date else None,
        "access_end": end.strftime("%Y-%m-%dT%H:%M:%SZ") if end else None,
        "time_zone": person.time_zone,
    }
    return {key: value for key, value in fields.items() if value is not None}


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
