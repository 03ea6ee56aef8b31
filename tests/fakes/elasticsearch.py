"""A loopback Elasticsearch answering the index APIs the Kibana installer uses, the way Elasticsearch 8.19/9.x
does.

`Authorization: ApiKey <key>` (401 `security_exception` otherwise); `PUT /<index>` with `settings` and
`mappings` (400 `resource_already_exists_exception` when it exists; `index.mode: lookup` only with one shard,
as Elasticsearch enforces), `GET /<index>` (404 `index_not_found_exception`), `PUT /<index>/_mapping`
(additive; a changed type is 400 `illegal_argument_exception`), `DELETE /<index>`; `_bulk` (NDJSON that must
end with a newline, `index`/`create`/`delete` actions with per-item results and the `errors` flag);
`_search` with `size`, `sort: ["_doc"]` and `search_after`; `_refresh`. Searches see only what the last
refresh published: with `refresh_interval: -1` that is the installer's own `_refresh`, otherwise every write
is published at once (as the periodic refresh would).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.server import FakeServer, Request, Response


@dataclass
class FakeIndex:
    settings: dict[str, Any]
    mappings: dict[str, Any]
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)  # written
    visible: dict[str, dict[str, Any]] = field(default_factory=dict)  # published by a refresh

    @property
    def refreshes_itself(self) -> bool:
        return str(self.settings.get("refresh_interval", "1s")) != "-1"

    def publish(self) -> None:
        self.visible = {key: dict(value) for key, value in self.documents.items()}


class FakeElasticsearch(FakeServer):
    def __init__(self, api_key: str) -> None:
        super().__init__()
        self.api_key = api_key
        self.indices: dict[str, FakeIndex] = {}

    def error(self, status: int, message: str, kind: str = "exception") -> Response:
        body = {"error": {"root_cause": [{"type": kind, "reason": message}], "type": kind, "reason": message}}
        return Response(status, json.dumps({**body, "status": status}).encode())

    def handle(self, request: Request) -> Response:
        if request.headers.get("Authorization") != f"ApiKey {self.api_key}":
            return self.error(401, "unable to authenticate with provided credentials", "security_exception")
        parts = [part for part in request.path.split("/") if part]
        if parts == ["_bulk"] and request.method in ("POST", "PUT"):
            return self._bulk(request, None)
        if not parts or parts[0].startswith("_"):
            return self.error(
                400, f"no handler for {request.method} {request.path}", "illegal_argument_exception"
            )
        name, rest = parts[0], parts[1:]
        if not rest:
            handler = {"PUT": self._create, "GET": self._get, "DELETE": self._delete}.get(request.method)
            return handler(request, name) if handler else self.error(405, "method not allowed")
        if name not in self.indices:
            return self._missing(name)
        routes = {
            ("PUT", "_mapping"): self._mapping,
            ("POST", "_bulk"): self._bulk,
            ("PUT", "_bulk"): self._bulk,
            ("POST", "_search"): self._search,
            ("GET", "_search"): self._search,
            ("POST", "_refresh"): self._refresh,
        }
        route = routes.get((request.method, rest[0]))
        return route(request, name) if route else self.error(400, f"no handler for {request.path}")

    # ------------------------------------------------------------------ index lifecycle

    def _missing(self, name: str) -> Response:
        return self.error(404, f"no such index [{name}]", "index_not_found_exception")

    def _create(self, request: Request, name: str) -> Response:
        if name in self.indices:
            return self.error(400, f"index [{name}/x] already exists", "resource_already_exists_exception")
        body = json.loads(request.body or b"{}")
        settings = _flat_index_settings(body.get("settings") or {})
        if settings.get("mode") == "lookup" and str(settings.get("number_of_shards", "1")) != "1":
            return self.error(
                400,
                "index with [lookup] mode must have [index.number_of_shards] set to 1",
                "illegal_argument_exception",
            )
        settings.setdefault("number_of_shards", "1")
        self.indices[name] = FakeIndex({k: str(v) for k, v in settings.items()}, body.get("mappings") or {})
        return _json(200, {"acknowledged": True, "shards_acknowledged": True, "index": name})

    def _get(self, request: Request, name: str) -> Response:
        index = self.indices.get(name)
        if index is None:
            return self._missing(name)
        return _json(
            200,
            {name: {"aliases": {}, "mappings": index.mappings, "settings": {"index": dict(index.settings)}}},
        )

    def _delete(self, request: Request, name: str) -> Response:
        if self.indices.pop(name, None) is None:
            return self._missing(name)
        return _json(200, {"acknowledged": True})

    def _mapping(self, request: Request, name: str) -> Response:
        index = self.indices[name]
        merged = json.loads(json.dumps(index.mappings))
        conflict = _merge_properties(
            merged.setdefault("properties", {}), json.loads(request.body).get("properties", {})
        )
        if conflict:
            return self.error(400, conflict, "illegal_argument_exception")
        index.mappings = merged
        return _json(200, {"acknowledged": True})

    # ------------------------------------------------------------------ documents

    def _bulk(self, request: Request, name: str | None) -> Response:
        if not request.body.endswith(b"\n"):
            return self.error(
                400, "The bulk request must be terminated by a newline [\\n]", "illegal_argument_exception"
            )
        lines = [line for line in request.body.decode().split("\n") if line.strip()]
        items, errors, position = [], False, 0
        while position < len(lines):
            action = json.loads(lines[position])
            ((kind, meta),) = action.items()
            position += 1
            source = None
            if kind in ("index", "create"):
                source = json.loads(lines[position])
                position += 1
            target = meta.get("_index", name)
            result = self._apply(kind, target, meta.get("_id"), source)
            errors = errors or result["status"] >= 300
            items.append({kind: {"_index": target, "_id": meta.get("_id"), **result}})
        for touched in {item[next(iter(item))]["_index"] for item in items}:
            index = self.indices.get(touched)
            if index is not None and index.refreshes_itself:
                index.publish()
        return _json(200, {"took": 1, "errors": errors, "items": items})

    def _apply(
        self, kind: str, name: str, doc_id: str | None, source: dict[str, Any] | None
    ) -> dict[str, Any]:
        index = self.indices.get(name)
        if index is None:
            # Bulk writes would auto-create the index; the installer must never rely on that.
            return {
                "status": 404,
                "error": {"type": "index_not_found_exception", "reason": f"no such index [{name}]"},
            }
        if kind == "delete":
            found = index.documents.pop(doc_id or "", None) is not None
            return {"status": 200 if found else 404, "result": "deleted" if found else "not_found"}
        if kind == "create" and doc_id in index.documents:
            return {"status": 409, "error": {"type": "version_conflict_engine_exception", "reason": "exists"}}
        existed = doc_id in index.documents
        index.documents[doc_id or f"auto-{len(index.documents)}"] = source or {}
        return {"status": 200 if existed else 201, "result": "updated" if existed else "created"}

    def _search(self, request: Request, name: str) -> Response:
        body = json.loads(request.body or b"{}")
        size = int(body.get("size", 10))
        if size > 10000:
            return self.error(
                400, "Result window is too large, from + size must be less than or equal to: [10000]"
            )
        ordered = list(self.indices[name].visible.items())
        after = (body.get("search_after") or [-1])[0]
        hits = [
            {"_index": name, "_id": doc_id, "_source": source, "sort": [position]}
            for position, (doc_id, source) in enumerate(ordered)
            if position > after
        ][:size]
        total = {"value": len(ordered), "relation": "eq"}
        return _json(200, {"took": 1, "timed_out": False, "hits": {"total": total, "hits": hits}})

    def _refresh(self, request: Request, name: str) -> Response:
        self.indices[name].publish()
        return _json(200, {"_shards": {"total": 1, "successful": 1, "failed": 0}})


def _flat_index_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """`{"index": {"mode": ...}}` and `{"index.mode": ...}` are the same setting."""
    flat: dict[str, Any] = {}
    for key, value in settings.items():
        if key == "index" and isinstance(value, dict):
            flat.update(value)
        else:
            flat[key.removeprefix("index.")] = value
    return flat


def _merge_properties(current: dict[str, Any], added: dict[str, Any], prefix: str = "") -> str | None:
    for name, spec in added.items():
        existing = current.get(name)
        if existing is None:
            current[name] = spec
        elif "properties" in spec:
            conflict = _merge_properties(
                existing.setdefault("properties", {}), spec["properties"], f"{prefix}{name}."
            )
            if conflict:
                return conflict
        elif existing.get("type") != spec.get("type"):
            return f"mapper [{prefix}{name}] cannot be changed from type [{existing.get('type')}] to [{spec.get('type')}]"
    return None


def _json(status: int, body: object) -> Response:
    return Response(status, json.dumps(body).encode())
