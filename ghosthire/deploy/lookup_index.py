"""A lookup-mode Elasticsearch index kept equal to a set of documents, for ES|QL `LOOKUP JOIN`.

The index is created with `index.mode: lookup` and `refresh_interval: -1`, so nothing written becomes
visible to searches (and joins) until the installer's own `_refresh` after the last write: a run cut short
leaves the previous content in force, never half of the new one. Each run reads the published documents,
writes only the difference through `_bulk` (documents keyed by `_id`), then refreshes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ghosthire.deploy.elastic_client import KibanaClient, KibanaHTTPError
from ghosthire.deploy.report import Action, FieldChange, ObjectChange, StepResult

BULK_OPERATIONS = 1000
_PAGE = 1000
SETTINGS = {"index": {"mode": "lookup", "number_of_shards": 1, "refresh_interval": "-1"}}

Documents = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class LookupIndex:
    name: str
    mappings: Mapping[str, Any]
    documents: Documents  # _id -> _source

    @property
    def object_id(self) -> str:
        return f"lookup-index:{self.name}"


def plan_lookup_index(client: KibanaClient, index: LookupIndex) -> ObjectChange:
    """What a sync would change, read from Elasticsearch."""
    current = _published(client, index.name)
    wanted = _rows_label(index.documents)
    if current is None:
        return ObjectChange(index.object_id, Action.CREATE, (FieldChange("rows", None, wanted),))
    if _same_documents(current, index.documents):
        return ObjectChange(index.object_id, Action.UNCHANGED)
    return ObjectChange(index.object_id, Action.UPDATE, (FieldChange("rows", _rows_label(current), wanted),))


def sync_lookup_index(client: KibanaClient, index: LookupIndex) -> StepResult:
    """Create the index when missing, write the difference, publish it with one refresh."""
    current = _published(client, index.name)
    action = Action.UPDATE
    if current is None:
        client.request("PUT", f"/{index.name}", json={"settings": SETTINGS, "mappings": index.mappings})
        current, action = {}, Action.CREATE
    elif _needs_mapping(client, index):
        client.request("PUT", f"/{index.name}/_mapping", json=index.mappings)
    if _same_documents(current, index.documents) and action is Action.UPDATE:
        return StepResult((ObjectChange(index.object_id, Action.UNCHANGED),))
    operations: list[dict[str, Any]] = []
    for doc_id, source in index.documents.items():
        if current.get(doc_id) != source:
            operations += [{"index": {"_index": index.name, "_id": doc_id}}, dict(source)]
    operations += [
        {"delete": {"_index": index.name, "_id": doc_id}}
        for doc_id in current
        if doc_id not in index.documents
    ]
    _bulk(client, operations)
    client.request("POST", f"/{index.name}/_refresh")
    change = FieldChange(
        "rows", _rows_label(current) if action is Action.UPDATE else None, _rows_label(index.documents)
    )
    return StepResult((ObjectChange(index.object_id, action, (change,)),))


def delete_lookup_index(client: KibanaClient, name: str) -> ObjectChange:
    status, _ = client.request("DELETE", f"/{name}", allow={404})
    return ObjectChange(f"lookup-index:{name}", Action.ABSENT if status == 404 else Action.DELETE)


def _needs_mapping(client: KibanaClient, index: LookupIndex) -> bool:
    """Whether the existing index lacks some of the wanted fields; an index of the same name that is not
    in lookup mode is someone else's and is refused."""
    _, body = client.request("GET", f"/{index.name}")
    current = body.get(index.name) or {}
    if current.get("settings", {}).get("index", {}).get("mode") != "lookup":
        raise KibanaHTTPError(
            409,
            f"the index {index.name} exists but is not in lookup mode; delete or rename it, then run again",
        )
    return not _contains(current.get("mappings") or {}, index.mappings)


def _contains(current: Any, wanted: Any) -> bool:
    if isinstance(wanted, Mapping):
        return isinstance(current, Mapping) and all(_contains(current.get(k), v) for k, v in wanted.items())
    return current == wanted


def _published(client: KibanaClient, name: str) -> dict[str, dict[str, Any]] | None:
    """The searchable documents by _id, paged in index order; None when the index does not exist."""
    documents: dict[str, dict[str, Any]] = {}
    after: list[Any] | None = None
    while True:
        query: dict[str, Any] = {"size": _PAGE, "sort": ["_doc"], "query": {"match_all": {}}}
        if after is not None:
            query["search_after"] = after
        status, body = client.request("GET", f"/{name}/_search", allow={404}, json=query)
        if status == 404:
            return None
        hits = body.get("hits", {}).get("hits") or []
        documents.update({hit["_id"]: hit.get("_source") or {} for hit in hits})
        if len(hits) < _PAGE:
            return documents
        after = hits[-1]["sort"]


def _bulk(client: KibanaClient, operations: list[dict[str, Any]]) -> None:
    start = 0
    while start < len(operations):
        chunk: list[dict[str, Any]] = []
        while start < len(operations) and len(chunk) < BULK_OPERATIONS:
            action = operations[start]
            step = 2 if next(iter(action)) in ("index", "create") else 1
            chunk += operations[start : start + step]
            start += step
        body = "".join(json.dumps(line, sort_keys=True) + "\n" for line in chunk)
        _, answer = client.request(
            "POST", "/_bulk", data=body.encode(), headers={"Content-Type": "application/x-ndjson"}
        )
        failed = [
            item[kind]
            for item in answer.get("items") or []
            for kind in item
            if item[kind].get("status", 200) >= 300
        ]
        failed = [item for item in failed if item.get("status") != 404 or "error" in item]
        if answer.get("errors") and failed:
            first = failed[0]
            reason = (first.get("error") or {}).get("reason", "no reason given")
            raise KibanaHTTPError(
                int(first.get("status", 400)), f"{len(failed)} documents refused, first: {reason}"
            )


def _same_documents(current: Documents, wanted: Documents) -> bool:
    return dict(current) == {key: dict(value) for key, value in wanted.items()}


def _rows_label(documents: Documents) -> str:
    digest = hashlib.sha256(json.dumps(documents, sort_keys=True).encode()).hexdigest()[:8]
    return f"{len(documents)} rows #{digest}"
