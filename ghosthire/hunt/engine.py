"""The local hunt engine: batches of JSON records -> DuckDB -> single-event alerts and correlations.

Batches are parsed into the `parsed` table (ghosthire.hunt.extract): every record once to recognise
its source, its reader and time, and once more, for the records some rule can match, to read the fields
its rules use. A window of up to WINDOW_ROWS records is parsed before the rules run over it: all
single-event rules as one query, each over its readers' rows only, and the rules that feed
correlations as another, whose matches are kept as (correlation, rule, event id, time, group, value)
rows without their text. The correlations run at the end over true sliding windows (one candidate
window per event, as SigmaHQ's SQLite backend does), so memory grows with matches and the window, not
with the input. The text of NDJSON records is not kept: the events an alert cites are read back from the
input at the end (ghosthire.hunt.run), by where their lines start; records of other layouts (documents,
CSV, EVTX) are kept with their window, up to KEPT_BYTES, for the alerts among them.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain

import duckdb
import numpy as np
import pyarrow as pa

from ghosthire.hunt.backend import quote_identifier
from ghosthire.hunt.extract import TIMESTAMP_MACRO, Extraction
from ghosthire.hunt.plan import Correlation, Detection, HuntPlan
from ghosthire.hunt.readers import ReadReport, RecordBatch
from ghosthire.model.sources import load_sources, source_by_id

EID_FILE_FACTOR = 1 << 40
# Records parsed before the rules run over them (about 270 bytes each in the `parsed` table).
WINDOW_ROWS = 1_000_000
# Text parsed by one statement: planning one costs tens of ms, and its batches are held until it ends.
PARSE_BYTES = 256 * 1024 * 1024
# Text kept in memory for the alerts of inputs without line offsets, before the rules run over it.
KEPT_BYTES = 128 * 1024 * 1024
# Arrow record batches of this many rows let DuckDB scan one batch on several threads.
SCAN_ROWS = 32 * 1024
PROBLEM_REASONS = {"invalid": "malformed JSON (truncated or invalid)", "other": "not a JSON object"}


@dataclass
class Hit:
    """A single-event rule matched one record; `raw` is filled in from the input after the hunt."""

    detection: Detection
    file: int
    line: int
    ts: float | None
    start: int | None
    entity: str | None
    raw: str | None = None


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
class Evidence:
    """An event a correlation alert cites; `raw` is filled in from the input after the hunt."""

    file: int
    line: int
    ts: float | None
    start: int | None
    raw: str | None = None


@dataclass
class EngineStats:
    records: int = 0
    by_source: dict[str, int] = field(default_factory=dict)
    unrecognised: int = 0
    # Input file -> records in it no source recognised.
    unrecognised_in: dict[str, int] = field(default_factory=dict)
    out_of_range: int = 0
    elapsed: float = 0.0


@dataclass
class EngineResult:
    hits: list[Hit]
    occurrences: list[Occurrence]
    evidence: dict[int, Evidence]
    stats: EngineStats
    report: ReadReport
    files: dict[int, str]


@dataclass
class _Window:
    """The records read since the rules last ran, and the batches whose text is kept for the alerts (an
    input without line offsets, a JSON document, CSV or EVTX, is only read again whole). A window is full
    at WINDOW_ROWS records or KEPT_BYTES of kept text."""

    rows: int = 0
    kept: dict[int, list[RecordBatch]] = field(default_factory=dict)
    kept_bytes: int = 0

    def add(self, batch: RecordBatch, file_index: int) -> None:
        self.rows += len(batch)
        if batch.starts is None:
            self.kept.setdefault(file_index, []).append(batch)
            self.kept_bytes += batch.byte_count

    @property
    def full(self) -> bool:
        return self.rows >= WINDOW_ROWS or self.kept_bytes >= KEPT_BYTES

    def attach_kept_texts(self, hits: list[Hit]) -> None:
        """The text of hits in kept batches, found by record number."""
        for file_index, batches in self.kept.items():
            by_line: dict[int, list[Hit]] = {}
            for hit in hits:
                if hit.file == file_index:
                    by_line.setdefault(hit.line, []).append(hit)
            if not by_line:
                continue
            wanted = np.fromiter(by_line, np.int64)
            for batch in batches:
                numbers = batch.numbers.to_numpy()
                positions = np.flatnonzero(np.isin(numbers, wanted))
                for position, text in zip(positions, batch.texts_at(int(p) for p in positions), strict=True):
                    for hit in by_line[int(numbers[position])]:
                        hit.raw = text


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
        _read_times_as_utc(self.db)
        self.db.execute(TIMESTAMP_MACRO)
        candidates = (source_by_id(source),) if source else load_sources()
        self.extraction = Extraction(plan, candidates=candidates, since=self.since, until=self.until)
        self.db.execute(
            "CREATE TEMP TABLE corr_rows "
            "(c INTEGER, slot INTEGER, eid BIGINT, start BIGINT, ts DOUBLE, g VARCHAR[], v VARCHAR)"
        )

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
        pending = iter(batches)
        window = _Window()
        while (first := next(pending, None)) is not None:
            if window.rows == 0:
                self.db.execute(self.extraction.parsed_table_sql())
            more = _ParseStatement(chain([first], pending), window, files, on_batch).run(
                self.db, self.extraction
            )
            if window.full or not more:
                hits += self._close_window(window, stats, report, files)
                window = _Window()
        report.sort()
        occurrences = self._correlate()
        evidence = self._evidence(occurrences)
        stats.elapsed = time.perf_counter() - started
        names = {index: name for name, index in files.items()}
        return EngineResult(hits, occurrences, evidence, stats, report, names)

    def _close_window(
        self, window: _Window, stats: EngineStats, report: ReadReport, files: dict[str, int]
    ) -> list[Hit]:
        """Rules and correlation inputs over the window's records: DuckDB compiles the rules' regular
        expressions each time a query runs (hundreds of tool names, tens of ms in all), so rules run
        over many batches at once, and only the rules some record of the window can match."""
        names = {index: name for name, index in files.items()}
        self._report_problems(report, names)
        filled = self._count(stats, names)
        hits = self._single_event_hits(filled)
        window.attach_kept_texts(hits)
        correlation_rows = self._correlation_rows_sql(filled)
        if correlation_rows:
            self.db.execute(correlation_rows)
        return hits

    def source_rows(self) -> dict[str, pa.Table]:
        """Each source's rows of the last window, columns named by Sigma field (the differential tests
        load them into SQLite to run SigmaHQ's backend on exactly what this engine saw)."""
        return {
            source.id: self.db.sql(self.extraction.source_rows_sql(source.id)).to_arrow_table()
            for source in self.extraction.used
        }

    def _report_problems(self, report: ReadReport, files: dict[int, str]) -> None:
        rows = self.db.execute(
            "SELECT _file, _n, _kind FROM parsed WHERE _kind IN ('invalid', 'other') ORDER BY _file, _n"
        ).fetchall()
        for file_index, number, kind in rows:
            report.problem(files[file_index], number, PROBLEM_REASONS[kind])

    def _count(self, stats: EngineStats, files: dict[int, str]) -> set[int]:
        """Count the window's records by file and source; the readers that have a record in it."""
        rows = self.db.execute(
            "SELECT _file, _source, _in_range, _reader, count(*) FROM parsed WHERE _kind = 'object' GROUP BY ALL"
        ).fetchall()
        for file_index, source_id, in_range, _, count in rows:
            stats.records += count
            if source_id is None:
                stats.unrecognised += count
                name = files[file_index]
                stats.unrecognised_in[name] = stats.unrecognised_in.get(name, 0) + count
            elif not in_range:
                stats.out_of_range += count
            else:
                stats.by_source[source_id] = stats.by_source.get(source_id, 0) + count
        return {reader for *_, reader, _ in rows if reader is not None}

    def _single_event_sql(self, filled: set[int]) -> str | None:
        """Every alerting rule that can match a record of the filled readers, tagged with its place in
        `_alerting`."""
        selects = []
        for index, detection in enumerate(self._alerting):
            rows = self.extraction.rows_sql(detection, filled)
            if rows is None:
                continue
            entity = (
                f"{quote_identifier(detection.entity_field)}::VARCHAR"
                if detection.entity_field
                else "NULL::VARCHAR"
            )
            selects.append(
                f"SELECT {index} AS r, _file, _n, _start, _ts, {entity} AS entity "
                f"FROM ({rows}) WHERE {detection.query.where}"
            )
        return " UNION ALL ".join(selects) or None

    @property
    def _alerting(self) -> list[Detection]:
        return [d for d in self.plan.detections if d.alerts]

    def _single_event_hits(self, filled: set[int]) -> list[Hit]:
        sql = self._single_event_sql(filled)
        if not sql:
            return []
        alerting = self._alerting
        return [
            Hit(alerting[r], file, line, ts, start, entity)
            for r, file, line, start, ts, entity in self.db.execute(sql).fetchall()
        ]

    def _correlation_rows_sql(self, filled: set[int]) -> str | None:
        """INSERT each correlation's input rows from the filled readers. A rule several correlations
        read (sign-ins feed three) is matched once: its matches, with every field those correlations
        read, are a CTE."""
        matches: dict[int, str] = {}  # id(detection) -> its CTE's name
        ctes = []
        selects = []
        for c, correlation in enumerate(self.plan.correlations):
            for s, slot in enumerate(correlation.slots):
                detection = slot.detection
                rows = self.extraction.rows_sql(detection, filled)
                if rows is None:
                    continue
                if id(detection) not in matches:
                    matches[id(detection)] = f"m{len(matches)}"
                    ctes.append(
                        f"{matches[id(detection)]} AS MATERIALIZED ({self._matches_sql(detection, rows)})"
                    )
                groups = [_lowered(name) for name in slot.group_fields]
                value = _lowered(slot.value_field) if slot.value_field else "NULL"
                present = " AND ".join(["true", *(f"{group} IS NOT NULL" for group in groups)])
                selects.append(
                    f"SELECT {c}, {s}, eid, _start, _ts, [{', '.join(groups)}]::VARCHAR[], {value} "
                    f"FROM {matches[id(detection)]} WHERE {present}"
                )
        if not selects:
            return None
        return f"INSERT INTO corr_rows WITH {', '.join(ctes)} " + " UNION ALL ".join(selects)

    def _matches_sql(self, detection: Detection, rows: str) -> str:
        """A rule's timed matches in some rows, with every field a correlation reads on them, lower-cased."""
        fields = sorted(
            {
                name
                for correlation in self.plan.correlations
                for slot in correlation.slots
                if slot.detection is detection
                for name in (*slot.group_fields, *([slot.value_field] if slot.value_field else []))
            }
        )
        columns = "".join(
            f", lower({quote_identifier(name)}::VARCHAR) AS {_lowered(name)}" for name in fields
        )
        return (
            f"SELECT _file * {EID_FILE_FACTOR} + _n AS eid, _start, _ts{columns} "
            f"FROM ({rows}) WHERE ({detection.query.where}) AND _ts IS NOT NULL"
        )

    # -- correlations -------------------------------------------------------------------------

    def _correlate(self) -> list[Occurrence]:
        """Every correlation's occurrences, in the plan's order. The windowed kinds run as one query: each
        alone is a few ms of planning and little work."""
        found: dict[int, list[Occurrence]] = {}
        windowed = [(i, c) for i, c in enumerate(self.plan.correlations) if c.kind != "temporal_ordered"]
        if windowed:
            union = " UNION ALL ".join(f"SELECT * FROM ({_windowed_sql(c, i)})" for i, c in windowed)
            for index, group, end, metric, eids in self.db.execute(f"{union} ORDER BY 1, 2, 3").fetchall():
                correlation = self.plan.correlations[index]
                found.setdefault(index, []).append(
                    Occurrence(
                        correlation, tuple(group), end - correlation.timespan, end, metric, tuple(eids)
                    )
                )
        for index, correlation in enumerate(self.plan.correlations):
            if correlation.kind == "temporal_ordered":
                found[index] = self._correlate_ordered(correlation, index)
        return [occurrence for index in sorted(found) for occurrence in found[index]]

    def _correlate_ordered(self, correlation: Correlation, index: int) -> list[Occurrence]:
        """Ordered temporal correlation: in a window, each rule's first event after the previous rule's."""
        rows = self.db.execute(
            f"SELECT DISTINCT g, ts, slot, eid FROM corr_rows WHERE c = {index} ORDER BY g, ts, slot, eid"
        ).fetchall()
        by_group: dict[tuple[str, ...], list[tuple[float, int, int]]] = {}
        for group, ts, slot, eid in rows:
            by_group.setdefault(tuple(group), []).append((ts, slot, eid))
        span = correlation.timespan
        occurrences = []
        for group, events in by_group.items():
            window: deque[tuple[float, int, int]] = deque()
            added = 0
            for end in sorted({ts for ts, _, _ in events}):
                while added < len(events) and events[added][0] <= end:
                    window.append(events[added])
                    added += 1
                while window[0][0] < end - span:
                    window.popleft()
                chosen = _ordered_chain(window, len(correlation.slots))
                if chosen is not None:
                    occurrences.append(
                        Occurrence(correlation, group, end - span, end, len(correlation.slots), chosen)
                    )
        return occurrences

    def _evidence(self, occurrences: list[Occurrence]) -> dict[int, Evidence]:
        wanted = sorted({eid for occurrence in occurrences for eid in occurrence.evidence})
        if not wanted:
            return {}
        self.db.register("wanted", pa.table({"eid": pa.array(wanted, pa.int64())}))
        try:
            rows = self.db.execute(
                "SELECT DISTINCT ON (r.eid) r.eid, r.ts, r.start FROM corr_rows r JOIN wanted USING (eid)"
            ).fetchall()
        finally:
            self.db.unregister("wanted")
        return {
            eid: Evidence(eid // EID_FILE_FACTOR, eid % EID_FILE_FACTOR, ts, start) for eid, ts, start in rows
        }

    def close(self) -> None:
        self.db.close()
        self._spill.cleanup()


class _ParseStatement:
    """One INSERT into `parsed` that DuckDB feeds itself from the input as the reader delivers it: an
    Arrow stream of batches, pulled while earlier ones are parsed, so reading overlaps parsing and the
    statement is planned once for up to PARSE_BYTES of text (planning costs tens of ms). It ends there,
    when the window is full or at the end of the input. Its batches are held until it has run: a
    malformed line fails the statement, and they are parsed again, tolerantly."""

    def __init__(
        self,
        pending: Iterator[RecordBatch],
        window: _Window,
        files: dict[str, int],
        on_batch: Callable[[RecordBatch], None] | None,
    ) -> None:
        self.pending = pending
        self.window = window
        self.files = files
        self.on_batch = on_batch
        self.tables: list[pa.Table] = []
        self.exhausted = False
        self.failure: BaseException | None = None

    def run(self, db: duckdb.DuckDBPyConnection, extraction: Extraction) -> bool:
        """Parse this statement's batches; False once the input is exhausted."""
        stream = self._stream()
        db.register("batch", pa.RecordBatchReader.from_batches(BATCH_SCHEMA, stream))
        try:
            db.execute(extraction.parse_sql(tolerant=False))
        except duckdb.InvalidInputException:
            if self.failure is None:
                # A malformed line: every line of the statement is parsed again; malformed ones read as NULL.
                for _ in stream:
                    pass
                db.register(
                    "batch",
                    pa.Table.from_batches(
                        [b for table in self.tables for b in table.to_batches()], BATCH_SCHEMA
                    ),
                )
                db.execute(extraction.parse_sql(tolerant=True))
        finally:
            db.unregister("batch")
        if self.failure is not None:
            raise self.failure
        return not self.exhausted

    def _stream(self) -> Iterator[pa.RecordBatch]:
        size = 0
        try:
            for batch in self.pending:
                table = _arrow_table(batch, self.files.setdefault(batch.file, len(self.files)))
                self.window.add(batch, self.files[batch.file])
                self.tables.append(table)
                if self.on_batch:
                    self.on_batch(batch)
                yield from table.to_batches()
                size += batch.byte_count
                if size >= PARSE_BYTES or self.window.full:
                    return
            self.exhausted = True
        except BaseException as error:  # a read error: raised again once DuckDB has stopped pulling
            self.failure = error


def _read_times_as_utc(db: duckdb.DuckDBPyConnection) -> None:
    """A time without a zone is UTC. Without the ICU extension DuckDB reads it so already; with ICU it
    would take the machine's zone, so the session zone is set where ICU is there to set it."""
    with contextlib.suppress(duckdb.Error):
        db.execute("SET TimeZone = 'UTC'")


def _lowered(field_name: str) -> str:
    """The column a correlation's field is kept in, lower-cased (matched case-insensitively)."""
    return quote_identifier(f"lower {field_name}")


def _windowed_sql(correlation: Correlation, index: int) -> str:
    """(index, group, window end, metric, cited event ids) of each window, one per event, where the
    correlation fires: event_count, value_count or temporal over a true sliding window."""
    aggregate = {
        "event_count": "count(DISTINCT eid)",
        "value_count": "count(DISTINCT v)",
        "temporal": "count(DISTINCT slot)",
    }[correlation.kind]
    span = correlation.timespan
    candidates = _groups_that_can_fire(correlation, index, aggregate)
    return (
        f"WITH m AS (SELECT * FROM corr_rows WHERE c = {index}{candidates}), "
        f"w AS (SELECT g, ts AS end_ts, {aggregate} OVER (PARTITION BY g ORDER BY ts "
        f"RANGE BETWEEN {span} PRECEDING AND CURRENT ROW) AS metric FROM m), "
        f"a AS (SELECT DISTINCT g, end_ts, metric FROM w WHERE metric {correlation.operator} {correlation.count}) "
        f"SELECT {index} AS c, a.g, a.end_ts, a.metric::BIGINT AS metric, list(DISTINCT m.eid ORDER BY m.eid) "
        f"FROM a JOIN m ON m.g = a.g AND m.ts BETWEEN a.end_ts - {span} AND a.end_ts GROUP BY ALL"
    )


def _groups_that_can_fire(correlation: Correlation, index: int, aggregate: str) -> str:
    """For an at-least threshold, the groups whose rows, all windows together, reach it: no window of a
    group holds more than all its rows, and most groups (one user, one country) never come close, so
    only the few that do are windowed."""
    if correlation.operator not in (">=", ">"):
        return ""
    return (
        f" AND g IN (SELECT g FROM corr_rows WHERE c = {index} GROUP BY g "
        f"HAVING {aggregate} {correlation.operator} {correlation.count})"
    )


def _ordered_chain(window: Iterable[tuple[float, int, int]], slots: int) -> tuple[int, ...] | None:
    """Evidence of the earliest ordered chain: for each rule, every event at its chosen time."""
    previous: float | None = None
    chosen: list[int] = []
    for slot in range(slots):
        times = [ts for ts, s, _ in window if s == slot and (previous is None or ts > previous)]
        if not times:
            return None
        previous = min(times)
        chosen.extend(eid for ts, s, eid in window if s == slot and ts == previous)
    return tuple(sorted(set(chosen)))


BATCH_SCHEMA = pa.schema(
    [("text", pa.large_string()), ("number", pa.int64()), ("start", pa.int64()), ("file", pa.int64())]
)


def _arrow_table(batch: RecordBatch, file_index: int) -> pa.Table:
    size = len(batch)
    table = pa.table(
        {
            "text": batch.texts,
            "number": batch.numbers,
            "start": batch.starts if batch.starts is not None else pa.nulls(size, pa.int64()),
            "file": pa.array(np.full(size, file_index, np.int64)),
        },
        schema=BATCH_SCHEMA,
    )
    return pa.Table.from_batches(table.to_batches(max_chunksize=SCAN_ROWS), schema=table.schema)
