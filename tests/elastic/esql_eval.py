"""An evaluator for the ES|QL subset ghosthire emits, on the parse tree of the real ES|QL grammar
(esql-parser), with Elasticsearch's semantics where they differ from Python's:

* three-valued logic: a comparison with null is null, `not null` is null, a WHERE keeps only true rows;
* comparisons, LIKE, IN, starts_with, ends_with and cidr_match on a multi-valued field are null;
* string comparisons and LIKE are case-sensitive, LIKE's `*`/`?` match newlines too;
* STATS ... BY puts a row with a multi-valued key in every group of its values;
* type errors that Elasticsearch reports when it verifies the query (TO_LOWER on an IP or a number,
  cidr_match on a keyword, comparing a number with a string) raise EsqlTypeError.

FROM is not evaluated (the documents given are the index); LOOKUP JOIN reads the lookup indices given to
`run`: a row whose key is null or multi-valued matches nothing, a key matching several documents yields one
row per document, and the lookup index's columns replace same-named ones (null when nothing matched).
Integer `/` and `%` truncate as Java's do. Commands other than FROM, WHERE, EVAL, STATS, MV_EXPAND, LOOKUP
JOIN and SORT are unsupported.
"""

from __future__ import annotations

import contextvars
import ipaddress
import math
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from esql_parser.EsqlBaseParser import EsqlBaseParser as P

from ghosthire.compile.syntax import esql_tree
from ghosthire.elastic.ecs import flatten, get_path, parse_time
from ghosthire.elastic.fields import STRING_TYPES, field_type

Row = dict[str, Any]
Expr = Callable[[Row], Any]


class EsqlTypeError(AssertionError):
    """A query Elasticsearch rejects when it verifies the types."""


class EsqlUnsupported(AssertionError):
    """A construct outside ghosthire's ES|QL subset."""


# What NOW() returns in the query being run (EsqlQuery.run).
_NOW: contextvars.ContextVar[str | None] = contextvars.ContextVar("now", default=None)


def parse_tree(query: str) -> tuple[Any, int]:
    return esql_tree(query)


@dataclass
class EsqlQuery:
    """A parsed query: its syntax error count and, when there are none, its compiled commands."""

    text: str
    errors: int
    commands: list[tuple[str, Any]] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> EsqlQuery:
        tree, errors = parse_tree(text)
        query = cls(text, errors)
        if not errors:
            query.commands = [_compile_command(command) for command in _commands(tree)]
        return query

    def run(
        self,
        documents: list[dict[str, Any]],
        lookups: dict[str, list[dict[str, Any]]] | None = None,
        now: str | None = None,
    ) -> list[Row]:
        """The rows the query returns over these documents (and lookup indices, by name); NOW() is `now`
        (ISO time), else the latest `@timestamp` of the documents (Kibana running the rule then)."""
        assert not self.errors, f"ES|QL syntax errors:\n{self.text}"
        times = [document["@timestamp"] for document in documents if document.get("@timestamp")]
        _NOW.set(now or max(times, key=parse_time, default=None))
        rows: list[Row] = [dict(document) for document in documents]
        for kind, data in self.commands:
            if kind == "from":
                continue
            if kind == "lookup":
                index, key = data
                if index not in (lookups or {}):
                    raise EsqlTypeError(f"Unknown index [{index}]")
                rows = _lookup_join(rows, (lookups or {})[index], key)
            elif kind == "sort":
                rows = _sort(rows, data)
            elif kind == "where":
                rows = [row for row in rows if data(row) is True]
            elif kind == "eval":
                rows = [{**row, **{name: expr(row) for name, expr in data}} for row in rows]
            elif kind == "stats":
                rows = _stats(rows, *data)
            elif kind == "mv_expand":
                rows = [{**row, data: value} for row in rows for value in _expanded(_lookup(row, data))]
        return rows


def _commands(tree: Any) -> list[Any]:
    """The source and processing commands of a statement, in order."""
    query = tree.query()
    commands: list[Any] = []
    while isinstance(query, P.CompositeQueryContext):
        commands.append(query.processingCommand())
        query = query.query()
    assert isinstance(query, P.SingleCommandQueryContext)
    commands.append(query.sourceCommand())
    return list(reversed(commands))


