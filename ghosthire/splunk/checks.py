"""Re-read what the build wrote, the way Splunk will: every .conf parses, searches and macro definitions
read back exactly, every macro a search calls is defined, every view is well-formed XML with a JSON
definition. A failure is a build error naming the file."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Mapping

from ghosthire.errors import ContentError
from ghosthire.splunk.conf import Stanzas, parse_conf

CONF_SUFFIXES = (".conf", ".meta")
_MACRO_CALL = re.compile(r"`([A-Za-z0-9_.:-]+)(?:\(([^`]*)\))?`")


def parse_confs(files: Mapping[str, str]) -> dict[str, Stanzas]:
    """Every .conf and .meta file of the app, parsed back."""
    return {path: parse_conf(text, path) for path, text in files.items() if path.endswith(CONF_SUFFIXES)}


def require_values(conf: Stanzas, path: str, expected: Mapping[str, Mapping[str, str]]) -> None:
    """Each expected stanza key reads back as the value the build meant to write."""
    for stanza, keys in expected.items():
        for key, value in keys.items():
            written = conf.get(stanza, {}).get(key)
            if written != value:
                raise ContentError(path, f"[{stanza}] {key} reads back as {written!r}, expected {value!r}")


def macro_calls(search: str) -> set[str]:
    """Macro stanza names a search calls: `name` or `name(a, b)` (stanza `name(2)`)."""
    return {
        f"{match[1]}({len(_split_args(match[2]))})" if match[2] is not None else match[1]
        for match in _MACRO_CALL.finditer(search)
    }


def require_defined_macros(searches: Iterable[tuple[str, str]], macros: Stanzas, path: str) -> None:
    """(owner, search) pairs: every macro called, also inside macro definitions, is defined."""
    pending = list(searches) + [
        (f"macro {name}", keys.get("definition", "")) for name, keys in macros.items()
    ]
    for owner, search in pending:
        undefined = sorted(macro_calls(search) - macros.keys())
        if undefined:
            raise ContentError(path, f"{owner} calls undefined macro(s) {', '.join(undefined)}")


def require_views(files: Mapping[str, str]) -> None:
    """Every XML file parses; a Dashboard Studio view's definition is JSON."""
    for path, text in files.items():
        if not path.endswith(".xml"):
            continue
        try:
            root = ElementTree.fromstring(text)
        except ElementTree.ParseError as error:
            raise ContentError(path, f"not well-formed XML: {error}") from None
        definition = root.find("definition")
        if root.tag == "dashboard" and definition is not None:
            try:
                json.loads(definition.text or "")
            except json.JSONDecodeError as error:
                raise ContentError(path, f"definition is not JSON: {error.msg}") from None


def _split_args(args: str) -> list[str]:
    return args.split(",") if args.strip() else []
