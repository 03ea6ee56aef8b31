"""A loopback Kibana answering the detection engine rules API the way Kibana 8.x does.

`Authorization: ApiKey <key>` (401 otherwise), `kbn-xsrf` on every write (400 otherwise), spaces as
`/s/<space>/api/...` (404 for a space that does not exist), `_import` taking a multipart `file` part that must
be `.ndjson`, with `overwrite` semantics (409 per rule without it) and per-rule validation errors in the
`errors` array, `_find` paging, `GET rules?rule_id=`, and `_bulk_action` by ids (at most 100) answering 500
with `attributes.errors` when some rules failed. Stored rules carry the server-side fields and defaults
Kibana adds, and `threshold.field` is normalised to a list. An imported rule's `exceptions_list` entries are
resolved by `list_id` to the space's exception lists (the id is replaced by the list's; a reference to a
missing list is removed and reported), as Kibana's import does.

Value lists (`/api/lists`): the space's list data streams (`/api/lists/index`, which must exist before a list
is created), lists by `id` with a type, items found page by page, imported from a multipart text file
(`/api/lists/items/_import?list_id=`, appended) and deleted by value. Exception lists
(`/api/exception_lists`) by `list_id` and `namespace_type`, with items created, updated (PUT, by `item_id`),
found page by page and deleted.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import uuid
from typing import Any

from tests.fakes.server import FakeServer, Request, Response, TlsFiles

RULES_API = "/api/detection_engine/rules"
RULE_TYPES = (
    "eql",
    "esql",
    "query",
    "saved_query",
    "threshold",
    "new_terms",
    "threat_match",
    "machine_learning",
)
SERVER_DEFAULTS: dict[str, Any] = {
    "enabled": True,
    "interval": "5m",
    "from": "now-6m",
    "to": "now",
    "max_signals": 100,
    "exceptions_list": [],
    "actions": [],
    "tags": [],
    "references": [],
    "false_positives": [],
    "threat": [],
    "author": [],
    "setup": "",
    "related_integrations": [],
    "required_fields": [],
    "version": 1,
}


LIST_TYPES = ("keyword", "ip", "ip_range", "text", "long", "double", "date")


class _ListsApi:
    """Value lists and exception lists of FakeKibana (mixed into it below)."""

    list_index: set[str]
    value_lists: dict[str, dict[str, dict[str, Any]]]
    list_items: dict[str, dict[str, list[str]]]
    exception_lists: dict[str, dict[str, dict[str, Any]]]
    exception_items: dict[str, dict[str, dict[str, dict[str, Any]]]]

    def _resolve_exception_references(
        self, space: str, document: dict[str, Any]
    ) -> tuple[dict[str, Any], list[str]]:
        kept, removed = [], []
        for reference in document.get("exceptions_list") or []:
            found = self.exception_lists[space].get(reference.get("list_id"))
            if found is None:
                removed.append(reference.get("list_id"))
            else:
                kept.append({**reference, "id": found["id"]})
        return ({**document, "exceptions_list": kept} if "exceptions_list" in document else document), removed

    # value lists
    def _get_list_index(self, request: Request, space: str) -> Response:
        if space not in self.list_index:
            message = f"data stream .lists-{space} and data stream .items-{space} does not exist"
            return _json(404, {"message": message, "status_code": 404})
        return _json(200, {"list_index": True, "list_item_index": True})

    def _create_list_index(self, request: Request, space: str) -> Response:
        if space in self.list_index:
            return _json(409, {"message": f"data stream: .lists-{space} already exists", "status_code": 409})
        self.list_index.add(space)
        return _json(200, {"acknowledged": True})

    def _get_list(self, request: Request, space: str) -> Response:
        found = self.value_lists[space].get(request.arg("id") or "")
        if found is None:
            return _json(404, {"message": f'list id: "{request.arg("id")}" not found', "status_code": 404})
        return _json(200, found)

    def _create_list(self, request: Request, space: str) -> Response:
        body = json.loads(request.body or b"{}")
        if space not in self.list_index:
            message = f'To create a list, the data stream must exist first. Data stream ".lists-{space}" does not exist'
            return _json(400, {"message": message, "status_code": 400})
        if body.get("type") not in LIST_TYPES or not body.get("name"):
            return _json(400, {"message": "[request body]: type: Invalid enum value", "status_code": 400})
        list_id = body.get("id") or str(uuid.uuid4())
        if list_id in self.value_lists[space]:
            return _json(409, {"message": f'list id: "{list_id}" already exists', "status_code": 409})
        stored = {"description": "", **body, "id": list_id, "immutable": False, "version": 1}
        self.value_lists[space][list_id] = stored
        self.list_items[space][list_id] = []
        return _json(200, stored)

    def _delete_list(self, request: Request, space: str) -> Response:
        list_id = request.arg("id") or ""
        if list_id not in self.value_lists[space]:
            return _json(404, {"message": f'list id: "{list_id}" was not found', "status_code": 404})
        referenced = [
            item["list_id"]
            for items in self.exception_items[space].values()
            for item in items.values()
            for entry in item["entries"]
            if entry.get("type") == "list" and entry["list"]["id"] == list_id
        ]
        if (
            referenced
            and request.arg("deleteReferences") != "true"
            and request.arg("ignoreReferences") != "true"
        ):
            message = f"Value list '{list_id}' is referenced in existing exception list(s): {sorted(set(referenced))}"
            return _json(409, {"message": message, "status_code": 409})
        del self.list_items[space][list_id]
        return _json(200, self.value_lists[space].pop(list_id))

    def _find_list_items(self, request: Request, space: str) -> Response:
        list_id = request.arg("list_id") or ""
        if list_id not in self.value_lists[space]:
            return _json(404, {"message": f'list id: "{list_id}" does not exist', "status_code": 404})
        page, per_page = int(request.arg("page", "1") or 1), int(request.arg("per_page", "20") or 20)
        values = self.list_items[space][list_id]
        data = [
            {
                "id": f"{list_id}-{n}",
                "list_id": list_id,
                "value": value,
                "type": self.value_lists[space][list_id]["type"],
            }
            for n, value in enumerate(values)
        ][(page - 1) * per_page : page * per_page]
        return _json(
            200, {"data": data, "page": page, "per_page": per_page, "total": len(values), "cursor": "x"}
        )

    def _import_list_items(self, request: Request, space: str) -> Response:
        list_id = request.arg("list_id") or ""
        if list_id not in self.value_lists[space]:
            return _json(409, {"message": f'list id: "{list_id}" does not exist', "status_code": 409})
        upload = _file_part(request)
        if upload is None:
            return _json(400, {"message": "[request body.file]: Required", "status_code": 400})
        lines = [line.strip() for line in upload[1].decode().splitlines() if line.strip()]
        self.list_items[space][list_id].extend(lines)  # appended, duplicates included, as Kibana does
        return _json(200, self.value_lists[space][list_id])

    def _delete_list_item(self, request: Request, space: str) -> Response:
        list_id, value = request.arg("list_id") or "", request.arg("value")
        items = self.list_items[space].get(list_id, [])
        if value not in items:
            message = f'list_id: "{list_id}" and value: "{value}" item not found'
            return _json(404, {"message": message, "status_code": 404})
        self.list_items[space][list_id] = [item for item in items if item != value]
        return _json(200, [{"list_id": list_id, "value": value}])

    # exception lists
    def _exception_missing(self, list_id: str | None) -> Response:
        return _json(
            404, {"message": f'exception list list_id: "{list_id}" does not exist', "status_code": 404}
        )

    def _get_exception_list(self, request: Request, space: str) -> Response:
        found = self.exception_lists[space].get(request.arg("list_id") or "")
        return _json(200, found) if found else self._exception_missing(request.arg("list_id"))

    def _create_exception_list(self, request: Request, space: str) -> Response:
        body = json.loads(request.body or b"{}")
        for key in ("list_id", "name", "description", "type"):
            if key not in body:
                return _json(400, {"message": f"[request body]: {key}: Required", "status_code": 400})
        if body["list_id"] in self.exception_lists[space]:
            message = f'exception list id: "{body["list_id"]}" already exists'
            return _json(409, {"message": message, "status_code": 409})
        stored = {"namespace_type": "single", "tags": [], **body, "id": str(uuid.uuid4()), "immutable": False}
        self.exception_lists[space][body["list_id"]] = stored
        self.exception_items[space][body["list_id"]] = {}
        return _json(200, stored)

    def _delete_exception_list(self, request: Request, space: str) -> Response:
        list_id = request.arg("list_id") or ""
        if list_id not in self.exception_lists[space]:
            return self._exception_missing(list_id)
        del self.exception_items[space][list_id]
        return _json(200, self.exception_lists[space].pop(list_id))

    def _find_exception_items(self, request: Request, space: str) -> Response:
        list_id = request.arg("list_id") or ""
        if list_id not in self.exception_lists[space]:
            return self._exception_missing(list_id)
        page, per_page = int(request.arg("page", "1") or 1), int(request.arg("per_page", "20") or 20)
        items = list(self.exception_items[space][list_id].values())
        data = items[(page - 1) * per_page : page * per_page]
        return _json(200, {"data": data, "page": page, "per_page": per_page, "total": len(items)})

    def _create_exception_item(self, request: Request, space: str) -> Response:
        body = json.loads(request.body or b"{}")
        problem = _exception_item_problem(body)
        if problem:
            return _json(400, {"message": problem, "status_code": 400})
        items = self.exception_items[space].get(body["list_id"])
        if items is None:
            return self._exception_missing(body["list_id"])
        item_id = body.get("item_id") or str(uuid.uuid4())
        if any(item_id in other for other in self.exception_items[space].values()):
            return _json(
                409, {"message": f'exception list item id: "{item_id}" already exists', "status_code": 409}
            )
        items[item_id] = {
            "namespace_type": "single",
            "tags": [],
            **body,
            "item_id": item_id,
            "id": str(uuid.uuid4()),
        }
        return _json(200, items[item_id])

    def _update_exception_item(self, request: Request, space: str) -> Response:
        body = json.loads(request.body or b"{}")
        for items in self.exception_items[space].values():
            current = items.get(body.get("item_id", ""))
            if current is not None:
                problem = _exception_item_problem({**body, "list_id": current["list_id"]})
                if problem:
                    return _json(400, {"message": problem, "status_code": 400})
                items[body["item_id"]] = {**current, **body}
                return _json(200, items[body["item_id"]])
        message = f'exception list item item_id: "{body.get("item_id")}" does not exist'
        return _json(404, {"message": message, "status_code": 404})

    def _delete_exception_item(self, request: Request, space: str) -> Response:
        item_id = request.arg("item_id") or ""
        for items in self.exception_items[space].values():
            if item_id in items:
                return _json(200, items.pop(item_id))
        message = f'exception list item item_id: "{item_id}" does not exist'
        return _json(404, {"message": message, "status_code": 404})


class FakeKibana(FakeServer, _ListsApi):
    def __init__(
        self, api_key: str, spaces: tuple[str, ...] = ("default",), tls: TlsFiles | None = None
    ) -> None:
        super().__init__(tls)
        self.api_key = api_key
        self.rules: dict[str, dict[str, dict[str, Any]]] = {space: {} for space in spaces}
        self.list_index: set[str] = set()  # spaces whose .lists/.items data streams exist
        self.value_lists: dict[str, dict[str, dict[str, Any]]] = {space: {} for space in spaces}
        self.list_items: dict[str, dict[str, list[str]]] = {space: {} for space in spaces}
        self.exception_lists: dict[str, dict[str, dict[str, Any]]] = {space: {} for space in spaces}
        self.exception_items: dict[str, dict[str, dict[str, dict[str, Any]]]] = {
            space: {} for space in spaces
        }
        self.clock = 0

    # ------------------------------------------------------------------ what tests use as "the admin"

    def rule(self, rule_id: str, space: str = "default") -> dict[str, Any] | None:
        return self.rules[space].get(rule_id)

    def add_rule(self, document: dict[str, Any], space: str = "default") -> None:
        error = self._store(space, document, overwrite=False)
        assert error is None, error

    # ------------------------------------------------------------------ protocol

    def error(self, status: int, message: str) -> Response:
        return Response(
            status, json.dumps({"statusCode": status, "error": "Error", "message": message}).encode()
        )

    def handle(self, request: Request) -> Response:
        if request.headers.get("Authorization") != f"ApiKey {self.api_key}":
            return self.error(401, "[security_exception]: unable to authenticate with provided credentials")
        space, path = "default", request.path
        if path.startswith("/s/"):
            _, _, space, rest = path.split("/", 3)
            path = "/" + rest
        if space not in self.rules:
            return self.error(404, "Not Found")
        if request.method != "GET" and "kbn-xsrf" not in request.headers:
            return self.error(400, "Request must contain a kbn-xsrf header.")
        routes = {
            ("GET", f"{RULES_API}/_find"): self._find,
            ("GET", RULES_API): self._read,
            ("POST", f"{RULES_API}/_import"): self._import,
            ("POST", f"{RULES_API}/_bulk_action"): self._bulk_action,
            ("GET", "/api/lists/index"): self._get_list_index,
            ("POST", "/api/lists/index"): self._create_list_index,
            ("GET", "/api/lists"): self._get_list,
            ("POST", "/api/lists"): self._create_list,
            ("DELETE", "/api/lists"): self._delete_list,
            ("GET", "/api/lists/items/_find"): self._find_list_items,
            ("POST", "/api/lists/items/_import"): self._import_list_items,
            ("DELETE", "/api/lists/items"): self._delete_list_item,
            ("GET", "/api/exception_lists"): self._get_exception_list,
            ("POST", "/api/exception_lists"): self._create_exception_list,
            ("DELETE", "/api/exception_lists"): self._delete_exception_list,
            ("GET", "/api/exception_lists/items/_find"): self._find_exception_items,
            ("POST", "/api/exception_lists/items"): self._create_exception_item,
            ("PUT", "/api/exception_lists/items"): self._update_exception_item,
            ("DELETE", "/api/exception_lists/items"): self._delete_exception_item,
        }
        route = routes.get((request.method, path))
        return route(request, space) if route else self.error(404, "Not Found")

    def _find(self, request: Request, space: str) -> Response:
        page, per_page = int(request.arg("page", "1") or 1), int(request.arg("per_page", "20") or 20)
        rules = sorted(self.rules[space].values(), key=lambda rule: rule["created_at"])
        data = rules[(page - 1) * per_page : page * per_page]
        return _json(200, {"page": page, "perPage": per_page, "total": len(rules), "data": data})

    def _read(self, request: Request, space: str) -> Response:
        rule_id = request.arg("rule_id")
        rule = self.rules[space].get(rule_id or "")
        if rule is None:
            return _json(404, {"status_code": 404, "message": f'rule_id: "{rule_id}" not found'})
        return _json(200, rule)

    def _import(self, request: Request, space: str) -> Response:
        upload = _file_part(request)
        if upload is None:
            return self.error(400, "[request body.file]: expected value of type [Stream] but got [undefined]")
        filename, data = upload
        if not filename.endswith(".ndjson"):
            return _json(
                400, {"message": f"Invalid file extension .{filename.rpartition('.')[2]}", "status_code": 400}
            )
        overwrite = request.arg("overwrite") == "true"
        errors, total = [], 0
        for line in data.decode().splitlines():
            if not line.strip():
                continue
            total += 1
            try:
                document = json.loads(line)
            except json.JSONDecodeError as error:
                errors.append(_rule_error("(unknown id)", 400, f"Unexpected token in JSON: {error.msg}"))
                continue
            document, removed = self._resolve_exception_references(space, document)
            problem = self._store(space, document, overwrite)
            if problem is not None:
                errors.append(_rule_error(document.get("rule_id", "(unknown id)"), *problem))
            for list_id in removed if problem is None else []:
                message = (
                    f'Rule with rule_id: "{document["rule_id"]}" references a non existent exception list of '
                    f'list_id: "{list_id}". Reference has been removed.'
                )
                errors.append(_rule_error(document["rule_id"], 400, message))
        return _json(
            200,
            {
                "success": not errors,
                "success_count": total - len(errors),
                "rules_count": total,
                "errors": errors,
                "exceptions_success": True,
                "exceptions_success_count": 0,
                "exceptions_errors": [],
                "action_connectors_success": True,
                "action_connectors_success_count": 0,
                "action_connectors_errors": [],
                "action_connectors_warnings": [],
            },
        )

    def _store(self, space: str, document: dict[str, Any], overwrite: bool) -> tuple[int, str] | None:
        problem = _validate(document)
        if problem is not None:
            return 400, problem
        existing = self.rules[space].get(document["rule_id"])
        if existing is not None and not overwrite:
            return 409, f'rule_id: "{document["rule_id"]}" already exists'
        self.clock += 1
        stamp = f"2026-01-01T00:00:{self.clock:02d}.000Z"
        rule = {**SERVER_DEFAULTS, **document}
        if isinstance(rule.get("threshold", {}).get("field"), str):
            rule["threshold"] = {**rule["threshold"], "field": [rule["threshold"]["field"]]}
        rule |= {
            "id": existing["id"] if existing else str(uuid.uuid4()),
            "created_at": existing["created_at"] if existing else stamp,
            "created_by": "elastic",
            "updated_at": stamp,
            "updated_by": "elastic",
            "revision": existing["revision"] + 1 if existing else 0,
            "immutable": False,
            "rule_source": {"type": "internal"},
        }
        self.rules[space][document["rule_id"]] = rule
        return None

    def _bulk_action(self, request: Request, space: str) -> Response:
        body = json.loads(request.body or b"{}")
        ids, action = body.get("ids"), body.get("action")
        if not isinstance(ids, list) or action not in ("enable", "disable", "delete"):
            return _json(
                400, {"message": "this fake supports enable/disable/delete by ids", "status_code": 400}
            )
        if len(ids) > 100:
            return _json(400, {"message": "More than 100 ids sent for bulk edit action.", "status_code": 400})
        by_id = {rule["id"]: rule for rule in self.rules[space].values()}
        results: dict[str, list[Any]] = {"updated": [], "created": [], "deleted": [], "skipped": []}
        missing = [rule_id for rule_id in ids if rule_id not in by_id]
        for rule in (by_id[rule_id] for rule_id in ids if rule_id in by_id):
            if action == "delete":
                del self.rules[space][rule["rule_id"]]
                results["deleted"].append(rule)
            elif rule["enabled"] == (action == "enable"):
                results["skipped"].append(
                    {"id": rule["id"], "name": rule["name"], "skip_reason": "RULE_NOT_MODIFIED"}
                )
            else:
                rule["enabled"] = action == "enable"
                results["updated"].append(rule)
        succeeded = len(results["updated"]) + len(results["deleted"])
        summary = {
            "failed": len(missing),
            "succeeded": succeeded,
            "skipped": len(results["skipped"]),
            "total": succeeded + len(missing) + len(results["skipped"]),
        }
        if missing:
            errors = [
                {"message": "Rule not found", "status_code": 404, "rules": [{"id": i} for i in missing]}
            ]
            message = "Bulk edit partially failed" if succeeded else "Bulk edit failed"
            attributes = {"errors": errors, "results": results, "summary": summary}
            return _json(500, {"message": message, "status_code": 500, "attributes": attributes})
        return _json(
            200,
            {
                "success": True,
                "rules_count": summary["total"],
                "attributes": {"results": results, "summary": summary},
            },
        )


def _exception_item_problem(body: dict[str, Any]) -> str | None:
    for key in ("list_id", "name", "description", "type", "entries"):
        if key not in body:
            return f"[request body]: {key}: Required"
    for entry in body["entries"]:
        if entry.get("operator") not in ("included", "excluded") or not entry.get("field"):
            return "[request body]: entries: Invalid entry"
        if entry.get("type") == "list" and entry.get("list", {}).get("type") not in LIST_TYPES:
            return "[request body]: entries.list.type: Invalid enum value"
        if entry.get("type") not in ("match", "match_any", "list", "exists", "nested", "wildcard"):
            return f"[request body]: entries.type: Invalid discriminator value {entry.get('type')!r}"
    return None


def _validate(document: dict[str, Any]) -> str | None:
    """The checks of Kibana's rule schema that matter here, with its wording."""
    if not isinstance(document.get("rule_id"), str):
        return "rule_id: Required"
    if document.get("type") not in RULE_TYPES:
        expected = " | ".join(f"'{t}'" for t in RULE_TYPES)
        return f"type: Invalid discriminator value. Expected {expected}"
    for key in ("name", "description", "risk_score", "severity"):
        if key not in document:
            return f"{key}: Required"
    if document["type"] != "machine_learning" and "query" not in document:
        return "query: Required"
    if document["type"] in ("eql", "esql") and document.get("language") != document["type"]:
        return f'language: Invalid literal value, expected "{document["type"]}"'
    if document["type"] == "threshold" and not isinstance(document.get("threshold", {}).get("value"), int):
        return "threshold.value: Required"
    if document["type"] == "new_terms":
        return _new_terms_problem(document)
    return None