def _compile_command(command: Any) -> tuple[str, Any]:
    if isinstance(command, P.SourceCommandContext):
        if command.fromCommand() is None:
            raise EsqlUnsupported(f"source command {command.getText()}")
        return "from", None
    inner = command.getChild(0)
    if isinstance(inner, P.WhereCommandContext):
        return "where", _compile(inner.booleanExpression())
    if isinstance(inner, P.EvalCommandContext):
        return "eval", [
            (_name(f.qualifiedName()), _compile(f.booleanExpression())) for f in inner.fields().field()
        ]
    if isinstance(inner, P.StatsCommandContext):
        aggregates = [_aggregate(agg.field()) for agg in inner.aggFields().aggField()]
        groups = (
            [_name_of_expression(f.booleanExpression()) for f in inner.fields().field()]
            if inner.fields()
            else []
        )
        return "stats", (aggregates, groups)
    if isinstance(inner, P.JoinCommandContext):
        if inner.JOIN_LOOKUP() is None:
            raise EsqlUnsupported(f"join {inner.getText()}")
        predicates = inner.joinCondition().joinPredicate()
        if len(predicates) != 1:
            raise EsqlUnsupported(f"join on several fields {inner.getText()}")
        return "lookup", (inner.joinTarget().getText(), _name_of_expression(predicates[0].valueExpression()))
    if isinstance(inner, P.MvExpandCommandContext):
        return "mv_expand", _name(inner.qualifiedName())
    if isinstance(inner, P.SortCommandContext):
        return "sort", [
            (_compile(order.booleanExpression()), order.DESC() is not None)
            for order in inner.orderExpression()
        ]
    raise EsqlUnsupported(f"command {inner.getText()}")


def _name(qualified: Any) -> str:
    return qualified.getText().replace("`", "")


def _name_of_expression(expression: Any) -> str:
    text = expression.getText()
    if not re.fullmatch(r"[\w.@]+", text):
        raise EsqlUnsupported(f"grouping by an expression: {text}")
    return text


# --- expressions -------------------------------------------------------------------------------------


def _lookup(row: Row, name: str) -> Any:
    value = row[name] if name in row else get_path(row, name)
    if isinstance(value, list):
        if not value:
            return None
        return value[0] if len(value) == 1 else list(value)
    return value


def _is_mv(value: Any) -> bool:
    return isinstance(value, list)


def _compile(node: Any) -> Expr:
    handler = _HANDLERS.get(type(node))
    if handler is None:
        raise EsqlUnsupported(f"{type(node).__name__}: {node.getText()}")
    return handler(node)


def _boolean_default(node: Any) -> Expr:
    return _compile(node.valueExpression())


def _value_default(node: Any) -> Expr:
    return _compile(node.operatorExpression())


def _operator_default(node: Any) -> Expr:
    return _compile(node.primaryExpression())


def _parenthesized(node: Any) -> Expr:
    return _compile(node.booleanExpression())


def _dereference(node: Any) -> Expr:
    name = _name(node.qualifiedName())
    return lambda row: _lookup(row, name)


def _constant_default(node: Any) -> Expr:
    constant = node.constant()
    if isinstance(constant, P.StringLiteralContext):
        value: Any = string_value(constant.string().getText())
    elif isinstance(constant, P.IntegerLiteralContext):
        value = int(constant.getText())
    elif isinstance(constant, P.DecimalLiteralContext):
        value = float(constant.getText())
    elif isinstance(constant, P.BooleanLiteralContext):
        value = constant.getText().lower() == "true"
    elif isinstance(constant, P.NullLiteralContext):
        value = None
    else:
        raise EsqlUnsupported(f"constant {constant.getText()}")
    return lambda row: value


def string_value(token: str) -> str:
    """The text of an ES|QL string literal (escapes \\\\ \\" \\n \\r \\t; triple quotes are raw)."""
    if token.startswith('"""'):
        return token[3:-3]
    body, out, index = token[1:-1], [], 0
    escapes = {"\\": "\\", '"': '"', "n": "\n", "r": "\r", "t": "\t"}
    while index < len(body):
        char = body[index]
        if char == "\\":
            nxt = body[index + 1]
            if nxt not in escapes:
                raise EsqlUnsupported(f"invalid escape \\{nxt} in {token}")
            out.append(escapes[nxt])
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


