"""A document matcher for the Lucene query_string subset pySigma emits, on luqum trees, with the semantics
of the field's Elasticsearch type (backends/elastic/field_types.yml):

* keyword: terms and wildcards are exact and case-sensitive; a regex must match the whole value, `.`
  matches any character, newlines included (Lucene RegExp has no line mode) and `^`, `$` are plain;
* ip: a term is an address or a CIDR block (`source.ip:10.0.0.0\\/8`); wildcards and regexes are errors;
* long: terms and ranges compare numbers.
"""

from __future__ import annotations

import ipaddress
import re
from functools import cache
from typing import Any

from luqum import tree
from luqum.parser import parser

from ghosthire.elastic.ecs import get_path
from ghosthire.elastic.fields import field_type


class LuceneTypeError(AssertionError):
    """A query Elasticsearch would reject for the field's type."""


@cache  # the same query is read once per test case; the tree is only read
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
    raw = get_path(document, field)
    kind = field_type(field)
    if isinstance(node, tree.From | tree.To | tree.Range):
        return any(_in_range(node, value) for value in _raw_values(raw))
    if kind == "ip":
        return _ip_matches(node, field, _values(raw))
    values = _values(raw)
    if isinstance(node, tree.Regex):
        pattern = re.compile(_python_regex(str(node.value)[1:-1]), re.DOTALL)
        return any(pattern.fullmatch(value) for value in values)
    if isinstance(node, tree.Phrase):
        return _unescape(str(node.value)[1:-1]) in values
    if isinstance(node, tree.Word):
        return any(_word_matches(node.value, value) for value in values)
    raise AssertionError(f"unsupported Lucene node {type(node).__name__}: {node}")


def _raw_values(raw: Any) -> list[Any]:
    return [item for item in (raw if isinstance(raw, list) else [raw]) if item is not None]


def _values(raw: Any) -> list[str]:
    return [str(item).lower() if isinstance(item, bool) else str(item) for item in _raw_values(raw)]


def _in_range(node: tree.From | tree.To | tree.Range, value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LuceneTypeError(f"range on a non-numeric value {value!r}")
    if isinstance(node, tree.Range):
        low, high = float(str(node.low)), float(str(node.high))
        above = value >= low if node.include_low else value > low
        below = value <= high if node.include_high else value < high
        return above and below
    bound = float(str(node.a))
    if isinstance(node, tree.From):
        return value >= bound if node.include else value > bound
    return value <= bound if node.include else value < bound


def _ip_matches(node: tree.Item, field: str, values: list[str]) -> bool:
    if not isinstance(node, tree.Word) or re.search(r"(?<!\\)[*?]", node.value):
        raise LuceneTypeError(f"{field} is an IP field: {node} is not an address or CIDR block")
    text = _unescape(node.value)
    network = ipaddress.ip_network(text, strict=False)
    return any(ipaddress.ip_address(value) in network for value in values)


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


def _python_regex(lucene: str) -> str:
    """Lucene's RegExp as Python's: a backslash makes any character literal, and `^` and `$` are plain
    characters (Lucene has no anchors: a pattern always matches the whole value)."""
    pieces, index = [], 0
    while index < len(lucene):
        char = lucene[index]
        if char == "\\" and index + 1 < len(lucene):
            pieces.append(re.escape(lucene[index + 1]))
            index += 2
            continue
        pieces.append(re.escape(char) if char in "^$" else char)
        index += 1
    return "".join(pieces)


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)
