"""A loopback splunkd speaking enough of the real REST protocol for splunklib to drive it unmodified.

What it answers as splunkd does: `/services/auth/login` (a `<response><sessionKey>` and a `splunkd_<port>`
cookie); `Authorization: Splunk <key>` and `Bearer <token>`; Atom feeds whose entries carry `<title>`,
`alternate`/`edit`/`remove` links and `<content type="text/xml"><s:dict>` with `eai:acl`; namespaces
`/servicesNS/<owner>/<app>/...` (404 for an app that does not exist) where an object is visible from its own
app or, shared globally, from every app; 201 on create, 409 when the name exists in that app, 404 for a
missing object; `count`/`offset` paging (default count 30, `count<=0` meaning all); `<entity>/acl` requiring
`sharing` and `owner`; `apps/local`, `saved/searches` (with splunkd's default keys and 0/1 booleans),
`configs/conf-*`, `properties`, `data/ui/views`, `data/ui/nav` (a new app comes with the template's nav), `storage/collections/config` and the KV
store's JSON `storage/collections/data/<collection>` with `batch_save`.
"""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import quote, unquote_plus

from tests.fakes.server import FakeServer, Request, Response, TlsFiles

ATOM = "http://www.w3.org/2005/Atom"
REST = "http://dev.splunk.com/ns/rest"
OPENSEARCH = "http://a9.com/-/spec/opensearch/1.1/"
ET.register_namespace("", ATOM)
ET.register_namespace("s", REST)
ET.register_namespace("opensearch", OPENSEARCH)

COLLECTIONS = (
    "apps/local",
    "saved/searches",
    "data/ui/views",
    "data/ui/nav",
    "storage/collections/config",
    "properties",
)
SAVED_SEARCH_DEFAULTS = {
    "description": "",
    "disabled": "0",
    "is_scheduled": "0",
    "cron_schedule": "",
    "dispatch.earliest_time": "",
    "dispatch.latest_time": "",
    "alert.suppress": "0",
    "alert.track": "0",
    "actions": "",
}
TEMPLATE_NAV = '<nav search_view="search">\n  <view name="search" default="true" />\n</nav>'
BUILTIN_CONFS = {"macros", "transforms", "savedsearches", "props", "app"}


@dataclass
class StoredObject:
    collection: str
    name: str
    app: str
    content: dict[str, str]
    sharing: str = "app"
    owner: str = "nobody"
    read: list[str] = field(default_factory=lambda: ["*"])
    write: list[str] = field(default_factory=lambda: ["admin"])