def _comparison(node: Any) -> Expr:
    left, right = node.left, node.right
    op = node.comparisonOperator().getText()
    _check_comparable(left, right)
    lhs, rhs = _compile(left), _compile(right)
    compare = {
        "==": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }[op]

    def run(row: Row) -> Any:
        a, b = lhs(row), rhs(row)
        if a is None or b is None or _is_mv(a) or _is_mv(b):
            return None
        if isinstance(a, bool) != isinstance(b, bool) or isinstance(a, str) != isinstance(b, str):
            raise EsqlTypeError(f"comparing {a!r} with {b!r} in {node.getText()}")
        return compare(a, b)

    return run


def _arithmetic(node: Any) -> Expr:
    left, right = _compile(node.left), _compile(node.right)
    operate = {
        "+": lambda a, b: a + b,
        "-": lambda a, b: a - b,
        "*": lambda a, b: a * b,
        "/": _divide,
        "%": _remainder,
    }.get(node.operator.text)
    if operate is None:
        raise EsqlUnsupported(node.getText())

    def run(row: Row) -> Any:
        a, b = left(row), right(row)
        if a is None or b is None or _is_mv(a) or _is_mv(b):
            return None
        if isinstance(a, str | bool) or isinstance(b, str | bool):
            raise EsqlTypeError(f"arithmetic on {a!r} and {b!r}")
        return operate(a, b)

    return run


def _divide(a: Any, b: Any) -> Any:
    """Integers divide as Java's do (truncated towards zero); a double makes a double; by zero is null."""
    if b == 0:
        return None
    if isinstance(a, int) and isinstance(b, int):
        return abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)
    return a / b


def _remainder(a: Any, b: Any) -> Any:
    """Java's remainder: the sign of the dividend; by zero is null."""
    if b == 0:
        return None
    return math.fmod(a, b) if isinstance(a, float) or isinstance(b, float) else a - b * _divide(a, b)


def _logical_binary(node: Any) -> Expr:
    """An AND/OR chain, flattened (pySigma's OR lists of hundreds of values nest that deep)."""
    operator = node.operator.text.lower()
    operands, current = [], node
    while isinstance(current, P.LogicalBinaryContext) and current.operator.text.lower() == operator:
        operands.append(current.right)
        current = current.left
    operands.append(current)
    compiled = [_compile(operand) for operand in reversed(operands)]
    decisive = operator == "or"

    def run(row: Row) -> Any:
        unknown = False
        for operand in compiled:
            value = operand(row)
            if value is decisive:
                return decisive
            unknown = unknown or value is None
        return None if unknown else not decisive

    return run


def _logical_not(node: Any) -> Expr:
    inner = _compile(node.booleanExpression())

    def run(row: Row) -> Any:
        value = inner(row)
        return None if value is None else not value

    return run


def _is_null(node: Any) -> Expr:
    inner = _compile(node.valueExpression())
    negated = node.NOT() is not None
    return lambda row: (inner(row) is not None) if negated else (inner(row) is None)


def _logical_in(node: Any) -> Expr:
    expressions = [_compile(expression) for expression in node.valueExpression()]
    subject, candidates = expressions[0], expressions[1:]
    negated = node.NOT() is not None

    def run(row: Row) -> Any:
        value = subject(row)
        if value is None or _is_mv(value):
            return None
        found = any(candidate(row) == value for candidate in candidates)
        return not found if negated else found

    return run


def _regex_expression(node: Any) -> Expr:
    inner = node.regexBooleanExpression()
    if not isinstance(inner, P.LikeExpressionContext):
        raise EsqlUnsupported(inner.getText())
    subject = _compile(inner.valueExpression())
    pattern = like_regex(string_value(inner.string().getText()))
    negated = inner.NOT() is not None

    def run(row: Row) -> Any:
        value = subject(row)
        if value is None or _is_mv(value):
            return None
        if not isinstance(value, str):
            raise EsqlTypeError(f"LIKE on {value!r}")
        found = pattern.fullmatch(value) is not None
        return not found if negated else found

    return run


def like_regex(pattern: str) -> re.Pattern[str]:
    """ES|QL LIKE: `*` any characters, `?` one character, `\\` escapes the next character."""
    out, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            out.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        out.append(".*" if char == "*" else "." if char == "?" else re.escape(char))
        index += 1
    return re.compile("".join(out), re.DOTALL)


