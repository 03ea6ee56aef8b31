"""Elasticsearch field types of the ECS fields the Elastic pipelines write, and the value transformations
that follow from them (backends/elastic/field_types.yml).

Three pySigma transformations are registered here for the pipelines' YAML:

* ``ghosthire_ecs_values`` converts each value to what the field's Elasticsearch type stores and compares:
  IP fields match addresses and CIDR blocks (an ``a.b.c.*`` prefix becomes ``a.b.c.0/24``), long fields
  numbers, boolean fields booleans, keyword fields strings. A value the type cannot express (a wildcard on
  an IP or number, a CIDR on a keyword) fails the rule with the reason, instead of compiling into a query
  Elasticsearch rejects or never matches.
* ``ghosthire_map_values`` replaces raw values by the ones the integration stores (Sysmon ``Initiated``
  ``true`` becomes ``network.direction`` ``egress``).
* ``ghosthire_absent_values`` turns the given placeholder strings (``-``, the empty GUID, ...) into null:
  the integration removes such values at ingest, so in Elastic the field is absent.

Both run on rule values and, through ghosthire.elastic.ecs, on the raw test records, so a rule and the
ECS document it is tested against always go through the same conversion.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from sigma.exceptions import SigmaValueError
from sigma.processing.transformations import transformations
from sigma.processing.transformations.base import ValueTransformation
from sigma.rule import SigmaDetectionItem
from sigma.types import (
    SigmaBool,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SigmaType,
    SpecialChars,
)

from ghosthire.content import backends_dir
from ghosthire.errors import ContentError

FieldType = Literal["ip", "long", "boolean", "keyword", "wildcard", "date", "unknown"]
TYPES: tuple[FieldType, ...] = ("ip", "long", "boolean", "wildcard", "date", "unknown")
STRING_TYPES = ("keyword", "wildcard")
# ECS field sets (https://www.elastic.co/guide/en/ecs/current/ecs-field-reference.html) the pipelines use;
# everything else (winlog.*, okta.*, azure.*, github.*, google_workspace.*, o365.*, zeek.*, hr.*) is an
# integration's or ghosthire's own namespace.
ECS_FIELD_SETS = frozenset(
    {
        "@timestamp",
        "client",
        "destination",
        "dll",
        "dns",
        "event",
        "file",
        "geo",
        "group",
        "host",
        "http",
        "network",
        "organization",
        "process",
        "registry",
        "related",
        "source",
        "url",
        "user",
        "user_agent",
    }
)


def field_types_path() -> Path:
    return backends_dir() / "elastic" / "field_types.yml"


@cache
def _type_table() -> tuple[dict[str, FieldType], tuple[str, ...]]:
    path = field_types_path()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ContentError(path, f"invalid field type table: {error}") from None
    unknown = set(raw) - set(TYPES)
    if unknown:
        raise ContentError(path, f"unknown field types {sorted(unknown)}; known: {list(TYPES)}")
    exact: dict[str, FieldType] = {}
    prefixes: list[str] = []
    for type_name, names in raw.items():
        for name in names or []:
            if type_name == "unknown":
                prefixes.append(name)
            elif name in exact:
                raise ContentError(path, f"field {name} is listed under two types")
            else:
                exact[name] = type_name
    return exact, tuple(prefixes)


def field_type(name: str) -> FieldType:
    """The Elasticsearch type of an ECS/integration field the pipelines write (keyword unless listed)."""
    exact, unknown_prefixes = _type_table()
    if name in exact:
        return exact[name]
    if name.startswith(unknown_prefixes):
        return "unknown"
    return "keyword"


def is_ecs_field(name: str) -> bool:
    return name.split(".", 1)[0] in ECS_FIELD_SETS


class ValueNotExpressible(SigmaValueError):
    """A rule value the target field's Elasticsearch type cannot compare."""


# Raw records (ghosthire.elastic.ecs) are converted leniently: a value the field's type cannot hold is
# dropped, as the integrations' convert processors do with ignore_failure.
_records: ContextVar[bool] = ContextVar("ghosthire_ecs_records", default=False)


@contextmanager
def converting_records() -> Iterator[None]:
    token = _records.set(True)
    try:
        yield
    finally:
        _records.reset(token)


@dataclass
class EcsTypedValuesTransformation(ValueTransformation):
    """Convert each value to the Elasticsearch type of its (already mapped) field."""

    def apply_value(self, field: str | None, val: SigmaType) -> SigmaType | None:
        if field is None:
            return None
        try:
            return self._typed(field, val)
        except ValueNotExpressible:
            if _records.get():
                return SigmaNull()
            raise

    def _typed(self, field: str, val: SigmaType) -> SigmaType | None:
        kind = field_type(field)
        if isinstance(val, SigmaExpansion):
            val.values = [self._typed(field, value) or value for value in val.values]
            return val
        if isinstance(val, SigmaNull | SigmaExists | SigmaFieldReference):
            return None
        if isinstance(val, SigmaCompareExpression):
            if kind in ("long", "date", "unknown"):
                return None
            raise ValueNotExpressible(f"{field} is a {kind} field: a range comparison needs a number")
        if isinstance(val, SigmaRegularExpression):
            if kind in (*STRING_TYPES, "unknown"):
                return None
            raise ValueNotExpressible(f"{field} is a {kind} field: a regular expression needs a keyword")
        if kind == "ip":
            return _ip_value(field, val)
        if kind == "long":
            return _long_value(field, val)
        if kind == "boolean":
            return _boolean_value(field, val)
        if kind in STRING_TYPES:
            return _string_value(field, val)
        return None