class FakeSplunkd(FakeServer):
    def __init__(
        self,
        username: str = "admin",
        password: str = "fake-password-Zq8",
        token: str | None = None,
        tls: TlsFiles | None = None,
    ) -> None:
        super().__init__(tls)
        self.username, self.password = username, password
        self.tokens = {token} if token else set()
        self.sessions: set[str] = set()
        self.logins = 0
        self.objects: dict[tuple[str, str, str], StoredObject] = {}
        self.kv: dict[tuple[str, str], list[dict[str, str]]] = {}
        for app in ("search", "system"):
            self.put(
                "apps/local", app, {"label": app.title(), "visible": "1"}, app="system", sharing="system"
            )

    # ------------------------------------------------------------------ what tests use as "the admin"

    def put(
        self, collection: str, name: str, content: dict[str, str], app: str, sharing: str = "app"
    ) -> None:
        """Creates or replaces an object directly, as an admin working in Splunk Web would."""
        self.objects[(collection, app, name)] = StoredObject(collection, name, app, dict(content), sharing)
        if collection == "storage/collections/config":
            self.kv.setdefault((app, name), [])

    def get(self, collection: str, name: str, app: str = "ghosthire") -> StoredObject | None:
        return self.objects.get((collection, app, name))

    def names(self, collection: str, app: str = "ghosthire") -> set[str]:
        return {o.name for o in self.objects.values() if o.collection == collection and o.app == app}

    def apps(self) -> set[str]:
        return self.names("apps/local", app="system")

    def expire_sessions(self) -> None:
        self.sessions.clear()

    # ------------------------------------------------------------------ protocol

    def error(self, status: int, message: str) -> Response:
        root = ET.Element("response")
        messages = ET.SubElement(root, "messages")
        ET.SubElement(messages, "msg", type="ERROR" if status >= 500 else "WARN").text = message
        return Response(status, _xml(root), "text/xml; charset=utf-8")

    def handle(self, request: Request) -> Response:
        # splunklib quotes names with quote_plus, and splunkd reads `+` in a path segment as a space.
        segments = [unquote_plus(segment) for segment in request.path.split("/")[1:]]
        if segments and segments[-1] == "":
            segments.pop()
        if segments[:3] == ["services", "auth", "login"] and request.method == "POST":
            return self._login(request)
        if not self._authenticated(request):
            return self.error(401, "call not properly authenticated")
        if segments[:1] == ["servicesNS"] and len(segments) >= 3:
            app, rest = segments[2], segments[3:]
        elif segments[:1] == ["services"]:
            app, rest = "system", segments[1:]
        else:
            return self.error(404, f"Not Found: {request.path}")
        if app not in ("-", "system") and app not in self.apps():
            return self.error(404, f"Application does not exist: {app}")
        if rest[:3] == ["storage", "collections", "data"]:
            return self._kv_data(request, app, rest[3:])
        collection, remainder = _split_collection(rest)
        if collection is None:
            return self.error(404, f"Not Found: {request.path}")
        return self._collection(request, app, collection, remainder)

    def _login(self, request: Request) -> Response:
        form = request.form()
        if (form.get("username"), form.get("password")) != (self.username, self.password):
            return self.error(401, "Login failed")
        key = uuid.uuid4().hex
        self.sessions.add(key)
        self.logins += 1
        root = ET.Element("response")
        ET.SubElement(root, "sessionKey").text = key
        headers = [("Set-Cookie", f"splunkd_{self.port}={key}; Path=/; HttpOnly; Max-Age=3600")]
        return Response(200, _xml(root), "text/xml; charset=utf-8", headers)

    def _authenticated(self, request: Request) -> bool:
        scheme, _, credential = (request.headers.get("Authorization") or "").partition(" ")
        if (scheme == "Splunk" and credential in self.sessions) or (
            scheme == "Bearer" and credential in self.tokens
        ):
            return True
        cookie = SimpleCookie(request.headers.get("Cookie") or "").get(f"splunkd_{self.port}")
        return cookie is not None and cookie.value in self.sessions

    def _collection(self, request: Request, app: str, collection: str, remainder: list[str]) -> Response:
        if not remainder and request.method == "GET":
            return self._feed(request, collection, self._visible(collection, app))
        if not remainder and request.method == "POST":
            return self._create(request, app, collection)
        matches = self._visible(collection, app, remainder[0])
        if (
            collection == "properties"
            and not matches
            and remainder[0] in BUILTIN_CONFS | self._conf_files(app)
        ):
            return self._feed(request, collection, [])
        if not matches:
            return self.error(404, f"Could not find object id={remainder[0]}")
        if len(remainder) == 1 and request.method == "GET":
            return self._feed(request, collection, matches)
        target = next((o for o in matches if o.app == app), matches[0])
        action = remainder[1] if len(remainder) > 1 else None
        if request.method == "DELETE" and action is None:
            self._delete(target)
            return self._feed(request, collection, [])
        if request.method != "POST":
            return self.error(405, "Method not allowed")
        form = request.form()
        if action == "acl":
            if "sharing" not in form or "owner" not in form:
                return self.error(400, "Argument 'sharing' and 'owner' are required")
            target.sharing, target.owner = form["sharing"], form["owner"]
            target.read = _roles(form.get("perms.read"), target.read)
            target.write = _roles(form.get("perms.write"), target.write)
        elif action in ("enable", "disable"):
            target.content["disabled"] = "1" if action == "disable" else "0"
        elif action is None:
            if "name" in form:
                return self.error(400, "Argument name is not supported by this handler")
            target.content.update(_stored_values(collection, form))
        else:
            return self.error(404, f"Not Found: {action}")
        return self._feed(request, collection, [target])

    def _create(self, request: Request, app: str, collection: str) -> Response:
        form = request.form()
        if collection == "properties":
            name = form.get("__conf", "")
            self.put("properties", name, {}, app=app)
            return self._feed(request, collection, [self.objects[("properties", app, name)]], status=201)
        name = form.pop("name", "")
        if not name:
            return self.error(400, "Missing argument: name")
        owner_app = "system" if collection == "apps/local" else app
        if (collection, owner_app, name) in self.objects:
            return self.error(409, f"An object with name={name} already exists")
        content = _stored_values(collection, form)
        if collection == "saved/searches":
            content = {**SAVED_SEARCH_DEFAULTS, **content}
        self.put(
            collection, name, content, app=owner_app, sharing="system" if owner_app == "system" else "app"
        )
        if collection.startswith("configs/conf-"):
            self.put("properties", collection.removeprefix("configs/conf-"), {}, app=app)
        if collection == "apps/local":  # the barebones template every new app starts from ships a nav
            self.put("data/ui/nav", "default", {"eai:data": TEMPLATE_NAV}, app=name)
        return self._feed(request, collection, [self.objects[(collection, owner_app, name)]], status=201)

    def _delete(self, target: StoredObject) -> None:
        """Deleting an app deletes everything in it, as removing its folder does."""
        del self.objects[(target.collection, target.app, target.name)]
        if target.collection == "storage/collections/config":
            self.kv.pop((target.app, target.name), None)
        if target.collection == "apps/local":
            for key in [key for key, obj in self.objects.items() if obj.app == target.name]:
                del self.objects[key]
            self.kv = {key: rows for key, rows in self.kv.items() if key[0] != target.name}

    def _visible(self, collection: str, app: str, name: str | None = None) -> list[StoredObject]:
        return [
            o
            for o in self.objects.values()
            if o.collection == collection
            and (name is None or o.name == name)
            and (app in ("-", "system") or o.app == app or o.sharing in ("global", "system"))
        ]

    def _conf_files(self, app: str) -> set[str]:
        return {o.name for o in self._visible("properties", app)}

    def _kv_data(self, request: Request, app: str, rest: list[str]) -> Response:
        if not rest or (app, rest[0]) not in self.kv:
            return self.error(404, "Collection not found")
        documents = self.kv[(app, rest[0])]
        if len(rest) == 1 and request.method == "GET":
            return Response(200, json.dumps(documents).encode())
        if len(rest) == 1 and request.method == "DELETE":
            documents.clear()
            return Response(200)
        if rest[1:] == ["batch_save"] and request.method == "POST":
            saved = []
            for document in json.loads(request.body):
                key = document.get("_key") or uuid.uuid4().hex[:24]
                documents[:] = [d for d in documents if d["_key"] != key]
                documents.append({**document, "_key": key, "_user": "nobody"})
                saved.append(key)
            return Response(200, json.dumps(saved).encode())
        return self.error(404, "Not Found")

    def _feed(
        self, request: Request, collection: str, objects: list[StoredObject], status: int = 200
    ) -> Response:
        count = int(request.arg("count", "30") or 30)
        offset = int(request.arg("offset", "0") or 0)
        page = objects[offset:] if count <= 0 else objects[offset : offset + count]
        feed = ET.Element(f"{{{ATOM}}}feed")
        ET.SubElement(feed, f"{{{ATOM}}}title").text = collection
        ET.SubElement(feed, f"{{{ATOM}}}id").text = f"{self.url}{request.path}"
        ET.SubElement(feed, f"{{{ATOM}}}updated").text = "2026-01-01T00:00:00+00:00"
        ET.SubElement(feed, f"{{{ATOM}}}generator", build="fake", version="9.3.0")
        ET.SubElement(ET.SubElement(feed, f"{{{ATOM}}}author"), f"{{{ATOM}}}name").text = "Splunk"
        ET.SubElement(feed, f"{{{OPENSEARCH}}}totalResults").text = str(len(objects))
        ET.SubElement(feed, f"{{{OPENSEARCH}}}itemsPerPage").text = str(count)
        ET.SubElement(feed, f"{{{OPENSEARCH}}}startIndex").text = str(offset)
        ET.SubElement(feed, f"{{{REST}}}messages")
        for obj in page:
            feed.append(self._entry(obj))
        return Response(status, _xml(feed), "text/xml; charset=utf-8")

    def _entry(self, obj: StoredObject) -> ET.Element:
        href = f"/servicesNS/{obj.owner}/{obj.app}/{obj.collection}/{quote(obj.name, safe='')}"
        entry = ET.Element(f"{{{ATOM}}}entry")
        ET.SubElement(entry, f"{{{ATOM}}}title").text = obj.name
        ET.SubElement(entry, f"{{{ATOM}}}id").text = f"{self.url}{href}"
        ET.SubElement(entry, f"{{{ATOM}}}updated").text = "2026-01-01T00:00:00+00:00"
        for rel, suffix in (("alternate", ""), ("list", ""), ("edit", ""), ("remove", ""), ("acl", "/acl")):
            ET.SubElement(entry, f"{{{ATOM}}}link", href=href + suffix, rel=rel)
        ET.SubElement(ET.SubElement(entry, f"{{{ATOM}}}author"), f"{{{ATOM}}}name").text = obj.owner
        content = ET.SubElement(entry, f"{{{ATOM}}}content", type="text/xml")
        keys = {**obj.content, "eai:appName": obj.app, "eai:userName": obj.owner}
        acl = {
            "app": obj.app,
            "can_change_perms": "1",
            "can_list": "1",
            "can_share_app": "1",
            "can_share_global": "1",
            "can_share_user": "0",
            "can_write": "1",
            "modifiable": "1",
            "owner": obj.owner,
            "perms": {"read": obj.read, "write": obj.write},
            "removable": "1",
            "sharing": obj.sharing,
        }
        content.append(_s_value({**keys, "eai:acl": acl}))
        return entry


