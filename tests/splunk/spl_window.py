"""A small interpreter for exactly the SPL the Splunk backend and the app's macros emit.

It runs the real query text. Two modes:

- stand-in (`macros=None`): the base search (or `multisearch`) is not evaluated; the events the test hands
  in stand for its results (already matching the base rules, with `event_type` set for multi-rule
  correlations), and macros are the shipped `search *` filters;
- full (`macros` = the app's macros.conf definitions): the events are what Splunk indexed (fields named as
  Splunk extracts them, see tests/splunk/splunk_events.py), and the base search, every `multisearch`
  subsearch and every macro (source, filter, Google Workspace parameters) is evaluated from its text.

Every command must be one of the forms below or the test fails. Semantics follow the Splunk search
reference:

- search expressions: `field=value` compares the whole value, case-insensitively, `*` matching any run of
  characters; `field>=N` (`>`, `<=`, `<`) compares numbers, a value that is not one never matching; a
  multivalue field matches when any value does; `field!=value` needs the field; `NOT x` is
  also true when the field is missing; terms are ANDed unless joined by `OR`; `field IN (a, b)`;
  in quoted values `\\` is a backslash and `\"` a quote;
- `bin _time span=Ns` floors `_time` to multiples of N seconds (epoch-aligned, as for spans under a day);
- `streamstats time_window=Ns` aggregates, per group, the events whose `_time` lies in (t - N, t] of the
  current event t, in result order (without `time_window`, every earlier event of the group);
  `current=f` leaves the current event out;
- `stats`/`streamstats` ignore null values in `dc`, `values`, `max`, `min` and drop groups with a null
  by-field; `addinfo` adds `info_min_time` (the searched range's start, given by the test) and `info_max_time`
  (+Infinity, an all-time search's end);
- `multisearch [ search ... ] ...` is the union of its subsearches' results;
- `append [| inputlookup ... | ...]` adds the subsearch's results; `mvexpand f` makes an event per value
  of f (an event without f passes); `eventstats` adds its group's aggregates to each event;
- `inputlookup append=true <definition>` adds the lookup's rows to the results; `outputlookup <definition>`
  replaces the lookup's rows (in the test's `lookups` dict) with the results, values as text;
- a subsearch in a search expression, `[| inputlookup <definition> | where len(c) > 0 | eval v=<c with
  "*" around> | rename v AS f | fields f]`, runs first over the lookup's rows (`lookups`: definition name
  -> rows) and is replaced by its implicit `format` output, `( ( f="v1" ) OR ( f="v2" ) )` with `\\` and
  `"` escaped, or `NOT ( )` when it returns nothing (`( )` is true, so an empty list matches nothing);
- `spath path=a.b{} output=f` reads the event's JSON (`_raw`, kept parsed) and writes each array element
  as JSON text (`{}` steps into every element, also in the middle of a path); `spath input=g path=..`
  reads the JSON text of the field g instead; `json_extract(f, "k")` returns a member's value (strings unquoted, booleans as
  true/false, objects and arrays as JSON text), `json_array_to_mv` a JSON array's values,
  `mvfilter(<expr on one field>)` the values for which the expression holds, `mvindex(x, 0)` the first.
"""

from __future__ import annotations

import contextvars
import csv
import io
import ipaddress
import itertools
import json
import math
import operator
import re
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ghosthire.splunk.conf import parse_conf

Event = dict[str, Any]
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "=": operator.eq,
    "!=": operator.ne,
}
_AGGREGATE = re.compile(r"(?:(count)|(dc|values|max|min|sum)\(([^)]+)\)) as (\S+)")


Macros = Mapping[str, str]
Lookups = Mapping[str, list[dict[str, str]]]
_NUMERIC_FILTER = re.compile(r"(?:search|where) (\w+) (>=|>|<=|<|=|!=) (\d+)")
_MACRO_CALL = re.compile(r"`(\w+)`")
_ARG_MACRO_CALL = re.compile(r"`(\w+)\(([^`()]*)\)`")


def squeezed(text: str) -> str:
    """Runs of whitespace outside quotes made one space (a quoted value keeps its own whitespace)."""
    pieces, quoted, escaped, space = [], False, False, False
    for char in text.strip():
        if not quoted and char.isspace():
            space = True
            continue
        if space:
            pieces.append(" ")
            space = False
        pieces.append(char)
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
    return "".join(pieces)


def commands(query: str) -> list[str]:
    """The query split at `|` outside quotes and `[...]` subsearches."""
    parts, current, depth, quoted, escaped = [], [], 0, False, False
    for char in query:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif not quoted and char == "[":
            depth += 1
        elif not quoted and char == "]":
            depth -= 1
        elif not quoted and depth == 0 and char == "|":
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    parts.append("".join(current).strip())
    return [part for part in parts if part]


def run(
    query: str,
    events: list[Event],
    info_min_time: float = 0.0,
    macros: Macros | None = None,
    lookups: Lookups | None = None,
    now: float | None = None,
) -> list[Event]:
    """The query's results for `events`: with `macros`, the indexed events the whole query searches;
    without, the results of its base search (the first command), which is then not evaluated. Subsearches
    read `lookups` (none given: a subsearch left in an evaluated command fails the test)."""
    results = [dict(event) for event in events]
    parts = commands(query if lookups is None else with_subsearch_results(query, lookups))
    _LOOKUPS.set(lookups or {})
    _NOW.set(time.time() if now is None else now)
    if macros is None:
        parts = parts[1:]
    else:
        results = _generate(parts[0], results, macros, info_min_time)
        parts = parts[1:]
    for command in parts:
        results = _command(command, results, info_min_time, macros)
    return results


