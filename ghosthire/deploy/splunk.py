"""Install the pack's Splunk app content into a running Splunk over its REST API, through splunklib.

For admins who cannot drop files on the server. Every object goes into the app's namespace (owner `nobody`,
app `ghosthire`) with the ACL the package's `metadata/default.meta` gives it. The app is created when it is
missing. CSV lookups cannot be uploaded through core REST, so each one becomes a KV store collection plus a
lookup definition of the same name, which the searches use unchanged.

What the installer created is listed in an install manifest inside Splunk, the conf file
`ghosthire_install.conf` of the app (one stanza `[kind:name]` per object: kind, object, hash). It is written before
each object is created, so `uninstall` removes exactly what an install created, even one that was cut short.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Console
from splunklib import binding, client

from ghosthire.deploy.report import (
    INSTALL_HEADLINE,
    UNINSTALL_HEADLINE,
    Action,
    FieldChange,
    ObjectChange,
    RunReport,
    Step,
    StepResult,
    changed_fields,
    finish,
    read_with_retries,
    run_steps,
)
from ghosthire.deploy.retry import RetryPolicy, http_status
from ghosthire.deploy.splunk_package import APP, KINDS, OWNER, Acl, Kind, SplunkObject, SplunkPackage
from ghosthire.errors import GhosthireError

MANIFEST_CONF = "ghosthire_install"
_SYSTEM = client.namespace(sharing="system")
_APP_ID = f"app:{APP}"
_KV_BATCH = 1000  # splunkd's default max_documents_per_batch_save
_ROWS_PENDING = "pending"  # a collection created but not yet filled


@dataclass(frozen=True)
class SplunkTarget:
    host: str = "localhost"
    port: int = 8089
    scheme: str = "https"
    ca_file: Path | None = None
    insecure: bool = False

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


@dataclass(frozen=True)
class SplunkCredentials:
    """A token (sent as `Authorization: Bearer`) or a username and password; secrets stay out of repr."""

    token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def connect_splunk(
    target: SplunkTarget, credentials: SplunkCredentials, policy: RetryPolicy
) -> client.Service:
    """A splunklib Service in the app's namespace, TLS verified unless `insecure`, each request bounded by
    `policy.timeout`; with a username and password it logs in (and logs in again once if the session ends)."""
    verify = not target.insecure
    context = ssl.create_default_context(cafile=str(target.ca_file)) if verify and target.ca_file else None
    if credentials.token:
        auth: dict[str, object] = {"splunkToken": credentials.token}
    elif credentials.username and credentials.password:
        auth = {"username": credentials.username, "password": credentials.password, "autologin": True}
    else:
        raise GhosthireError(
            "Splunk credentials missing: set SPLUNK_TOKEN, or SPLUNK_USERNAME and SPLUNK_PASSWORD"
        )
    options = {"host": target.host, "port": target.port, "scheme": target.scheme, "verify": verify}

    # splunklib's own handler ignores timeouts unless built with one; `verify` must go to both, since the
    # handler is what opens connections (and splunklib defaults verify to False).
    # Each request gets the policy's timeout for it (never past the run's deadline).
    def handler(url: str, message: dict[str, Any], **kwargs: Any) -> Any:
        return binding.handler(timeout=policy.request_timeout(), verify=verify, context=context)(
            url, message, **kwargs
        )

    service_options = {**options, **auth, "owner": OWNER, "app": APP, "sharing": "app", "handler": handler}
    describe = _describer(bool(credentials.token), credentials.username, target)
    return read_with_retries(
        f"cannot connect to Splunk at {target.url}",
        lambda: client.connect(**service_options, context=context),
        policy,
        describe,
    )


def _describer(
    uses_token: bool, username: str | None, target: SplunkTarget
) -> Callable[[Exception], str | None]:
    def describe(error: Exception) -> str | None:
        if http_status(error) == 401:
            if uses_token:
                return "Splunk rejected the token (HTTP 401): it expired or was revoked; set a valid SPLUNK_TOKEN"
            return f"Splunk rejected the login of {username!r} (HTTP 401)"
        if isinstance(error, binding.HTTPError | GhosthireError):
            return str(error)
        if isinstance(error, ssl.SSLCertVerificationError):
            return (
                f"the TLS certificate of {target.host} did not verify ({error.verify_message}); pass --ca-file "
                "with the CA that signed it (or --insecure, for a throwaway test instance only)"
            )
        if isinstance(error, TimeoutError):
            return f"no answer from {target.url} in time"
        if isinstance(error, OSError | http.client.HTTPException):
            return f"connection to {target.url} failed: {error or type(error).__name__}"
        return None

    return describe


def install_splunk(
    service: client.Service,
    package: SplunkPackage,
    policy: RetryPolicy,
    console: Console,
    dry_run: bool = False,
) -> RunReport:
    """Brings the server to the package's content and prints what changed (or, with `dry_run`, would)."""
    report = RunReport(f"install splunk app {APP}", dry_run, INSTALL_HEADLINE)
    session = _Session(service, dry_run)
    steps = [Step("app", (_APP_ID,), partial(session.sync_app, package.app_attributes))]
    steps += [Step(obj.object_id, (obj.object_id,), partial(session.sync, obj)) for obj in package.objects]
    run_steps(steps, report, policy, console, session.describe)
    return finish(report, console)


