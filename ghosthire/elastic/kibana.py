"""Kibana detection rules (NDJSON for POST /api/detection_engine/rules/_import) from the compiled pack.

Single-event rules become EQL rules (EQL `:`/`like~` ignore case as Sigma does). Correlations become
ES|QL rules whose lookback is the Sigma timespan and whose schedule is a fraction of it, so the window
slides with the runs. A first-seen rule (`first_seen.history_days`) alerts only on an entity that has not
matched it within its history: a single-event one becomes a `new_terms` rule on its risk entity's field
(Lucene query, history window of `history_days`), a correlation keeps its ES|QL rule with its alerts
suppressed per group for `history_days`. Each rule is a typed model serialised with sorted keys; nothing
here is a template.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.filters import SigmaFilter
from sigma.rule import SigmaRule

from ghosthire.compile import CompiledRule, TargetOutput, compile_target
from ghosthire.compile.syntax import QuerySyntaxError, check_esql
from ghosthire.compile.targets import Target
from ghosthire.content import backends_dir
from ghosthire.elastic.ecs import ecs_fields_of, rule_field_ecs_name
from ghosthire.elastic.exceptions import (
    RunTimeFilter,
    pack_filters,
    run_time_filters,
    write_tuning,
)
from ghosthire.elastic.fields import field_type, is_ecs_field
from ghosthire.elastic.identity_checks import IdentityCheckSettings
from ghosthire.elastic.indices import IndexEntry, Integration, index_entry, indices_for
from ghosthire.elastic.persons import (
    PERSON,
    PERSON_RULE_ID,
    PersonRiskSettings,
    person_risk_query,
)
from ghosthire.elastic.schedule import (
    UNIT_SECONDS,
    CorrelationSchedule,
    Duration,
    correlation_window,
    duration,
    seconds,
)
from ghosthire.elastic.threat import Threat, threat_entries
from ghosthire.elastic.versions import load_lock, with_versions
from ghosthire.elastic.work_patterns import WorkPatternSettings, lookback_seconds
from ghosthire.errors import ContentError
from ghosthire.model.levels import Level
from ghosthire.rules import PackRule, RulePack
from ghosthire.triage import load_triage_policy

NDJSON_NAME = "ghosthire-elastic-rules.ndjson"
Severity = Literal["low", "medium", "high", "critical"]
# The compiled query a Kibana rule carries: EQL, ES|QL, or Lucene (for a new_terms rule).
Language = Literal["eql", "esql", "lucene"]
__all__ = ["NDJSON_NAME", "UNIT_SECONDS", "KibanaRule", "duration", "seconds", "write_kibana_rules"]


class LevelSetting(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    severity: Severity
    risk_score: Annotated[int, Field(ge=0, le=100)]


class SingleEventSchedule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    interval: Duration
    lookback: Duration


class KibanaSettings(BaseModel):
    """backends/elastic/kibana.yml."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    levels: dict[Level, LevelSetting]
    single_event: SingleEventSchedule
    correlation: CorrelationSchedule
    person_risk: PersonRiskSettings
    identity_checks: IdentityCheckSettings
    work_patterns: WorkPatternSettings
    max_signals: Annotated[int, Field(ge=1)]
    default_author: str
    default_license: str


