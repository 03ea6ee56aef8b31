"""The Splunk app package as the installer sees it: which objects it holds, of which kind, with which ACL.

Reads a built app package (a .tgz with everything under `ghosthire/`) without extracting it. Each object
kind knows its REST collection, its `default.meta` type, and which keys belong to the admin once the object
exists: macros named `*_filter` or `ghosthire_src_*` entirely, and a saved search's schedule, time range,
enabled state and alert suppression.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from urllib.parse import unquote

from splunklib import client

from ghosthire.errors import ContentError
from ghosthire.splunk.conf import Stanzas, parse_conf, with_defaults

APP = "ghosthire"
OWNER = "nobody"
# Saved-search keys an admin tunes per site; shipped on create, never changed afterwards.
_TUNING_KEYS = frozenset(
    {"disabled", "cron_schedule", "dispatch.earliest_time", "dispatch.latest_time", "is_scheduled"}
)


def is_admin_owned_macro(name: str) -> bool:
    """Filter macros and the data-source (index/sourcetype) macros are the admin's to edit after install."""
    base = name.split("(", 1)[0]  # a macro with arguments is named `name(N)`
    return base.endswith("_filter") or base.startswith("ghosthire_src_")


def _nothing_admin_owned(name: str, key: str) -> bool:
    return False


def _whole_macro_if_admin_owned(name: str, key: str) -> bool:
    return is_admin_owned_macro(name)


def _search_tuning(name: str, key: str) -> bool:
    return key in _TUNING_KEYS or key.startswith("alert.suppress")


@dataclass(frozen=True)
class Kind:
    """One type of Splunk object: its REST collection, its default.meta type, and which of its keys belong to
    the admin once the object exists."""

    name: str
    endpoint: str
    meta_type: str
    admin_owned: Callable[[str, str], bool] = _nothing_admin_owned
    item: type[client.Entity] = client.Entity


COLLECTION = Kind("collection", "storage/collections/config", "collections", item=client.KVStoreCollection)
TRANSFORM = Kind("transform", "configs/conf-transforms", "transforms")
MACRO = Kind("macro", "configs/conf-macros", "macros", _whole_macro_if_admin_owned)
SAVED_SEARCH = Kind("savedsearch", "saved/searches", "savedsearches", _search_tuning)
VIEW = Kind("view", "data/ui/views", "views")
NAV = Kind("nav", "data/ui/nav", "nav")
# Install order: what a later object refers to exists first. Uninstall goes the other way.
KINDS = {kind.name: kind for kind in (COLLECTION, TRANSFORM, MACRO, SAVED_SEARCH, VIEW, NAV)}
_UI_FOLDERS = {"default/data/ui/views": VIEW, "default/data/ui/nav": NAV}


@dataclass(frozen=True)
class Acl:
    sharing: str = "app"
    owner: str = OWNER
    read: tuple[str, ...] = ("*",)
    write: tuple[str, ...] = ("admin", "power")

    def post_args(self) -> dict[str, str]:
        return {
            "sharing": self.sharing,
            "owner": self.owner,
            "perms.read": ",".join(self.read),
            "perms.write": ",".join(self.write),
        }

    def __str__(self) -> str:
        return f"sharing={self.sharing} owner={self.owner} read={','.join(self.read)} write={','.join(self.write)}"