def _function(node: Any) -> Expr:
    function = node.functionExpression()
    name = function.functionName().getText().upper()
    arguments = list(function.booleanExpression())
    compiled = [_compile(argument) for argument in arguments]
    if name == "TO_LOWER":
        _require_field_type(arguments[0], STRING_TYPES, "TO_LOWER")
        return _to_lower(compiled[0])
    if name in ("STARTS_WITH", "ENDS_WITH"):
        return _affix(compiled[0], compiled[1], name == "STARTS_WITH")
    if name == "CIDR_MATCH":
        _require_field_type(arguments[0], ("ip",), "cidr_match")
        return _cidr_match(compiled[0], compiled[1:])
    if name == "CASE":
        return _case(compiled)
    if name == "TO_IP":
        return lambda row: _to_ip(compiled[0](row))
    if name == "DATE_DIFF":
        return _date_diff(*compiled)
    if name in ("LEAST", "GREATEST"):
        pick = min if name == "LEAST" else max
        return lambda row: _extreme(pick, [argument(row) for argument in compiled])
    if name == "COALESCE":
        return lambda row: next((v for v in (c(row) for c in compiled) if v is not None), None)
    if name == "TO_STRING":
        return _single(compiled[0], str)
    if name == "ROUND":
        return _single(
            compiled[0], lambda value: float(Decimal(str(value)).quantize(Decimal(1), ROUND_HALF_UP))
        )
    if name == "REPLACE":
        return _replace(*compiled)
    if name == "MV_APPEND":
        return lambda row: _mv_append(compiled[0](row), compiled[1](row))
    if name == "MV_COUNT":
        return lambda row: None if (value := compiled[0](row)) is None else len(_expanded(value))
    if name == "CONCAT":
        return lambda row: _concat([argument(row) for argument in compiled])
    if name == "SUBSTRING":
        return lambda row: _substring(*(argument(row) for argument in compiled))
    if name == "NOW":
        return lambda row: _NOW.get()
    if name == "TO_LONG":
        return _single(compiled[0], _to_long)
    if name == "DATE_EXTRACT":
        return lambda row: _date_extract(compiled[0](row), compiled[1](row))
    if name == "MV_CONCAT":
        return lambda row: _mv_concat(compiled[0](row), compiled[1](row))
    if name == "MV_MIN":
        return lambda row: None if (value := compiled[0](row)) is None else min(_expanded(value))
    if name == "LOCATE":
        return lambda row: _locate(compiled[0](row), compiled[1](row))
    raise EsqlUnsupported(f"function {name}")


def _to_long(value: Any) -> int:
    """TO_LONG: a date is its epoch milliseconds (the evaluator keeps dates as ISO text)."""
    if isinstance(value, str) and not value.lstrip("-").isdigit():
        return int(parse_time(value).timestamp() * 1000)
    return int(value)


def _date_extract(part: Any, date: Any) -> Any:
    """DATE_EXTRACT in UTC, for the chrono fields ghosthire reads."""
    if part is None or date is None or _is_mv(date):
        return None
    fields = {"year": lambda moment: moment.year, "hour_of_day": lambda moment: moment.hour}
    if str(part).lower() not in fields:
        raise EsqlUnsupported(f"DATE_EXTRACT({part!r})")
    return fields[str(part).lower()](parse_time(date).astimezone(UTC))


def _mv_concat(value: Any, separator: Any) -> Any:
    if value is None or separator is None:
        return None
    return str(separator).join(str(item) for item in _expanded(value))


def _locate(subject: Any, part: Any) -> Any:
    """LOCATE: the 1-based position of `part` in `subject`, 0 when absent."""
    if subject is None or part is None or _is_mv(subject):
        return None
    return str(subject).find(str(part)) + 1


def _expanded(value: Any) -> list[Any]:
    """MV_EXPAND's rows for a value: one per value of a multi-valued field, one (null) for null."""
    return list(value) if _is_mv(value) else [value]


def _mv_append(first: Any, second: Any) -> Any:
    """MV_APPEND: the values of both; the other one's when one is null."""
    if first is None or second is None:
        return first if second is None else second
    values = [*_expanded(first), *_expanded(second)]
    return values[0] if len(values) == 1 else values


def _concat(values: list[Any]) -> Any:
    if any(value is None or _is_mv(value) for value in values):
        return None
    return "".join(str(value) for value in values)


def _substring(subject: Any, start: Any, length: Any = None) -> Any:
    """SUBSTRING(s, start[, length]), 1-based."""
    if subject is None or start is None or _is_mv(subject):
        return None
    begin = int(start) - 1
    return str(subject)[begin:] if length is None else str(subject)[begin : begin + int(length)]


