"""A small interpreter for exactly the SPL stages the Splunk backend emits after a correlation's base search.

It runs the real query text: the base search (and a `multisearch`) stands for the events the test hands in
(already matching the base rules, with `event_type` set for multi-rule correlations), macros are the
shipped `search *`, and every other command must be one of the forms below or the test fails. Semantics
follow the Splunk search reference:

- `bin _time span=Ns` floors `_time` to multiples of N seconds (epoch-aligned, as for spans under a day);
- `streamstats time_window=Ns` aggregates, per group, the events whose `_time` lies in (t - N, t] of the
  current event t, in result order; `current=f` leaves the current event out;
- `stats`/`streamstats` ignore null values in `dc`, `values`, `max`, `min` and drop groups with a null
  by-field; `addinfo` adds `info_min_time` (the searched range's start, given by the test).
"""

from __future__ import annotations

import operator
import re
from collections import defaultdict
from collections.abc import Callable
from typing import Any

Event = dict[str, Any]
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "=": operator.eq,
    "!=": operator.ne,
}
_AGGREGATE = re.compile(r"(?:(count)|(dc|values|max|min)\(([^)]+)\)) as (\S+)")


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


def run(query: str, events: list[Event], info_min_time: float = 0.0) -> list[Event]:
    """The query's results for `events`, which stand for its base search (the first command)."""
    results = [dict(event) for event in events]
    for command in commands(query)[1:]:
        results = _command(command, results, info_min_time)
    return results


def _command(command: str, results: list[Event], info_min_time: float) -> list[Event]:
    text = " ".join(command.split())
    if re.fullmatch(r"`[\w]+_filter`", text):
        return results
    if text == "sort 0 _time":
        return sorted(results, key=lambda event: event["_time"])
    if text == "addinfo":
        return [{**event, "info_min_time": info_min_time} for event in results]
    if match := re.fullmatch(r"bin _time span=(\d+)s", text):
        span = int(match[1])
        return [{**event, "_time": event["_time"] // span * span} for event in results]
    if match := re.fullmatch(r"stats (.+?)(?: by (.+))?", text):
        return _stats(match[1], (match[2] or "").split(), results)
    if match := re.fullmatch(r"streamstats (current=f )?time_window=(\d+)s (.+?)(?: by (.+))?", text):
        return _streamstats(int(match[2]), not match[1], match[3], (match[4] or "").split(), results)
    if match := re.fullmatch(r"(?:search|where) (\w+) (>=|>|<=|<|=|!=) (\d+)", text):
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
    raise AssertionError(f"the interpreter does not know this SPL command: {text!r}")


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
        return sorted(set(values)) or None
    return (max if function == "max" else min)(values) if values else None


def _values(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _group(event: Event, by: list[str]) -> tuple[Any, ...] | None:
    key = tuple(event.get(field) for field in by)
    return None if any(part is None for part in key) else key


def _stats(spec: str, by: list[str], results: list[Event]) -> list[Event]:
    groups: dict[tuple[Any, ...], list[Event]] = defaultdict(list)
    for event in results:
        key = _group(event, by)
        if key is not None:
            groups[key].append(event)
    return [
        {
            **dict(zip(by, key, strict=True)),
            **{name: _aggregate(f, field, rows) for f, field, name in _aggregates(spec)},
        }
        for key, rows in groups.items()
    ]


def _streamstats(window: int, current: bool, spec: str, by: list[str], results: list[Event]) -> list[Event]:
    seen: dict[tuple[Any, ...], list[Event]] = defaultdict(list)
    output = []
    for event in results:
        key = _group(event, by)
        if key is None:
            output.append(event)
            continue
        earlier = [e for e in seen[key] if e["_time"] > event["_time"] - window]
        in_window = [*earlier, event] if current else earlier
        output.append(
            {**event, **{name: _aggregate(f, field, in_window) for f, field, name in _aggregates(spec)}}
        )
        seen[key].append(event)
    return output
