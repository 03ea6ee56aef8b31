"""Read and write Splunk .conf files: `[stanza]`, `key = value`, `#` comments, `\\` continuation lines.

Follows splunkd's reading rules: a key before the first stanza belongs to `[default]`; a repeated stanza is
merged and a repeated key keeps its last value; `#` starts a comment only at the start of a line, so a `#`
inside a value (common in SPL) is kept; a line ending in a backslash continues on the next line and the value
keeps the line break, which is how multi-line searches and dashboards are stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ghosthire.errors import ContentError

DEFAULT_STANZA = "default"
Stanzas = dict[str, dict[str, str]]


def parse_conf(text: str, source: Path | str = "<conf>") -> Stanzas:
    """Stanzas in file order, each a dict of keys in file order; `source` names the file in errors."""
    stanzas: Stanzas = {}
    current = DEFAULT_STANZA
    lines = text.splitlines()
    number = 0
    while number < len(lines):
        first_line = number + 1
        line, number = _logical_line(lines, number)
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("["):
            current = _stanza_name(stripped, source, first_line)
            stanzas.setdefault(current, {})
            continue
        key, separator, value = line.partition("=")
        if not separator or not key.strip():
            raise ContentError(
                source, f"expected `key = value` or `[stanza]`, got {stripped[:60]!r}", first_line
            )
        stanzas.setdefault(current, {})[key.strip()] = value.strip()
    return stanzas


def read_conf(path: Path) -> Stanzas:
    return parse_conf(path.read_text(encoding="utf-8"), path)


def with_defaults(stanzas: Stanzas) -> Stanzas:
    """Each named stanza with the `[default]` keys it inherits, as splunkd applies them within one file."""
    defaults = stanzas.get(DEFAULT_STANZA, {})
    return {name: {**defaults, **keys} for name, keys in stanzas.items() if name != DEFAULT_STANZA}


def render_conf(stanzas: Mapping[str, Mapping[str, str]], target: Path | str = "<conf>") -> str:
    """The .conf text for `stanzas`; multi-line values are written with `\\` continuations.

    Raises ContentError for what a .conf file cannot hold, so a writer finds out before splunkd does.
    """
    blocks = []
    for name, keys in stanzas.items():
        if "\n" in name or name != name.strip():
            raise ContentError(target, f"stanza name {name!r} cannot be written to a .conf file")
        lines = [f"[{name}]"]
        for key, value in keys.items():
            _check_key(key, target, name)
            _check_value(value, key, target, name)
            lines.append(f"{key} = {value}".replace("\n", "\\\n"))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _logical_line(lines: list[str], index: int) -> tuple[str, int]:
    """The line at `index` joined with its continuation lines, and the index after them."""
    parts = [lines[index]]
    index += 1
    while parts[-1].endswith("\\") and index < len(lines):
        parts[-1] = parts[-1][:-1]
        parts.append(lines[index])
        index += 1
    return "\n".join(parts), index


def _stanza_name(stripped: str, source: Path | str, line: int) -> str:
    if not stripped.endswith("]"):
        raise ContentError(source, f"stanza header {stripped[:60]!r} has no closing `]`", line)
    return stripped[1:-1].strip()


def _check_key(key: str, target: Path | str, stanza: str) -> None:
    if not key or key != key.strip() or any(char in key for char in "=\n[#") or " " in key:
        raise ContentError(target, f"[{stanza}] key {key!r} cannot be written to a .conf file")


def _check_value(value: str, key: str, target: Path | str, stanza: str) -> None:
    # A line ending in a backslash would be read back as a continuation, and outer spaces are stripped on read.
    if any(line.endswith("\\") for line in value.split("\n")) or value != value.strip():
        raise ContentError(target, f"[{stanza}] {key}: value would not read back unchanged")
