"""A keyword-semantics (case-sensitive) evaluator for the Lucene query_string subset pySigma emits, on luqum trees."""

from __future__ import annotations

import re
from typing import Any

from luqum import tree
from luqum.parser import parser

from ghosthire.elastic.ecs import get_path


def parse_lucene(query: str) -> tree.Item:
    return parser.parse(query)


def matches(node: tree.Item, document: dict[str, Any], field: str | None = None) -> bool:
    if isinstance(node, tree.SearchField):
        if node.name == "_exists_":
            return get_path(document, _unescape(str(node.expr))) is not None
        return matches(node.expr, document, _unescape(node.name))
    if isinstance(node, tree.AndOperation):
        return all(matches(child, document, field) for child in node.children)
    if isinstance(node, tree.OrOperation):
        return any(matches(child, document, field) for child in node.children)
    if isinstance(node, tree.Not | tree.Prohibit):
        return not matches(node.children[0], document, field)
    if isinstance(node, tree.Group | tree.FieldGroup):
        return matches(node.expr, document, field)
    assert field is not None, f"unbound term {node}"
    values = _values(get_path(document, field))
    if isinstance(node, tree.Regex):
        pattern = re.compile(str(node.value)[1:-1].replace("\\/", "/"))
        return any(pattern.fullmatch(value) for value in values)
    if isinstance(node, tree.Phrase):
        return str(node.value)[1:-1].replace('\\"', '"') in values
    if isinstance(node, tree.Word):
        return any(_word_matches(node.value, value) for value in values)
    raise AssertionError(f"unsupported Lucene node {type(node).__name__}: {node}")


def _values(raw: Any) -> list[str]:
    items = raw if isinstance(raw, list) else [raw]
    return [str(item).lower() if isinstance(item, bool) else str(item) for item in items if item is not None]


def _word_matches(word: str, value: str) -> bool:
    """Keyword term or wildcard term: exact, case-sensitive; unescaped * and ? are wildcards."""
    pattern, index = [], 0
    while index < len(word):
        char = word[index]
        if char == "\\" and index + 1 < len(word):
            pattern.append(re.escape(word[index + 1]))
            index += 2
            continue
        pattern.append(".*" if char == "*" else "." if char == "?" else re.escape(char))
        index += 1
    return re.fullmatch("".join(pattern), value, re.DOTALL) is not None


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)
