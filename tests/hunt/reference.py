"""SigmaHQ's pysigma-backend-sqlite on stdlib sqlite3 as the reference for the local engine.

The engine's per-source rows (columns named by Sigma field) become SQLite tables named like the
`table` state the local pipeline sets, with COLLATE NOCASE text columns, INTEGER columns where every
value is an integer (as Zircolite types them), a `timestamp` column in epoch seconds, and the engine's
event id as rowid. The same pipeline YAML compiles the same rules; single rules run as the backend's
SQL, correlations as its `zircolite` correlation plan through `execute_plan`.
"""

from __future__ import annotations

import copy
import json
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml
from sigma.backends.sqlite import sqliteBackend
from sigma.backends.sqlite.runtime import execute_plan
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaDetection, SigmaDetectionItem

from ghosthire.compile.targets import load_targets
from ghosthire.hunt.engine import EID_FILE_FACTOR, EngineResult, HuntEngine
from ghosthire.hunt.plan import HuntPlan
from ghosthire.hunt.readers import ReadReport, batches_from_events
from ghosthire.rules import PackRule
from ghosthire.rules.loader import rule_files

# (rule name, event id) for single-event matches; (rule name, group, window end) for correlations.
SingleMatch = tuple[str, int]
CorrelationMatch = tuple[str, tuple[str, ...], float]


@dataclass
class Outcome:
    singles: set[SingleMatch]
    correlations: set[CorrelationMatch]


def engine_outcome(
    plan: HuntPlan, texts: list[str], source: str | None = None
) -> tuple[Outcome, dict[str, pa.Table]]:
    """Run the engine over JSON texts; its matches (correlations before merging) and per-source rows."""
    engine = HuntEngine(plan.with_building_blocks(), source=source)
    try:
        result = engine.run(batches_from_events(texts), ReadReport())
        rows = engine.source_rows(batches_from_events(texts))
    finally:
        engine.close()
    return engine_matches(result), rows


def engine_matches(result: EngineResult) -> Outcome:
    singles = {(hit.detection.rule.name, hit.line) for hit in result.hits}
    correlations = {(o.correlation.rule.name, o.group, round(o.end, 3)) for o in result.occurrences}
    return Outcome(singles, correlations)


def sqlite_outcome(rules: list[PackRule], rows: dict[str, pa.Table]) -> Outcome:
    """The reference's matches of every rule (building blocks included) over the engine's rows."""
    connection = load_tables(rows)
    try:
        singles: set[SingleMatch] = set()
        correlations: set[CorrelationMatch] = set()
        by_name = {rule.name: rule for rule in rules}
        for rule in rules:
            if rule.is_correlation:
                correlations |= _correlation_matches(connection, rule, by_name)
            else:
                singles |= {(rule.name, eid % EID_FILE_FACTOR) for eid in _single_matches(connection, rule)}
        return Outcome(singles, correlations)
    finally:
        connection.close()


def load_tables(rows: dict[str, pa.Table]) -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:")
    # Zircolite's REGEXP: Python's re.search over the column value.
    connection.create_function(
        "regexp", 2, lambda pattern, value: value is not None and re.search(pattern, str(value)) is not None
    )
    for table, data in rows.items():
        records = data.to_pylist()
        fields = [name for name in data.column_names if not name.startswith("_")]
        columns = ", ".join(f"{_quote(name)} {_column_type(name, records)}" for name in fields)
        connection.execute(
            f"CREATE TABLE {_quote(table)} (sigma_eid INTEGER PRIMARY KEY, timestamp REAL"
            + (f", {columns}" if columns else "")
            + ")"
        )
        connection.executemany(
            f"INSERT INTO {_quote(table)} VALUES ({', '.join('?' * (len(fields) + 2))})",
            [
                (r["_file"] * EID_FILE_FACTOR + r["_line"], r["_ts"], *(_typed(r[name]) for name in fields))
                for r in records
            ],
        )
    return connection


def _column_type(name: str, records: list[dict[str, object]]) -> str:
    values = [record[name] for record in records if record[name] is not None]
    return "INTEGER" if values and all(_is_integer(value) for value in values) else "TEXT COLLATE NOCASE"


def _is_integer(value: object) -> bool:
    return isinstance(value, str) and re.fullmatch(r"-?(0|[1-9][0-9]{0,17})", value) is not None


