"""Test-side evaluators: EQL through the eql package's engine, and the Kibana schedule's windows."""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import eql
import eql.functions

from ghosthire.compile.syntax import eql_tree
from ghosthire.elastic.ecs import get_path, parse_time
from tests.elastic.esql_eval import like_regex
from tests.elastic.lucene_eval import matches, parse_lucene

DOC_KEY = "ghosthire_doc"


def _wildcard_regex(cls: Any, *wildcards: str) -> str:
    """Elasticsearch EQL's `:`/`like~` patterns: `*` is any run of characters and `?` exactly one.

    The eql package only knows `*` and compares `?` literally, so a Sigma `?*` (non-empty) never matched.
    """
    expressions = []
    for wildcard in wildcards:
        pieces = []
        for char in eql.utils.fold_case(wildcard):
            pieces.append(".*?" if char == "*" else "." if char == "?" else re.escape(char))
        expressions.append("^" + "".join(pieces) + "$")
    return "|".join(expressions)


eql.functions.Wildcard.to_regex = classmethod(_wildcard_regex)


@cache  # the same query runs once per test case; the engine only reads the tree
def parse_eql(query: str) -> Any:
    return eql_tree(query)


def eql_matching(query: str, documents: list[dict[str, Any]]) -> list[int]:
    """Indexes of the documents an EQL query returns (eql's `:`/`like~`/`==` ignore case), fed in time
    order with their @timestamp in seconds, so that a sequence's maxspan means what it means in Elastic.

    Elasticsearch matches a multi-valued field when any of its values matches; the eql package compares
    the list itself. So a document with lists is fed once per combination of their values (a condition
    needing two values of one list at once is the one case this cannot reproduce)."""
    engine = eql.PythonEngine({"time_unit": 1})
    hits: list[int] = []
    engine.add_output_hook(lambda output: hits.extend(event.data[DOC_KEY] for event in output.events))
    engine.add_query(parse_eql(query))
    events = [
        eql.Event("any", _seconds(document, number), {**variant, DOC_KEY: number})
        for number, document in enumerate(documents)
        for variant in _single_valued(document)
    ]
    engine.stream_events(sorted(events, key=lambda event: event.time), finalize=True)
    return sorted(set(hits))


def _single_valued(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The document once per combination of the values of its list fields (nested objects included)."""
    variants: list[dict[str, Any]] = [{}]
    for key, value in document.items():
        if isinstance(value, dict):
            options: list[Any] = _single_valued(value)
        elif isinstance(value, list) and value:
            options = value
        else:
            options = [value]
        variants = [{**variant, key: option} for variant in variants for option in options]
    return variants


def _seconds(document: dict[str, Any], fallback: int) -> float:
    stamp = document.get("@timestamp")
    return parse_time(stamp).timestamp() if stamp else fallback


def kibana_runs(
    documents: list[dict[str, Any]], lookback: timedelta, interval: timedelta, phase: timedelta
) -> list[tuple[datetime, list[dict[str, Any]]]]:
    """Each scheduled run's time and the documents it sees: a run every `interval` (shifted by `phase`),
    each over the window `lookback`."""
    times = [parse_time(document["@timestamp"]) for document in documents]
    first, last = min(times), max(times)
    run = datetime(first.year, first.month, first.day, tzinfo=first.tzinfo) + phase
    windows = []
    while run <= last + lookback + interval:
        windows.append(
            (run, [doc for doc, time in zip(documents, times, strict=True) if run - lookback <= time <= run])
        )
        run += interval
    return windows


class KibanaExceptions:
    """Kibana's rule exceptions as the detection engine applies them to a rule's matches: an item excepts
    an event when all its entries hold; `is in list` compares a keyword exactly and an IP against the
    list's ranges, `matches` is an Elasticsearch wildcard (`\\` escapes, case-sensitive)."""

    def __init__(self, objects: Any) -> None:
        self.lists = {value_list.id: value_list for value_list in objects.value_lists}
        self.items = {exceptions.list_id: exceptions.items for exceptions in objects.exception_lists}

    def excepted(self, rule: dict[str, Any], document: dict[str, Any]) -> bool:
        lists = [reference["list_id"] for reference in rule.get("exceptions_list") or []]
        return any(
            all(self._holds(entry, document) for entry in item["entries"])
            for list_id in lists
            for item in self.items[list_id]
        )

    def _holds(self, entry: dict[str, Any], document: dict[str, Any]) -> bool:
        value = get_path(document, entry["field"])
        values = value if isinstance(value, list) else [value]
        values = [str(item) for item in values if item is not None]
        if entry["type"] == "wildcard":
            pattern = like_regex(entry["value"])  # an Elasticsearch wildcard is LIKE's syntax
            return any(pattern.fullmatch(item) for item in values)
        assert entry["type"] == "list", entry
        listed = self.lists[entry["list"]["id"]]
        if listed.type == "ip_range":
            networks = [ipaddress.ip_network(block) for block in listed.values]
            return any(ipaddress.ip_address(item) in network for item in values for network in networks)
        return any(item in listed.values for item in values)


def new_terms_alerts(rule: dict[str, Any], documents: list[dict[str, Any]], run_at: datetime) -> list[Any]:
    """The new terms a `new_terms` rule alerts on in its run at `run_at`, one alert per term: the values of
    `new_terms_fields` of the documents its query matches within [from, run_at] that no matching document
    of [history_window_start, from) has. A document without the fields has no term."""
    query = parse_lucene(rule["query"])
    start = run_at - _span(rule["from"])
    history = run_at - _span(rule["history_window_start"])
    assert history < start, "Kibana requires history_window_start before from"
    stamp = rule.get("timestamp_override") or "@timestamp"
    hits = sorted(
        (parse_time(get_path(document, stamp) or document["@timestamp"]), term)
        for document in documents
        if matches(query, document)
        and (term := tuple(get_path(document, field) for field in rule["new_terms_fields"]))
        and None not in term
    )
    seen = {term for time, term in hits if history <= time < start}
    new = []
    for time, term in hits:
        if start <= time <= run_at and term not in seen:
            seen.add(term)
            new.append(term)
    return new


def _span(date_math: str) -> timedelta:
    """`now-14d` as a timedelta (the forms the pack writes: now-<n><s|m|h|d>)."""
    match = re.fullmatch(r"now-(\d+)([smhd])", date_math)
    assert match, f"unsupported date math {date_math!r}"
    return timedelta(seconds=int(match[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]])
