"""Raw vendor records -> the ECS documents an Elastic integration would index, for testing the queries.

There is no second mapping here: a record's Sigma fields (read with backends/local/sources.yml) become a
throw-away Sigma rule, the Elastic target's own processing pipelines (backends/elastic/*.yml) rename and
convert them exactly as they rename and convert rule fields (value transformations included: Sysmon
Initiated true becomes network.direction egress, "-" an absent field, "0x4c8" the number 1224), and the
processed detection items are the document. Conditions the pipelines add for a log source
(event.dataset, event.category...) become constant fields, as the integration sets them on every record
of that source. A raw value the field's type cannot hold is dropped, as the integrations' converters do.
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Iterator
from functools import cache
from typing import Any

from sigma.processing.pipeline import ProcessingPipeline
from sigma.processing.transformations.detection_item import DropDetectionItemTransformation
from sigma.processing.transformations.failure import (
    DetectionItemFailureTransformation,
    StrictFieldMappingFailure,
)
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaDetections, SigmaLogSource, SigmaRule
from sigma.types import SigmaBool, SigmaCIDRExpression, SigmaNull, SigmaNumber, SigmaString, SigmaType

from ghosthire.compile import load_targets
from ghosthire.elastic.backends import literal_text
from ghosthire.elastic.fields import converting_records
from ghosthire.errors import ContentError
from ghosthire.model.sources import Source, detect_source, lookup
from ghosthire.model.time import parse_time
from ghosthire.rules import PackRule, RulePack

Scalar = str | int | float | bool
ECS_TARGET = "eql"
RECORD = "record"


@cache
def _target_pipeline() -> ProcessingPipeline:
    """The EQL target's pipelines for records: no strict-mapping check (an unmapped raw field is simply not
    in the document), and a field a pipeline refuses for rules (a detection-item failure: Elastic has no
    such field) is dropped instead."""
    target = next(target for target in load_targets() if target.id == ECS_TARGET)
    pipeline = target.pipeline()
    pipeline.items = [
        item for item in pipeline.items if not isinstance(item.transformation, StrictFieldMappingFailure)
    ]
    for item in pipeline.items:
        if isinstance(item.transformation, DetectionItemFailureTransformation):
            item.transformation = DropDetectionItemTransformation()
            item.transformation.set_processing_item(item)
    return pipeline


@cache
def _pickled_pipeline() -> bytes:
    return pickle.dumps(_target_pipeline(), protocol=pickle.HIGHEST_PROTOCOL)


def _fresh_pipeline() -> ProcessingPipeline:
    """A private copy of the records' pipeline (applying one keeps state in it): unpickled, five times
    faster than a deep copy (the Elastic tests convert thousands of test records)."""
    return pickle.loads(_pickled_pipeline())


def flatten(record: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, value) for every leaf; lists are leaves."""
    for key, value in record.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from flatten(value, f"{path}.")
        else:
            yield path, value


def sigma_fields_of(path: str, source: Source) -> list[str]:
    """The Sigma fields a raw path holds: its explicit `fields` aliases and its `field_paths` name.

    Both count: Windows' `User` alias reads SubjectUserName, and SubjectUserName is still a field of its own
    (winlog.event_data.SubjectUserName in Elastic).
    """
    names = [field for field, paths in source.fields.items() if path in paths]
    # The most specific template first: "properties.{field}" before "{field}".
    for template in sorted(source.field_paths, key=lambda template: -len(template)):
        head, _, tail = template.partition("{field}")
        if path.startswith(head) and path.endswith(tail) and len(path) > len(head) + len(tail):
            names.append(path[len(head) : len(path) - len(tail)])
            break
    return names


def sigma_field_of(path: str, source: Source) -> str | None:
    """The first Sigma field a raw path holds (an explicit alias before the template name)."""
    names = sigma_fields_of(path, source)
    return names[0] if names else None


def sigma_view(record: dict[str, Any], source: Source) -> dict[str, Any]:
    """The record as Sigma sees it: Sigma field -> value (as the local hunt reads it)."""
    fields = {name for path, _ in flatten(record) for name in sigma_fields_of(path, source)}
    # Explicit fields may read inside lists (Reports API `events.0.name`), which flatten() keeps whole.
    fields.update(source.fields)
    view = {field: source.value(record, field) for field in sorted(fields)}
    return {
        field: value for field, value in view.items() if value is not None and _is_scalar_or_scalars(value)
    }


