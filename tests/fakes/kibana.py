"""A loopback Kibana answering the detection engine rules API the way Kibana 8.x does.

`Authorization: ApiKey <key>` (401 otherwise), `kbn-xsrf` on every write (400 otherwise), spaces as
`/s/<space>/api/...` (404 for a space that does not exist), `_import` taking a multipart `file` part that must
be `.ndjson`, with `overwrite` semantics (409 per rule without it) and per-rule validation errors in the
`errors` array, `_find` paging, `GET rules?rule_id=`, and `_bulk_action` by ids (at most 100) answering 500
with `attributes.errors` when some rules failed. Stored rules carry the server-side fields and defaults
Kibana adds, and `threshold.field` is normalised to a list.
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


class FakeKibana(FakeServer):
    def __init__(
        self, api_key: str, spaces: tuple[str, ...] = ("default",), tls: TlsFiles | None = None
    ) -> None:
        super().__init__(tls)
        self.api_key = api_key
        self.rules: dict[str, dict[str, dict[str, Any]]] = {space: {} for space in spaces}
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
            problem = self._store(space, document, overwrite)
            if problem is not None:
                errors.append(_rule_error(document.get("rule_id", "(unknown id)"), *problem))
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
