"""The site's choices an install applies on top of the shipped app: which searches run, where data lives.

Every search ships disabled. `--enable` selects searches by what their annotations say
(`action.correlationsearch.annotations`): `all`, `recommended`, `guidance:<area>`, `level:<level>` (that
level and above) or `search:<name>`; selecting any detection also enables the triage searches (the
roll-up and the risk incident), which only read what detections raised, and the search that keeps the
identity keys from the identity and asset lookups; a first-seen search enables its baseline. `--index SOURCE=INDEX[,INDEX]`
narrows the `ghosthire_src_<SOURCE>` macros (a prefix such as `windows` covers every `windows_*` source)
from `index=*` to those indexes.

Both are checked against the package before anything is written, and the keys they set are applied even
on an existing install, where the schedule and source macros otherwise belong to the admin.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from ghosthire.deploy.splunk_package import MACRO, SAVED_SEARCH, SplunkObject, SplunkPackage
from ghosthire.errors import GhosthireError
from ghosthire.model.levels import LEVELS

SOURCE_MACRO_PREFIX = "ghosthire_src_"
_ANNOTATIONS = "action.correlationsearch.annotations"
# The index clause a source macro starts with: `index=*` as shipped, or `(index=a OR index=b)`.
_LEADING_INDEXES = re.compile(r"^\s*(?:\(\s*index=[^()]*\)|index=\S+)\s*")
_INDEX_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_*-]*$")
# Searches that serve every detection: the triage queue, and the identity keys kept from the lookups.
_WITH_DETECTIONS = frozenset({"triage", "identity-keys"})
_BASELINE_OF = "ghosthire_baseline_of"


@dataclass(frozen=True)
class SiteChoices:
    enable: tuple[str, ...] = ()
    indexes: Mapping[str, tuple[str, ...]] | None = None


def parse_index_options(options: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """`SOURCE=INDEX[,INDEX]` pairs; a malformed one is a one-line error naming it."""
    parsed: dict[str, tuple[str, ...]] = {}
    for option in options:
        source, separator, listed = option.partition("=")
        indexes = tuple(name.strip() for name in listed.split(",") if name.strip())
        if not separator or not source.strip() or not indexes:
            raise GhosthireError(f"--index {option!r}: expected SOURCE=INDEX[,INDEX], e.g. okta=okta_logs")
        bad = [name for name in indexes if not _INDEX_NAME.match(name)]
        if bad:
            raise GhosthireError(f"--index {option!r}: {bad[0]!r} is not an index name")
        parsed[source.strip()] = indexes
    return parsed


def apply_choices(package: SplunkPackage, choices: SiteChoices) -> SplunkPackage:
    """The package with the chosen searches enabled and the chosen source macros narrowed; raises a
    GhosthireError naming a selector or source that matches nothing."""
    enabled = selected_searches(package, choices.enable)
    sources = _source_macros(package, choices.indexes or {})
    objects = []
    for obj in package.objects:
        if obj.kind is SAVED_SEARCH and obj.name in enabled:
            obj = _forced(obj, {"disabled": "0"})
        elif obj.kind is MACRO and obj.name in sources:
            obj = _forced(obj, {"definition": narrowed(obj.attributes["definition"], sources[obj.name])})
        objects.append(obj)
    return replace(package, objects=tuple(objects))


def selected_searches(package: SplunkPackage, selectors: tuple[str, ...]) -> set[str]:
    """The names of the saved searches the selectors choose (plus the triage searches if any is chosen)."""
    annotated = {obj.name: _annotations(obj) for obj in package.objects if obj.kind is SAVED_SEARCH}
    chosen: set[str] = set()
    for selector in selectors:
        matched = {name for name, notes in annotated.items() if _matches(selector, name, notes)}
        if not matched:
            raise GhosthireError(
                f"--enable {selector!r} matches no search of the package ({_vocabulary(annotated)})"
            )
        chosen |= matched
    if chosen:
        chosen |= {
            name for name, notes in annotated.items() if notes.get("ghosthire_role") in _WITH_DETECTIONS
        }
    # A first-seen search's baseline runs with it.
    chosen |= {name for name, notes in annotated.items() if notes.get(_BASELINE_OF) in chosen}
    return chosen


def narrowed(definition: str, indexes: tuple[str, ...]) -> str:
    """A source macro's leading index clause (`index=*` as shipped) replaced by the given indexes."""
    clause = (
        f"index={indexes[0]}" if len(indexes) == 1 else "(" + " OR ".join(f"index={i}" for i in indexes) + ")"
    )
    return f"{clause} {_LEADING_INDEXES.sub('', definition, count=1)}".strip()


def _matches(selector: str, name: str, notes: dict[str, object]) -> bool:
    kind, _, value = selector.partition(":")
    if notes.get("ghosthire_role") not in ("detection", None) and kind != "search":
        return False  # tstats variants and triage searches are chosen by name (or come with detections)
    if selector == "all":
        return True
    if selector == "recommended":
        return notes.get("ghosthire_recommended") is True
    if kind == "guidance":
        return value in (notes.get("ghosthire_guidance") or [])
    if kind == "level":
        if value not in LEVELS:
            raise GhosthireError(f"--enable {selector!r}: the level is one of {', '.join(LEVELS)}")
        level = notes.get("ghosthire_level")
        return level in LEVELS and LEVELS.index(str(level)) >= LEVELS.index(value)
    if kind == "search":
        return name == value
    raise GhosthireError(
        f"--enable {selector!r}: expected all, recommended, guidance:<area>, level:<level> or search:<name>"
    )


def _annotations(obj: SplunkObject) -> dict[str, object]:
    try:
        notes = json.loads(obj.attributes.get(_ANNOTATIONS) or "{}")
    except json.JSONDecodeError:
        return {}
    return notes if isinstance(notes, dict) else {}


def _vocabulary(annotated: Mapping[str, dict[str, object]]) -> str:
    areas = sorted(
        {str(area) for notes in annotated.values() for area in notes.get("ghosthire_guidance") or []}
    )
    return f"guidance areas: {', '.join(areas) or 'none'}; levels: {', '.join(LEVELS)}"


def _source_macros(
    package: SplunkPackage, indexes: Mapping[str, tuple[str, ...]]
) -> dict[str, tuple[str, ...]]:
    macros = [
        obj.name for obj in package.objects if obj.kind is MACRO and obj.name.startswith(SOURCE_MACRO_PREFIX)
    ]
    chosen: dict[str, tuple[str, ...]] = {}
    for source, names in sorted(indexes.items(), key=lambda item: len(item[0])):  # specific last
        matched = [
            macro
            for macro in macros
            if (suffix := macro.removeprefix(SOURCE_MACRO_PREFIX)) == source
            or suffix.startswith(f"{source}_")
        ]
        if not matched:
            known = ", ".join(sorted(macro.removeprefix(SOURCE_MACRO_PREFIX) for macro in macros))
            raise GhosthireError(
                f"--index {source}=...: no source macro ghosthire_src_{source}; sources: {known}"
            )
        chosen |= dict.fromkeys(matched, names)
    return chosen


def _forced(obj: SplunkObject, keys: dict[str, str]) -> SplunkObject:
    return replace(obj, attributes={**obj.attributes, **keys}, forced=obj.forced | frozenset(keys))