def uninstall_splunk(
    service: client.Service, policy: RetryPolicy, console: Console, dry_run: bool = False
) -> RunReport:
    """Removes what the install manifest lists, newest kinds first, then the app if an install created it
    and nothing else lives in it."""
    report = RunReport(f"uninstall splunk app {APP}", dry_run, UNINSTALL_HEADLINE)
    session = _Session(service, dry_run)
    read_with_retries(
        "cannot read the install manifest", partial(session.manifest.load, False), policy, session.describe
    )
    entries = session.manifest.entries
    objects = sorted(
        (e for e in entries.values() if e.kind in KINDS), key=lambda e: -list(KINDS).index(e.kind)
    )
    unknown = [e for e in entries.values() if e.kind not in KINDS and e.object_id != _APP_ID]
    steps = [Step(e.object_id, (e.object_id,), partial(session.remove, e)) for e in objects]
    if _APP_ID in entries:
        steps.append(Step("app", (_APP_ID,), partial(session.remove_app, frozenset(entries))))
    report.refused += [(e.object_id, "unknown kind in the install manifest; left in place") for e in unknown]
    run_steps(steps, report, policy, console, session.describe)
    return finish(report, console)


@dataclass(frozen=True)
class ManifestEntry:
    """One created object; for a KV store collection, `rows` is the digest of the rows last written."""

    kind: str
    name: str
    content_hash: str
    rows: str | None = None

    @property
    def object_id(self) -> str:
        return f"{self.kind}:{self.name}"


class _ForeignObject(GhosthireError):
    """A same-named object that lives in another app: never touched."""


class _Manifest:
    """The install manifest: one stanza per created object in the app's `ghosthire_install.conf`."""

    def __init__(self, service: client.Service) -> None:
        self.service = service
        self.stanzas = client.Collection(service, f"configs/conf-{MANIFEST_CONF}")
        self.entries: dict[str, ManifestEntry] = {}

    def load(self, create: bool) -> None:
        try:
            if create and MANIFEST_CONF not in self.service.confs:
                self.service.confs.create(MANIFEST_CONF)
            listed = self.stanzas.list()
        except binding.HTTPError as error:
            if error.status != 404:  # the app itself does not exist yet
                raise
            listed = []
        ours = [stanza for stanza in listed if stanza.access.app == APP and stanza.name != "default"]
        self.entries = {
            stanza.name: ManifestEntry(
                stanza.content.get("kind") or "",
                stanza.content.get("object") or "",
                stanza.content.get("hash") or "",
                stanza.content.get("rows"),
            )
            for stanza in ours
        }

    def record(self, entry: ManifestEntry) -> None:
        known = self.entries.get(entry.object_id)
        if known == entry:
            return
        # Not `name`: that is the stanza's own name in a REST create.
        keys = {"kind": entry.kind, "object": entry.name, "hash": entry.content_hash}
        if entry.rows is not None:
            keys["rows"] = entry.rows
        try:
            self.stanzas.create(entry.object_id, **keys)
        except binding.HTTPError as error:
            if error.status != 409:  # written already by an attempt whose answer was lost
                raise
            self.stanzas[entry.object_id].update(**keys)
        self.entries[entry.object_id] = entry

    def forget(self, object_id: str) -> None:
        with contextlib.suppress(KeyError):
            self.stanzas.delete(object_id)
        self.entries.pop(object_id, None)