@dataclass(frozen=True)
class SplunkObject:
    kind: Kind
    name: str
    attributes: Mapping[str, str]
    acl: Acl
    rows: tuple[Mapping[str, str], ...] | None = None  # a KV store collection's documents
    # Keys the admin chose at install time (ghosthire.deploy.splunk_choices): set even where admin-owned.
    forced: frozenset[str] = frozenset()

    def manages(self, key: str) -> bool:
        return key in self.forced or not self.kind.admin_owned(self.name, key)

    @property
    def object_id(self) -> str:
        return f"{self.kind.name}:{self.name}"

    def content_hash(self) -> str:
        content = json.dumps([self.attributes, self.rows], sort_keys=True)
        return hashlib.sha256(content.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SplunkPackage:
    path: Path
    app_attributes: Mapping[str, str]
    objects: tuple[SplunkObject, ...]


def load_package(path: Path) -> SplunkPackage:
    """The objects of a built app package (`ghosthire/...` inside a .tgz), ready to compare with a server."""
    files = _package_files(path)

    def conf(name: str) -> Stanzas:
        relative = f"default/{name}.conf"
        return parse_conf(_text(files, relative, path, ""), f"{path}!{APP}/{relative}")

    meta_source = f"{path}!{APP}/metadata/default.meta"
    meta = {
        unquote(name): keys
        for name, keys in parse_conf(_text(files, "metadata/default.meta", path, ""), meta_source).items()
    }
    acl = partial(_acl_from_meta, meta)
    objects = [*_lookup_objects(conf("transforms"), files, path, acl)]
    objects += [
        SplunkObject(MACRO, name, keys, acl(MACRO, name))
        for name, keys in with_defaults(conf("macros")).items()
    ]
    objects += [
        SplunkObject(SAVED_SEARCH, name, keys, acl(SAVED_SEARCH, name))
        for name, keys in with_defaults(conf("savedsearches")).items()
    ]
    for relative in sorted(files):
        folder, _, filename = relative.rpartition("/")
        kind = _UI_FOLDERS.get(folder)
        if kind is not None and filename.endswith(".xml"):
            name = filename.removesuffix(".xml")
            objects.append(
                SplunkObject(kind, name, {"eai:data": _text(files, relative, path).strip()}, acl(kind, name))
            )
    objects.sort(key=lambda obj: list(KINDS).index(obj.kind.name))
    return SplunkPackage(path, _app_attributes(conf("app")), tuple(objects))


def _package_files(path: Path) -> dict[str, bytes]:
    try:
        with tarfile.open(path, "r:*") as tar:
            files = {}
            for member in tar.getmembers():
                top, _, relative = member.name.removeprefix("./").partition("/")
                if top != APP:
                    raise ContentError(path, f"expected everything under {APP}/, found {member.name!r}")
                extracted = tar.extractfile(member) if member.isfile() else None
                if extracted is not None:
                    files[relative] = extracted.read()
    except (OSError, tarfile.TarError) as error:
        raise ContentError(path, f"not a readable app package: {error}") from error
    return files


def _text(files: Mapping[str, bytes], relative: str, package: Path, default: str | None = None) -> str:
    if relative not in files and default is not None:
        return default
    if relative not in files:
        raise ContentError(package, f"{APP}/{relative} is missing")
    try:
        return files[relative].decode("utf-8")
    except UnicodeDecodeError as error:
        raise ContentError(f"{package}!{APP}/{relative}", f"not UTF-8: {error}") from error


def _lookup_objects(
    transforms: Stanzas, files: Mapping[str, bytes], package: Path, acl: Callable[[Kind, str], Acl]
) -> list[SplunkObject]:
    """A file-based lookup definition becomes a KV store collection holding the CSV rows, plus a kvstore
    lookup definition of the same name; any other transforms stanza is installed as it is."""
    objects = []
    for name, keys in with_defaults(transforms).items():
        if "filename" not in keys:
            objects.append(SplunkObject(TRANSFORM, name, keys, acl(TRANSFORM, name)))
            continue
        csv_path = f"lookups/{keys['filename']}"
        reader = csv.DictReader(io.StringIO(_text(files, csv_path, package)))
        columns = list(reader.fieldnames or [])
        if not columns:
            raise ContentError(f"{package}!{APP}/{csv_path}", "lookup CSV has no header row")
        rows = tuple({column: row.get(column) or "" for column in columns} for row in reader)
        collection = {f"field.{column}": "string" for column in columns}
        objects.append(SplunkObject(COLLECTION, name, collection, acl(COLLECTION, name), rows))
        definition = {key: value for key, value in keys.items() if key != "filename"}
        definition |= {"external_type": "kvstore", "collection": name, "fields_list": ",".join(columns)}
        objects.append(SplunkObject(TRANSFORM, name, definition, acl(TRANSFORM, name)))
    return objects


def _acl_from_meta(meta: Stanzas, kind: Kind, name: str) -> Acl:
    """The most specific default.meta stanza wins: `[type/name]`, then `[type]`, then `[]`."""
    keys = {**meta.get("", {}), **meta.get(kind.meta_type, {}), **meta.get(f"{kind.meta_type}/{name}", {})}
    roles = dict(re.findall(r"(read|write)\s*:\s*\[([^\]]*)\]", keys.get("access", "")))
    default = Acl()

    def parsed(permission: str, fallback: tuple[str, ...]) -> tuple[str, ...]:
        listed = sorted(role.strip() for role in roles.get(permission, "").split(",") if role.strip())
        return tuple(listed) or fallback

    sharing = "global" if keys.get("export", "").strip() == "system" else "app"
    return Acl(sharing, OWNER, parsed("read", default.read), parsed("write", default.write))


def _app_attributes(app_conf: Stanzas) -> dict[str, str]:
    launcher, ui = app_conf.get("launcher", {}), app_conf.get("ui", {})
    candidates = {
        "label": ui.get("label"),
        "visible": ui.get("is_visible"),
        "description": launcher.get("description"),
        "author": launcher.get("author"),
    }
    return {key: value for key, value in candidates.items() if value is not None}