def _split_collection(rest: list[str]) -> tuple[str | None, list[str]]:
    path = "/".join(rest)
    if rest and rest[0] == "configs" and len(rest) >= 2 and rest[1].startswith("conf-"):
        return f"configs/{rest[1]}", rest[2:]
    for collection in COLLECTIONS:
        if path == collection or path.startswith(collection + "/"):
            return collection, rest[len(collection.split("/")) :]
    return None, []


def _stored_values(collection: str, form: dict[str, str]) -> dict[str, str]:
    """splunkd stores typed saved-search settings, so booleans come back as 0/1."""
    if collection != "saved/searches":
        return dict(form)
    return {key: {"true": "1", "false": "0"}.get(value.lower(), value) for key, value in form.items()}


def _roles(value: str | None, current: list[str]) -> list[str]:
    return current if value is None else [role.strip() for role in value.split(",") if role.strip()]


def _s_value(value: object) -> ET.Element:
    if isinstance(value, dict):
        element = ET.Element(f"{{{REST}}}dict")
        for key, item in value.items():
            holder = ET.SubElement(element, f"{{{REST}}}key", name=key)
            if isinstance(item, dict | list):
                holder.append(_s_value(item))
            else:
                holder.text = str(item)
        return element
    element = ET.Element(f"{{{REST}}}list")
    for item in value if isinstance(value, list) else []:
        ET.SubElement(element, f"{{{REST}}}item").text = str(item)
    return element


def _xml(root: ET.Element) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")
