"""The Kibana objects of the company's run-time tuning: value lists and exception lists built from the same
lookup CSVs as every other target (ghosthire.elastic.exceptions says which filters become exceptions).

Each value list and each exception list is one step: create it when missing, add what is missing, then
remove what is stale, so a run cut short leaves the previous values plus some new ones (never fewer
exceptions than either version), and the next run finishes. Items an admin added to a ghosthire exception
list in Kibana (their `item_id` is not ghosthire's) are left alone.
"""

from __future__ import annotations

import csv
import hashlib
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from ghosthire.content import backends_dir
from ghosthire.deploy.elastic_client import KibanaClient
from ghosthire.deploy.report import Action, FieldChange, ObjectChange, StepResult
from ghosthire.elastic.exceptions import RunTimeFilter, TuningItem
from ghosthire.errors import ContentError

ValueListType = Literal["ip_range", "keyword"]
_PAGE = 1000
_ITEM_PREFIX = "ghosthire-"
_LISTS = "/api/lists"
_EXCEPTIONS = "/api/exception_lists"


@dataclass(frozen=True)
class ValueList:
    id: str
    name: str
    description: str
    type: ValueListType
    values: tuple[str, ...]

    @property
    def object_id(self) -> str:
        return f"value-list:{self.id}"


@dataclass(frozen=True)
class ExceptionList:
    list_id: str
    name: str
    description: str
    items: tuple[Mapping[str, Any], ...]

    @property
    def object_id(self) -> str:
        return f"exception-list:{self.list_id}"


@dataclass
class TuningObjects:
    value_lists: list[ValueList] = field(default_factory=list)
    exception_lists: list[ExceptionList] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # "file:line: why" of values left out


# --- from the CSVs --------------------------------------------------------------------------------------


def tuning_objects(filters: list[RunTimeFilter], lookups: Path) -> TuningObjects:
    """Value lists and exception lists for these filters, with the values of the lookups in `lookups`."""
    objects = TuningObjects()
    lists: dict[str, ValueList] = {}
    for runtime in filters:
        items: list[dict[str, Any]] = []
        for tuning in runtime.items:
            values = _column(lookups, tuning.placeholder, objects.problems)
            listed, patterns = _split(tuning, values, objects.problems)
            if listed:
                value_list = _value_list(tuning, listed)
                lists.setdefault(value_list.id, value_list)
                items.append(_list_item(runtime, tuning, value_list))
            items.extend(_wildcard_item(runtime, tuning, pattern) for pattern in patterns)
        objects.exception_lists.append(
            ExceptionList(runtime.list_id, f"ghosthire: {runtime.title}", runtime.description, tuple(items))
        )
    objects.value_lists = list(lists.values())
    objects.problems = list(dict.fromkeys(objects.problems))  # a column several filters read, said once
    return objects


def _column(lookups: Path, placeholder: str, problems: list[str]) -> list[tuple[str, str]]:
    """(value, "file:line") of a placeholder's lookup column (backends/placeholders.yml)."""
    declared = (yaml.safe_load((backends_dir() / "placeholders.yml").read_text()) or {}).get(
        "placeholders", {}
    )
    spec = declared.get(placeholder)
    if spec is None:
        raise ContentError(backends_dir() / "placeholders.yml", f"no placeholder {placeholder!r}")
    path = lookups / spec["lookup"]
    if not path.exists():
        problems.append(f"{path}: missing, {placeholder} has no values")
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            (row[spec["column"]].strip(), f"{path.name}:{line}")
            for line, row in enumerate(csv.DictReader(handle), start=2)
            if (row.get(spec["column"]) or "").strip()
        ]


def _split(
    tuning: TuningItem, values: list[tuple[str, str]], problems: list[str]
) -> tuple[list[str], list[str]]:
    """The values a value list holds, and the patterns that need a wildcard exception item."""
    listed, patterns = [], []
    for value, where in values:
        if tuning.field_type == "ip":
            block = ip_block(value)
            if block is None:
                problems.append(
                    f"{where}: {value!r} is not an address, CIDR block or a.b.c.* prefix; left out"
                )
            else:
                listed.append(block)
        elif tuning.match == "exact" and not any(char in value for char in "*?"):
            listed.append(value)
        else:
            patterns.append(wildcard_pattern(value, tuning.match))
    return sorted(set(listed)), sorted(set(patterns))


