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

import csv
import ipaddress
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from ghosthire.elastic.backends import string_literal
from ghosthire.elastic.ecs import rule_field_ecs_name
from ghosthire.elastic.fields import STRING_TYPES, field_type
from ghosthire.elastic.schedule import Duration
from ghosthire.rules import PackRule, RulePack
from ghosthire.rules.metadata import Guidance, RiskEntity
from ghosthire.tuning import NEW_HIRE_DAYS, NEW_HIRE_SCORE_FACTOR

PERSON_RULE_ID = "5e1f0b7a-9c3d-4e8a-b2f6-7d4c1a0e9b31"
# The lookup index's fields; the join key has the same name in the query (LOOKUP JOIN ... ON needs it).
IDENTIFIER = "ghosthire.identifier"
PERSON = "ghosthire.person"
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


@dataclass(frozen=True)
class TriageThresholds:
    """When a person reaches the triage queue: within `window_days`, at least `min_guidance` guidance areas
    or a score of at least `min_score`, with at least one alert that is not a building block."""

    window_days: int
    min_guidance: int
    min_score: int


# --- the query -------------------------------------------------------------------------------------------


def person_risk_query(
    pack: RulePack, rules: list[PackRule], settings: PersonRiskSettings, thresholds: TriageThresholds
) -> str:
    """The ES|QL of the triage rule over the alerts of `rules` (those with risk metadata count)."""
    rules = [rule for rule in rules if rule.meta is not None]
    flags = {area: [rule for rule in rules if area in rule.meta.guidance] for area in Guidance}  # type: ignore[union-attr]
    names = {
        area: f"ghosthire.guidance.{area.value.replace('-', '_')}"
        for area, members in flags.items()
        if members
    }
    guidance = ",\n  ".join(f"{names[area]} = {_case_in(flags[area], '1', '0')}" for area in names)
    maxima = ", ".join(f"{name} = MAX({name})" for name in names.values())
    days = 'DATE_DIFF("days", ghosthire.start_date, @timestamp)'
    return "\n".join(
        [
            f"from {settings.alerts_index}",
            f"| eval ghosthire.score = {_score(rules)}",
            '| where ghosthire.score is not null and kibana.alert.workflow_status != "closed"',
            f"| eval {IDENTIFIER} = {_entity(pack, rules)}",
            f"| lookup join {settings.identities_index} on {IDENTIFIER}",
            f"| eval {PERSON} = COALESCE({PERSON}, {IDENTIFIER}),",
            "  ghosthire.signal = CASE(kibana.alert.building_block_type is null, 1, 0),",
            f"  ghosthire.score = CASE({days} >= 0 and {days} <= {NEW_HIRE_DAYS}, "
            f"ghosthire.score * {NEW_HIRE_SCORE_FACTOR}, ghosthire.score * 1.0),",
            f"  {guidance}",
            f"| stats {maxima}, ghosthire.risk_score = SUM(ghosthire.score), "
            "ghosthire.signals = SUM(ghosthire.signal), ghosthire.alerts = COUNT(*), "
            "ghosthire.first_seen = MIN(@timestamp), ghosthire.last_seen = MAX(@timestamp), "
            f"ghosthire.identifiers = VALUES({IDENTIFIER}), ghosthire.rules = VALUES(kibana.alert.rule.name) "
            f"by {PERSON}",
            f"| eval ghosthire.guidance_areas = {' + '.join(names.values())}, "
            "ghosthire.risk_score = ROUND(ghosthire.risk_score)",
            f"| where ghosthire.signals > 0 and (ghosthire.guidance_areas >= {thresholds.min_guidance} "
            f"or ghosthire.risk_score >= {thresholds.min_score})",
            "| sort ghosthire.guidance_areas desc, ghosthire.risk_score desc",
        ]
    )


