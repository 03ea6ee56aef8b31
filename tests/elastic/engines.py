"""Test-side evaluators: EQL through the eql package's engine, ES|QL correlations through Python."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import eql

from ghosthire.elastic.ecs import get_path, parse_time

DOC_KEY = "ghosthire_doc"


def parse_eql(query: str) -> Any:
    with eql.parser.elasticsearch_syntax, eql.parser.allow_runs:
        return eql.parse_query(query)


def eql_matching(query: str, documents: list[dict[str, Any]]) -> list[int]:
    """Indexes of the documents an EQL query returns (eql's `:`/`like~`/`==` ignore case)."""
    engine = eql.PythonEngine({"time_unit": 1})
    hits: list[int] = []
    engine.add_output_hook(lambda output: hits.extend(event.data[DOC_KEY] for event in output.events))
    engine.add_query(parse_eql(query))
    events = [
        eql.Event("any", number, {**document, DOC_KEY: number}) for number, document in enumerate(documents)
    ]
    engine.stream_events(events, finalize=True)
    return sorted(set(hits))


STATS = re.compile(
    r"^\| stats (?P<measure>\w+) = (?P<function>COUNT_DISTINCT|COUNT)\((?P<field>[^)]*)\)(?: by (?P<groups>.+))?$"
)
CONDITION = re.compile(r"^\| where (?P<measure>\w+) (?P<op>>=|<=|==|>|<) (?P<count>\d+)$")
OPERATORS = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
}


@dataclass(frozen=True)
class EsqlAggregation:
    """The STATS ... BY ... | WHERE tail of a generated ES|QL correlation, read back from the query text."""

    function: str
    field: str
    groups: list[str]
    op: str
    count: int

    @classmethod
    def parse(cls, query: str) -> EsqlAggregation:
        lines = query.splitlines()
        stats, condition = STATS.match(lines[-2]), CONDITION.match(lines[-1])
        assert stats and condition, f"unexpected ES|QL correlation shape:\n{query}"
        groups = [group.strip() for group in (stats["groups"] or "").split(",") if group.strip()]
        return cls(stats["function"], stats["field"], groups, condition["op"], int(condition["count"]))

    def fires(self, documents: list[dict[str, Any]]) -> bool:
        """STATS over these documents (one window) and the WHERE on the result, as ES|QL would."""
        values: dict[tuple, list[Any]] = defaultdict(list)
        for document in documents:
            key = tuple(get_path(document, group) for group in self.groups)
            if any(part is None for part in key):
                continue
            values[key].append(get_path(document, self.field) if self.function == "COUNT_DISTINCT" else 1)
        for collected in values.values():
            measure = (
                len({v for v in collected if v is not None})
                if self.function == "COUNT_DISTINCT"
                else len(collected)
            )
            if OPERATORS[self.op](measure, self.count):
                return True
        return False


def kibana_runs(
    documents: list[dict[str, Any]], lookback: timedelta, interval: timedelta, phase: timedelta
) -> list[list[dict[str, Any]]]:
    """The documents each scheduled run sees: runs every `interval` (shifted by `phase`), window `lookback`."""
    times = [parse_time(document["@timestamp"]) for document in documents]
    first, last = min(times), max(times)
    run = datetime(first.year, first.month, first.day, tzinfo=first.tzinfo) + phase
    windows = []
    while run <= last + lookback + interval:
        windows.append(
            [doc for doc, time in zip(documents, times, strict=True) if run - lookback <= time <= run]
        )
        run += interval
    return windows