def ip_block(value: str) -> str | None:
    """An address or CIDR block as Kibana's ip_range list takes it; `a.b.c.*` is the /24 (/16, /8)."""
    text = value.strip()
    if text.endswith(".*"):
        octets = text[:-2].split(".")
        text = ".".join(octets + ["0"] * (4 - len(octets))) + f"/{8 * len(octets)}"
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        return None


def wildcard_pattern(value: str, match: str) -> str:
    """An Elasticsearch wildcard pattern: `*`/`?` as in Sigma, a literal backslash doubled."""
    pattern = value.replace("\\", "\\\\")
    if match in ("endswith", "contains"):
        pattern = "*" + pattern
    if match in ("startswith", "contains"):
        pattern += "*"
    return pattern


def _value_list(tuning: TuningItem, values: list[str]) -> ValueList:
    kind: ValueListType = "ip_range" if tuning.field_type == "ip" else "keyword"
    list_id = f"ghosthire-{tuning.placeholder.replace('_', '-')}"
    return ValueList(
        list_id,
        f"ghosthire {tuning.placeholder}",
        f"Values of the lookup column behind %{tuning.placeholder}%, loaded by ghosthire install elastic.",
        kind,
        tuple(values),
    )


def _list_item(runtime: RunTimeFilter, tuning: TuningItem, value_list: ValueList) -> dict[str, Any]:
    entry = {
        "field": tuning.field,
        "operator": "included",
        "type": "list",
        "list": {"id": value_list.id, "type": value_list.type},
    }
    return _item(runtime, f"{tuning.field} is in {value_list.id}", entry)


def _wildcard_item(runtime: RunTimeFilter, tuning: TuningItem, pattern: str) -> dict[str, Any]:
    entry = {"field": tuning.field, "operator": "included", "type": "wildcard", "value": pattern}
    return _item(runtime, f"{tuning.field} matches {pattern}", entry)


def _item(runtime: RunTimeFilter, name: str, entry: dict[str, Any]) -> dict[str, Any]:
    digest = hashlib.sha256(
        f"{entry['field']}|{entry.get('value') or entry.get('list')}".encode()
    ).hexdigest()
    return {
        "item_id": f"{runtime.list_id}-{digest[:12]}",
        "list_id": runtime.list_id,
        "name": name,
        "description": f"From the company lookups ({runtime.title}).",
        "type": "simple",
        "namespace_type": "single",
        "entries": [entry],
        "tags": ["ghosthire"],
    }


# --- value lists in Kibana ------------------------------------------------------------------------------


def ensure_list_index(client: KibanaClient) -> None:
    """The `.lists`/`.items` data streams of the space, created once (`POST /api/lists/index`)."""
    status, _ = client.request("GET", f"{_LISTS}/index", allow={404})
    if status == 404:
        client.request("POST", f"{_LISTS}/index")


def plan_value_list(client: KibanaClient, wanted: ValueList) -> ObjectChange:
    current = _list_values(client, wanted.id)
    return _values_change(wanted.object_id, current, set(wanted.values))


def sync_value_list(client: KibanaClient, wanted: ValueList) -> StepResult:
    ensure_list_index(client)
    current = _list_values(client, wanted.id)
    if current is None:
        body = {"id": wanted.id, "name": wanted.name, "description": wanted.description, "type": wanted.type}
        client.request("POST", _LISTS, json=body)
    change = _values_change(wanted.object_id, current, set(wanted.values))
    have = current or set()
    missing = [value for value in wanted.values if value not in have]
    if missing:
        upload = ("ghosthire-values.txt", ("\n".join(missing) + "\n").encode(), "text/plain")
        client.request(
            "POST", f"{_LISTS}/items/_import", params={"list_id": wanted.id}, files={"file": upload}
        )
    for value in sorted(have - set(wanted.values)):
        client.request(
            "DELETE", f"{_LISTS}/items", params={"list_id": wanted.id, "value": value}, allow={404}
        )
    return StepResult((change,))


def delete_value_list(client: KibanaClient, list_id: str) -> ObjectChange:
    status, _ = client.request("DELETE", _LISTS, params={"id": list_id}, allow={404})
    return ObjectChange(f"value-list:{list_id}", Action.ABSENT if status == 404 else Action.DELETE)


def _list_values(client: KibanaClient, list_id: str) -> set[str] | None:
    status, _ = client.request("GET", _LISTS, params={"id": list_id}, allow={404})
    if status == 404:
        return None
    values: set[str] = set()
    page = 1
    while True:
        params = {"list_id": list_id, "page": page, "per_page": _PAGE}
        _, body = client.request("GET", f"{_LISTS}/items/_find", params=params)
        data = body.get("data") or []
        values.update(str(item["value"]) for item in data)
        if not data or page * _PAGE >= int(body.get("total", 0)):
            return values
        page += 1


