"""The log sources the pack knows (backends/local/sources.yml): how a raw record is recognised, where
its time is and how a Sigma field is read. Shared by the local hunt and the Elastic test documents."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ghosthire.content import backends_dir
from ghosthire.errors import ContentError

# A path segment standing for any one key (Windows UserData holds its fields under a per-event element).
WILDCARD = "*"


class TextField(BaseModel):
    """A Sigma field whose value is written inside JSON text of the record (Entra's modifiedProperties
    newValue): in the list of objects at `items`, the first whose members equal `where`; its `member` is
    JSON text, read at `path` (dotted, digits index a list). `digits`: only the digits kept, so a phone
    number compares the same however it is formatted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    items: str
    where: Annotated[dict[str, str], Field(min_length=1)]
    member: str
    path: str
    digits: bool = False

    def read(self, items: Any) -> str | None:
        """The value in the list `items` (the Python twin of the engine's SQL, extract.text_field_sql)."""
        if not isinstance(items, list):
            return None
        item = next(
            (
                item
                for item in items
                if isinstance(item, dict)
                and all(isinstance(item.get(k), str) and item[k] == v for k, v in self.where.items())
            ),
            None,
        )
        text = item.get(self.member) if item else None
        try:
            found = lookup(json.loads(text), self.path) if isinstance(text, str) else None
        except ValueError:
            return None
        if found is None or isinstance(found, dict | list):
            return None
        value = json.dumps(found) if isinstance(found, bool) else str(found)
        if self.digits:
            value = re.sub(r"[^0-9]", "", value)
        return value or None


class Source(BaseModel):
    """One vendor log format: how to recognise a record, find its time, and read a Sigma field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    description: str
    recognize: Annotated[list[dict[str, Any]], Field(min_length=1)]
    time: list[str] = []
    field_paths: list[str] = ["{field}"]
    fields: dict[str, list[str]] = {}
    text_fields: dict[str, TextField] = {}

    def paths_of(self, field: str) -> list[str]:
        """Raw paths that may hold a Sigma field, first present wins (`{field_words}` in a template: the
        name's words apart, as Windows Defender names its EventData: SourceName in `Source Name`)."""
        if field in self.fields:
            return self.fields[field]
        words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", field)
        paths = [template.format(field=field, field_words=words) for template in self.field_paths]
        return list(dict.fromkeys(paths))

    def recognizer_paths(self) -> set[str]:
        return {path for alternative in self.recognize for path in alternative}

    def matches(self, event: dict[str, Any]) -> bool:
        """Whether a parsed record is of this source (the Python twin of the engine's SQL recogniser)."""
        return any(_alternative_matches(event, alternative) for alternative in self.recognize)

    def value(self, event: dict[str, Any], field: str) -> Any:
        """The value of a Sigma field in a parsed record, or None when absent."""
        if field in self.text_fields:
            text_field = self.text_fields[field]
            for path in self.paths_of(text_field.items):
                if (items := lookup(event, path)) is not None:
                    return text_field.read(items)
            return None
        for path in self.paths_of(field):
            found = lookup(event, path)
            if found is not None:
                return found
        return None


class _SourceTable(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sources: list[Source]


@cache
def load_sources(path: Path | None = None) -> tuple[Source, ...]:
    path = path or backends_dir() / "local" / "sources.yml"
    try:
        table = _SourceTable.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as error:
        raise ContentError(path, f"invalid source table: {error}") from None
    ids = [source.id for source in table.sources]
    if len(ids) != len(set(ids)):
        raise ContentError(path, "duplicate source id")
    return tuple(table.sources)


def source_by_id(source_id: str) -> Source:
    for source in load_sources():
        if source.id == source_id:
            return source
    known = ", ".join(source.id for source in load_sources())
    raise ContentError(
        backends_dir() / "local" / "sources.yml", f"unknown source {source_id!r} (known: {known})"
    )


def detect_source(event: dict[str, Any]) -> Source | None:
    return next((source for source in load_sources() if source.matches(event)), None)


def field_value(event: dict[str, Any], field: str) -> Any:
    """A Sigma field's raw value, read where the event's log source keeps it (an Azure Monitor record
    under properties.); the field as a path when no source recognises the event."""
    source = detect_source(event)
    return source.value(event, field) if source else lookup(event, field)


def path_variants(path: str) -> list[list[str]]:
    """The ways a dotted path is stored in practice: nested objects or one flattened dotted key
    (`a.b.c` as {"a":{"b":{"c":..}}} or {"a.b.c":..})."""
    parts = path.split(".")
    return [parts, [path]] if len(parts) > 1 and all(parts) else [[path]]


def json_path(keys: list[str]) -> str:
    """A DuckDB JSON path for a key sequence; an all-digit key also reads that element of an array."""
    return "$" + "".join(
        f"[{key}]" if key.isdigit() else '."' + key.replace('"', '\\"') + '"' for key in keys
    )


def lookup(event: Any, path: str) -> Any:
    """The value at a dotted path (`*` stands for any one key: the first child that has the rest)."""
    for keys in path_variants(path):
        found = _at(event, keys)
        if found is not None:
            return found
    return None


def _at(current: Any, keys: list[str]) -> Any:
    for position, key in enumerate(keys):
        if key == WILDCARD and isinstance(current, dict):
            return next(
                (
                    found
                    for child in current.values()
                    if (found := _at(child, keys[position + 1 :])) is not None
                ),
                None,
            )
        if isinstance(current, list) and key.isdigit() and int(key) < len(current):
            current = current[int(key)]
        elif isinstance(current, dict) and key in current:
            current = current[key]
        else:
            return None
    return current


def _alternative_matches(event: dict[str, Any], alternative: dict[str, Any]) -> bool:
    for path, expected in alternative.items():
        found = lookup(event, path)
        if found is None or (expected is not None and str(found).lower() != str(expected).lower()):
            return False
    return True