class _Session:
    def __init__(self, service: client.Service, dry_run: bool) -> None:
        self.service = service
        self.dry_run = dry_run
        self.manifest = _Manifest(service)
        target = SplunkTarget(service.host, service.port, service.scheme)
        self.describe = _describer(bool(service.bearerToken), service.username, target)

    def sync_app(self, attributes: Mapping[str, str]) -> StepResult:
        apps = client.Collection(self.service, "apps/local")
        try:
            app = apps[APP, _SYSTEM]
        except KeyError:
            if not self.dry_run:
                apps.create(APP, namespace=_SYSTEM, **attributes)
                self.manifest.load(create=True)
                self.manifest.record(ManifestEntry("app", APP, ""))
            return StepResult((ObjectChange(_APP_ID, Action.CREATE),))
        self.manifest.load(create=not self.dry_run)
        fields = changed_fields(app.content, attributes, _same_value)
        if fields and not self.dry_run:
            app.update(**{change.key: str(change.new) for change in fields})
        return StepResult((ObjectChange(_APP_ID, Action.UPDATE if fields else Action.UNCHANGED, fields),))

    def sync(self, obj: SplunkObject) -> StepResult:
        try:
            entity = _find(self.service, obj.kind, obj.name)
        except _ForeignObject as conflict:
            return StepResult(refused=((obj.object_id, str(conflict)),))
        if entity is None:
            if not self.dry_run:
                self._create(obj)
            return StepResult((ObjectChange(obj.object_id, Action.CREATE),))
        managed = {key: value for key, value in obj.attributes.items() if obj.manages(key)}
        fields = changed_fields(entity.content, managed, _same_value)
        current_acl = _acl_of(entity)
        acl_is_ours = not obj.kind.admin_owned(obj.name, "acl")
        acl_change = (
            (FieldChange("acl", str(current_acl), str(obj.acl)),)
            if acl_is_ours and current_acl != obj.acl
            else ()
        )
        rows_change, note = self._rows_change(entity, obj)
        if not (fields or acl_change or rows_change):
            return StepResult((ObjectChange(obj.object_id, Action.UNCHANGED, note=note),))
        if not self.dry_run:
            if fields:
                entity.update(**{change.key: str(change.new) for change in fields})
            if acl_change:
                entity.acl_update(**obj.acl.post_args())
            if rows_change and obj.rows is not None:
                _replace_rows(entity, obj.rows)
            known = self.manifest.entries.get(obj.object_id)
            if known is not None:
                rows = _rows_digest(obj.rows) if rows_change else known.rows
                self.manifest.record(ManifestEntry(obj.kind.name, obj.name, obj.content_hash(), rows))
        change = ObjectChange(obj.object_id, Action.UPDATE, fields + acl_change + rows_change, note)
        return StepResult((change,))

    def _create(self, obj: SplunkObject) -> None:
        entry = ManifestEntry(obj.kind.name, obj.name, obj.content_hash())
        # Recorded before it exists: an install cut short right after the create still owns it.
        self.manifest.record(replace(entry, rows=_ROWS_PENDING if obj.rows is not None else None))
        collection = client.Collection(self.service, obj.kind.endpoint, item=obj.kind.item)
        entity = collection.create(obj.name, **obj.attributes)
        entity.acl_update(**obj.acl.post_args())
        if obj.rows is not None:
            _replace_rows(entity, obj.rows)
            self.manifest.record(replace(entry, rows=_rows_digest(obj.rows)))

    def _rows_change(self, entity: client.Entity, obj: SplunkObject) -> tuple[tuple[FieldChange, ...], str]:
        """A lookup's rows are the pack's until someone changes them in Splunk (the placeholder lookups are
        meant to be filled by the site); from then on they are kept."""
        if obj.rows is None:
            return (), ""
        current = entity.data.query()
        if _rows_digest(current) == _rows_digest(obj.rows):
            return (), ""
        known = self.manifest.entries.get(obj.object_id)
        written = known.rows if known else None
        if written == _rows_digest(current) or (written == _ROWS_PENDING and not current):
            return (FieldChange("rows", _rows_summary(current), _rows_summary(obj.rows)),), ""
        return (), "rows kept: changed in Splunk since ghosthire wrote them"

    def remove(self, entry: ManifestEntry) -> StepResult:
        try:
            entity = _find(self.service, KINDS[entry.kind], entry.name)
        except _ForeignObject as conflict:
            change = ObjectChange(entry.object_id, Action.KEEP, note=str(conflict))
        else:
            note = ""
            if entity is not None and entry.rows not in (None, _ROWS_PENDING):
                changed = _rows_digest(entity.data.query()) != entry.rows
                note = "with rows changed in Splunk since install" if changed else ""
            action = Action.ABSENT if entity is None else Action.DELETE
            change = ObjectChange(entry.object_id, action, note=note)
            if entity is not None and not self.dry_run:
                entity.delete()
        if not self.dry_run:
            self.manifest.forget(entry.object_id)
        return StepResult((change,))

    def remove_app(self, installed: frozenset[str]) -> StepResult:
        """Deletes the app only when an install created it and it holds nothing an install did not create."""
        leftovers = [object_id for object_id in self._objects_in_app() if object_id not in installed]
        if leftovers:
            note = f"holds {len(leftovers)} objects ghosthire did not install, e.g. {leftovers[0]}"
            return StepResult((ObjectChange(_APP_ID, Action.KEEP, note=note),))
        if not self.dry_run:
            with contextlib.suppress(KeyError):
                client.Collection(self.service, "apps/local").delete(APP, namespace=_SYSTEM)
        return StepResult((ObjectChange(_APP_ID, Action.DELETE),))

    def _objects_in_app(self) -> list[str]:
        found = []
        for kind in KINDS.values():
            for entity in client.Collection(self.service, kind.endpoint).list():
                # The nav comes with every app; conf listings include a `default` stanza.
                if entity.access.app == APP and entity.name != "default":
                    found.append(f"{kind.name}:{entity.name}")
        return found


