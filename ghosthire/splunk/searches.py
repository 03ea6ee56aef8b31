"""The saved searches of the app, one per compiled rule (and per tstats variant), with every setting
savedsearches.conf needs already decided: schedule, time range, alerting, ES risk and notable fields, and
contentctl's conventions (detection metadata, annotations, drill-down searches, threat objects).

A first-seen rule (`first_seen.history_days`) also gets a baseline search, ESCU's "previously seen"
pattern: on the detection's schedule it runs the detection over the interval before the detection's, and
keeps in the lookup `ghosthire_first_seen` the last time each entity matched; the detection drops a result
whose entity matched within the history before it.

Every search ships disabled, as ESCU's do: the admin enables a chosen set (docs/splunk.md)."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass

from sigma.correlations import SigmaCorrelationRule

from ghosthire.compile import CompiledRule
from ghosthire.errors import ContentError
from ghosthire.model.levels import Level
from ghosthire.rules import PackRule, RulePack
from ghosthire.splunk.entities import EntityLocation, ThreatObject, metadata_of
from ghosthire.splunk.settings import AppSettings

SEARCH_NAME_PREFIX = "ghosthire - "
TSTATS_SUFFIX = " (tstats)"
# The macro every rule's search resolves its entity with (macros.conf), and the fields it sets for ES.
PERSON_MACRO = "ghosthire_risk_person"
# First-seen: the detection's filter on the baseline lookup, and the baseline search's update of it.
FIRST_SEEN_MACRO, FIRST_SEEN_UPDATE_MACRO = "ghosthire_first_seen", "ghosthire_first_seen_update"
BASELINE_SUFFIX = " (first-seen baseline)"
RISK_PERSON, RISK_UNRESOLVED = "risk_person", "risk_unresolved"
# The persons behind a shared entity (rule field `risk.persons`), and the result field holding them: a
# value_count correlation's counted values (ghosthire.splunk.backend).
RISK_PERSONS_BEHIND, PERSONS_RESULT_FIELD = "risk_persons_behind", "distinct_values"
# The triage searches' annotation role; detections are "detection", tstats variants "variant".
# The ES risk-index triage search is "triage-es": chosen by name only, it needs Enterprise Security.
ROLE_DETECTION, ROLE_VARIANT, ROLE_TRIAGE, ROLE_TRIAGE_ES = "detection", "variant", "triage", "triage-es"
# A first-seen search's baseline; enabled with the search it serves (`ghosthire_baseline_of`).
ROLE_BASELINE = "baseline"
# The search that rewrites the identity keys from the identity and asset lookups; enabled with detections.
ROLE_IDENTITY_KEYS = "identity-keys"
# savedsearches.conf alert.severity: 1 debug, 2 info, 3 warning, 4 error, 5 severe, 6 fatal.
_ALERT_SEVERITY: dict[Level, int] = {"informational": 2, "low": 3, "medium": 4, "high": 5, "critical": 6}


@dataclass(frozen=True)
class Schedule:
    cron: str
    earliest: str
    latest: str


@dataclass(frozen=True)
class BaselineSearch:
    """The scheduled search that keeps a first-seen search's baseline: no alert, no actions."""

    name: str
    search: str
    schedule: Schedule
    annotations: str


@dataclass(frozen=True)
class SavedSearch:
    """One stanza of savedsearches.conf; the template lays these fields out and decides nothing."""

    name: str
    rule_name: str
    search_id: str
    filter_macro: str
    search: str
    description: str
    schedule: Schedule
    entity_field: str
    risk: str
    risk_message: str
    annotations: str
    metadata: str
    notable: bool
    severity: str
    alert_severity: int
    rule_title: str
    rule_description: str
    security_domain: str
    drilldown_name: str
    drilldown_search: str
    drilldown_searches: str
    baseline: BaselineSearch | None = None
    # The result field naming the persons behind the entity, for rules with `risk.persons`.
    persons_field: str | None = None
    # A work pattern alerts once per window: alert suppression for as long (else the app's setting).
    suppress_period: str | None = None


def is_building_block(pack_rule: PackRule) -> bool:
    """Building blocks feed correlations and risk: a saved search of their own only when no correlation reads
    them (risk only); their filter macro stays (the correlation searches embed their query, filter
    included)."""
    return bool(pack_rule.rule.custom_attributes.get("building_block"))