def _case_in(rules: list[PackRule], then: str, otherwise: str) -> str:
    ids = ", ".join(string_literal(rule.id) for rule in rules)
    return f"CASE(kibana.alert.rule.rule_id in ({ids}), {then}, {otherwise})"


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
        value = field if field_type(field) in STRING_TYPES else f"TO_STRING({field})"
        value = f"TO_LOWER({value})"
        if kind is RiskEntity.USER:
            value = f'REPLACE({value}, "^.*\\\\\\\\", "")'
        elif kind is RiskEntity.HOST:
            value = f'REPLACE({value}, "^([^.]*[^0-9.][^.]*)\\\\..*$", "$1")'
        ids = ", ".join(string_literal(rule.id) for rule in members)
        branches.append(f"kibana.alert.rule.rule_id in ({ids}), {value}")
    return f"CASE({', '.join(branches)}, null)"


def entity_field(pack: RulePack, pack_rule: PackRule) -> str:
    """The ECS field holding the entity a rule's risk is about."""
    return rule_field_ecs_name(pack, pack_rule, pack_rule.meta.risk.field)  # type: ignore[union-attr]


# --- the lookup index's documents -----------------------------------------------------------------------


@dataclass(frozen=True)
class IdentityLookup:
    """The lookup index's documents (one per normalised identifier) and the identifiers left out because
    two persons claim them."""

    documents: list[dict[str, Any]]
    conflicts: dict[str, list[str]]


def identifier_keys(identifier: str, host: bool = False) -> set[str]:
    """The normalised forms an alert's entity can take for this identifier: lower-cased, without a
    `DOMAIN\\`; an e-mail or UPN also as its bare name, a DNS host name also as its short name."""
    text = identifier.strip().lower()
    if not text:
        return set()
    text = text.rsplit("\\", 1)[-1]
    keys = {text}
    if "@" in text:
        keys.add(text.split("@", 1)[0])
    elif host and "." in text and not _is_ip(text):
        keys.add(text.split(".", 1)[0])
    return keys


def identity_documents(identities_csv: Path, assets_csv: Path | None = None) -> IdentityLookup:
    """One document per identifier of every person in the identities lookup (Splunk ES identity columns)
    and of every single-owner asset of the assets lookup, keyed by the normalised identifier."""
    persons: dict[str, dict[str, Any]] = {}
    claims: dict[str, set[str]] = defaultdict(set)
    for row in _rows(identities_csv):
        identifiers = [part for part in (row.get("identity") or "").split("|") if part.strip()]
        if not identifiers:
            continue
        person = (row.get("email") or identifiers[0]).strip().lower()
        persons[person] = _person_fields(person, row)
        for identifier in [*identifiers, row.get("email") or ""]:
            for key in identifier_keys(identifier):
                claims[key].add(person)
    owner_of = {key: next(iter(owners)) for key, owners in claims.items() if len(owners) == 1}
    if assets_csv is not None and assets_csv.exists():
        for row in _rows(assets_csv):
            owner = owner_of.get((row.get("owner") or "").strip().lower().rsplit("\\", 1)[-1])
            if owner is None or {"shared", "kiosk"} & set((row.get("category") or "").split("|")):
                continue  # an asset nobody or several people use is not one person's evidence
            for column in ("nt_host", "dns", "ip", "mac", "device_id"):
                for value in (row.get(column) or "").split("|"):
                    for key in identifier_keys(value, host=True):
                        claims[key].add(owner)
    documents, conflicts = [], {}
    for key, owners in sorted(claims.items()):
        if len(owners) > 1:
            conflicts[key] = sorted(owners)
            continue
        documents.append({**persons[next(iter(owners))], IDENTIFIER.split(".")[1]: key})
    return IdentityLookup([{"ghosthire": document} for document in documents], conflicts)


def _person_fields(person: str, row: dict[str, str]) -> dict[str, Any]:
    name = " ".join(part for part in (row.get("first", "").strip(), row.get("last", "").strip()) if part)
    fields: dict[str, Any] = {
        "person": person,
        "person_name": name or None,
        "category": [c for c in (row.get("category") or "").split("|") if c] or None,
        "bunit": row.get("bunit") or None,
        "work_country": row.get("work_country") or None,
        "watchlist": (row.get("watchlist") or "").strip().lower() == "true",
        "start_date": (row.get("startDate") or "").strip() or None,
    }
    return {key: value for key, value in fields.items() if value is not None}


def _rows(path: Path) -> Iterable[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        yield from csv.DictReader(handle)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
