"""The alerts of a hunt as rows DuckDB writes out: the machine-readable formats (JSON lines, CSV,
Timesketch) come from Arrow tables of the alerts, a chunk at a time, joined with one table of their rules,
each alert's event copied from the input's JSON text rather than parsed and encoded again in Python, and
every rule's description written once. Only a chunk's rows are ever built: an output-heavy hunt's
hundreds of thousands of alerts are never one table."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ghosthire.hunt.alerts import MAX_EVIDENCE, Alert, MatchedTexts, new_hire_json, new_hire_note, rule_json
from ghosthire.hunt.wording import summary_of

if TYPE_CHECKING:
    from ghosthire.hunt.persons import Findings

# Alerts turned into rows (and handed back to Python, or written) this many at a time.
CHUNK_ROWS = 16 * 1024
RULE_SCHEMA = pa.schema(
    [
        ("rule", pa.int32()),
        ("rule_id", pa.string()),
        ("rule_name", pa.string()),
        ("title", pa.string()),
        ("guidance", pa.list_(pa.string())),
        ("attack_techniques", pa.list_(pa.string())),
        ("attack_tactics", pa.list_(pa.string())),
        ("entity_type", pa.string()),
        ("base_level", pa.string()),
        ("base_risk_score", pa.int64()),
    ]
)
# What an alert holds that its rule does not; `text`/`texts`: events' JSON text; `level`, `risk_score`
# and `new_hire` set only when raised for a new hire; `grouped`: a correlation's alert, whose `summary`
# alone is worded in Python (a single event's is its entity).
ALERT_SCHEMA = pa.schema(
    [
        ("position", pa.int64()),
        ("rule", pa.int32()),
        ("time", pa.timestamp("us", tz="UTC")),
        ("entity", pa.string()),
        ("person", pa.string()),
        ("file", pa.string()),
        ("line", pa.int64()),
        ("locations", pa.list_(pa.string())),
        ("text", pa.large_string()),
        ("grouped", pa.bool_()),
        ("group", pa.string()),
        ("texts", pa.list_(pa.large_string())),
        ("event_count", pa.int64()),
        ("metric", pa.float64()),
        ("level", pa.string()),
        ("risk_score", pa.int64()),
        ("new_hire", pa.string()),
        ("new_hire_note", pa.string()),
        ("summary", pa.string()),
    ]
)
# "file:line" of each event: a single event's one location, as two columns (the many alerts of a
# single-event rule would each make a list), or a correlation's list.
LOCATIONS_SQL = "CASE WHEN grouped THEN locations ELSE [file || ':' || line] END"
# ISO 8601 in UTC as Python's isoformat writes it: microseconds only when there are some.
TIME_SQL = (
    "CASE WHEN microsecond(time) % 1000000 = 0 THEN strftime(time, '%Y-%m-%dT%H:%M:%SZ') "
    "ELSE strftime(time, '%Y-%m-%dT%H:%M:%S.%fZ') END"
)
# An integral metric is written as an integer, as Python writes the counts correlations measure.
METRIC_SQL = "CASE WHEN metric = trunc(metric) THEN metric::BIGINT::JSON ELSE metric::JSON END"
COMMON_FIELDS = {
    "attack_tactics": "attack_tactics",
    "attack_techniques": "attack_techniques",
    "base_level": "base_level",
    "base_risk_score": "base_risk_score",
    "entity": "entity",
    "entity_type": "entity_type",
    "guidance": "guidance",
    "level": "coalesce(level, base_level)",
    "locations": LOCATIONS_SQL,
    "new_hire": "new_hire::JSON",
    "person": "person",
    "risk_score": "coalesce(risk_score, base_risk_score)",
    "rule_id": "rule_id",
    "rule_name": "rule_name",
    "time": TIME_SQL,
    "title": "title",
}
EVENT_FIELDS = {"event": "text::JSON"}
CORRELATION_FIELDS = {
    "event_count": "event_count",
    "events": "list_transform(texts, lambda t: t::JSON)",
    "group": '"group"::JSON',
    "metric": METRIC_SQL,
}
SUMMARY_SQL = "CASE WHEN grouped THEN summary ELSE coalesce(entity, '') END"
CSV_FIELDS = {
    "time": TIME_SQL,
    "level": "coalesce(level, base_level)",
    "base_level": "base_level",
    "rule_id": "rule_id",
    "rule_name": "rule_name",
    "title": "title",
    "entity_type": "coalesce(entity_type, '')",
    "entity": "coalesce(entity, '')",
    "person": "coalesce(person, '')",
    "risk_score": "coalesce(risk_score, base_risk_score)",
    "base_risk_score": "base_risk_score",
    "new_hire": "coalesce(new_hire_note, '')",
    "attack_techniques": "array_to_string(attack_techniques, ' ')",
    "attack_tactics": "array_to_string(attack_tactics, ' ')",
    "locations": f"array_to_string({LOCATIONS_SQL}, ' ')",
    "summary": SUMMARY_SQL,
}
# Timesketch's JSONL import: every line needs message, datetime (ISO 8601) and timestamp_desc; the
# alert's other fields but its events follow.
TIMESKETCH_FIELDS = {
    **{name: sql for name, sql in COMMON_FIELDS.items() if name != "time"},
    "datetime": TIME_SQL,
    "message": f"'[' || coalesce(level, base_level) || '] ' || title || ': ' || {SUMMARY_SQL}",
    "timestamp_desc": "CASE WHEN grouped THEN 'Correlation condition met' ELSE 'Event time' END",
    "tag": "list_concat(list_concat(['ghosthire'], guidance), attack_techniques)",
    "data_type": "'ghosthire:alert'",
}
TIMESKETCH_CORRELATION_FIELDS = {
    name: CORRELATION_FIELDS[name] for name in ("event_count", "group", "metric")
}


def json_lines(findings: Findings) -> Iterator[pa.Buffer]:
    """The alerts as JSON lines (keys sorted), in UTF-8 chunks of many lines, each line ending in a
    newline."""
    yield from _lines(findings, {**COMMON_FIELDS, **CORRELATION_FIELDS}, {**COMMON_FIELDS, **EVENT_FIELDS})


def timesketch_lines(findings: Findings) -> Iterator[pa.Buffer]:
    """One Timesketch event per alert with a time (an alert without one cannot sit on a timeline), as
    JSON lines in UTF-8 chunks."""
    fields = TIMESKETCH_FIELDS
    yield from _lines(findings, {**fields, **TIMESKETCH_CORRELATION_FIELDS}, fields, where="time IS NOT NULL")


def _lines(
    findings: Findings, correlation: dict[str, str], event: dict[str, str], where: str = "true"
) -> Iterator[pa.Buffer]:
    line = f"CASE WHEN grouped THEN {_json_object(correlation)} ELSE {_json_object(event)} END || chr(10)"
    for batch in _alert_rows(findings, line, where):
        lines = batch.column(0)
        if len(lines):
            # Joined by Arrow into one text: no Python string per line.
            whole = pa.ListArray.from_arrays(pa.array([0, len(lines)], pa.int32()), lines)
            yield pc.binary_join(whole, "")[0].as_buffer()


def csv_rows(findings: Findings) -> Iterator[list[tuple[object, ...]]]:
    """The alerts as CSV rows of the CSV_FIELDS columns, in chunks."""
    for batch in _alert_rows(findings, ", ".join(CSV_FIELDS.values())):
        yield list(zip(*(column.to_pylist() for column in batch.columns), strict=True))


def _json_object(fields: dict[str, str]) -> str:
    return "json_object(" + ", ".join(f"'{name}', {fields[name]}" for name in sorted(fields)) + ")"


def _alert_rows(findings: Findings, columns: str, where: str = "true") -> Iterator[pa.RecordBatch]:
    """`columns` of the alerts joined with their rules, in the hunt's order, a chunk of alerts at a time."""
    persons = findings.person_of_alert()
    alerts = findings.alerts
    first: dict[int, Alert] = {}  # each rule's first alert, by the rule's index
    index_of: dict[int, int] = {}
    for alert in alerts:
        first.setdefault(index_of.setdefault(id(alert.rule), len(index_of)), alert)
    db = duckdb.connect(config={"preserve_insertion_order": True})
    try:
        with contextlib.suppress(duckdb.Error):  # with ICU, times are written in the session's zone
            db.execute("SET TimeZone = 'UTC'")
        db.register("rules", _rule_table(first))
        for start in range(0, len(alerts), CHUNK_ROWS):
            chunk = alerts[start : start + CHUNK_ROWS]
            db.register("alerts", _alert_table(chunk, start, index_of, persons))
            rows = db.sql(
                f"SELECT {columns} FROM alerts JOIN rules USING (rule) WHERE {where} ORDER BY position"
            ).to_arrow_table()
            db.unregister("alerts")
            yield from rows.to_batches()
    finally:
        db.close()


