"""Where a rule's risk entity lives in Splunk, asked of the target's own processing pipeline.

The saved search's alert, risk and drill-down settings name the entity by its Splunk field, and the
drill-down reads the entity's raw events through the rule's source macro. Both come from running the
target pipeline over a one-item rule on the same log source, so the app cannot drift from the queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule

from ghosthire.compile import Target
from ghosthire.errors import ContentError
from ghosthire.rules import PackRule, RuleMetadata, RulePack


@dataclass(frozen=True)
class MappedField:
    """A Sigma field as one target sees it: its name there and the pipeline state of its log source."""

    name: str
    state: dict[str, Any]


class FieldResolver:
    """Maps Sigma field names of a log source through one target's pipeline."""

    def __init__(self, target: Target) -> None:
        self._pipeline: ProcessingPipeline = target.pipeline()

    def resolve(self, rule: SigmaRule, sigma_field: str) -> MappedField:
        probe = SigmaRule.from_dict(
            {
                "title": f"{sigma_field} of {rule.title}",
                "logsource": rule.logsource.to_dict(),
                "detection": {"probe": {sigma_field: "probe"}, "condition": "probe"},
            }
        )
        self._pipeline.apply(probe)
        item = probe.detection.detections["probe"].detection_items[0]
        if not isinstance(item, SigmaDetectionItem) or item.field is None:
            raise SigmaError(f"field {sigma_field!r} maps to several fields")
        return MappedField(item.field, dict(self._pipeline.state))


@dataclass(frozen=True)
class EntityLocation:
    """The risk entity of a rule: its field in the saved search's results and, per base rule feeding it,
    the mapped field on that rule's log source."""

    result_field: str
    per_source: tuple[MappedField, ...]
    # The results' fields holding the rule's first-seen fields (`first_seen.fields`), in order.
    first_seen_fields: tuple[str, ...] = ()


def metadata_of(pack_rule: PackRule) -> RuleMetadata:
    """The app needs every rule's guidance, risk and score: a rule without them is a build error."""
    if pack_rule.meta is None:
        raise ContentError(pack_rule.path, "rule has no ghosthire metadata (guidance, risk, implementation)")
    return pack_rule.meta


def locate_entity(pack: RulePack, pack_rule: PackRule, resolver: FieldResolver) -> EntityLocation:
    """Raises ContentError when Splunk could not carry the entity: a correlation's result rows hold only its
    group-by fields, and every field must map on the log source of each rule it reads."""
    sigma_field = metadata_of(pack_rule).risk.field
    rule = pack_rule.rule
    if isinstance(rule, SigmaCorrelationRule) and sigma_field not in (rule.group_by or []):
        raise ContentError(
            pack_rule.path, f"risk field {sigma_field!r} must be a group-by field of the correlation"
        )
    base_rules = [dep.rule for dep in pack.dependencies(pack_rule) if isinstance(dep.rule, SigmaRule)]
    # A correlation's field alias names a different field on each rule; the results carry the alias.
    aliased = _aliased_fields(rule, sigma_field) if isinstance(rule, SigmaCorrelationRule) else None
    try:
        mapped = tuple(
            resolver.resolve(
                base_rule, aliased.get(str(base_rule.name), sigma_field) if aliased else sigma_field
            )
            for base_rule in base_rules
        )
    except SigmaError as error:
        raise ContentError(
            pack_rule.path, f"risk field {sigma_field!r} has no Splunk field: {error}"
        ) from None
    first_seen = metadata_of(pack_rule).first_seen
    try:
        terms = tuple(
            resolver.resolve(base_rules[0], name).name for name in (first_seen.fields if first_seen else [])
        )
    except SigmaError as error:
        raise ContentError(pack_rule.path, f"first-seen field has no Splunk field: {error}") from None
    return EntityLocation(sigma_field if aliased else mapped[0].name, mapped, terms)


def _aliased_fields(rule: SigmaCorrelationRule, sigma_field: str) -> dict[str, str] | None:
    """The field an alias of the correlation names on each of its rules (by rule name), or None."""
    for alias in rule.aliases or []:
        if alias.alias == sigma_field:
            return {reference.reference: field for reference, field in alias.mapping.items()}
    return None


def cim_entity_field(pack_rule: PackRule, resolver: FieldResolver) -> str | None:
    """The risk entity's field in a tstats variant's results, `Processes.dest` renamed to `dest`; None when
    the data model does not map it or its split-by fields do not carry it (then the rule has no variant)."""
    if pack_rule.meta is None or not isinstance(pack_rule.rule, SigmaRule):
        return None
    try:
        mapped = resolver.resolve(pack_rule.rule, pack_rule.meta.risk.field)
    except SigmaError:
        return None
    if mapped.name not in str(mapped.state.get("tstats_by", "")).split():
        return None
    return mapped.name.removeprefix(f"{mapped.state['dataset']}.")


@dataclass(frozen=True)
class ThreatObject:
    """A field of the search's results that names what the alert is about besides its risk entity."""

    field: str
    type: str


def threat_objects(
    pack: RulePack, pack_rule: PackRule, resolver: FieldResolver, types: dict[str, str]
) -> tuple[ThreatObject, ...]:
    """The rule's result fields that carry a threat object (`types`: Sigma field -> contentctl type): a
    single-event rule's detection fields, a correlation's group-by fields (mapped on its first base
    rule's log source), never the risk field itself."""
    risk_field = metadata_of(pack_rule).risk.field
    rule = pack_rule.rule
    if isinstance(rule, SigmaCorrelationRule):
        fields = list(rule.group_by or [])
        bases = [dep.rule for dep in pack.dependencies(pack_rule) if isinstance(dep.rule, SigmaRule)]
    else:
        fields = [
            name for detection in rule.detection.detections.values() for name in _detection_fields(detection)
        ]
        bases = [rule]
    if not bases:
        return ()
    base = bases[0]
    found: dict[str, ThreatObject] = {}
    for sigma_field in dict.fromkeys(fields):
        if sigma_field == risk_field or sigma_field not in types:
            continue
        try:
            mapped = resolver.resolve(base, sigma_field)
        except SigmaError:
            continue
        found.setdefault(mapped.name, ThreatObject(mapped.name, types[sigma_field]))
    return tuple(found.values())


def _detection_fields(detection: SigmaDetection) -> list[str]:
    fields: list[str] = []
    for item in detection.detection_items:
        if isinstance(item, SigmaDetection):
            fields += _detection_fields(item)
        elif item.field is not None:
            fields.append(item.field)
    return fields