def with_subsearch_results(query: str, lookups: Lookups) -> str:
    """Every `[| inputlookup ...]` subsearch replaced by its formatted results, as Splunk does before it
    parses the outer search; `multisearch` groups (`[ search ... ]`) stay, with their own subsearches
    replaced."""
    for start, end in reversed(_bracket_groups(query)):
        inner = query[start + 1 : end - 1].strip()
        if inner.startswith("|"):
            query = query[:start] + _formatted(_lookup_subsearch(inner, lookups)) + query[end:]
        else:
            query = query[:start] + "[ " + with_subsearch_results(inner, lookups) + " ]" + query[end:]
    return query


def _bracket_groups(text: str) -> list[tuple[int, int]]:
    """The spans (`[` to `]` inclusive) of the top-level bracket groups of `text`, outside quotes."""
    spans, depth, quoted, escaped, start = [], 0, False, False, 0
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif not quoted and char == "[":
            depth += 1
            if depth == 1:
                start = index
        elif not quoted and char == "]":
            depth -= 1
            if depth == 0:
                spans.append((start, index + 1))
    return spans


def _lookup_subsearch(text: str, lookups: Lookups) -> list[Event]:
    [first, *rest] = commands(text.lstrip("| "))
    match = re.fullmatch(r"inputlookup (\w+)", first)
    if not match or match[1] not in lookups:
        raise AssertionError(f"a subsearch must read a known lookup: {text!r}")
    rows: list[Event] = [{k: v for k, v in row.items() if v not in ("", None)} for row in lookups[match[1]]]
    for command in rest:
        rows = _command(command, rows, 0.0)
    return rows


def app_macros(app_files: Mapping[str, bytes]) -> dict[str, str]:
    """Every macro definition of a built app by stanza name; a macro with arguments (`name(2)`) has its
    argument names replaced by their positions (`$1$`, `$2$`), as the interpreter substitutes them."""
    macros = {}
    for name, keys in parse_conf(app_files["default/macros.conf"].decode("utf-8"), "macros.conf").items():
        definition = keys.get("definition", "")
        for position, argument in enumerate(keys.get("args", "").split(","), 1):
            if argument.strip():
                definition = definition.replace(f"${argument.strip()}$", f"${position}$")
        macros[name] = definition
    return macros


def app_lookups(app_files: Mapping[str, bytes]) -> dict[str, list[dict[str, str]]]:
    """Every lookup definition of a built app (transforms.conf `filename`) with its CSV rows."""
    transforms = parse_conf(app_files["default/transforms.conf"].decode("utf-8"), "transforms.conf")
    return {
        name: list(csv.DictReader(io.StringIO(app_files[f"lookups/{keys['filename']}"].decode("utf-8"))))
        for name, keys in transforms.items()
        if "filename" in keys
    }


def _formatted(rows: list[Event]) -> str:
    """The implicit `format` of a subsearch's results: rows ORed, each row's fields ANDed, values quoted
    with backslashes and quotes escaped; `NOT ( )` for no rows."""
    if not rows:
        return "NOT ( )"
    terms = [
        "( " + " AND ".join(f'{field}="{_format_escape(str(value))}"' for field, value in row.items()) + " )"
        for row in rows
    ]
    return "( " + " OR ".join(terms) + " )"


def _format_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _generate(first: str, events: list[Event], macros: Macros, info_min_time: float) -> list[Event]:
    """The first command: a base search over the indexed events, or a multisearch of subsearches."""
    text = squeezed(first)
    if text.startswith("multisearch "):
        results: list[Event] = []
        for subsearch in _subsearches(first):
            [head, *rest] = commands(subsearch)
            if not head.startswith("search "):
                raise AssertionError(f"a multisearch subsearch must start with `search`: {subsearch!r}")
            found = _generate(head.removeprefix("search "), events, macros, info_min_time)
            for command in rest:
                found = _command(command, found, info_min_time, macros)
            results += found
        return results
    if match := re.fullmatch(r"inputlookup (\w+)", text):
        rows = (_LOOKUPS.get() or {}).get(match[1])
        if rows is None:
            raise AssertionError(f"lookup {match[1]!r} is not among the test's lookups")
        return [{k: v for k, v in row.items() if v not in ("", None)} for row in rows]
    definition = _macro_text(text, macros)
    if (
        definition is not None and "|" in definition
    ):  # a macro that is a whole search (`ghosthire_signals`...)
        [head, *rest] = commands(definition)
        results = _generate(head, events, macros, info_min_time)
        for command in rest:
            results = _command(command, results, info_min_time, macros)
        return results
    matcher = search_expression(_expand(text, macros))
    return [dict(event) for event in events if matcher(event)]


def _macro_text(text: str, macros: Macros) -> str | None:
    """The definition a whole-command macro call expands to (arguments substituted), else None."""
    if match := _MACRO_CALL.fullmatch(text):
        return _definition(macros, match[1])
    if match := _ARG_MACRO_CALL.fullmatch(text):
        values = [value.strip() for value in match[2].split(",")]
        definition = _definition(macros, f"{match[1]}({len(values)})")
        for position, value in enumerate(values, 1):
            definition = definition.replace(f"${position}$", value)
        return definition
    return None


def _subsearches(command: str) -> list[str]:
    """The `[ ... ]` groups of a multisearch command, outside quotes."""
    return [command[start + 1 : end - 1].strip() for start, end in _bracket_groups(command)]


def _expand(text: str, macros: Macros) -> str:
    """Macro calls inside a search expression, replaced by their (parenthesised) definitions."""
    for _ in range(10):
        expanded = _MACRO_CALL.sub(lambda m: f"({_definition(macros, m[1])})", text)
        if expanded == text:
            return text
        text = expanded
    raise AssertionError(f"macros nest too deep: {text!r}")


def _definition(macros: Macros, name: str) -> str:
    if name not in macros:
        raise AssertionError(f"undefined macro `{name}`")
    return macros[name]