def raises_notable(pack_rule: PackRule, settings: AppSettings) -> bool:
    """A building block only ever writes risk (an Anomaly), whatever its level."""
    return pack_rule.level in settings.alerting.notable_levels and not is_building_block(pack_rule)


def filter_macro(search_id: str) -> str:
    """The tuning macro every search of a rule (or of its variant, `<rule>_tstats`) ends with."""
    return f"{search_id}_filter"


def search_name(title: str, suffix: str = "") -> str:
    """The stanza name; `[` and `]` would end a .conf stanza header."""
    return SEARCH_NAME_PREFIX + title.translate({ord("["): "(", ord("]"): ")"}) + suffix


def single_query(compiled: CompiledRule) -> str:
    if len(compiled.queries) != 1:
        raise ContentError(
            compiled.rule.path, f"expected one {compiled.target} query, got {len(compiled.queries)}"
        )
    return str(compiled.queries[0])


def timespan_seconds(pack_rule: PackRule) -> int:
    rule = pack_rule.rule
    return rule.timespan.seconds if isinstance(rule, SigmaCorrelationRule) else 0


def measured_seconds(pack_rule: PackRule) -> int:
    """The span a run must read before its interval: a correlation's timespan, a work pattern's window
    (ghosthire.splunk.work_patterns judges only windows whose first day lies inside the range)."""
    pattern = pack_rule.meta.work_pattern if pack_rule.meta else None
    return pattern.window_days * 86400 if pattern else timespan_seconds(pack_rule)


