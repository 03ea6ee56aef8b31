"""Rule files read as bounded YAML documents, with the line of every key.

pySigma reads YAML with `safe_load_all`, which accepts duplicate keys (the last wins), expands aliases
without limit (a few lines of anchors become gigabytes), recurses once per nesting level and builds
strings that are not Unicode from `\\ud800`-style escapes. libyaml (the C loader used here) refuses those
escapes and deep nesting itself; each document's node graph is then checked before anything is built
from it, and every refusal names the file and line.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ghosthire.errors import ContentError

# Far beyond any real rule (a detection nests a handful of levels, holds at most a few thousand values)
# and far below what exhausts the stack or the memory.
MAX_DEPTH = 64
MAX_NODES = 200_000

KeyPath = tuple[str, ...]


@dataclass(frozen=True)
class RuleDocument:
    """One YAML document of a rule file: its data and the line (1-based) of each mapping key by path."""

    data: dict[str, Any]
    line: int
    key_lines: dict[KeyPath, int]

    def line_of(self, *path: str) -> int:
        """The line of the deepest key of `path` the document has, else where the document starts."""
        for end in range(len(path), 0, -1):
            if path[:end] in self.key_lines:
                return self.key_lines[path[:end]]
        return self.line


class _Loader(yaml.CSafeLoader):
    """The C loader with a timestamp constructor that reports an impossible date where it is."""


def _timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> datetime.date:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError as error:
        raise yaml.constructor.ConstructorError(
            None, None, f"impossible date {node.value!r} ({error})", node.start_mark
        ) from None


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


def load_documents(path: Path, text: str) -> list[RuleDocument]:
    """Every non-empty document of a rule file; ContentError (file and line) for anything unsafe."""
    loader = _Loader(text)
    documents: list[RuleDocument] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None or (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")):
                continue
            line = node.start_mark.line + 1
            if not isinstance(node, yaml.MappingNode):
                raise ContentError(path, f"a rule document is a YAML mapping, not a {_kind(node)}", line)
            key_lines = _check(path, node)
            documents.append(RuleDocument(loader.construct_document(node), line, key_lines))
    finally:
        loader.dispose()
    if not documents:
        raise ContentError(path, "no Sigma rule in the file (it is empty)", 1)
    return documents


def _kind(node: yaml.Node) -> str:
    return "list" if isinstance(node, yaml.SequenceNode) else "plain value"


def _check(path: Path, root: yaml.Node) -> dict[KeyPath, int]:
    """Depth, expanded size, recursion and duplicate keys of one document. A node reached through several
    aliases is measured once: its expanded size and height are remembered. The recursion is bounded:
    nothing deeper than MAX_DEPTH is entered."""
    measured: dict[int, tuple[int, int]] = {}
    key_lines: dict[KeyPath, int] = {}
    open_nodes: set[int] = set()

    def measure(node: yaml.Node, key_path: KeyPath, depth: int) -> tuple[int, int]:
        """(expanded size, height) of a node at `depth`."""
        where = node.start_mark.line + 1
        known = measured.get(id(node))
        if known is None:
            if id(node) in open_nodes:
                raise ContentError(path, "a YAML alias refers to the node that contains it", where)
            if depth > MAX_DEPTH:
                raise ContentError(path, f"YAML nested deeper than {MAX_DEPTH} levels", where)
            open_nodes.add(id(node))
            if isinstance(node, yaml.MappingNode):
                _check_keys(path, node, key_path, key_lines)
            size, height = 1, 1
            for child, child_path in _children(node, key_path):
                if isinstance(child, yaml.ScalarNode) and depth < MAX_DEPTH:
                    # Most nodes: one value, nothing under it (measured here, in a fraction of the time).
                    size, height = size + 1, max(height, 2)
                    continue
                child_size, child_height = measure(child, child_path, depth + 1)
                size, height = size + child_size, max(height, child_height + 1)
            open_nodes.discard(id(node))
            if size > MAX_NODES:
                raise ContentError(
                    path, f"YAML expands (through aliases) to over {MAX_NODES:,} values", where
                )
            known = measured[id(node)] = (size, height)
        if depth + known[1] - 1 > MAX_DEPTH:
            raise ContentError(path, f"YAML nested deeper than {MAX_DEPTH} levels", where)
        return known

    measure(root, (), 1)
    return key_lines


def _children(node: yaml.Node, key_path: KeyPath) -> list[tuple[yaml.Node, KeyPath]]:
    """A node's children with the key path each sits under (a list's items under the list's key)."""
    if isinstance(node, yaml.SequenceNode):
        return [(child, key_path) for child in node.value]
    if isinstance(node, yaml.MappingNode):
        return [
            pair
            for key, value in node.value
            for pair in ((key, key_path), (value, (*key_path, str(key.value))))
        ]
    return []


def _check_keys(path: Path, node: yaml.MappingNode, key_path: KeyPath, key_lines: dict[KeyPath, int]) -> None:
    seen: dict[str, int] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode):
            continue
        line = key.start_mark.line + 1
        if key.value in seen and key.value != "<<":
            raise ContentError(path, f"duplicate key {key.value!r} (first on line {seen[key.value]})", line)
        seen[key.value] = line
        if len(key_path) < 4:
            key_lines.setdefault((*key_path, key.value), line)