def _alert_table(
    alerts: list[Alert], start: int, index_of: dict[int, int], persons: dict[int, str]
) -> pa.Table:
    """One row per alert of a chunk starting at `start` (`index_of`: each rule's index, by the rule's
    id(); `persons`: the person each alert counts for, by the alert's id())."""
    raised = [alert for alert in alerts if alert.new_hire is not None]
    grouped = [alert.group is not None for alert in alerts]
    columns = {
        "position": pa.array(np.arange(start, start + len(alerts), dtype=np.int64)),
        "rule": [index_of[id(alert.rule)] for alert in alerts],
        "time": [alert.time for alert in alerts],
        "entity": [alert.entity for alert in alerts],
        "person": [persons.get(id(alert)) for alert in alerts],
        "file": [alert.locations[0].file if alert.locations else None for alert in alerts],
        "line": [alert.locations[0].line if alert.locations else None for alert in alerts],
        "locations": _when_grouped(alerts, grouped, _locations),
        "text": _event_texts(alerts),
        "grouped": grouped,
        "group": _when_grouped(alerts, grouped, lambda alert: json.dumps(alert.group, sort_keys=True)),
        "texts": _when_grouped(alerts, grouped, lambda alert: alert.texts[:MAX_EVIDENCE]),
        "event_count": [alert.event_count for alert in alerts],
        "metric": [alert.metric for alert in alerts],
        "level": _when_raised(alerts, raised, lambda alert: alert.level),
        "risk_score": _when_raised(alerts, raised, lambda alert: alert.score),
        "new_hire": _when_raised(alerts, raised, lambda alert: json.dumps(new_hire_json(alert.new_hire))),
        "new_hire_note": _when_raised(alerts, raised, new_hire_note),
        "summary": _when_grouped(alerts, grouped, summary_of),
    }
    return pa.table(columns, schema=ALERT_SCHEMA)


