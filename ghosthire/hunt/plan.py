"""What the engine runs: every pack rule compiled for the local target, with the columns each source needs."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Protocol

from sigma.correlations import SigmaCorrelationConditionOperator, SigmaCorrelationRule, SigmaCorrelationType

from ghosthire.compile import compile_target, load_targets
from ghosthire.errors import ContentError
from ghosthire.hunt.backend import LocalQuery
from ghosthire.model.sources import Source, load_sources, source_by_id
from ghosthire.rules import PackRule, RulePack

SUPPORTED_CORRELATIONS = {
    SigmaCorrelationType.EVENT_COUNT: "event_count",
    SigmaCorrelationType.VALUE_COUNT: "value_count",
    SigmaCorrelationType.TEMPORAL: "temporal",
    SigmaCorrelationType.TEMPORAL_ORDERED: "temporal_ordered",
}
OPERATORS = {
    SigmaCorrelationConditionOperator.LT: "<",
    SigmaCorrelationConditionOperator.LTE: "<=",
    SigmaCorrelationConditionOperator.GT: ">",
    SigmaCorrelationConditionOperator.GTE: ">=",
    SigmaCorrelationConditionOperator.EQ: "=",
    SigmaCorrelationConditionOperator.NEQ: "<>",
}


@dataclass(frozen=True, eq=False)
class Detection:
    """A single-event rule as the engine runs it."""

    rule: PackRule
    query: LocalQuery
    alerts: bool

    @property
    def entity_field(self) -> str | None:
        return self.rule.meta.risk.field if self.rule.meta else None

    @cached_property
    def later_fields(self) -> tuple[str, ...]:
        """The fields of a matched event that the stages after matching read (the identity check's, the
        first-seen terms, the persons behind the entity): the engine reads them with the match."""
        meta = self.rule.meta
        if meta is None:
            return ()
        check = meta.identity_check
        fields = [check.entity_field, check.event_field] if check else []
        fields += meta.first_seen.fields if meta.first_seen else []
        pattern = meta.work_pattern
        fields += [pattern.entity_field, pattern.country_field] if pattern else []
        fields.append(meta.risk.persons)
        return tuple(dict.fromkeys(name for name in fields if name))


@dataclass(frozen=True)
class Slot:
    """One referenced rule of a correlation, with the fields its group-by and value read on that rule."""

    detection: Detection
    group_fields: tuple[str, ...]
    value_field: str | None


@dataclass(frozen=True, eq=False)
class Correlation:
    rule: PackRule
    kind: str
    slots: tuple[Slot, ...]
    group_by: tuple[str, ...]
    timespan: int
    operator: str
    count: float

    @property
    def ordered_threshold_is_all(self) -> bool:
        return self.operator == ">=" and self.count == len(self.slots)


@dataclass(frozen=True)
class HuntPlan:
    """What the engine runs; `skipped`: rules it cannot run, by name, with the reason; `unreadable`:
    rules of the directory that could not be read (RulePack.skipped)."""

    detections: tuple[Detection, ...]
    correlations: tuple[Correlation, ...]
    skipped: dict[str, str] = field(default_factory=dict)
    unreadable: tuple[ContentError, ...] = ()

    def with_building_blocks(self) -> HuntPlan:
        """The same plan with rules that only feed correlations alerting on their own too."""
        detections = tuple(replace(detection, alerts=True) for detection in self.detections)
        replaced = {id(old): new for old, new in zip(self.detections, detections, strict=True)}
        correlations = tuple(
            replace(c, slots=tuple(replace(s, detection=replaced[id(s.detection)]) for s in c.slots))
            for c in self.correlations
        )
        return HuntPlan(detections, correlations, dict(self.skipped), self.unreadable)

    def sources(self) -> list[Source]:
        used = {detection.query.table for detection in self.detections}
        return [source for source in load_sources() if source.id in used]

    def fields_of(self, source_id: str) -> set[str]:
        """Every Sigma field any rule reads on a source: conditions, group-by, values and entities."""
        needed: set[str] = set()
        for detection in self.detections:
            if detection.query.table == source_id:
                needed |= self._needs(detection)
        return needed

    def partition_of(self, source_id: str) -> Partition | None:
        """The field most rules on the source bound to some numbers (Windows: EventID), with the fields
        the rules need for each of its values; None when no rule bounds a field. A rule that does not
        bound it reads the records of every value, and those of values no rule names."""
        detections = [detection for detection in self.detections if detection.query.table == source_id]
        counts: dict[str, int] = {}
        for detection in detections:
            for name in detection.query.required_numbers:
                counts[name] = counts.get(name, 0) + 1
        if not counts:
            return None
        key = min(counts, key=lambda name: (-counts[name], name))
        unbounded = [detection for detection in detections if key not in detection.query.required_numbers]
        everywhere = set().union(*(self._needs(detection) for detection in unbounded))
        fields_by_value: dict[str, set[str]] = {}
        for detection in detections:
            for value in detection.query.required_numbers.get(key, ()):
                fields_by_value.setdefault(value, set(everywhere)).update(self._needs(detection))
        return Partition(
            key,
            {value: frozenset(fields) for value, fields in fields_by_value.items()},
            frozenset(everywhere) if unbounded else None,
        )

    def _needs(self, detection: Detection) -> set[str]:
        needed = set(detection.query.fields)
        if detection.entity_field:
            needed.add(detection.entity_field)
        for correlation in self.correlations:
            for slot in correlation.slots:
                if slot.detection is detection:
                    needed |= set(slot.group_fields) | ({slot.value_field} - {None})
        return needed


@dataclass(frozen=True)
class Partition:
    """How a source's records split by one field every rule bounds (the rules for EventID 4624 need
    other fields than those for EventID 1): a record is read for the fields of the rules it can match,
    and not read at all when it can match none."""

    key: str
    fields_by_value: dict[str, frozenset[str]]
    # The fields of the rules that do not bound the key (None when every rule does).
    unbounded_fields: frozenset[str] | None


class KeptQueries(Protocol):
    """Local queries (or the reasons rules cannot run) kept from earlier plans (ghosthire.hunt.plan_cache)."""

    def get(self, rule: PackRule) -> LocalQuery | str | None: ...

    def put(self, rule: PackRule, compiled: LocalQuery | str) -> None: ...


def build_plan(pack: RulePack, *, in_place: bool = False, kept: KeptQueries | None = None) -> HuntPlan:
    """Compile the pack for the local target; rules the engine cannot run are listed with the reason.
    `in_place`: the pack was loaded for this plan alone (see compile_target); `kept`: the rules compiled
    before, which are not compiled again, and where the others' queries are kept."""
    singles = [rule for rule in pack.rules if not rule.is_correlation]
    compiled: dict[str, LocalQuery | str] = {}
    for rule in singles:
        if kept is not None and (found := kept.get(rule)) is not None:
            compiled[rule.id] = found
    target = next(target for target in load_targets() if target.id == "local")
    fresh = [rule for rule in singles if rule.id not in compiled]
    output = compile_target(pack.only(fresh), target, in_place=in_place)
    for result in output.compiled:
        compiled[result.rule.id] = result.queries[0] if result.ok else result.skipped or "cannot be compiled"
        if kept is not None:
            kept.put(result.rule, compiled[result.rule.id])
    skipped: dict[str, str] = {}
    detections: dict[str, Detection] = {}
    for rule in singles:
        query = compiled[rule.id]
        if isinstance(query, str):
            skipped[rule.name] = query
            continue
        source_by_id(query.table)
        # pySigma clears `_output` on rules a correlation references, unless it says `generate: true`.
        detections[rule.id] = Detection(rule, query, alerts=bool(rule.rule._output))
    correlations = []
    for rule in pack.rules:
        if isinstance(rule.rule, SigmaCorrelationRule):
            correlation = _correlation(rule, detections)
            if isinstance(correlation, str):
                skipped[rule.name] = correlation
            else:
                correlations.append(correlation)
    return HuntPlan(tuple(detections.values()), tuple(correlations), skipped, tuple(pack.skipped))