def _extreme(pick: Callable[[list[Any]], Any], values: list[Any]) -> Any:
    """LEAST/GREATEST: null when any argument is null."""
    return None if any(value is None or _is_mv(value) for value in values) else pick(values)


def _single(argument: Expr, convert: Callable[[Any], Any]) -> Expr:
    def run(row: Row) -> Any:
        value = argument(row)
        if value is None:
            return None
        return [convert(item) for item in value] if _is_mv(value) else convert(value)

    return run


def _replace(subject: Expr, regex: Expr, replacement: Expr) -> Expr:
    """REPLACE with Java's regex replaceAll: `$1` is the first group."""

    def run(row: Row) -> Any:
        value, pattern, new = subject(row), regex(row), replacement(row)
        if value is None or pattern is None or new is None or _is_mv(value):
            return None
        return re.sub(pattern, re.sub(r"\$(\d)", r"\\\1", new), value)

    return run


def _to_lower(argument: Expr) -> Expr:
    def run(row: Row) -> Any:
        value = argument(row)
        if value is None:
            return None
        values = value if _is_mv(value) else [value]
        if not all(isinstance(item, str) for item in values):
            raise EsqlTypeError(f"TO_LOWER on {value!r}")
        lowered = [item.lower() for item in values]
        return lowered if _is_mv(value) else lowered[0]

    return run


def _affix(subject: Expr, affix: Expr, start: bool) -> Expr:
    def run(row: Row) -> Any:
        value, part = subject(row), affix(row)
        if value is None or part is None or _is_mv(value):
            return None
        return value.startswith(part) if start else value.endswith(part)

    return run


def _cidr_match(subject: Expr, blocks: list[Expr]) -> Expr:
    def run(row: Row) -> Any:
        value = subject(row)
        if value is None or _is_mv(value):
            return None
        address = ipaddress.ip_address(value)
        return any(address in ipaddress.ip_network(block(row), strict=False) for block in blocks)

    return run


def _case(arguments: list[Expr]) -> Expr:
    def run(row: Row) -> Any:
        pairs, default = arguments[:-1], arguments[-1] if len(arguments) % 2 else None
        if len(arguments) % 2 == 0:
            pairs = arguments
        for index in range(0, len(pairs) - 1, 2):
            if pairs[index](row) is True:
                return pairs[index + 1](row)
        return default(row) if default else None

    return run


DATE_UNITS = {
    "second": 1,
    "seconds": 1,
    "ss": 1,
    "s": 1,
    "minute": 60,
    "minutes": 60,
    "hour": 3600,
    "day": 86400,
    "days": 86400,
}


def _date_diff(unit: Expr, start: Expr, end: Expr) -> Expr:
    def run(row: Row) -> Any:
        name, first, last = unit(row), start(row), end(row)
        if first is None or last is None:
            return None
        span = (parse_time(last) - parse_time(first)).total_seconds()
        return int(span / DATE_UNITS[name])  # truncated towards zero, as Elasticsearch's

    return run


def _to_ip(value: Any) -> Any:
    return None if value is None else str(ipaddress.ip_address(value))


def _field_of(argument: Any) -> str | None:
    text = argument.getText()
    return text if re.fullmatch(r"[A-Za-z_@][\w.@]*", text) else None


def _require_field_type(argument: Any, allowed: tuple[str, ...], function: str) -> None:
    name = _field_of(argument)
    if name is not None and "." in name and field_type(name) not in (*allowed, "unknown"):
        raise EsqlTypeError(f"{function}({name}): {name} is of type {field_type(name)}")


def _check_comparable(left: Any, right: Any) -> None:
    """A field compared with a literal of another kind is a verification error in ES|QL."""
    name = _field_of(left)
    literal = right.getText()
    if name is None or "." not in name or not literal.startswith('"'):
        return
    if field_type(name) in ("ip", "long", "boolean"):
        raise EsqlTypeError(f"{name} ({field_type(name)}) compared with the string {literal}")


# --- STATS -------------------------------------------------------------------------------------------


def _aggregate(node: Any) -> tuple[str, str, str | None]:
    name = _name(node.qualifiedName())
    text = node.booleanExpression().getText()
    match = re.fullmatch(r"(?i)(COUNT_DISTINCT|COUNT|MAX|MIN|SUM|VALUES)\((.+)\)", text)
    if not match:
        raise EsqlUnsupported(f"aggregate {text}")
    argument = match.group(2)
    return name, match.group(1).upper(), None if argument == "*" else argument


