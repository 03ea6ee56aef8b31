"""Elasticsearch field types of the fields the Elastic pipelines write, and the value transformations that
follow from them: ECS fields as Elastic's ECS definition types them (backends/elastic/ecs_fields.json),
integration fields as backends/elastic/field_types.yml does.

Three pySigma transformations for the pipelines' YAML (registered by name in backends/targets.yml):

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
import json
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
# How ghosthire compares values of each Elasticsearch type ECS uses.
_ECS_TYPES: dict[str, FieldType] = {
    "keyword": "keyword",
    "constant_keyword": "keyword",
    "match_only_text": "keyword",
    "text": "keyword",
    "wildcard": "wildcard",
    "ip": "ip",
    "date": "date",
    "boolean": "boolean",
    **dict.fromkeys(("long", "integer", "short", "byte", "float", "double", "scaled_float"), "long"),
}


def field_types_path() -> Path:
    return backends_dir() / "elastic" / "field_types.yml"


def ecs_fields_path() -> Path:
    return backends_dir() / "elastic" / "ecs_fields.json"


@cache
def ecs_fields() -> dict[str, str]:
    """Every ECS field and its Elasticsearch type, from Elastic's ECS definition (scripts/ecs_fields.py)."""
    path = ecs_fields_path()
    try:
        return dict(json.loads(path.read_text(encoding="utf-8"))["fields"])
    except (OSError, ValueError, KeyError) as error:
        raise ContentError(path, f"invalid ECS field table: {error}") from None


@dataclass(frozen=True)
class _NamespaceTable:
    namespaces: dict[str, str]  # prefix -> the integration (or ghosthire export) that defines it
    exact: dict[str, FieldType]
    unknown_prefixes: tuple[str, ...]


@cache
def _namespace_table() -> _NamespaceTable:
    path = field_types_path()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ContentError(path, f"invalid field type table: {error}") from None
    types = raw.get("types") or {}
    unknown = set(types) - set(TYPES)
    if unknown:
        raise ContentError(path, f"unknown field types {sorted(unknown)}; known: {list(TYPES)}")
    exact: dict[str, FieldType] = {}
    prefixes: list[str] = []
    for type_name, names in types.items():
        for name in names or []:
            if type_name == "unknown":
                prefixes.append(name)
            elif name in exact or name in ecs_fields():
                raise ContentError(path, f"field {name} is listed twice (or ECS defines it)")
            else:
                exact[name] = type_name
    return _NamespaceTable(dict(raw.get("namespaces") or {}), exact, tuple(prefixes))


def field_type(name: str) -> FieldType:
    """The Elasticsearch type of a field the pipelines write: ECS's, else the integration's (keyword
    unless field_types.yml says otherwise)."""
    ecs = ecs_fields().get(name)
    if ecs is not None:
        return _ECS_TYPES.get(ecs, "unknown")
    table = _namespace_table()
    if name in table.exact:
        return table.exact[name]
    if name.startswith(table.unknown_prefixes):
        return "unknown"
    return "keyword"


def is_ecs_field(name: str) -> bool:
    return name in ecs_fields()


def integration_of(name: str) -> str | None:
    """The integration (or ghosthire export) whose namespace holds a non-ECS field, if one is documented."""
    table = _namespace_table()
    return next((source for prefix, source in table.namespaces.items() if name.startswith(prefix)), None)


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
# Whole 16-bit groups of an IPv6 prefix as the corporate egress lookup writes them (`2001:db8:4a00:*`,
# `2001:db8:4a00::*` for a trailing zero run; ghosthire.compile.addresses).
IPV6_PREFIX = re.compile(r"^(?:[0-9a-f]{1,4}:){1,7}:?$", re.IGNORECASE)


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
    if parts[-1] is SpecialChars.WILDCARD_MULTI and len(parts) == 2 and IPV6_PREFIX.match(text):
        groups = text.rstrip(":").split(":") + (["0"] if text.endswith("::") else [])
        if len(groups) < 8:
            return SigmaCIDRExpression(f"{':'.join(groups)}::/{16 * len(groups)}")
    raise ValueNotExpressible(
        f"{field} is an IP field: the wildcard {val.to_plain()!r} is not an address prefix (a.b.c.* or x:y:z:*)"
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