class RequiredField(BaseModel):
    """A field the rule reads, with its Elasticsearch type and whether ECS defines it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    type: str
    ecs: bool


class SuppressionDuration(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    value: Annotated[int, Field(ge=1)]
    unit: Literal["s", "m", "h"]


class AlertSuppression(BaseModel):
    """Kibana's alert suppression: one alert per group per duration, the repeats counted on it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    group_by: Annotated[list[str], Field(min_length=1, max_length=3)]
    duration: SuppressionDuration
    missing_fields_strategy: Literal["suppress", "doNotSuppress"] = "suppress"

    @classmethod
    def by(cls, fields: list[str], period: str) -> AlertSuppression:
        total = seconds(period)
        unit = "h" if total % 3600 == 0 else "m" if total % 60 == 0 else "s"
        return cls(
            group_by=fields, duration=SuppressionDuration(value=total // UNIT_SECONDS[unit], unit=unit)
        )


class KibanaRule(BaseModel):
    """The fields of one detection rule in Kibana's import format."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    rule_id: Annotated[str, Field(pattern=r"^[0-9a-f-]{36}$")]
    name: str
    description: str
    type: Literal["eql", "esql", "new_terms"]
    language: Literal["eql", "esql", "lucene"]
    query: str
    # new_terms rules: alert on a value of these fields (at most 3) not seen since history_window_start.
    new_terms_fields: Annotated[list[str], Field(min_length=1, max_length=3)] | None = None
    history_window_start: str | None = None
    index: list[str] | None = None
    lookback: str = Field(alias="from")
    to: str = "now"
    interval: Duration
    enabled: bool = False
    max_signals: int
    severity: Severity
    risk_score: Annotated[int, Field(ge=0, le=100)]
    risk_score_mapping: list[dict[str, str]] = []
    severity_mapping: list[dict[str, str]] = []
    threat: list[Threat]
    tags: list[str]
    false_positives: list[str]
    references: list[str]
    author: list[str]
    license: str
    note: str
    setup: str = ""
    timestamp_override: str | None = None
    alert_suppression: AlertSuppression | None = None
    building_block_type: Literal["default"] | None = None
    exceptions_list: list[dict[str, str]] = []
    related_integrations: list[Integration] = []
    required_fields: list[RequiredField] = []
    version: Annotated[int, Field(ge=1)] = 1

    def as_import_dict(self) -> dict:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def settings_path() -> Path:
    return backends_dir() / "elastic" / "kibana.yml"


@cache
def load_settings(path: Path | None = None) -> KibanaSettings:
    path = path or settings_path()
    try:
        return KibanaSettings.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as error:
        raise ContentError(path, f"invalid Kibana settings: {error}") from None


def write_kibana_rules(pack: RulePack, outputs: dict[str, TargetOutput], out_dir: Path) -> Path:
    """Write out_dir/ghosthire-elastic-rules.ndjson: one Kibana rule per rule Elastic can express."""
    bodies = with_versions([rule.as_import_dict() for rule in kibana_rules(pack, outputs)], load_lock())
    lines = [json.dumps(body, sort_keys=True) for body in bodies]
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / NDJSON_NAME
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    write_tuning(run_time_filters(pack), out_dir)
    return path


def rule_languages(pack_rule: PackRule) -> tuple[Language, ...]:
    """The Kibana rule languages to try for a rule, in order: ES|QL then an EQL sequence for correlations,
    ES|QL for a single event compared with the identity lookup or measured as a work pattern (LOOKUP
    JOIN), Lucene (a new_terms rule)
    for a first-seen single event, EQL for any other."""
    if pack_rule.is_correlation:
        return ("esql", "eql")
    if pack_rule.meta and (pack_rule.meta.identity_check or pack_rule.meta.work_pattern):
        return ("esql",)
    return ("lucene",) if first_seen_days(pack_rule) else ("eql",)


def first_seen_days(pack_rule: PackRule) -> int | None:
    first_seen = pack_rule.meta.first_seen if pack_rule.meta else None
    return first_seen.history_days if first_seen else None


def kibana_rules(pack: RulePack, outputs: dict[str, TargetOutput]) -> list[KibanaRule]:
    """Rules in pack order: EQL for single events (new_terms for first-seen ones), ES|QL for correlations
    (an ordered temporal correlation, which ES|QL cannot express, as an EQL sequence); inexpressible ones
    are left out."""
    compiled = {
        target: {item.rule.id: item for item in outputs[target].compiled}
        for target in ("eql", "esql", "lucene")
    }
    exceptions = _run_time_filters_by_rule(pack)
    filters = pack_filters(pack) if exceptions else []
    rules, included = [], []
    for pack_rule in pack.rules:
        for language in rule_languages(pack_rule):
            item = compiled[language].get(pack_rule.id)
            if item is None or not item.ok or not item.queries:
                continue
            runtime = exceptions.get(pack_rule.name, []) if not pack_rule.is_correlation else []
            if runtime:
                item = without_filters(pack, pack_rule, runtime, filters, outputs[language].target)
            rule = kibana_rule(pack, pack_rule, item, language)
            if runtime:
                rule = rule.model_copy(update={"exceptions_list": [f.reference() for f in runtime]})
            rules.append(rule)
            included.append(pack_rule)
            break
    rules.append(person_rule(pack, included))
    return rules


def _run_time_filters_by_rule(pack: RulePack) -> dict[str, list[RunTimeFilter]]:
    by_rule: dict[str, list[RunTimeFilter]] = {}
    for runtime in run_time_filters(pack):
        for name in runtime.rules:
            by_rule.setdefault(name, []).append(runtime)
    return by_rule


def without_filters(
    pack: RulePack,
    pack_rule: PackRule,
    runtime: list[RunTimeFilter],
    filters: list[SigmaFilter],
    target: Target,
) -> CompiledRule:
    """The rule compiled as written plus the pack's other filters: Kibana applies `runtime` as exceptions."""
    names = {f.name for f in runtime}
    parsed = SigmaCollection.from_yaml(
        pack_rule.path.read_text(encoding="utf-8"), collect_filters=True, resolve_references=False
    )
    rule = next(r for r in parsed.rules if str(r.id) == pack_rule.id)
    for sigma_filter in filters:
        if sigma_filter.name not in names:
            rule = copy.deepcopy(sigma_filter).apply_on_rule(rule)
    alone = RulePack([PackRule(rule, pack_rule.path, pack_rule.meta)], SigmaCollection([rule]), pack.root)
    item = compile_target(alone, target).compiled[0]
    if not item.ok:
        raise ContentError(pack_rule.path, f"cannot compile without its run-time filters: {item.skipped}")
    # The compiled rule is the one the query comes from: its fields are the rule's required fields.
    return CompiledRule(PackRule(rule, pack_rule.path, pack_rule.meta), item.target, item.queries)


def _longest_timespan(rules: list[PackRule]) -> timedelta:
    """The longest correlation timespan of the rules (the hiring correlations look a year back): how long
    before a person's start a hiring-stage alert the triage rule reads may have been raised."""
    spans = [rule.rule.timespan.seconds for rule in rules if isinstance(rule.rule, SigmaCorrelationRule)]
    return timedelta(seconds=max(spans, default=0))


def person_rule(pack: RulePack, rules: list[PackRule]) -> KibanaRule:
    """The triage queue: a person whose alerts of the last window cross the triage thresholds."""
    settings = load_settings()
    policy = load_triage_policy()
    person = settings.person_risk
    query = person_risk_query(pack, rules, person, policy)
    try:
        check_esql(query)  # as every compiled query is, before anything is written
    except QuerySyntaxError as error:
        raise ContentError(settings_path(), f"the triage rule's ES|QL does not parse: {error}") from None
    level = settings.levels["high"]
    return KibanaRule(
        rule_id=PERSON_RULE_ID,
        name="Ghosthire - Person in the triage queue",
        description=(
            "A person (every identifier the identities and assets lookups give them, joined) whose ghosthire "
            f"alerts reach the triage queue: {policy.describe()} (FBI guidance areas; score: the sum of the "
            "alerts' risk scores). Building-block alerts add risk but never raise this alone."
        ),
        type="esql",
        language="esql",
        query=query,
        lookback=f"now-{duration(int(policy.lookback(_longest_timespan(rules)).total_seconds()))}",
        interval=person.interval,
        max_signals=settings.max_signals,
        severity=level.severity,
        risk_score=level.risk_score,
        threat=[],
        tags=[
            "Domain: Identity",
            "Use Case: Insider Threat Detection",
            "Use Case: Risk Based Alerting",
            "Resources: Investigation Guide",
            "Rule Type: Higher-Order Rule",
            "ghosthire",
        ],
        false_positives=[
            "A person whose remote-work set-up trips several indicators; review the alerts listed."
        ],
        references=["https://www.ic3.gov/PSA/2025/PSA250123"],
        author=[settings.default_author],
        license=settings.default_license,
        note=PERSON_NOTE,
        setup=PERSON_SETUP.format(index=person.identities_index),
        alert_suppression=AlertSuppression.by([PERSON], person.suppression),
        required_fields=[
            RequiredField(name=name, type=kind, ecs=name.startswith("@"))
            for name, kind in (
                ("@timestamp", "date"),
                ("kibana.alert.building_block_type", "keyword"),
                ("kibana.alert.rule.name", "keyword"),
                ("kibana.alert.rule.rule_id", "keyword"),
                ("kibana.alert.workflow_status", "keyword"),
            )
        ],
    )


PERSON_NOTE = """## Triage and analysis

### Investigating a person in the triage queue

The alert names the person (`ghosthire.person`), the identifiers seen in their alerts
(`ghosthire.identifiers`), how many guidance areas their alerts cover (`ghosthire.guidance_areas`, one
`ghosthire.guidance.*` flag per area), their risk score (new hires' alerts count 1.5 times) and the rules
that fired (`ghosthire.rules`). Open the Alerts page filtered on those identifiers and read the alerts as
one timeline: several independent indicators (remote-control tools, shared devices or egress, logins from
several countries, data leaving) on one person are what the FBI guidance describes.

### Response

Follow your insider-threat process: involve HR and legal before contacting the person; preserve the
evidence listed in each alert's investigation guide.
"""

PERSON_SETUP = """## Setup

Needs Elasticsearch and Kibana 8.19 / 9.1 or later (ES|QL `LOOKUP JOIN`, indices in `lookup` mode).
`ghosthire install elastic --elasticsearch-url ...` creates the lookup index `{index}` from the company's
identities and assets lookups (`ghosthire_identities.csv`, `ghosthire_assets.csv`) and reloads it on
every run; edit the CSVs and run the installer again, no rebuild needed. Without the index the rule fails
with an unknown-index error. An alert whose entity is in no lookup stays its own person.
"""

IDENTITY_SETUP = """
Identity lookup: an ES|QL rule that joins the event's user to the lookup index `{identities}` (and its
country to `{countries}` for a country comparison) with `LOOKUP JOIN`, so it needs Elasticsearch and
Kibana 8.19 / 9.1 or later (a technical preview in 8.18 / 9.0). `ghosthire install elastic
--elasticsearch-url ...` loads both indices from the identities lookup; a user the lookup does not know,
or a row without the compared column, never alerts.
"""

WORK_PATTERN_SETUP = """
Work pattern: an ES|QL rule that joins the event's user to the lookup index `{identities}` (its
`time_zone`), its country to `{countries}` and the person's time zone and year to `{time_zones}` (UTC
offsets and DST changes), then counts per person, clock hour, day and window, so it needs Elasticsearch
and Kibana 8.19 / 9.1 or later. `ghosthire install elastic --elasticsearch-url ...` loads the three
indices; a user the lookup does not know, or without `time_zone`, never alerts. It runs daily over its
window and a day, one alert per person and window.
"""


def kibana_rule(pack: RulePack, pack_rule: PackRule, item: CompiledRule, language: Language) -> KibanaRule:
    settings = load_settings()
    rule = pack_rule.rule
    level = settings.levels[pack_rule.level]
    pattern = pack_rule.meta.work_pattern if pack_rule.meta else None
    lookback, interval = (
        (f"now-{duration(lookback_seconds(pattern))}", settings.work_patterns.interval)
        if pattern
        else schedule(rule, settings, language)
    )
    try:
        return _kibana_rule(pack, pack_rule, item, language, settings, level, lookback, interval)
    except ValidationError as error:
        raise ContentError(pack_rule.path, f"cannot build its Kibana rule: {error}") from None


def _kibana_rule(
    pack: RulePack,
    pack_rule: PackRule,
    item: CompiledRule,
    language: Language,
    settings: KibanaSettings,
    level: LevelSetting,
    lookback: str,
    interval: str,
) -> KibanaRule:
    rule = pack_rule.rule
    sources = _index_entries(pack, pack_rule)
    threat = threat_entries(_tactic_tags(rule), pack_rule.attack_ids)
    sequence = language == "eql" and pack_rule.is_correlation
    per_event = language != "esql"
    new_terms = language == "lucene"
    entity_field = _risk_field(pack, pack_rule)
    history = first_seen_days(pack_rule)
    terms = _new_terms_fields(pack, pack_rule, entity_field) if new_terms else []
    return KibanaRule(
        rule_id=pack_rule.id,
        name=pack_rule.title,
        description=(rule.description or pack_rule.title).strip(),
        type="new_terms" if new_terms else language,
        language=language,
        query=str(item.queries[0]),
        new_terms_fields=terms or None,
        history_window_start=f"now-{history}d" if new_terms else None,
        index=_eql_indices(rule) if per_event else None,
        lookback=lookback,
        interval=interval,
        max_signals=settings.max_signals,
        severity=level.severity,
        risk_score=level.risk_score,
        threat=threat,
        tags=_tags(pack_rule, sources, threat),
        false_positives=list(rule.falsepositives or []),
        references=list(rule.references or []),
        author=[rule.author or settings.default_author],
        license=rule.license or settings.default_license,
        note=investigation_guide(pack, pack_rule),
        setup=_setup(pack_rule, entity_field, language),
        # A per-event rule selects by its timestamp field; a late source is read by ingest time so nothing
        # is missed.
        timestamp_override="event.ingested" if per_event and any(s.ingest_delayed for s in sources) else None,
        alert_suppression=None
        if sequence
        else _suppression(pack, pack_rule, settings, entity_field, language),
        building_block_type="default" if _is_building_block(rule) else None,
        related_integrations=list(dict.fromkeys(i for s in sources for i in s.integrations)),
        required_fields=required_fields(pack, item.rule, terms),
    )


def _new_terms_fields(pack: RulePack, pack_rule: PackRule, entity_field: str | None) -> list[str]:
    """A first-seen rule's new term: its risk entity field and its `first_seen.fields` (ECS names)."""
    if entity_field is None or pack_rule.meta is None or pack_rule.meta.first_seen is None:
        return []
    extra = [rule_field_ecs_name(pack, pack_rule, name) for name in pack_rule.meta.first_seen.fields]
    return [entity_field, *extra]


def _risk_field(pack: RulePack, pack_rule: PackRule) -> str | None:
    """The ECS name of the rule's risk entity field (the first-seen key)."""
    return rule_field_ecs_name(pack, pack_rule, pack_rule.meta.risk.field) if pack_rule.meta else None


def _setup(pack_rule: PackRule, entity_field: str | None, language: Language) -> str:
    """The rule's implementation notes, and for a first-seen rule the history it needs."""
    if pack_rule.meta is None:
        return ""
    text = f"## Setup\n\n{pack_rule.meta.implementation.strip()}\n"
    if pack_rule.meta.work_pattern is not None:
        text += WORK_PATTERN_SETUP.format(
            identities=load_settings().person_risk.identities_index,
            countries=load_settings().identity_checks.countries_index,
            time_zones=load_settings().work_patterns.time_zones_index,
        )
    if pack_rule.meta.identity_check is not None:
        text += IDENTITY_SETUP.format(
            identities=load_settings().person_risk.identities_index,
            countries=load_settings().identity_checks.countries_index,
        )
    history = first_seen_days(pack_rule)
    if history is None:
        return text
    if language == "lucene":
        return text + (
            f"\nFirst-seen: a new terms rule on `{entity_field}`. It alerts on a value that has not matched "
            f"this query in the previous {history} days, so the indices need {history} days of this data "
            "before the rule is enabled; until then every value is new.\n"
        )
    return text + (
        f"\nFirst-seen: one alert per group in {history} days (alert suppression); repeats within that "
        "period are counted on the first alert.\n"
    )


def _index_entries(pack: RulePack, pack_rule: PackRule) -> list[IndexEntry]:
    """The index table entries of the log sources a rule reads (a correlation: its rules')."""
    entries = [
        index_entry(dependency.rule.logsource)
        for dependency in pack.dependencies(pack_rule)
        if isinstance(dependency.rule, SigmaRule)
    ]
    return list({id(entry): entry for entry in entries}.values())  # the table's own entries, once each


def _suppression(
    pack: RulePack,
    pack_rule: PackRule,
    settings: KibanaSettings,
    entity_field: str | None,
    language: Language,
) -> AlertSuppression | None:
    """A correlation alerts once per group for the suppression period: consecutive runs see overlapping
    windows (Kibana suppresses up to three fields; without a group-by, the whole rule is one group). A
    first-seen ES|QL rule, which cannot compare with its own history, is suppressed for its history
    instead: at most one alert per group (a single event's: its new term's fields) in `history_days`."""
    rule = pack_rule.rule
    history = first_seen_days(pack_rule)
    pattern = pack_rule.meta.work_pattern if pack_rule.meta else None
    if pattern is not None and entity_field is not None:  # one alert per person and window
        return AlertSuppression.by([entity_field], f"{pattern.window_days * 24}h")
    if not isinstance(rule, SigmaCorrelationRule):
        terms = _new_terms_fields(pack, pack_rule, entity_field) if language == "esql" and history else []
        return AlertSuppression.by(terms[:3], f"{history * 24}h") if terms else None
    fields = [rule_field_ecs_name(pack, pack_rule, field) for field in rule.group_by or []][:3]
    period = f"{history * 24}h" if history else settings.correlation.suppression
    return AlertSuppression.by(fields, period) if fields else None


def schedule(
    rule: SigmaRule | SigmaCorrelationRule, settings: KibanaSettings, language: str = "esql"
) -> tuple[str, str]:
    """(from, interval): a correlation searches its timespan and runs several times within it
    (ghosthire.elastic.schedule explains the exception for timespans shorter than two intervals). An EQL
    sequence bounds itself with maxspan, so it looks back one interval more: no sequence falls between
    two runs."""
    if isinstance(rule, SigmaRule):
        return f"now-{settings.single_event.lookback}", settings.single_event.interval
    window = correlation_window(rule.timespan.seconds, settings.correlation)
    lookback = window.timespan + window.interval if language == "eql" else window.lookback
    return f"now-{duration(lookback)}", duration(window.interval)


def _eql_indices(rule: SigmaRule | SigmaCorrelationRule) -> list[str]:
    """The index patterns an EQL rule searches: its log source's, or all its referenced rules' in order."""
    if isinstance(rule, SigmaRule):
        return indices_for(rule.logsource)
    patterns: list[str] = []
    for reference in rule.rules:
        patterns.extend(p for p in _eql_indices(reference.rule) if p not in patterns)
    return patterns


def investigation_guide(pack: RulePack, pack_rule: PackRule) -> str:
    """Markdown: what fired, what it needs, how it is usually benign, which entity to score."""
    rule = pack_rule.rule
    sections = [
        f"## Triage and analysis\n\n### Investigating {pack_rule.title}\n\n{(rule.description or '').strip()}"
    ]
    if rule.falsepositives:
        sections.append(
            "### False positive analysis\n\n" + "\n".join(f"- {fp}" for fp in rule.falsepositives)
        )
    if pack_rule.meta is not None:
        risk = pack_rule.meta.risk
        field = rule_field_ecs_name(pack, pack_rule, risk.field)
        sections.append(
            f"### Risk\n\nEntity: {risk.entity.value} (`{field}`), score {risk.score}. "
            f"Guidance: {', '.join(g.value for g in pack_rule.meta.guidance)}."
        )
    sections.append(f"Sigma rule `{pack_rule.name}` ({pack_rule.id}), compiled by ghosthire.")
    return "\n\n".join(sections) + "\n"


def required_fields(
    pack: RulePack, pack_rule: PackRule, keys: list[str] | None = None
) -> list[RequiredField]:
    """Every ECS field the rule reads (a correlation: its rules' fields and its group-by/counted fields),
    and the fields a new_terms rule keys on (`keys`)."""
    names: set[str] = set(keys or [])
    for dependency in pack.dependencies(pack_rule):
        if isinstance(dependency.rule, SigmaRule):
            names.update(ecs_fields_of(dependency.rule))
    rule = pack_rule.rule
    if isinstance(rule, SigmaCorrelationRule):
        condition = rule.condition
        counted = [condition.fieldref] if isinstance(getattr(condition, "fieldref", None), str) else []
        names.update(
            rule_field_ecs_name(pack, pack_rule, field) for field in [*(rule.group_by or []), *counted]
        )
    return [RequiredField(name=name, type=field_type(name), ecs=is_ecs_field(name)) for name in sorted(names)]


def _tags(pack_rule: PackRule, sources: list[IndexEntry], threat: list[Threat]) -> list[str]:
    """detection-rules' vocabulary (Domain:, OS:, Use Case:, Tactic:, Data Source:, Resources:, Rule Type:)
    first, then ghosthire's own (the pack, the FBI guidance areas, the Sigma rule)."""
    guidance = [f"Guidance: {g.value}" for g in pack_rule.meta.guidance] if pack_rule.meta else []
    tags = [
        *(tag for source in sources for tag in source.tags if not tag.startswith("Data Source:")),
        "Use Case: Threat Detection",
        *(f"Tactic: {entry.tactic.name}" for entry in threat),
        *(tag for source in sources for tag in source.tags if tag.startswith("Data Source:")),
        "Resources: Investigation Guide",
        *(["Rule Type: BBR"] if _is_building_block(pack_rule.rule) else []),
        "ghosthire",
        *guidance,
        f"Sigma: {pack_rule.name}",
    ]
    return list(dict.fromkeys(tags))


def _tactic_tags(rule: SigmaRule | SigmaCorrelationRule) -> list[str]:
    return [
        tag.name
        for tag in rule.tags
        if tag.namespace == "attack" and re.fullmatch(r"[a-z]+(-[a-z]+)*", tag.name)
    ]


def _is_building_block(rule: SigmaRule | SigmaCorrelationRule) -> bool:
    return bool(rule.custom_attributes.get("building_block"))
