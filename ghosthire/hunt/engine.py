"""The local hunt engine: batches of JSON records -> DuckDB -> single-event alerts and correlations.

Per batch, every record is parsed once to recognise its source and time and once more, for the sources
rules read, to read the fields those rules use (ghosthire.hunt.extract); each source gets a table whose
columns are Sigma field names, and all single-event rules run as one query, each over its own source's
rows. Events that feed correlations are kept as (correlation, rule, event id, time, group, value) rows,
without their text, and the correlations run at the end over true sliding windows (one candidate window
per event, as SigmaHQ's SQLite backend does), so memory grows with matches, not with input. The text of
the events an alert cites is read back from the input at the end (ghosthire.hunt.run).
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import numpy as np
import pyarrow as pa

from ghosthire.hunt.backend import quote_identifier
from ghosthire.hunt.extract import TIMESTAMP_MACRO, Extraction
from ghosthire.hunt.plan import Correlation, Detection, HuntPlan
from ghosthire.hunt.readers import ReadReport, RecordBatch
from ghosthire.hunt.sources import load_sources, source_by_id

EID_FILE_FACTOR = 1 << 40
# Arrow record batches of this many rows let DuckDB scan one batch on several threads.
SCAN_ROWS = 32 * 1024
PROBLEM_REASONS = {"invalid": "malformed JSON (truncated or invalid)", "other": "not a JSON object"}


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
class Evidence:
    """An event a correlation alert cites; `raw` is filled in from the input after the hunt."""

    file: int
    line: int
    ts: float | None
    raw: str | None = None


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
    evidence: dict[int, Evidence]
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
        self.used = plan.sources()
        candidates = (source_by_id(source),) if source else load_sources()
        self.extraction = Extraction(plan, candidates=candidates)
        self._hits_sql = self._single_event_sql()
        self._corr_sql = self._correlation_rows_sql()
        self.db.execute(
            "CREATE TEMP TABLE corr_rows (c INTEGER, slot INTEGER, eid BIGINT, ts DOUBLE, g VARCHAR[], v VARCHAR)"
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
        for batch in batches:
            file_index = files.setdefault(batch.file, len(files))
            hits.extend(self._run_batch(batch, file_index, stats, report))
            if on_batch:
                on_batch(batch)
        occurrences = [o for index, c in enumerate(self.plan.correlations) for o in self._correlate(c, index)]
        evidence = self._evidence(occurrences)
        stats.elapsed = time.perf_counter() - started
        names = {index: name for name, index in files.items()}
        return EngineResult(hits, occurrences, evidence, stats, report, names)

    def _run_batch(
        self, batch: RecordBatch, file_index: int, stats: EngineStats, report: ReadReport
    ) -> list[Hit]:
        self.db.register("batch", _arrow_table(batch))
        try:
            self.db.execute(self.extraction.parsed_sql(file_index, self._time_filter()))
        finally:
            self.db.unregister("batch")
        self._report_problems(batch, report)
        self._count(stats)
        for source in self.used:
            self.db.execute(self.extraction.source_tables[source.id])
        hits = self._single_event_hits(batch, file_index)
        if self._corr_sql:
            self.db.execute(self._corr_sql)
        return hits

    def source_rows(self) -> dict[str, pa.Table]:
        """Each source's rows of the last batch, columns named by Sigma field (the differential tests
        load them into SQLite to run SigmaHQ's backend on exactly what this engine saw)."""
        return {
            source.id: self.db.table(quote_identifier(source.id)).to_arrow_table() for source in self.used
        }

    def _time_filter(self) -> str:
        bounds = ["true"]
        if self.since is not None:
            bounds.append(f"_ts >= {self.since}")
        if self.until is not None:
            bounds.append(f"_ts < {self.until}")
        return "(" + " AND ".join(bounds) + ")"

    def _report_problems(self, batch: RecordBatch, report: ReadReport) -> None:
        rows = self.db.execute(
            "SELECT _n, _kind FROM parsed WHERE _kind IN ('invalid', 'other') ORDER BY _n"
        ).fetchall()
        for number, kind in rows:
            report.problem(batch.file, number, PROBLEM_REASONS[kind])

    def _count(self, stats: EngineStats) -> None:
        rows = self.db.execute(
            "SELECT _source, _in_range, count(*) FROM parsed WHERE _kind = 'object' GROUP BY ALL"
        ).fetchall()
        for source_id, in_range, count in rows:
            stats.records += count
            if source_id is None:
                stats.unrecognised += count
            elif not in_range:
                stats.out_of_range += count
            else:
                stats.by_source[source_id] = stats.by_source.get(source_id, 0) + count

    def _single_event_sql(self) -> str | None:
        selects = []
        for index, detection in enumerate(self._alerting):
            entity = (
                f"{quote_identifier(detection.entity_field)}::VARCHAR"
                if detection.entity_field
                else "NULL::VARCHAR"
            )
            selects.append(
                f"SELECT {index} AS r, _pos, _n, _ts, {entity} AS entity "
                f"FROM {quote_identifier(detection.query.table)} WHERE {detection.query.where}"
            )
        return " UNION ALL ".join(selects) or None

    @property
    def _alerting(self) -> list[Detection]:
        return [d for d in self.plan.detections if d.alerts]

    def _single_event_hits(self, batch: RecordBatch, file_index: int) -> list[Hit]:
        if not self._hits_sql:
            return []
        rows = self.db.execute(self._hits_sql).fetchall()
        if not rows:
            return []
        texts = batch.texts_at(pos for _, pos, _, _, _ in rows)
        alerting = self._alerting
        return [
            Hit(alerting[r], file_index, n, ts, text, entity)
            for (r, _, n, ts, entity), text in zip(rows, texts, strict=True)
        ]

    def _correlation_rows_sql(self) -> str | None:
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
                    f"{value} FROM {quote_identifier(slot.detection.query.table)} "
                    f"WHERE ({slot.detection.query.where}) AND _ts IS NOT NULL{present}"
                )
        return "INSERT INTO corr_rows " + " UNION ALL ".join(selects) if selects else None

    # -- correlations -------------------------------------------------------------------------

    def _correlate(self, correlation: Correlation, index: int) -> list[Occurrence]:
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
                "SELECT DISTINCT ON (r.eid) r.eid, r.ts FROM corr_rows r JOIN wanted USING (eid)"
            ).fetchall()
        finally:
            self.db.unregister("wanted")
        return {eid: Evidence(eid // EID_FILE_FACTOR, eid % EID_FILE_FACTOR, ts) for eid, ts in rows}

    def close(self) -> None:
        self.db.close()
        self._spill.cleanup()


def _read_times_as_utc(db: duckdb.DuckDBPyConnection) -> None:
    """A time without a zone is UTC. Without the ICU extension DuckDB reads it so already; with ICU it
    would take the machine's zone, so the session zone is set where ICU is there to set it."""
    with contextlib.suppress(duckdb.Error):
        db.execute("SET TimeZone = 'UTC'")


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


def _arrow_table(batch: RecordBatch) -> pa.Table:
    positions = pa.array(np.arange(len(batch), dtype=np.int64))
    table = pa.table({"text": batch.texts, "number": batch.numbers, "pos": positions})
    return pa.Table.from_batches(table.to_batches(max_chunksize=SCAN_ROWS))
