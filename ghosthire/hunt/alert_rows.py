"""The alerts of a hunt as rows DuckDB writes out: the machine-readable formats (JSON lines, CSV) come
from one Arrow table of the alerts and one of their rules, each alert's event copied from the input's
JSON text rather than parsed and encoded again in Python, and every rule's description written once."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from itertools import accumulate
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ghosthire.hunt.alerts import MAX_EVIDENCE, Alert, MatchedTexts, new_hire_json, new_hire_note, rule_json
from ghosthire.hunt.wording import summary_of

if TYPE_CHECKING:
    from ghosthire.hunt.persons import Findings

# Alerts handed back to Python (CSV) or written (JSON lines) this many at a time.
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
# and `new_hire` set only when raised for a new hire; `grouped`: a correlation's alert.
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
        ("matched_row", pa.int64()),
        ("grouped", pa.bool_()),
        ("group", pa.string()),
        ("texts", pa.list_(pa.large_string())),
        ("event_count", pa.int64()),
        ("metric", pa.float64()),
        ("level", pa.string()),
        ("risk_score", pa.int64()),
        ("new_hire", pa.string()),
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
    "new_hire": "new_hire_note",
    "attack_techniques": "array_to_string(attack_techniques, ' ')",
    "attack_tactics": "array_to_string(attack_tactics, ' ')",
    "locations": f"array_to_string({LOCATIONS_SQL}, ' ')",
    "summary": "summary",
}


def json_lines(findings: Findings) -> Iterator[str]:
    """The alerts as JSON lines (keys sorted), in chunks of many lines, each line ending in a newline."""
    common = dict(COMMON_FIELDS)
    line = (
        f"CASE WHEN grouped THEN {_json_object({**common, **CORRELATION_FIELDS})} "
        f"ELSE {_json_object({**common, **EVENT_FIELDS})} END || chr(10)"
    )
    with _alert_rows(findings, csv=False) as rows:
        for batch in rows.select(line).to_arrow_reader(CHUNK_ROWS):
            lines = batch.column(0)
            # Joined by Arrow into one text: no Python string per line.
            whole = pa.ListArray.from_arrays(pa.array([0, len(lines)], pa.int32()), lines)
            yield pc.binary_join(whole, "")[0].as_py()


def csv_rows(findings: Findings) -> Iterator[list[tuple[object, ...]]]:
    """The alerts as CSV rows of the CSV_FIELDS columns, in chunks."""
    columns = ", ".join(CSV_FIELDS.values())
    with _alert_rows(findings, csv=True) as rows:
        for batch in rows.select(columns).to_arrow_reader(CHUNK_ROWS):
            yield list(zip(*(column.to_pylist() for column in batch.columns), strict=True))


def _json_object(fields: dict[str, str]) -> str:
    return "json_object(" + ", ".join(f"'{name}', {fields[name]}" for name in sorted(fields)) + ")"


@contextlib.contextmanager
def _alert_rows(findings: Findings, *, csv: bool) -> Iterator[duckdb.DuckDBPyRelation]:
    """The alerts joined with their rules, in the hunt's order; `csv`: with the columns only CSV has."""
    first: dict[int, Alert] = {}  # each rule's first alert, by the rule's index
    index_of: dict[int, int] = {}
    stores: dict[int, MatchedTexts] = {}  # the stores of matched texts (one per hunt), by id()
    for alert in findings.alerts:
        first.setdefault(index_of.setdefault(id(alert.rule), len(index_of)), alert)
        if alert.matched:
            stores.setdefault(id(alert.matched[0]), alert.matched[0])
    sizes = accumulate((store.table.num_rows for store in stores.values()), initial=0)
    starts = dict(zip(stores, sizes, strict=False))
    db = duckdb.connect(config={"preserve_insertion_order": True})
    try:
        with contextlib.suppress(duckdb.Error):  # with ICU, times are written in the session's zone
            db.execute("SET TimeZone = 'UTC'")
        db.register("alerts", _alert_table(findings, index_of, starts, csv=csv))
        db.register("rules", _rule_table(first))
        db.register("matched", _matched_table(list(stores.values())))
        yield db.sql(
            "SELECT * FROM alerts JOIN rules USING (rule) LEFT JOIN matched USING (matched_row) ORDER BY position"
        )
    finally:
        db.close()


def _alert_table(
    findings: Findings, index_of: dict[int, int], starts: dict[int, int], *, csv: bool
) -> pa.Table:
    """One row per alert (`index_of`: each rule's index, by the rule's id(); `starts`: where each store
    of matched texts starts in the `matched` table, by the store's id())."""
    persons = findings.person_of_alert()
    alerts = findings.alerts
    raised = [alert for alert in alerts if alert.new_hire is not None]
    columns = {
        "position": list(range(len(alerts))),
        "rule": [index_of[id(alert.rule)] for alert in alerts],
        "time": [alert.time for alert in alerts],
        "entity": [alert.entity for alert in alerts],
        "person": [persons.get(id(alert)) for alert in alerts],
        "file": [alert.locations[0].file if alert.locations else None for alert in alerts],
        "line": [alert.locations[0].line if alert.locations else None for alert in alerts],
        "locations": [_locations(alert) if alert.group is not None else None for alert in alerts],
        "matched_row": [_matched_row(alert, starts) for alert in alerts],
        "grouped": [alert.group is not None for alert in alerts],
        "group": [_group_json(alert) for alert in alerts],
        "texts": [alert.texts[:MAX_EVIDENCE] if alert.group is not None else None for alert in alerts],
        "event_count": [alert.event_count for alert in alerts],
        "metric": [alert.metric for alert in alerts],
        "level": _when_raised(alerts, raised, lambda alert: alert.level),
        "risk_score": _when_raised(alerts, raised, lambda alert: alert.score),
        "new_hire": _when_raised(alerts, raised, lambda alert: json.dumps(new_hire_json(alert.new_hire))),
    }
    table = pa.table(columns, schema=ALERT_SCHEMA)
    if csv:
        table = table.append_column("summary", pa.array([summary_of(alert) for alert in alerts], pa.string()))
        table = table.append_column(
            "new_hire_note", pa.array([new_hire_note(alert) for alert in alerts], pa.string())
        )
    return table


def _when_raised(alerts: list[Alert], raised: list[Alert], value: Callable[[Alert], object]) -> list[object]:
    """A column set only for the alerts raised for a new hire (few: the others are not looked at)."""
    if not raised:
        return [None] * len(alerts)
    return [value(alert) if alert.new_hire is not None else None for alert in alerts]


def _matched_row(alert: Alert, starts: dict[int, int]) -> int | None:
    """The row of the alert's event text in the `matched` table."""
    if alert.matched is None:
        return None
    store, row = alert.matched
    return starts[id(store)] + row


def _matched_table(stores: list[MatchedTexts]) -> pa.Table:
    """The texts of every store, one after the other, numbered (`matched_row`)."""
    texts = pa.chunked_array(
        [chunk.cast(pa.large_string()) for store in stores for chunk in store.table.column("text").chunks],
        pa.large_string(),
    )
    return pa.table({"matched_row": pa.array(np.arange(len(texts), dtype=np.int64)), "text": texts})


def _locations(alert: Alert) -> list[str]:
    return [f"{location.file}:{location.line}" for location in alert.locations[:MAX_EVIDENCE]]


def _group_json(alert: Alert) -> str | None:
    return json.dumps(alert.group, sort_keys=True) if alert.group is not None else None


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