def _correlation(rule: PackRule, detections: dict[str, Detection]) -> Correlation | str:
    sigma = rule.rule
    assert isinstance(sigma, SigmaCorrelationRule)
    kind = SUPPORTED_CORRELATIONS.get(sigma.type)
    if kind is None:
        return f"correlation type {sigma.type.name.lower()} is not supported by the local engine"
    condition = sigma.condition
    if not hasattr(condition, "op"):
        return "extended correlation conditions are not supported by the local engine"
    slots = []
    for reference in sigma.rules:
        detection = detections.get(str(reference.rule.id))
        if detection is None:
            return (
                f"referenced rule {reference.reference!r} cannot run locally (nested correlation or skipped)"
            )
        aliases = {
            alias.alias: field_name
            for alias in sigma.aliases
            for ref, field_name in alias.mapping.items()
            if ref.reference in (reference.reference, reference.rule.name, str(reference.rule.id))
        }
        group = tuple(aliases.get(name, name) for name in sigma.group_by or [])
        value = condition.fieldref
        slots.append(Slot(detection, group, aliases.get(value, value) if value else None))
    if kind == "temporal_ordered" and not (OPERATORS[condition.op] == ">=" and condition.count == len(slots)):
        return "temporal_ordered with a partial count is not supported by the local engine"
    return Correlation(
        rule=rule,
        kind=kind,
        slots=tuple(slots),
        group_by=tuple(sigma.group_by or []),
        timespan=int(sigma.timespan.seconds),
        operator=OPERATORS[condition.op],
        count=condition.count,
    )