def _values_change(object_id: str, current: set[str] | None, wanted: set[str]) -> ObjectChange:
    label = f"{len(wanted)} values"
    if current is None:
        return ObjectChange(object_id, Action.CREATE, (FieldChange("values", None, label),))
    if current == wanted:
        return ObjectChange(object_id, Action.UNCHANGED)
    added, removed = len(wanted - current), len(current - wanted)
    return ObjectChange(
        object_id,
        Action.UPDATE,
        (FieldChange("values", f"{len(current)} values", f"{label} (+{added} -{removed})"),),
    )


# --- exception lists in Kibana --------------------------------------------------------------------------


def plan_exception_list(client: KibanaClient, wanted: ExceptionList) -> ObjectChange:
    found = _exception_list(client, wanted.list_id)
    current = None if found is None else _exception_items(client, wanted.list_id)
    return _items_change(wanted, current)


def sync_exception_list(client: KibanaClient, wanted: ExceptionList, ids: dict[str, str]) -> StepResult:
    """Bring the list to `wanted`; records the list's Kibana id in `ids` for the rules that reference it."""
    found = _exception_list(client, wanted.list_id)
    if found is None:
        body = {
            "list_id": wanted.list_id,
            "name": wanted.name,
            "description": wanted.description,
            "type": "detection",
            "namespace_type": "single",
            "tags": ["ghosthire"],
        }
        _, found = client.request("POST", _EXCEPTIONS, json=body)
        current: dict[str, Mapping[str, Any]] | None = None
    else:
        current = _exception_items(client, wanted.list_id)
    ids[wanted.list_id] = str(found["id"])
    change = _items_change(wanted, current)
    have = current or {}
    for item in wanted.items:
        existing = have.get(item["item_id"])
        if existing is None:
            client.request("POST", f"{_EXCEPTIONS}/items", json=dict(item))
        elif not _same_item(existing, item):
            client.request(
                "PUT", f"{_EXCEPTIONS}/items", json={k: v for k, v in item.items() if k != "list_id"}
            )
    wanted_ids = {item["item_id"] for item in wanted.items}
    for item_id in sorted(set(have) - wanted_ids):
        params = {"item_id": item_id, "namespace_type": "single"}
        client.request("DELETE", f"{_EXCEPTIONS}/items", params=params, allow={404})
    return StepResult((change,))


def delete_exception_list(client: KibanaClient, list_id: str) -> ObjectChange:
    params = {"list_id": list_id, "namespace_type": "single"}
    status, _ = client.request("DELETE", _EXCEPTIONS, params=params, allow={404})
    return ObjectChange(f"exception-list:{list_id}", Action.ABSENT if status == 404 else Action.DELETE)


def _exception_list(client: KibanaClient, list_id: str) -> Mapping[str, Any] | None:
    params = {"list_id": list_id, "namespace_type": "single"}
    status, body = client.request("GET", _EXCEPTIONS, params=params, allow={404})
    return None if status == 404 else body


def _exception_items(client: KibanaClient, list_id: str) -> dict[str, Mapping[str, Any]]:
    """ghosthire's items of the list by item_id (an admin's own items are not ghosthire's)."""
    items: dict[str, Mapping[str, Any]] = {}
    page = 1
    while True:
        params = {"list_id": list_id, "namespace_type": "single", "page": page, "per_page": 100}
        _, body = client.request("GET", f"{_EXCEPTIONS}/items/_find", params=params)
        data = body.get("data") or []
        items.update(
            {item["item_id"]: item for item in data if str(item.get("item_id", "")).startswith(_ITEM_PREFIX)}
        )
        if not data or page * 100 >= int(body.get("total", 0)):
            return items
        page += 1


def _same_item(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    return all(current.get(key) == value for key, value in wanted.items())


def _items_change(wanted: ExceptionList, current: dict[str, Mapping[str, Any]] | None) -> ObjectChange:
    label = f"{len(wanted.items)} items"
    if current is None:
        return ObjectChange(wanted.object_id, Action.CREATE, (FieldChange("items", None, label),))
    same = set(current) == {item["item_id"] for item in wanted.items} and all(
        _same_item(current[item["item_id"]], item) for item in wanted.items
    )
    if same:
        return ObjectChange(wanted.object_id, Action.UNCHANGED)
    return ObjectChange(
        wanted.object_id, Action.UPDATE, (FieldChange("items", f"{len(current)} items", label),)
    )