def schedule_for(key: str, timespan: int, settings: AppSettings, *, runs_back: int = 0) -> Schedule:
    """Runs every tier interval at a minute (and, daily, an hour) taken from a hash of `key` (the rule id),
    so the searches spread over the hour and keep their slot when rules are added. Each run searches its
    interval plus the correlation `timespan` (seconds), ending `ingestion_lag_minutes` before the run;
    `runs_back` moves that range back by whole intervals (a baseline searches the previous run's)."""
    tier = settings.schedule.tier_for(timespan)
    slot = int(hashlib.sha256(key.encode()).hexdigest(), 16)
    minute, hour = slot % 60, (slot // 60) % 24
    cron = f"{minute} * * * *" if tier.every_minutes == 60 else f"{minute} {hour} * * *"
    lag = settings.schedule.ingestion_lag_minutes
    window = search_range_minutes(timespan, settings)
    back = runs_back * tier.every_minutes
    latest = f"-{readable_minutes(back)}@m-{lag}m" if back else f"-{lag}m@m"
    return Schedule(cron, f"-{readable_minutes(window + back)}@m-{lag}m", latest)


def search_range_minutes(timespan: int, settings: AppSettings) -> int:
    """How far back a search with this correlation `timespan` (seconds) reads at each run: its interval
    plus the timespan (the summary index dates a correlation's row at that range's start)."""
    return settings.schedule.tier_for(timespan).every_minutes + math.ceil(timespan / 60)


def readable_minutes(minutes: int) -> str:
    """A span in the largest whole unit Splunk's time modifiers know: `8d`, `25h`, `90m`."""
    for unit, size in (("d", 1440), ("h", 60)):
        if minutes % size == 0:
            return f"{minutes // size}{unit}"
    return f"{minutes}m"


def drilldown_search(location: EntityLocation, token_field: str) -> str:
    """The entity's raw events on every log source the rule reads, through the source macros."""
    clauses = sorted(
        {
            f'`ghosthire_src_{mapped.state["splunk_source"]}` {mapped.name}="${token_field}$"'
            for mapped in location.per_source
        }
    )
    return clauses[0] if len(clauses) == 1 else " OR ".join(f"({clause})" for clause in clauses)


def risk_objects(
    object_type: str, score: int, threats: tuple[ThreatObject, ...], persons_behind: bool = False
) -> list[dict[str, object]]:
    """The risk action's entries: the person the entity resolved to (`risk_person`, a user) or, when it
    did not resolve, the entity itself (`risk_unresolved`, of its own type): each result has exactly one
    of the two. Then, for a shared entity, the persons behind it (`risk_persons_behind`, multivalued: ES
    scores each). Then each threat object (contentctl's form)."""
    behind = [{"risk_object_field": RISK_PERSONS_BEHIND, "risk_object_type": "user", "risk_score": score}]
    return [
        {"risk_object_field": RISK_PERSON, "risk_object_type": "user", "risk_score": score},
        {"risk_object_field": RISK_UNRESOLVED, "risk_object_type": object_type, "risk_score": score},
        *(behind if persons_behind else []),
        *({"threat_object_field": t.field, "threat_object_type": t.type} for t in threats),
    ]


def rule_version(pack_rule: PackRule) -> str:
    """The detection version ES keeps in its metadata: the rule's last change date (Sigma `modified`,
    else `date`) as YYYYMMDD, so it grows whenever an author records a change."""
    changed = pack_rule.rule.modified or pack_rule.rule.date
    return changed.strftime("%Y%m%d") if changed else "1"


def annotations(pack_rule: PackRule, settings: AppSettings, role: str, data_sources: list[str]) -> str:
    """contentctl's annotations (ATT&CK, analytic stories, NIST, CIS, data sources, type) and ghosthire's
    own (guidance areas, level, recommended, role), which the installer selects searches by."""
    meta = metadata_of(pack_rule)
    vocabulary = settings.annotations
    notable = raises_notable(pack_rule, settings)
    return _json(
        {
            "analytic_story": [vocabulary.pack_story, *(vocabulary.stories[area] for area in meta.guidance)],
            "cis20": sorted({control for area in meta.guidance for control in vocabulary.cis20[area]}),
            "data_source": data_sources,
            "mitre_attack": pack_rule.attack_ids,
            "nist": vocabulary.nist["correlation" if pack_rule.is_correlation else "single_event"],
            "type": "TTP" if notable else "Anomaly",
            "ghosthire_guidance": [str(area) for area in meta.guidance],
            "ghosthire_level": pack_rule.level,
            "ghosthire_recommended": meta.enabled_by_default and role == ROLE_DETECTION,
            "ghosthire_role": role,
        }
    )


def triage_annotations(settings: AppSettings, role: str) -> str:
    """The person-level searches over the alerts: the pack's story, a correlation across sources."""
    return _json(
        {
            "analytic_story": [settings.annotations.pack_story],
            "nist": settings.annotations.nist["correlation"],
            "type": "Correlation",
            "ghosthire_role": role,
        }
    )


def drilldowns(name: str, search: str, field: str) -> str:
    """ES's `drilldown_searches` (JSON): the entity's raw events, then everything ghosthire raised about it
    in the last 7 days."""
    window = {"earliest_offset": "$info_min_time$", "latest_offset": "$info_max_time$"}
    signals = f'`ghosthire_signals` earliest=-7d@d | `ghosthire_entity` | search entity="${field}$"'
    return _json(
        [
            {"name": name, "search": search, **window},
            {
                "name": f"ghosthire alerts about ${field}$ in the last 7 days",
                "search": signals,
                **window,
            },
        ]
    )


def one_line(text: str) -> str:
    return " ".join(text.split())


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _first_seen_term(body: str, entity_field: str, fields: tuple[str, ...]) -> tuple[str, str]:
    """The search and the field its first-seen history is kept by: the entity, or with `first_seen.fields`
    the entity and their values joined (a user with a country is one term)."""
    if not fields:
        return body, entity_field
    parts = ' . "|" . '.join(f"coalesce('{name}', \"\")" for name in (entity_field, *fields))
    return f"{body}\n| eval gh_fs_term={parts}", "gh_fs_term"


def rule_search(
    compiled: CompiledRule,
    location: EntityLocation,
    settings: AppSettings,
    *,
    variant_suffix: str = "",
    filter_variant: str = "",
    result_field: str | None = None,
    threats: tuple[ThreatObject, ...] = (),
) -> SavedSearch:
    """The saved search of one compiled rule. A tstats variant passes its own name suffix, filter macro
    and result field (CIM names after `rename`)."""
    pack_rule = compiled.rule
    meta = metadata_of(pack_rule)
    field = result_field or location.result_field
    search_id = f"{pack_rule.name}{filter_variant}"
    macro = filter_macro(search_id)
    query = single_query(compiled)
    ending = f"\n| `{macro}`"
    if not query.endswith(ending):
        raise ContentError(pack_rule.path, f"the {compiled.target} query does not end with `{macro}`")
    entity_type = str(meta.risk.entity)
    body = query.removesuffix(ending)
    persons = PERSONS_RESULT_FIELD if meta.risk.persons else None
    # The person the entity is (ghosthire_identity_keys) before the filter, so tuning can name persons;
    # for a shared entity also the persons behind it.
    arguments = ", ".join(filter(None, (field, entity_type, persons)))
    tail = f"\n| `{PERSON_MACRO}({arguments})`{ending}"
    first_seen = meta.first_seen
    schedule = schedule_for(pack_rule.id, measured_seconds(pack_rule), settings)
    name = search_name(pack_rule.title, variant_suffix)
    search = body + tail
    baseline = None
    if first_seen is not None:
        body, term = _first_seen_term(body, field, location.first_seen_fields if not result_field else ())
        search = f"{body}\n| `{FIRST_SEEN_MACRO}({search_id}, {term}, {first_seen.history_days})`{tail}"
        baseline = BaselineSearch(
            name=search_name(pack_rule.title, variant_suffix + BASELINE_SUFFIX),
            search=f"{body}{tail}\n| `{FIRST_SEEN_UPDATE_MACRO}({search_id}, {term})`",
            schedule=schedule_for(pack_rule.id, timespan_seconds(pack_rule), settings, runs_back=1),
            annotations=_json({"ghosthire_role": ROLE_BASELINE, "ghosthire_baseline_of": name}),
        )
    return SavedSearch(
        name=name,
        rule_name=pack_rule.name,
        search_id=search_id,
        filter_macro=macro,
        search=search,
        description=(pack_rule.rule.description or pack_rule.title).strip(),
        schedule=schedule,
        entity_field=field,
        risk=_json(
            risk_objects(
                settings.risk_object_types[meta.risk.entity], meta.risk.score, threats, persons is not None
            )
        ),
        risk_message=f"{pack_rule.title}: ${field}$ (person $person$)",
        annotations=annotations(
            pack_rule,
            settings,
            ROLE_VARIANT if variant_suffix else ROLE_DETECTION,
            sorted(
                {
                    settings.annotations.data_sources.get(
                        mapped.state["splunk_source"], mapped.state["splunk_source"]
                    )
                    for mapped in location.per_source
                }
            ),
        ),
        metadata=_json(
            {
                "deprecated": "0",
                "detection_id": pack_rule.id,
                "detection_version": rule_version(pack_rule),
            }
        ),
        notable=raises_notable(pack_rule, settings),
        severity=pack_rule.level,
        alert_severity=_ALERT_SEVERITY[pack_rule.level],
        rule_title=pack_rule.title,
        rule_description=one_line(pack_rule.rule.description or pack_rule.title),
        security_domain=settings.security_domains[meta.guidance[0]],
        drilldown_name=f"Events of ${field}$",
        drilldown_search=drilldown_search(location, field),
        drilldown_searches=drilldowns(f"Events of ${field}$", drilldown_search(location, field), field),
        baseline=baseline,
        persons_field=persons,
        suppress_period=f"{meta.work_pattern.window_days}d" if meta.work_pattern else None,
    )


def saved_searches(
    pack: RulePack,
    raw: Iterable[tuple[CompiledRule, EntityLocation, tuple[ThreatObject, ...]]],
    tstats: Iterable[tuple[CompiledRule, EntityLocation, str]],
    settings: AppSettings,
) -> list[SavedSearch]:
    """Every rule's saved search, then every tstats variant (its entity under its CIM name but drilled
    down through the raw source), names unique."""
    searches = [
        rule_search(compiled, location, settings, threats=threats) for compiled, location, threats in raw
    ]
    searches += [
        rule_search(
            compiled,
            location,
            settings,
            variant_suffix=TSTATS_SUFFIX,
            filter_variant="_tstats",
            result_field=cim_field,
        )
        for compiled, location, cim_field in tstats
    ]
    _check_unique_names(pack, searches)
    return searches


def _check_unique_names(pack: RulePack, searches: list[SavedSearch]) -> None:
    seen: dict[str, str] = {}
    for search in searches:
        if search.name in seen:
            raise ContentError(
                pack.get(search.rule_name).path,
                f"saved search name {search.name!r} is also the name of rule {seen[search.name]!r}: "
                "titles must be unique",
            )
        seen[search.name] = search.rule_name
