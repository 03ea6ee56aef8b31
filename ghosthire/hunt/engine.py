"""The local hunt engine: batches of JSON records -> DuckDB -> single-event alerts and correlations.

Per batch, every record is parsed once (`json_extract_string` over a list of paths), tagged with its
source and time, and exposed through one view per source whose columns are Sigma field names; all
single-event rules then run as one query. Events that feed correlations are kept in a table and the
correlations run at the end over true sliding windows (one candidate window per event, as SigmaHQ's
SQLite backend does), so memory grows with matches, not with input.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import pyarrow as pa

from ghosthire.hunt.backend import quote_identifier, quote_literal
from ghosthire.hunt.plan import Correlation, Detection, HuntPlan
from ghosthire.hunt.readers import ReadReport, RecordBatch
from ghosthire.hunt.sources import Source, load_sources, path_variants, source_by_id

EID_FILE_FACTOR = 1 << 40
# DuckDB does not short-circuit AND, and json_type() raises on invalid JSON: guard it with CASE.
IS_OBJECT = "CASE WHEN json_valid(text) THEN json_type(text) = 'OBJECT' ELSE false END"
TIMESTAMP_MACRO = r"""
CREATE MACRO ghosthire_ts(x) AS CASE
    WHEN x IS NULL THEN NULL
    WHEN regexp_full_match(x, '\d{13}(\.\d+)?') THEN x::DOUBLE / 1000
    WHEN regexp_full_match(x, '\d{9,10}(\.\d+)?') THEN x::DOUBLE
    ELSE epoch(TRY_CAST(x AS TIMESTAMPTZ))