def _stats(rows: list[Row], aggregates: list[tuple[str, str, str | None]], groups: list[str]) -> list[Row]:
    buckets: dict[tuple, list[Row]] = defaultdict(list)
    for row in rows:
        keys: list[list[Any]] = []
        for group in groups:
            value = _lookup(row, group)
            keys.append(value if _is_mv(value) else [value])
        for key in _product(keys):
            buckets[key].append(row)
    output = []
    for key, members in buckets.items():
        result: Row = dict(zip(groups, key, strict=True))
        for name, function, argument in aggregates:
            result[name] = _aggregate_value(function, argument, members)
        output.append(result)
    return output


def _product(keys: list[list[Any]]) -> list[tuple]:
    combos: list[tuple] = [()]
    for values in keys:
        combos = [(*combo, value) for combo in combos for value in values]
    return combos


def _aggregate_value(function: str, argument: str | None, rows: list[Row]) -> Any:
    if argument is None:
        assert function == "COUNT", f"{function}(*)"
        return len(rows)
    values = []
    for row in rows:
        value = _lookup(row, argument)
        values.extend(value if _is_mv(value) else [value])
    present = [value for value in values if value is not None]
    if function == "COUNT":
        return len(present)
    if function == "COUNT_DISTINCT":
        return len(set(present))
    if function == "VALUES":
        distinct = sorted(set(present), key=str)
        return distinct[0] if len(distinct) == 1 else distinct or None
    if not present:
        return None
    return {"MAX": max, "MIN": min, "SUM": sum}[function](present)


# --- LOOKUP JOIN and SORT ------------------------------------------------------------------------------


# A large lookup index's documents by join key, made once per index and key (the time-zone index holds
# thousands of documents, joined in every case, and is never edited); smaller ones, which tests build and
# edit, are indexed at each join.
_CACHED_DOCUMENTS = 1000
_JOIN_INDEXES: dict[
    tuple[int, str], tuple[list[dict[str, Any]], set[str], dict[Any, list[dict[str, Any]]]]
] = {}


def _join_index(index: list[dict[str, Any]], key: str) -> tuple[set[str], dict[Any, list[dict[str, Any]]]]:
    cached = _JOIN_INDEXES.get((id(index), key))
    if cached is not None and cached[0] is index and len(index) >= _CACHED_DOCUMENTS:
        return cached[1], cached[2]
    flat_index = [dict(flatten(document)) for document in index]
    columns = {name for document in flat_index for name in document} - {key}
    by_key: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for document in flat_index:
        if key in document and not _is_mv(document[key]):
            by_key[document[key]].append(document)
    if len(index) >= _CACHED_DOCUMENTS:
        _JOIN_INDEXES[id(index), key] = (index, columns, by_key)
    return columns, by_key


def _lookup_join(rows: list[Row], index: list[dict[str, Any]], key: str) -> list[Row]:
    columns, by_key = _join_index(index, key)
    joined = []
    for row in rows:
        value = _lookup(row, key)
        matches = [] if value is None or _is_mv(value) else by_key.get(value, [])
        for match in matches or [{}]:
            joined.append({**row, **dict.fromkeys(columns), **{c: v for c, v in match.items() if c != key}})
    return joined


def _sort(rows: list[Row], orders: list[tuple[Expr, bool]]) -> list[Row]:
    """ES|QL sorts null as larger than any value (last ascending, first descending)."""
    for expression, descending in reversed(orders):
        rows = sorted(rows, key=lambda row: _sort_key(expression(row)), reverse=descending)
    return rows


def _sort_key(value: Any) -> tuple[bool, Any]:
    return (value is None, 0 if value is None else value)


_HANDLERS: dict[type, Callable[[Any], Expr]] = {
    P.BooleanDefaultContext: _boolean_default,
    P.ValueExpressionDefaultContext: _value_default,
    P.OperatorExpressionDefaultContext: _operator_default,
    P.ParenthesizedExpressionContext: _parenthesized,
    P.DereferenceContext: _dereference,
    P.ConstantDefaultContext: _constant_default,
    P.ComparisonContext: _comparison,
    P.ArithmeticBinaryContext: _arithmetic,
    P.LogicalBinaryContext: _logical_binary,
    P.LogicalNotContext: _logical_not,
    P.IsNullContext: _is_null,
    P.LogicalInContext: _logical_in,
    P.RegexExpressionContext: _regex_expression,
    P.FunctionContext: _function,
}