def to_ecs(record: dict[str, Any], logsource: SigmaLogSource, source: Source | None = None) -> dict[str, Any]:
    """The ECS document of one raw record of a rule's log source (its source recognised unless given)."""
    source = source or detect_source(record)
    if source is None:
        raise ContentError(
            "detection_tests", f"no source in sources.yml recognises the record {record!r:.120}"
        )
    rule = _record_as_rule(sigma_view(record, source), logsource)
    with converting_records():
        _fresh_pipeline().apply(rule)
    # Constants the pipelines add for the log source first, so that the record's own values win.
    detections = rule.detection.detections
    ordered = [detection for name, detection in detections.items() if name != RECORD] + [detections[RECORD]]
    document: dict[str, Any] = {}
    for item in _detection_items(ordered):
        value = _plain_values(item.value)
        if item.field and item.applied_processing_items and value is not None:
            set_path(document, item.field, value)
    timestamp = _timestamp(record, source)
    if timestamp is not None:
        document["@timestamp"] = timestamp
    return document


def set_path(document: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    current = document
    for key in parents:
        current = current.setdefault(key, {})
        if not isinstance(current, dict):
            raise ValueError(f"ECS field {dotted} collides with a value at {key}")
    current[leaf] = value


def get_path(document: dict[str, Any], dotted: str) -> Any:
    current: Any = document
    for key in dotted.split("."):
        if not isinstance(current, dict) or key not in current:
            return None
        current = current[key]
    return current


def _record_as_rule(view: dict[str, Any], logsource: SigmaLogSource) -> SigmaRule:
    items = [SigmaDetectionItem(field, [], _sigma_values(value)) for field, value in view.items()]
    detections = SigmaDetections({RECORD: SigmaDetection(items)}, [RECORD])
    return SigmaRule(title="raw record", logsource=logsource, detection=detections)


def _sigma_values(value: Any) -> list[SigmaType]:
    return [_sigma_value(element) for element in (value if isinstance(value, list) else [value])]


def _sigma_value(value: Scalar | None) -> SigmaType:
    if value is None:
        return SigmaNull()
    if isinstance(value, bool):
        return SigmaBool(value)
    if isinstance(value, int | float):
        return SigmaNumber(value)
    # Escape Sigma's wildcard and escape characters: a record value is always literal text.
    return SigmaString(value.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?"))


def _plain_values(values: list[SigmaType]) -> Any:
    plain = [value for value in (_plain(value) for value in values) if value is not None]
    if not plain:
        return None
    return plain[0] if len(plain) == 1 else plain


def _plain(value: SigmaType) -> Any:
    if isinstance(value, SigmaString):
        return literal_text(value)
    if isinstance(value, SigmaNumber):
        return value.number
    if isinstance(value, SigmaBool):
        return value.boolean
    if isinstance(value, SigmaCIDRExpression):
        # A record's address comes back from the IP typing as a one-address block.
        network = value.network
        return str(network.network_address) if network.num_addresses == 1 else str(network)
    return None


def _detection_items(detections: Any) -> Iterator[SigmaDetectionItem]:
    for detection in detections:
        for item in detection.detection_items:
            if isinstance(item, SigmaDetection):
                yield from _detection_items([item])
            else:
                yield item


def _is_scalar_or_scalars(value: Any) -> bool:
    if isinstance(value, list):
        return bool(value) and all(isinstance(element, Scalar) for element in value)
    return isinstance(value, Scalar)


def _timestamp(record: dict[str, Any], source: Source) -> str | None:
    for path in source.time:
        raw = lookup(record, path)
        if raw is not None:
            return parse_time(raw).isoformat().replace("+00:00", "Z")
    return None


@cache  # a probe copies the whole pipeline; the Kibana writer asks for the same few fields often
def ecs_field_name(field: str, logsource: SigmaLogSource) -> str | None:
    """Where the Elastic pipelines put a Sigma field of this log source (None when they do not map it)."""
    items = [SigmaDetectionItem(field, [], [SigmaNull()])]
    rule = SigmaRule(
        title="field probe",
        logsource=logsource,
        detection=SigmaDetections({RECORD: SigmaDetection(items)}, [RECORD]),
    )
    _fresh_pipeline().apply(rule)
    for item in _detection_items([rule.detection.detections[RECORD]]):
        if item.applied_processing_items and item.field:
            return item.field
    return None


def rule_field_ecs_name(pack: RulePack, pack_rule: PackRule, field: str) -> str:
    """Where a field a pack rule names (a correlation: of its first single-event rule) lives in ECS."""
    base = next(dep for dep in pack.dependencies(pack_rule) if isinstance(dep.rule, SigmaRule))
    return ecs_field_name(field, base.rule.logsource) or field


def ecs_fields_of(rule: SigmaRule) -> list[str]:
    """The ECS fields a single-event rule reads once the Elastic pipelines processed it (added conditions
    included), sorted."""
    processed = copy.deepcopy(rule)
    _fresh_pipeline().apply(processed)
    fields = {
        item.field
        for item in _detection_items(processed.detection.detections.values())
        if item.field and item.applied_processing_items
    }
    return sorted(fields)