END
"""


@dataclass(frozen=True)
class Hit:
    """A single-event rule matched one record."""

    detection: Detection
    file: int
    line: int
    ts: float | None
    raw: str
    entity: str | None


@dataclass(frozen=True)
class Occurrence:
    """A correlation fired for one group in the window ending at `end` (one per qualifying event)."""

    correlation: Correlation
    group: tuple[str, ...]
    start: float
    end: float
    metric: float
    evidence: tuple[int, ...]


@dataclass
class EngineStats:
    records: int = 0
    by_source: dict[str, int] = field(default_factory=dict)
    unrecognised: int = 0
    out_of_range: int = 0
    elapsed: float = 0.0


@dataclass
class EngineResult:
    hits: list[Hit]
    occurrences: list[Occurrence]
    evidence: dict[int, tuple[int, int, float | None, str]]
    stats: EngineStats
    report: ReadReport
    files: dict[int, str]


class HuntEngine:
    """Runs a HuntPlan over record batches. One engine per hunt; not thread-safe."""

    def __init__(
        self,
        plan: HuntPlan,
        *,
        source: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        memory_limit: str = "1GB",
    ) -> None:
        self.plan = plan
        self.forced_source = source_by_id(source) if source else None
        self.since = since.timestamp() if since else None
        self.until = until.timestamp() if until else None
        self._spill = tempfile.TemporaryDirectory(prefix="ghosthire-")
        self.db = duckdb.connect(
            config={
                "memory_limit": memory_limit,
                "temp_directory": self._spill.name,
                "preserve_insertion_order": False,
            }
        )
        self.db.execute(TIMESTAMP_MACRO)
        self._columns: dict[str, str] = {}
        self._json_paths: list[str] = []
        self._column_sql: list[str] = []
        self._prepare_columns()
        self._create_tables()

    # -- schema -------------------------------------------------------------------------------

    def _sources(self) -> tuple[Source, ...]:
        return (self.forced_source,) if self.forced_source else load_sources()

    def _prepare_columns(self) -> None:
        for source in self._sources():
            for path in source.recognizer_paths() | set(source.time):
                self._column(path)
        for source in self.plan.sources():
            for name in sorted(self.plan.fields_of(source.id)):
                for path in source.paths_of(name):
                    self._column(path)

    def _column(self, raw_path: str) -> str:
        """The events-table column holding a raw path, whichever way the record stores it."""
        if raw_path not in self._columns:
            positions = []
            for keys in path_variants(raw_path):
                self._json_paths.append("$." + ".".join('"' + key + '"' for key in keys))
                positions.append(f"_v[{len(self._json_paths)}]")
            column = f"p{len(self._columns)}"
            self._columns[raw_path] = column
            self._column_sql.append(f"coalesce({', '.join(positions)}) AS {column}")
        return self._columns[raw_path]

    def _coalesced(self, paths: Iterable[str]) -> str:
        columns = [self._column(path) for path in paths]
        return columns[0] if len(columns) == 1 else f"coalesce({', '.join(columns)})"

    def _create_tables(self) -> None:
        self.db.execute(
            "CREATE TEMP TABLE corr_rows (c INTEGER, slot INTEGER, eid BIGINT, ts DOUBLE, "
            "g VARCHAR[], v VARCHAR, raw VARCHAR)"
        )
        self._create_events_table(empty=True)
        for source in self.plan.sources():
            columns = "".join(
                f", {self._coalesced(source.paths_of(name))} AS {quote_identifier(name)}"
                for name in sorted(self.plan.fields_of(source.id))
            )
            self.db.execute(
                f"CREATE TEMP VIEW {quote_identifier(source.id)} AS SELECT _file, _n, _ts, _raw{columns} "
                f"FROM events WHERE _source = {quote_literal(source.id)}"
            )

    def _create_events_table(self, *, empty: bool = False, file_index: int = 0) -> None:
        paths = "[" + ", ".join(quote_literal(path) for path in self._json_paths) + "]"
        source_case = self._source_case()
        time_case = self._time_case()
        where = " WHERE false" if empty else self._time_filter()
        batch = "(SELECT NULL::VARCHAR AS text, NULL::BIGINT AS number)" if empty else "batch"
        self.db.execute(
            f"CREATE OR REPLACE TEMP TABLE events AS "
            f"WITH parsed AS (SELECT number AS _n, text AS _raw, json_extract_string(text, {paths}) AS _v "
            f"FROM {batch} WHERE {IS_OBJECT}), "
            f"columns AS (SELECT _n, _raw, {', '.join(self._column_sql)} FROM parsed), "
            f"tagged AS (SELECT *, {source_case} AS _source FROM columns) "
            f"SELECT {file_index}::BIGINT AS _file, *, {time_case} AS _ts FROM tagged{where}"
        )

    def _source_case(self) -> str:
        if self.forced_source:
            return quote_literal(self.forced_source.id)
        branches = []
        for source in self._sources():
            alternatives = [
                "(" + " AND ".join(self._recognised(path, value) for path, value in alternative.items()) + ")"
                for alternative in source.recognize
            ]
            branches.append(f"WHEN {' OR '.join(alternatives)} THEN {quote_literal(source.id)}")
        return "CASE " + " ".join(branches) + " END"

    def _recognised(self, path: str, value: object) -> str:
        column = self._column(path)
        if value is None:
            return f"{column} IS NOT NULL"
        return f"lower({column}) = {quote_literal(str(value).lower())}"

    def _time_case(self) -> str:
        branches = [
            f"WHEN {quote_literal(source.id)} THEN ghosthire_ts({self._coalesced(source.time)})"
            for source in self._sources()
            if source.time
        ]
        return "CASE _source " + " ".join(branches) + " END" if branches else "NULL::DOUBLE"

    def _time_filter(self) -> str:
        bounds = []
        if self.since is not None:
            bounds.append(f"_ts >= {self.since}")
        if self.until is not None:
            bounds.append(f"_ts < {self.until}")
        return " WHERE " + " AND ".join(bounds) if bounds else ""

    # -- per batch ----------------------------------------------------------------------------

    def run(
        self,
        batches: Iterable[RecordBatch],
        report: ReadReport,
        on_batch: Callable[[RecordBatch], None] | None = None,
    ) -> EngineResult:
        started = time.perf_counter()
        stats = EngineStats()
        hits: list[Hit] = []
        files: dict[str, int] = {}
        for batch in batches:
            file_index = files.setdefault(batch.file, len(files))
            hits.extend(self._run_batch(batch, file_index, stats, report))
            if on_batch:
                on_batch(batch)
        occurrences = [o for correlation in self.plan.correlations for o in self._correlate(correlation)]
        evidence = self._evidence(occurrences)
        stats.elapsed = time.perf_counter() - started
        names = {index: name for name, index in files.items()}
        return EngineResult(hits, occurrences, evidence, stats, report, names)

    def _run_batch(
        self, batch: RecordBatch, file_index: int, stats: EngineStats, report: ReadReport
    ) -> list[Hit]:
        self.db.register("batch", _arrow_table(batch))
        try:
            self._report_malformed(batch, report)
            self._create_events_table(file_index=file_index)
            self._count(batch, stats)
            hits = self._single_event_hits(file_index)
            self._collect_correlation_rows()
        finally:
            self.db.unregister("batch")
        return hits

    def _report_malformed(self, batch: RecordBatch, report: ReadReport) -> None:
        rows = self.db.execute(
            f"SELECT number, json_valid(text) FROM batch WHERE NOT ({IS_OBJECT}) AND trim(text, ' \t\r\n') <> ''"
        ).fetchall()
        for number, valid in rows:
            report.problem(
                batch.file, number, "not a JSON object" if valid else "malformed JSON (truncated or invalid)"
            )

    def _count(self, batch: RecordBatch, stats: EngineStats) -> None:
        total = self.db.execute(f"SELECT count(*) FROM batch WHERE {IS_OBJECT}").fetchone()[0]
        kept = 0
        for source_id, count in self.db.execute(
            "SELECT _source, count(*) FROM events GROUP BY ALL"
        ).fetchall():
            kept += count
            if source_id is None:
                stats.unrecognised += count
            else:
                stats.by_source[source_id] = stats.by_source.get(source_id, 0) + count
        stats.records += total
        stats.out_of_range += total - kept

    def _single_event_hits(self, file_index: int) -> list[Hit]:
        alerting = [d for d in self.plan.detections if d.alerts]
        if not alerting:
            return []
        selects = []
        for index, detection in enumerate(alerting):
            entity = (
                f"{quote_identifier(detection.entity_field)}::VARCHAR"
                if detection.entity_field
                else "NULL::VARCHAR"
            )
            selects.append(
                f"SELECT {index} AS r, _n, _ts, _raw, {entity} AS entity "
                f"FROM {quote_identifier(detection.query.table)} WHERE {detection.query.where}"
            )
        rows = self.db.execute(" UNION ALL ".join(selects)).fetchall()
        return [Hit(alerting[r], file_index, n, ts, raw, entity) for r, n, ts, raw, entity in rows]

    def _collect_correlation_rows(self) -> None:
        selects = []
        for c, correlation in enumerate(self.plan.correlations):
            for s, slot in enumerate(correlation.slots):
                groups = [f"lower({quote_identifier(name)}::VARCHAR)" for name in slot.group_fields]
                value = (
                    f"lower({quote_identifier(slot.value_field)}::VARCHAR)" if slot.value_field else "NULL"
                )
                present = "".join(f" AND {quote_identifier(name)} IS NOT NULL" for name in slot.group_fields)
                selects.append(
                    f"SELECT {c}, {s}, _file * {EID_FILE_FACTOR} + _n, _ts, [{', '.join(groups)}]::VARCHAR[], "
                    f"{value}, _raw FROM {quote_identifier(slot.detection.query.table)} "
                    f"WHERE ({slot.detection.query.where}) AND _ts IS NOT NULL{present}"
                )
        if selects:
            self.db.execute("INSERT INTO corr_rows " + " UNION ALL ".join(selects))

    # -- correlations -------------------------------------------------------------------------

    def _correlate(self, correlation: Correlation) -> list[Occurrence]:
        index = self.plan.correlations.index(correlation)
        if correlation.kind == "temporal_ordered":
            return self._correlate_ordered(correlation, index)
        aggregate = {
            "event_count": "count(DISTINCT eid)",
            "value_count": "count(DISTINCT v)",
            "temporal": "count(DISTINCT slot)",
        }[correlation.kind]
        span = correlation.timespan
        rows = self.db.execute(
            f"WITH m AS (SELECT * FROM corr_rows WHERE c = {index}), "
            f"w AS (SELECT g, ts AS end_ts, {aggregate} OVER (PARTITION BY g ORDER BY ts "
            f"RANGE BETWEEN {span} PRECEDING AND CURRENT ROW) AS metric FROM m), "
            f"a AS (SELECT DISTINCT g, end_ts, metric FROM w WHERE metric {correlation.operator} {correlation.count}) "
            f"SELECT a.g, a.end_ts, a.metric, list(DISTINCT m.eid ORDER BY m.eid) FROM a JOIN m "
            f"ON m.g = a.g AND m.ts BETWEEN a.end_ts - {span} AND a.end_ts GROUP BY ALL ORDER BY a.g, a.end_ts"
        ).fetchall()
        return [
            Occurrence(correlation, tuple(group), end - span, end, metric, tuple(eids))
            for group, end, metric, eids in rows
        ]

    def _correlate_ordered(self, correlation: Correlation, index: int) -> list[Occurrence]:
        """Ordered temporal correlation: in each window, every rule in order, each strictly after the last."""
        rows = self.db.execute(
            f"SELECT DISTINCT g, ts, slot, eid FROM corr_rows WHERE c = {index} ORDER BY g, ts"
        ).fetchall()
        by_group: dict[tuple[str, ...], list[tuple[float, int, int]]] = {}
        for group, ts, slot, eid in rows:
            by_group.setdefault(tuple(group), []).append((ts, slot, eid))
        span = correlation.timespan
        occurrences = []
        for group, events in by_group.items():
            for end in sorted({ts for ts, _, _ in events}):
                window = [event for event in events if end - span <= event[0] <= end]
                chosen = _ordered_chain(window, len(correlation.slots))
                if chosen is not None:
                    occurrences.append(
                        Occurrence(
                            correlation, group, end - span, end, len(correlation.slots), tuple(sorted(chosen))
                        )
                    )
        return occurrences

    def _evidence(self, occurrences: list[Occurrence]) -> dict[int, tuple[int, int, float | None, str]]:
        wanted = sorted({eid for occurrence in occurrences for eid in occurrence.evidence})
        if not wanted:
            return {}
        self.db.execute("CREATE OR REPLACE TEMP TABLE wanted (eid BIGINT)")
        self.db.executemany("INSERT INTO wanted VALUES (?)", [(eid,) for eid in wanted])
        rows = self.db.execute(
            "SELECT DISTINCT ON (r.eid) r.eid, r.ts, r.raw FROM corr_rows r JOIN wanted USING (eid)"
        ).fetchall()
        return {eid: (eid // EID_FILE_FACTOR, eid % EID_FILE_FACTOR, ts, raw) for eid, ts, raw in rows}

    def close(self) -> None:
        self.db.close()
        self._spill.cleanup()


def _ordered_chain(window: list[tuple[float, int, int]], slots: int) -> list[int] | None:
    previous: float | None = None
    chosen = []
    for slot in range(slots):
        candidates = [(ts, eid) for ts, s, eid in window if s == slot and (previous is None or ts > previous)]
        if not candidates:
            return None
        previous, eid = min(candidates)
        chosen.append(eid)
    return chosen


def _arrow_table(batch: RecordBatch) -> pa.Table:
    return pa.table({"text": batch.texts, "number": batch.numbers})