def _typed(value: object) -> object:
    return int(value) if _is_integer(value) else value


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@cache
def _local_pipeline() -> ProcessingPipeline:
    return next(target for target in load_targets() if target.id == "local").pipeline()


def _backend() -> sqliteBackend:
    return sqliteBackend(processing_pipeline=_local_pipeline(), timestamp_format="unix")


def _collection(*rules: PackRule) -> SigmaCollection:
    """The rules, and the pack's filters, parsed afresh from their files: pySigma processes rules in place."""
    parsed = [
        rule
        for pack_rule in rules
        for rule in _parse(Path(pack_rule.path)).rules
        if str(rule.id) == pack_rule.id
    ]
    filters = [item for path in _filter_files(_root(rules)) for item in _parse(path).filters]
    collection = SigmaCollection([*parsed, *filters], resolve_references=False)
    collection.resolve_rule_references()
    return collection


def filter_fields(rule: PackRule) -> set[str]:
    """The fields the pack's filters read (a filter is a `not` over the rules it names)."""
    return {
        item.field
        for path in _filter_files(_root((rule,)))
        for sigma_filter in _parse(path).filters
        for detection in sigma_filter.filter.detections.values()
        for item in detection_items(detection)
        if item.field
    }


def detection_items(detection: SigmaDetection) -> list[SigmaDetectionItem]:
    """The items of a detection, those of nested detections included."""
    found: list[SigmaDetectionItem] = []
    for item in detection.detection_items:
        found += detection_items(item) if isinstance(item, SigmaDetection) else [item]
    return found


@cache
def _filter_files(root: Path) -> list[Path]:
    return [path for path in rule_files(root) if _parse(path).filters]


def _parse(path: Path) -> SigmaCollection:
    """The file's rules and filters, built afresh from a copy of its YAML documents (read once per text:
    every rule's conversion reads every filter file)."""
    documents = copy.deepcopy(_documents(path.read_text(encoding="utf-8")))
    return SigmaCollection.from_dicts(documents, resolve_references=False, collect_filters=True)


@cache
def _documents(text: str) -> list[Any]:
    return list(yaml.safe_load_all(text))


def _root(rules: tuple[PackRule, ...]) -> Path:
    """The rule directory: where the first rule's file lies under `sigma_rules` (or its own folder)."""
    path = Path(rules[0].path)
    return next((parent for parent in path.parents if parent.name == "sigma_rules"), path.parent)


# The backend's output per set of rule files (by content: tests write different rules at one path) and
# rule id: converting is the reference's costly part, and the pack's rules are compared many times.
_CONVERTED: dict[tuple[str, str, tuple[str, ...]], object] = {}


def _converted(key: str, rules: tuple[PackRule, ...], convert: Callable[[SigmaCollection], object]) -> object:
    texts = tuple(Path(rule.path).read_text(encoding="utf-8") for rule in rules)
    cache_key = (key, rules[-1].id, texts)
    if cache_key not in _CONVERTED:
        _CONVERTED[cache_key] = convert(_collection(*rules))
    return _CONVERTED[cache_key]


def _single_matches(connection: sqlite3.Connection, rule: PackRule) -> list[int]:
    queries = _converted("sql", (rule,), lambda collection: list(_backend().convert(collection)))
    found: list[int] = []
    for query in queries:  # type: ignore[attr-defined]
        # The backend's query is `SELECT * FROM <table> WHERE ...`; only the event id is wanted.
        found += [row[0] for row in connection.execute(query.replace("SELECT *", "SELECT sigma_eid", 1))]
    return found


def _correlation_matches(
    connection: sqlite3.Connection, rule: PackRule, by_name: dict[str, PackRule]
) -> set[CorrelationMatch]:
    assert isinstance(rule.rule, SigmaCorrelationRule)
    referenced = [by_name[str(reference.reference)] for reference in rule.rule.rules]
    converted = _converted(
        "zircolite",
        (*referenced, rule),
        lambda collection: json.loads(_backend().convert(collection, output_format="zircolite")),
    )
    plan = next(item["correlation_plan"] for item in converted if item.get("correlation"))  # type: ignore[attr-defined]
    alerts, _ = execute_plan(connection, plan, include_events=False)
    return {
        (
            rule.name,
            tuple(str(value).lower() for value in alert["group_keys"].values()),
            round(alert["window_end"], 3),
        )
        for alert in alerts
    }