def _when_raised(alerts: list[Alert], raised: list[Alert], value: Callable[[Alert], object]) -> list[object]:
    """A column set only for the alerts raised for a new hire (few: the others are not looked at)."""
    if not raised:
        return [None] * len(alerts)
    return [value(alert) if alert.new_hire is not None else None for alert in alerts]


def _when_grouped(alerts: list[Alert], grouped: list[bool], value: Callable[[Alert], object]) -> list[object]:
    """A column set only for correlations' (and work patterns') alerts."""
    if not any(grouped):
        return [None] * len(alerts)
    return [value(alert) if alert.group is not None else None for alert in alerts]


def _event_texts(alerts: list[Alert]) -> pa.Array:
    """The JSON text of each alert's event (null for an alert without one), taken from its store."""
    wanted: dict[int, tuple[MatchedTexts, list[int], list[int]]] = {}  # by the store's id()
    for position, alert in enumerate(alerts):
        if alert.matched is not None:
            store, row = alert.matched
            _, positions, rows = wanted.setdefault(id(store), (store, [], []))
            positions.append(position)
            rows.append(row)
    if len(wanted) == 1:
        store, positions, rows = next(iter(wanted.values()))
        if len(positions) == len(alerts):  # the usual chunk: every alert's event from the hunt's one store
            return store.texts_at(np.array(rows, dtype=np.int64))
    placed = np.full(len(alerts), -1, dtype=np.int64)  # each alert's text in `taken`
    pieces, taken = [], 0
    for store, positions, rows in wanted.values():
        pieces.append(store.texts_at(np.array(rows, dtype=np.int64)))
        placed[positions] = np.arange(taken, taken + len(rows))
        taken += len(rows)
    if not pieces:
        return pa.nulls(len(alerts), pa.large_string())
    return pa.concat_arrays(pieces).take(pa.array(placed, mask=placed < 0))


def _locations(alert: Alert) -> list[str]:
    return [f"{location.file}:{location.line}" for location in alert.locations[:MAX_EVIDENCE]]


def _rule_table(first: dict[int, Alert]) -> pa.Table:
    """What each rule's alerts say about it, from its first alert."""
    rows = [
        {
            **{
                name: list(value) if isinstance(value, tuple) else value
                for name, value in rule_json(alert.rule).items()
            },
            "rule": index,
            "entity_type": alert.entity_type,
            "base_level": alert.base_level,
            "base_risk_score": alert.base_score,
        }
        for index, alert in first.items()
    ]
    return pa.Table.from_pylist(rows, schema=RULE_SCHEMA)