def _command(
    command: str, results: list[Event], info_min_time: float, macros: Macros | None = None
) -> list[Event]:
    text = squeezed(command)
    if macros is None and _MACRO_CALL.fullmatch(text):
        if not text.endswith("_filter`"):
            raise AssertionError(f"stand-in mode runs only filter macros: {text!r}")
        return results
    if macros is not None and (definition := _macro_text(text, macros)) is not None:
        for part in commands(definition):
            results = _command(part, results, info_min_time, macros)
        return results
    if text.startswith("search ") and not _NUMERIC_FILTER.fullmatch(text):
        matcher = search_expression(_expand(text.removeprefix("search "), macros or {}))
        return [event for event in results if matcher(event)]
    if match := re.fullmatch(r"spath path=(\S+) output=(\w+)", text):
        return [_set(event, match[2], _spath(event, match[1])) for event in results]
    if match := re.fullmatch(r"spath input=(\w+) path=(\S+) output=(\w+)", text):
        return [_set(event, match[3], _spath_input(event, match[1], match[2])) for event in results]
    if match := re.fullmatch(r'eval (\w+)="([^"\\]*)"', text):
        return [_set(event, match[1], match[2]) for event in results]
    if match := _GWS_EVAL.fullmatch(text):
        return [_gws_parameter(event, match) for event in results]
    if match := re.fullmatch(r"eval (\w+=lower\('[^']+'\)(?:, \w+=lower\('[^']+'\))*)", text):
        pairs = re.findall(r"(\w+)=lower\('([^']+)'\)", match[1])
        return [
            {**event, **{target: _lower(event.get(field)) for target, field in pairs}} for event in results
        ]
    if match := re.fullmatch(r'rename (\w+ AS "[^"]+"(?:, \w+ AS "[^"]+")*)', text):
        pairs = re.findall(r'(\w+) AS "([^"]+)"', match[1])
        return [_renamed(event, pairs) for event in results]
    if match := re.fullmatch(r"where len\((\w+)\) > 0", text):
        return [event for event in results if str(event.get(match[1]) or "")]
    if match := re.fullmatch(r'eval (\w+)=((?:"\*" \. )?)(\w+)((?: \. "\*")?)', text):
        return [
            _set(
                event,
                match[1],
                f"{'*' if match[2] else ''}{event[match[3]]}{'*' if match[4] else ''}"
                if match[2] or match[4]
                else event[match[3]],
            )
            for event in results
            if event.get(match[3]) is not None
        ]
    if match := re.fullmatch(r'rename (\w+) AS ("[^"]+"|[\w.{}]+)', text):
        return [_renamed(event, [(match[1], match[2].strip('"'))]) for event in results]
    if match := re.fullmatch(r'fields ("[^"]+"|[\w.{}]+)', text):
        name = match[1].strip('"')
        return [{name: event[name]} for event in results if name in event]
    if text == "sort 0 _time":
        return sorted(results, key=lambda event: event["_time"])
    if text == "addinfo":  # an all-time search's end is +Infinity
        return [{**event, "info_min_time": info_min_time, "info_max_time": math.inf} for event in results]
    if match := re.fullmatch(r"bin _time span=(\d+)s", text):
        span = int(match[1])
        return [{**event, "_time": event["_time"] // span * span} for event in results]
    if match := re.fullmatch(r"stats (.+?)(?: by (.+))?", text):
        return _stats(match[1], (match[2] or "").split(), results)
    if match := re.fullmatch(r"streamstats (current=f )?(?:time_window=(\d+)s )?(.+?)(?: by (.+))?", text):
        window = int(match[2]) if match[2] else None
        return _streamstats(window, not match[1], match[3], (match[4] or "").split(), results)
    if match := _NUMERIC_FILTER.fullmatch(text):
        compare, limit = _OPS[match[2]], int(match[3])
        return [e for e in results if e.get(match[1]) is not None and compare(e[match[1]], limit)]
    if match := re.fullmatch(r'where _time >= relative_time\(info_min_time, "\+(\d+)s"\)', text):
        return [event for event in results if event["_time"] >= event["info_min_time"] + int(match[1])]
    if match := re.fullmatch(r"where isnotnull\((\w+)\)", text):
        return [event for event in results if event.get(match[1]) is not None]
    if match := re.fullmatch(r'eval (\w+)=if\(event_type="([^"]+)", (\w+), null\(\)\)', text):
        return [
            _set(event, match[1], event.get(match[3]) if event.get("event_type") == match[2] else None)
            for event in results
        ]
    if match := re.fullmatch(
        r'eval (\w+)=if\(event_type="([^"]+)" AND (\w+) >= relative_time\(_time, "-(\d+)s"\), \3, null\(\)\)',
        text,
    ):
        target, rule, start, span = match[1], match[2], match[3], int(match[4])
        return [
            _set(
                event,
                target,
                event.get(start)
                if event.get("event_type") == rule
                and event.get(start) is not None
                and event[start] >= event["_time"] - span
                else None,
            )
            for event in results
        ]
    if text.startswith("append [") and text.endswith("]"):
        [subsearch] = _subsearches(text.removeprefix("append "))
        [head, *rest] = commands(subsearch)
        found = _generate(head, [], macros or {}, info_min_time)
        for part in rest:
            found = _command(part, found, info_min_time, macros)
        return results + found
    if match := re.fullmatch(r"mvexpand (\w+)", text):
        return [
            _set(event, match[1], value) if event.get(match[1]) is not None else event
            for event in results
            for value in (_values(event.get(match[1])) or [None])
        ]
    if match := re.fullmatch(r"eventstats (.+?)(?: by (\w+))?", text):
        return _eventstats(match[1], match[2], results)
    if text.startswith("lookup "):
        return _lookup_command(text, results)
    if match := re.fullmatch(r"inputlookup append=(?:t|true) (\w+)", text):
        return results + _lookup_rows(match[1])
    if match := re.fullmatch(r"outputlookup (\w+)", text):
        return _output_lookup(match[1], results)
    if match := re.fullmatch(r"(table|fields) ([\w. ]+)", text):
        names = match[2].split()
        return [{name: event[name] for name in names if name in event} for event in results]
    if match := re.fullmatch(r"sort 0 ((?:- ?)?\w+(?: (?:- ?)?\w+)*)", text):
        return _sorted(re.findall(r"(-)? ?(\w+)", match[1]), results)
    if match := re.fullmatch(r"head (\d+)", text):
        return results[: int(match[1])]
    if match := re.fullmatch(r"timechart (count|sum\((\w+)\) as (\w+)) by (\w+)", text):
        return _timechart(match[2], match[4], results)
    if match := re.fullmatch(r"rename ([\w.{}]+ [Aa][Ss] \w+(?:, [\w.{}]+ [Aa][Ss] \w+)*)", text):
        return [_renamed(event, re.findall(r"([\w.{}]+) [Aa][Ss] (\w+)", match[1])) for event in results]
    if text.startswith("where "):
        return [event for event in results if _eval_or(_eval_tokens(text.removeprefix("where ")), event)[0]]
    if match := re.fullmatch(r"fields - ([\w ]+)", text):
        dropped = set(match[1].split())
        return [{name: value for name, value in event.items() if name not in dropped} for event in results]
    if text.startswith("eval "):
        return [_eval_assignments(text.removeprefix("eval "), event) for event in results]
    raise AssertionError(f"the interpreter does not know this SPL command: {text!r}")


def _lower(value: Any) -> Any:
    """`lower()`: null stays null; the interpreter's events carry single values here."""
    if isinstance(value, list):
        raise AssertionError("lower() of a multivalue field is not modelled")
    return None if value is None else str(value).lower()


def _renamed(event: Event, pairs: list[tuple[str, str]]) -> Event:
    renamed = dict(event)
    for old, new in pairs:
        renamed.pop(new, None)
        if old in renamed:
            renamed[new] = renamed.pop(old)
    return renamed


def _set(event: Event, field: str, value: Any) -> Event:
    return {**event, field: value}


def _aggregates(spec: str) -> list[tuple[str, str | None, str]]:
    found = [(m[1] or m[2], m[3], m[4]) for m in _AGGREGATE.finditer(spec)]
    assert " ".join(m[0] for m in _AGGREGATE.finditer(spec)) == spec, f"unknown aggregation in {spec!r}"
    return found


def _aggregate(function: str, field: str | None, window: list[Event]) -> Any:
    if function == "count":
        return len(window)
    values = [value for event in window for value in _values(event.get(field or ""))]
    if function == "dc":
        return len(set(values))
    if function == "values":
        return sorted(set(values), key=str) or None
    if function == "sum":
        return _tidy(sum(_number(value) or 0 for value in values)) if values else None
    if values and all(_number(value) is not None for value in values):
        values = [_number(value) for value in values]
    return (max if function == "max" else min)(values) if values else None


def _number(value: Any) -> float | None:
    """A field's value as a number, as eval and stats read numeric strings; None if it is not one."""
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _tidy(number: float) -> float | int:
    return int(number) if float(number).is_integer() else number


def _values(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _group(event: Event, by: list[str]) -> tuple[Any, ...] | None:
    key = tuple(event.get(field) for field in by)
    return None if any(part is None for part in key) else key


def _stats(spec: str, by: list[str], results: list[Event]) -> list[Event]:
    """A multivalue by-field puts the event in the group of each of its values, as Splunk does."""
    groups: dict[tuple[Any, ...], list[Event]] = defaultdict(list)
    if not by and {function for function, _, _ in _aggregates(spec)} & {"count", "dc"}:
        groups[()] = []  # `stats count` of nothing is one row, count 0
    for event in results:
        for key in itertools.product(*(_values(event.get(field)) for field in by)):
            groups[key].append(event)
    return [
        {
            **dict(zip(by, key, strict=True)),
            **{name: _aggregate(f, field, rows) for f, field, name in _aggregates(spec)},
        }
        for key, rows in groups.items()
    ]


def _eventstats(spec: str, by: str | None, results: list[Event]) -> list[Event]:
    """Each event with the aggregates of its group (all events without `by`); an event whose by-field is
    null is left as it is."""
    groups: dict[Any, list[Event]] = defaultdict(list)
    for event in results:
        groups[event.get(by) if by else ()].append(event)
    aggregates = {
        key: {name: _aggregate(f, field, rows) for f, field, name in _aggregates(spec)}
        for key, rows in groups.items()
    }
    return [
        event
        if by and event.get(by) is None
        else {k: v for k, v in {**event, **aggregates[event.get(by) if by else ()]}.items() if v is not None}
        for event in results
    ]


def _streamstats(
    window: int | None, current: bool, spec: str, by: list[str], results: list[Event]
) -> list[Event]:
    """Without a time window, each event's aggregates are over every earlier event of its group."""
    seen: dict[tuple[Any, ...], list[Event]] = defaultdict(list)
    output = []
    for event in results:
        key = _group(event, by)
        if key is None:
            output.append(event)
            continue
        earlier = [e for e in seen[key] if window is None or e["_time"] > event["_time"] - window]
        in_window = [*earlier, event] if current else earlier
        output.append(
            {**event, **{name: _aggregate(f, field, in_window) for f, field, name in _aggregates(spec)}}
        )
        seen[key].append(event)
    return output


# --- JSON (the `ghosthire_gws_parameters` macro) --------------------------------------------------------

_GWS_EVAL = re.compile(
    r'eval (?P<scratch>\w+)=mvindex\(mvfilter\(json_extract\((?P<objects>\w+), "name"\)="(?P<name>\w+)"\), 0\),'
    r' (?P<field>\w+)=coalesce\(json_extract\((?P=scratch), "value"\), json_extract\((?P=scratch), "intValue"\),'
    r' json_extract\((?P=scratch), "boolValue"\), json_array_to_mv\(json_extract\((?P=scratch), "multiValue"\)\)\)'
)


def _spath(event: Event, path: str) -> list[str] | str | None:
    """`spath path=a.b{}`: the JSON at the path in `_raw`; an array's elements as JSON texts."""
    node: Any = event.get("_raw")
    if not isinstance(node, dict):
        raise AssertionError("spath needs the event's JSON in `_raw`")
    return _json_path(node, path)


def _spath_input(event: Event, field: str, path: str) -> list[str] | str | None:
    """`spath input=f path=...`: the same, in the JSON text of the field f (nothing when f is not JSON)."""
    text = event.get(field)
    try:
        node = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return None if node is None else _json_path(node, path)


def _json_path(root: Any, path: str) -> list[str] | str | None:
    """`a.b{}.c`: `{}` steps into every element of an array (a step may be `{}` alone); the values found
    are a multivalue field once the path went through an array, JSON text where not a string."""
    nodes, through_array = [root], False
    for step in path.split("."):
        name, array = step.removesuffix("{}"), step.endswith("{}")
        if name:
            nodes = [node.get(name) for node in nodes if isinstance(node, dict)]
        if array:
            nodes = [item for node in nodes if isinstance(node, list) for item in node]
            through_array = True
    texts = [node if isinstance(node, str) else json.dumps(node) for node in nodes if node is not None]
    if through_array:
        return texts or None
    return texts[0] if texts else None


def json_extract(text: Any, key: str) -> Any:
    """`json_extract(<JSON text>, "key")`: the member's value as Splunk returns it (null if absent)."""
    if text is None:
        return None
    try:
        document = json.loads(text)
    except (TypeError, ValueError):
        return None
    if not isinstance(document, dict) or document.get(key) is None:
        return None
    return _native(document[key])


def _native(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _gws_parameter(event: Event, match: re.Match[str]) -> Event:
    objects = _values(event.get(match["objects"]))
    chosen = [item for item in objects if json_extract(item, "name") == match["name"]]
    scratch = chosen[0] if chosen else None
    multi = json_extract(scratch, "multiValue")
    value = next(
        (
            found
            for found in (
                json_extract(scratch, "value"),
                json_extract(scratch, "intValue"),
                json_extract(scratch, "boolValue"),
                [_native(item) for item in json.loads(multi)] or None if multi is not None else None,
            )
            if found is not None
        ),
        None,
    )
    return {**event, match["scratch"]: scratch, match["field"]: value}


# --- search expressions ----------------------------------------------------------------------------------

_TOKEN = re.compile(
    r'\s*(?:(?P<open>\()|(?P<close>\))|(?P<comma>,)|(?P<op>!=|>=|<=|=|>|<)|"(?P<quoted>(?:[^"\\]|\\.)*)"'
    r"|(?P<word>[^\s()=,!<>\"]+))"
)
Matcher = Callable[[Event], bool]


def search_expression(text: str) -> Matcher:
    """A search command's expression as a predicate over events.

    Precedence is the search command's, not eval's: parentheses, then NOT, then OR, then AND (implied
    between terms), so `a OR b c` is `(a OR b) AND c`.
    """
    tokens = _tokens(text)
    matcher, rest = _and(tokens)
    if rest:
        raise AssertionError(f"unparsed search terms {rest!r} in {text!r}")
    return matcher


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(text):
        if not text[position:].strip():
            break
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise AssertionError(f"cannot read search text at {text[position:]!r}")
        kind = next(name for name, value in match.groupdict().items() if value is not None)
        value = match[kind]
        if kind == "quoted":
            value = _unescape(value)
        tokens.append((kind, value))
        position = match.end()
    return tokens


def _unescape(value: str) -> str:
    def replace(match: re.Match[str]) -> str:
        if match[1] not in '\\"':
            raise AssertionError(f"unexpected escape \\{match[1]} in a search value")
        return match[1]

    return re.sub(r"\\(.)", replace, value)


def _and(tokens: list[tuple[str, str]]) -> tuple[Matcher, list[tuple[str, str]]]:
    terms: list[Matcher] = []
    while tokens and tokens[0] != ("close", ")"):
        if tokens[0] == ("word", "AND"):
            tokens = tokens[1:]
        term, tokens = _or(tokens)
        terms.append(term)
    if not terms:
        raise AssertionError("empty search expression")
    return (terms[0] if len(terms) == 1 else lambda e: all(t(e) for t in terms)), tokens


def _or(tokens: list[tuple[str, str]]) -> tuple[Matcher, list[tuple[str, str]]]:
    left, tokens = _not(tokens)
    terms = [left]
    while tokens and tokens[0] == ("word", "OR"):
        right, tokens = _not(tokens[1:])
        terms.append(right)
    return (terms[0] if len(terms) == 1 else lambda e: any(t(e) for t in terms)), tokens


def _not(tokens: list[tuple[str, str]]) -> tuple[Matcher, list[tuple[str, str]]]:
    if tokens[0] == ("word", "NOT"):
        inner, tokens = _not(tokens[1:])
        return (lambda e: not inner(e)), tokens
    if tokens[0][0] == "open" and len(tokens) > 1 and tokens[1][0] == "close":
        return (lambda e: True), tokens[2:]  # `( )`: the empty conjunction
    if tokens[0][0] == "open":
        inner, tokens = _and(tokens[1:])
        if not tokens or tokens[0][0] != "close":
            raise AssertionError("unbalanced parentheses in a search expression")
        return inner, tokens[1:]
    if tokens[0] == ("word", "*"):
        return (lambda e: True), tokens[1:]
    return _comparison(tokens)


def _comparison(tokens: list[tuple[str, str]]) -> tuple[Matcher, list[tuple[str, str]]]:
    kind, field = tokens[0]
    if kind != "word":
        raise AssertionError(f"expected a field name, got {tokens[:3]!r}")
    if len(tokens) > 2 and tokens[1] == ("word", "IN") and tokens[2][0] == "open":
        patterns, rest = [], tokens[3:]
        while rest and rest[0][0] != "close":
            if rest[0][0] not in ("quoted", "word"):
                raise AssertionError(f"bad IN list near {rest[:3]!r}")
            patterns.append(_pattern(rest[0][1]))
            rest = rest[1:]
            if rest and rest[0][0] == "comma":
                rest = rest[1:]
        return (lambda e: _matches(e, field, patterns)), rest[1:]
    if len(tokens) > 2 and tokens[1][0] == "op" and tokens[2][0] in ("quoted", "word"):
        operator_text, operand = tokens[1][1], tokens[2][1]
        if operator_text not in ("=", "!="):
            return (lambda e: _compares(e, field, _OPS[operator_text], operand)), tokens[3:]
        pattern = _pattern(operand)
        if operator_text == "=":
            return (lambda e: _matches(e, field, [pattern])), tokens[3:]
        return (lambda e: e.get(field) is not None and not _matches(e, field, [pattern])), tokens[3:]
    raise AssertionError(f"the interpreter does not know this search term: {tokens[:3]!r}")


Pattern = re.Pattern[str] | ipaddress.IPv4Network | ipaddress.IPv6Network


def _pattern(value: str) -> Pattern:
    """A value with `*` wildcards, or a CIDR block, which the search command matches as a network."""
    if "/" in value and "*" not in value:
        try:
            return ipaddress.ip_network(value, strict=False)
        except ValueError:
            pass
    return re.compile(".*".join(re.escape(part) for part in value.split("*")), re.IGNORECASE | re.DOTALL)


def _compares(event: Event, field: str, compare: Callable[[Any, Any], bool], operand: str) -> bool:
    """`field>=N` and the like: numbers compare as numbers; a value that is not one never matches."""
    limit = _number(operand)
    if limit is None:
        raise AssertionError(f"the interpreter compares only numbers with {operand!r}")
    return any(
        (number := _number(value)) is not None and compare(number, limit)
        for value in _values(event.get(field))
    )


def _matches(event: Event, field: str, patterns: list[Pattern]) -> bool:
    return any(_match(pattern, str(value)) for value in _values(event.get(field)) for pattern in patterns)


def _match(pattern: Pattern, value: str) -> bool:
    if isinstance(pattern, re.Pattern):
        return bool(pattern.fullmatch(value))
    try:
        return ipaddress.ip_address(value) in pattern
    except ValueError:
        return False


# --- eval expressions and lookups (the person macros) ------------------------------------------------------

_LOOKUPS: contextvars.ContextVar[Lookups | None] = contextvars.ContextVar("lookups", default=None)
# `now()`: the time the search runs (given by the test, else the clock).
_NOW: contextvars.ContextVar[float] = contextvars.ContextVar("now", default=0.0)
_EVAL_TOKEN = re.compile(
    r'\s*(?:"(?P<string>(?:[^"\\]|\\.)*)"|\'(?P<field>[^\']+)\'|(?P<number>\d+(?:\.\d+)?)'
    r"|(?P<op>>=|<=|!=|[=<>(),.+*/%-])|(?P<name>[A-Za-z_][\w.{}]*))"
)


def _eval_assignments(text: str, event: Event) -> Event:
    """`eval a=<expr>, b=<expr>`: each assignment sees the fields the previous ones set."""
    tokens = _eval_tokens(text)
    updated = dict(event)
    while tokens:
        kind, target = tokens[0]
        if kind not in ("name", "field") or tokens[1] != ("op", "="):
            raise AssertionError(f"expected `field=` in eval: {text!r}")
        value, tokens = _eval_or(tokens[2:], updated)
        updated = _set(updated, target, value)
        if tokens and tokens[0] == ("op", ","):
            tokens = tokens[1:]
    return {name: value for name, value in updated.items() if value is not None}


def _eval_tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while text[position:].strip():
        match = _EVAL_TOKEN.match(text, position)
        if not match or match.end() == position:
            raise AssertionError(f"cannot read eval expression at {text[position:]!r}")
        kind = next(name for name, value in match.groupdict().items() if value is not None)
        value = match[kind]
        tokens.append((kind, _eval_unescape(value) if kind == "string" else value))
        position = match.end()
    return tokens


Tokens = list[tuple[str, str]]


def _eval_unescape(value: str) -> str:
    """An eval string: `\\\\` and `\\"` are escapes; any other backslash stays (a regex's `\\|`)."""
    return re.sub(r'\\([\\"])', r"\1", value)


def _eval_or(tokens: Tokens, event: Event) -> tuple[Any, Tokens]:
    left, tokens = _eval_and(tokens, event)
    while tokens and tokens[0] == ("name", "OR"):
        right, tokens = _eval_and(tokens[1:], event)
        left = bool(left) or bool(right)
    return left, tokens


def _eval_and(tokens: Tokens, event: Event) -> tuple[Any, Tokens]:
    left, tokens = _eval_not(tokens, event)
    while tokens and tokens[0] == ("name", "AND"):
        right, tokens = _eval_not(tokens[1:], event)
        left = bool(left) and bool(right)
    return left, tokens


def _eval_not(tokens: Tokens, event: Event) -> tuple[Any, Tokens]:
    if tokens[0] == ("name", "NOT"):
        value, tokens = _eval_not(tokens[1:], event)
        return not value, tokens
    return _eval_comparison(tokens, event)


def _eval_comparison(tokens: Tokens, event: Event) -> tuple[Any, Tokens]:
    """Numbers compare as numbers, anything else as strings (eval's rule)."""
    left, tokens = _eval_concat(tokens, event)
    if tokens and tokens[0][0] == "op" and tokens[0][1] in _OPS:
        compare = _OPS[tokens[0][1]]
        right, tokens = _eval_concat(tokens[1:], event)
        if left is None or right is None:
            return False, tokens
        if _number(left) is not None and _number(right) is not None:
            return compare(_number(left), _number(right)), tokens
        return compare(str(left), str(right)), tokens
    return left, tokens


def _eval_concat(tokens: Tokens, event: Event) -> tuple[Any, Tokens]:
    """`.` joins strings; `+` and `-` are arithmetic (null in, null out)."""
    left, tokens = _eval_product(tokens, event)
    while tokens and tokens[0] in (("op", "."), ("op", "+"), ("op", "-")):
        operator_, (right, tokens) = tokens[0][1], _eval_product(tokens[1:], event)
        if left is None or right is None:
            left = None
        elif operator_ == ".":
            left = f"{left}{right}"
        else:
            left = _tidy(_number(left) + (_number(right) if operator_ == "+" else -_number(right)))  # type: ignore[operator]
    return left, tokens


def _eval_product(tokens: Tokens, event: Event) -> tuple[Any, Tokens]:
    left, tokens = _eval_atom(tokens, event)
    while tokens and tokens[0] in (("op", "*"), ("op", "/"), ("op", "%")):
        operator_, (right, tokens) = tokens[0][1], _eval_atom(tokens[1:], event)
        if left is None or right is None:
            left = None
        else:
            a, b = _number(left), _number(right)
            left = _tidy(_ARITHMETIC[operator_](a, b))  # type: ignore[arg-type]
    return left, tokens


_ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "*": operator.mul,
    "/": operator.truediv,
    "%": math.fmod,  # the sign of the dividend, as eval's `%`
}


def _eval_atom(tokens: Tokens, event: Event) -> tuple[Any, Tokens]:
    kind, value = tokens[0]
    if kind == "string":
        return value, tokens[1:]
    if kind == "number":
        return value, tokens[1:]
    if kind == "field":
        return event.get(value), tokens[1:]
    if (kind, value) == ("name", "mvfilter") and tokens[1] == ("op", "("):
        return _mvfilter(tokens[2:], event)
    if kind == "name" and len(tokens) > 1 and tokens[1] == ("op", "("):
        args, rest = [], tokens[2:]
        while rest[0] != ("op", ")"):
            arg, rest = _eval_or(rest, event)
            args.append(arg)
            if rest[0] == ("op", ","):
                rest = rest[1:]
        return _EVAL_FUNCTIONS[value](*args), rest[1:]
    if kind == "name":
        return event.get(value), tokens[1:]
    if (kind, value) == ("op", "("):
        inner, rest = _eval_or(tokens[1:], event)
        return inner, rest[1:]
    raise AssertionError(f"unexpected eval token {tokens[:3]!r}")


def _mvfilter(tokens: Tokens, event: Event) -> tuple[Any, Tokens]:
    """`mvfilter(<expression on one field>)`: the field's values for which the expression holds."""
    _, rest = _eval_or(tokens, event)
    expression = tokens[: len(tokens) - len(rest)]
    fields = {
        value
        for position, (kind, value) in enumerate(expression)
        if kind == "field"
        or (
            kind == "name"
            and value not in ("AND", "OR", "NOT")
            and expression[position + 1 :][:1] != [("op", "(")]
        )
    }
    if len(fields) != 1:
        raise AssertionError(f"mvfilter reads exactly one field: {expression!r}")
    field = fields.pop()
    kept = [item for item in _values(event.get(field)) if _eval_or(expression, {**event, field: item})[0]]
    return kept or None, rest[1:]


def _splunk_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


_EVAL_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "lower": _lower,
    "trim": lambda value: None if value is None else str(value).strip(),
    "upper": lambda value: None if value is None else str(value).upper(),
    "len": lambda value: None if value is None else len(str(value)),
    "isnotnull": lambda value: value is not None,
    "substr": lambda value, start, length: (
        None if value is None else str(value)[int(start) - 1 : int(start) - 1 + int(length)]
    ),
    "mvappend": lambda *values: [item for value in values for item in _values(value)] or None,
    "mvindex": lambda value, index: (
        None if value is None else _values(value)[int(index)] if len(_values(value)) > int(index) else None
    ),
    "null": lambda: None,
    "true": lambda: True,
    "isnull": lambda value: value is None,
    "if": lambda condition, then, otherwise: then if condition else otherwise,
    "coalesce": lambda *values: next((value for value in values if value is not None), None),
    "match": lambda value, pattern: value is not None and bool(_splunk_regex(pattern).search(str(value))),
    "replace": lambda value, pattern, new: (
        None if value is None else _splunk_regex(pattern).sub(new.replace("\\", "\\\\"), str(value))
    ),
    "case": lambda *pairs: next((pairs[i + 1] for i in range(0, len(pairs), 2) if pairs[i]), None),
    "split": lambda value, separator: None if value is None else str(value).split(separator),
    "tonumber": _number,
    "floor": lambda value: None if _number(value) is None else math.floor(_number(value)),  # type: ignore[arg-type]
    "round": lambda value, digits=0: (
        None if _number(value) is None else _tidy(round(_number(value), int(digits)))  # type: ignore[arg-type]
    ),
    "strftime": lambda value, pattern: (
        None if _number(value) is None else time.strftime(pattern, time.gmtime(_number(value)))  # type: ignore[arg-type]
    ),
    "strptime": lambda value, pattern: None if value is None else _strptime(str(value), pattern),
    "mvcount": lambda value: None if value is None else len(_values(value)),
    "now": lambda: _NOW.get(),
    "max": lambda *values: max((_number(v) for v in values if _number(v) is not None), default=None),
    "mvdedup": lambda value: None if value is None else list(dict.fromkeys(_values(value))),
    "json_extract": lambda text, key: json_extract(text, key),
}


def _strptime(value: str, pattern: str) -> float | None:
    try:
        return datetime.strptime(value, pattern).timestamp()
    except ValueError:
        return None


def _sorted(keys: list[tuple[str, str]], results: list[Event]) -> list[Event]:
    """`sort 0 - a b`: numbers before strings, as Splunk orders mixed values; `-` descending."""
    ordered = list(results)
    for descending, field in reversed(keys):
        ordered.sort(
            key=lambda event, f=field: (
                (0, _number(event[f]), "")
                if _number(event.get(f)) is not None
                else (1, 0, str(event.get(f, "")))
            ),
            reverse=bool(descending),
        )
    return ordered


def _timechart(value_field: str | None, by: str, results: list[Event]) -> list[Event]:
    """`timechart count|sum(x) by f` in one-day buckets: a row per day, a column per value of `f`."""
    buckets: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for event in results:
        day = int(float(event["_time"]) // 86400 * 86400)
        amount = 1.0 if value_field is None else (_number(event.get(value_field)) or 0.0)
        for value in _values(event.get(by)):
            buckets[day][str(value)] += amount
    return [
        {"_time": day, **{k: _tidy(v) for k, v in columns.items()}}
        for day, columns in sorted(buckets.items())
    ]


def _cell_matches(cell: Any, value: Any) -> bool:
    """A lookup row's field against an event's value, case-insensitively; a multivalue field (a KV store
    array, such as ES's `identity`) matches when any of its values does."""
    return any(str(item).lower() == str(value).lower() for item in _values(cell if cell is not None else ""))


def _lookup_rows(name: str) -> list[Event]:
    rows = (_LOOKUPS.get() or {}).get(name)
    if rows is None:
        raise AssertionError(f"lookup {name!r} is not among the test's lookups")
    return [{k: v for k, v in row.items() if v not in ("", None)} for row in rows]


def _output_lookup(name: str, results: list[Event]) -> list[Event]:
    """`outputlookup <definition>`: the lookup's rows become the results, every value written as text
    (a CSV or KV store field); the test's `lookups` must be a dict for the write to be seen."""
    lookups = _LOOKUPS.get()
    if not isinstance(lookups, dict) or name not in lookups:
        raise AssertionError(f"outputlookup {name!r}: pass the lookups as a dict that holds it")
    lookups[name] = [
        {field: str(_tidy(value) if isinstance(value, float) else value) for field, value in row.items()}
        for row in results
    ]
    return results


def _lookup_command(text: str, results: list[Event]) -> list[Event]:
    """`lookup <definition> f AS g ... OUTPUT|OUTPUTNEW a [AS b] ...`: rows matched on every input field,
    case-insensitively (the app's definitions set case_sensitive_match = false); OUTPUTNEW writes only
    fields the event does not have."""
    match = re.fullmatch(r"lookup (\w+) (.+?) (OUTPUTNEW|OUTPUT) (.+)", text)
    if not match:
        raise AssertionError(f"unknown lookup form: {text!r}")
    rows = (_LOOKUPS.get() or {}).get(match[1])
    if rows is None:
        raise AssertionError(f"lookup {match[1]!r} is not among the test's lookups")
    inputs = re.findall(r"(\S+) AS (\S+)", match[2])
    outputs = [(column, alias or column) for column, alias in re.findall(r"(\w+)(?: AS (\w+))?", match[4])]
    matched: list[Event] = []
    for event in results:
        # A multivalue input field is looked up value by value; the outputs collect every match.
        found = []
        for keys in itertools.product(*(_values(event.get(field)) for _, field in inputs)):
            row = _first_match(rows, inputs, keys)
            if row is not None:
                found.append(row)
        updated = dict(event)
        for column, alias in outputs:
            if match[3] == "OUTPUTNEW" and updated.get(alias) is not None:
                continue
            values = [item for row in found for item in _values(row.get(column)) if item]
            updated[alias] = (values[0] if len(values) == 1 else values) or None
        matched.append({name: value for name, value in updated.items() if value is not None})
    return matched


# A large generated table (the time zones), indexed once per input columns: the first row of each key, for
# rows of single values; rows with a multivalue input cell are scanned. Smaller lookups, which tests edit in
# place, are scanned whole at each lookup.
_INDEXED_ROWS = 1000
_INDEXES: dict[tuple[int, tuple[str, ...]], tuple[list[Any], dict[tuple[str, ...], int], list[int]]] = {}


def _first_match(
    rows: list[dict[str, Any]], inputs: list[tuple[str, str]], keys: tuple[Any, ...]
) -> dict[str, Any] | None:
    if len(rows) < _INDEXED_ROWS:
        return next((row for row in rows if _row_matches(row, inputs, keys)), None)
    columns = tuple(column for column, _ in inputs)
    cached = _INDEXES.get((id(rows), columns))
    if cached is None or cached[0] is not rows:
        index: dict[tuple[str, ...], int] = {}
        scanned = []
        for position, row in enumerate(rows):
            cells = [row.get(column) for column in columns]
            if any(isinstance(cell, list) for cell in cells):
                scanned.append(position)
            else:
                index.setdefault(tuple(str(cell or "").lower() for cell in cells), position)
        cached = _INDEXES[id(rows), columns] = (rows, index, scanned)
    _, index, scanned = cached
    positions = [p for p in scanned if _row_matches(rows[p], inputs, keys)]
    exact = index.get(tuple(str(key).lower() for key in keys))
    first = min([*positions, *([exact] if exact is not None else [])], default=None)
    return None if first is None else rows[first]


def _row_matches(row: dict[str, Any], inputs: list[tuple[str, str]], keys: tuple[Any, ...]) -> bool:
    return all(_cell_matches(row.get(column), value) for (column, _), value in zip(inputs, keys, strict=True))