@dataclass
class AbsentValuesTransformation(ValueTransformation):
    """Strings the integration drops at ingest (`values`, compared exactly) become null: the field is
    absent."""

    values: list[str] = field(default_factory=list)

    def apply_value(self, field: str | None, val: SigmaType) -> SigmaType | None:
        if isinstance(val, SigmaString) and not val.contains_special() and str(val) in self.values:
            return SigmaNull()
        return None

    def apply_detection_item(self, detection_item: SigmaDetectionItem) -> SigmaDetectionItem | None:
        result = super().apply_detection_item(detection_item)
        if result is not None:
            # `- '-'` and `- ''` both mean "absent": one null test is enough.
            nulls = [value for value in result.value if isinstance(value, SigmaNull)]
            result.value = [value for value in result.value if not isinstance(value, SigmaNull)] + nulls[:1]
        return result


@dataclass
class MapValuesTransformation(ValueTransformation):
    """Replace a plain string or boolean value (compared as lower-case text) by the mapped string."""

    mapping: dict[str, str] = field(default_factory=dict)

    def apply_value(self, field: str | None, val: SigmaType) -> SigmaType | None:
        if isinstance(val, SigmaBool):
            text = "true" if val.boolean else "false"
        elif isinstance(val, SigmaString) and not val.contains_special():
            text = str(val).lower()
        else:
            return None
        mapped = self.mapping.get(text)
        return None if mapped is None else SigmaString(mapped)


IPV4_PREFIX = re.compile(r"^(?:\d{1,3}\.){1,3}$")


def _ip_value(field: str, val: SigmaType) -> SigmaType | None:
    if isinstance(val, SigmaCIDRExpression | SigmaNull):
        return None
    if not isinstance(val, SigmaString):
        raise ValueNotExpressible(f"{field} is an IP field: {val!r} is not an address")
    parts = val.s
    text = "".join(part for part in parts if isinstance(part, str))
    if not val.contains_special():
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            raise ValueNotExpressible(f"{field} is an IP field: {text!r} is not an address") from None
        return SigmaCIDRExpression(f"{address}/{address.max_prefixlen}")
    # `a.b.c.*`: the only wildcard an IP field can express, as the /8, /16 or /24 block.
    if parts[-1] is SpecialChars.WILDCARD_MULTI and len(parts) == 2 and IPV4_PREFIX.match(text):
        octets = text.rstrip(".").split(".")
        if all(0 <= int(octet) <= 255 for octet in octets):
            network = ".".join(octets + ["0"] * (4 - len(octets)))
            return SigmaCIDRExpression(f"{network}/{8 * len(octets)}")
    raise ValueNotExpressible(
        f"{field} is an IP field: the wildcard {val.to_plain()!r} is not an address prefix (a.b.c.*)"
    )


def _long_value(field: str, val: SigmaType) -> SigmaType | None:
    if isinstance(val, SigmaNumber | SigmaNull):
        return None
    if isinstance(val, SigmaString) and not val.contains_special():
        text = str(val).strip()
        try:
            return SigmaNumber(int(text, 16) if text.lower().startswith("0x") else int(text))
        except ValueError:
            pass
    raise ValueNotExpressible(f"{field} is a numeric field: {val!r} is not a number")


def _boolean_value(field: str, val: SigmaType) -> SigmaType | None:
    if isinstance(val, SigmaBool | SigmaNull):
        return None
    if isinstance(val, SigmaString) and str(val).lower() in ("true", "false"):
        return SigmaBool(str(val).lower() == "true")
    raise ValueNotExpressible(f"{field} is a boolean field: {val!r} is not true or false")


def _string_value(field: str, val: SigmaType) -> SigmaType | None:
    if isinstance(val, SigmaBool):
        return SigmaString("true" if val.boolean else "false")
    if isinstance(val, SigmaNumber):
        return SigmaString(str(val.number))
    if isinstance(val, SigmaCIDRExpression):
        raise ValueNotExpressible(f"{field} is a keyword field: a CIDR match needs an IP field")
    return None


def pipeline_output_fields(pipeline: Any) -> tuple[frozenset[str], tuple[str, ...]]:
    """The field names a processing pipeline writes, and the namespaces its prefix transformations fill."""
    from sigma.processing.transformations import (
        AddConditionTransformation,
        AddFieldnamePrefixTransformation,
        FieldMappingTransformation,
        FieldPrefixMappingTransformation,
    )

    names: set[str] = set()
    prefixes: list[str] = []
    for item in pipeline.items:
        transformation = item.transformation
        if isinstance(transformation, FieldPrefixMappingTransformation):
            for mapped in transformation.mapping.values():
                prefixes.extend([mapped] if isinstance(mapped, str) else mapped)
        elif isinstance(transformation, FieldMappingTransformation):
            for mapped in transformation.mapping.values():
                names.update([mapped] if isinstance(mapped, str) else mapped)
        elif isinstance(transformation, AddConditionTransformation):
            names.update(transformation.conditions)
        elif isinstance(transformation, AddFieldnamePrefixTransformation):
            prefixes.append(transformation.prefix)
    return frozenset(names), tuple(prefixes)


def register() -> None:
    """Make the transformations available to ProcessingPipeline.from_yaml (idempotent)."""
    transformations.setdefault("ghosthire_ecs_values", EcsTypedValuesTransformation)
    transformations.setdefault("ghosthire_absent_values", AbsentValuesTransformation)
    transformations.setdefault("ghosthire_map_values", MapValuesTransformation)


register()