def _find(service: client.Service, kind: Kind, name: str) -> client.Entity | None:
    """The object in this app, None when there is none; raises _ForeignObject for another app's object that
    is visible here (shared globally), since creating ours would make every later lookup ambiguous."""
    try:
        entity = client.Collection(service, kind.endpoint, item=kind.item)[name]
    except KeyError:
        return None
    except client.AmbiguousReferenceException:
        raise _ForeignObject(
            f"a {kind.name} named {name!r} exists in several apps; not touching it"
        ) from None
    if entity.access.app != APP:
        raise _ForeignObject(f"a {kind.name} named {name!r} already exists in app {entity.access.app!r}")
    return entity


def _same_value(current: object, desired: object) -> bool:
    return _normalized(current) == _normalized(desired)


def _normalized(value: object) -> str:
    """splunkd returns empty values as nothing, booleans as 0/1 and may change line endings."""
    text = "" if value is None else str(value).replace("\r\n", "\n").strip()
    return {"true": "1", "false": "0"}.get(text.lower(), text)


def _acl_of(entity: client.Entity) -> Acl:
    access = entity.access or {}
    perms = access.get("perms") or {}

    def roles(permission: str) -> tuple[str, ...]:
        listed = perms.get(permission) or ()
        return tuple(sorted([listed] if isinstance(listed, str) else listed))

    return Acl(access.get("sharing", ""), access.get("owner", ""), roles("read"), roles("write"))


def _rows_key(rows: object) -> list[tuple[tuple[str, str], ...]]:
    """Rows compared as a multiset, without the KV store's own `_key`/`_user` fields or empty cells."""
    documents = rows if isinstance(rows, list | tuple) else []
    return sorted(
        tuple(
            sorted((k, str(v)) for k, v in document.items() if not k.startswith("_") and v not in ("", None))
        )
        for document in documents
    )


def _rows_digest(rows: object) -> str:
    return hashlib.sha256(repr(_rows_key(rows)).encode()).hexdigest()[:16]


def _rows_summary(rows: object) -> str:
    return f"{len(_rows_key(rows))} rows #{_rows_digest(rows)[:8]}"


def _replace_rows(entity: client.Entity, rows: tuple[Mapping[str, str], ...]) -> None:
    data = entity.data
    data.delete()
    for start in range(0, len(rows), _KV_BATCH):
        data.batch_save(*rows[start : start + _KV_BATCH])