def _new_terms_problem(document: dict[str, Any]) -> str | None:
    """A new terms rule: a KQL or Lucene query, one to three term fields, a history window start."""
    if document.get("language", "kuery") not in ("kuery", "lucene"):
        return "language: Invalid enum value. Expected 'kuery' | 'lucene'"
    fields = document.get("new_terms_fields")
    if not isinstance(fields, list) or not all(isinstance(field, str) and field for field in fields):
        return "new_terms_fields: Required"
    if not 1 <= len(fields) <= 3:
        return "new_terms_fields: Array must contain between 1 and 3 element(s)"
    if not isinstance(document.get("history_window_start"), str) or not document["history_window_start"]:
        return "history_window_start: Required"
    return None


def _file_part(request: Request) -> tuple[str, bytes] | None:
    content_type = request.headers.get("Content-Type") or ""
    if not content_type.startswith("multipart/form-data"):
        return None
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + request.body
    )
    for part in message.iter_parts():  # type: ignore[attr-defined]
        if part.get_param("name", header="content-disposition") == "file":
            return part.get_filename() or "", part.get_payload(decode=True) or b""
    return None


def _rule_error(rule_id: str, status: int, message: str) -> dict[str, Any]:
    return {"rule_id": rule_id, "error": {"status_code": status, "message": message}}


def _json(status: int, body: object) -> Response:
    return Response(status, json.dumps(body).encode())
