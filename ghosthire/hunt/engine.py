"""The local hunt engine in two stages: ingest-and-match, then correlate.

Ingest and match are one DuckDB statement (ghosthire.hunt.extract), planned once per hunt: DuckDB
pulls the input's batches as an Arrow stream and keeps, in the `outcomes` table, the records that
matched or are malformed and the count of the others by file and source. Memory grows with the
matches, not with the input. The matches are then one row per target they feed (`matches`): the
alerting rules' become hits, and the correlations run over the rest, over true sliding windows (one
candidate window per event, as SigmaHQ's SQLite backend does). The events a correlation alert cites are
read back from the input at the end (ghosthire.hunt.run), by where their lines start.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

import duckdb
import numpy as np
import pyarrow as pa

from ghosthire.hunt.backend import quote_literal
from ghosthire.hunt.extract import (
    DEEP,
    LISTED_OBJECT,
    MAX_LIST_DEPTH,
    OBJECT,
    PROBLEM_KINDS,
    TEXT_COLUMN,
    TIMESTAMP_MACRO,
    Extraction,
    PathList,
)
from ghosthire.hunt.plan import Correlation, Detection, HuntPlan
from ghosthire.hunt.readers import ReadReport, RecordBatch
from ghosthire.model.sources import load_sources, source_by_id

# An event's id across the hunt: its file's index times this, plus its line (or record) number.
EID_FILE_FACTOR = 1 << 40
# Arrow record batches of this many rows let DuckDB scan one batch on several threads.
SCAN_ROWS = 32 * 1024
# Hits read into Python this many at a time (those a later stage drops are not held).
HIT_ROWS = 64 * 1024
# DuckDB's vector: the rules cost a fixed time per vector evaluated, full or not.
VECTOR_ROWS = 2048
UNHELPFUL_OPTIMIZERS = (
    "expression_rewriter",
    "common_subexpressions",
    "projection_pullup",
    "statistics_propagation",
    "filter_pushdown",
)
PROBLEM_REASONS = dict(
    zip(PROBLEM_KINDS, ("malformed JSON (truncated or invalid)", "not a JSON object"), strict=True)
)
# One row per (matched record, target): the target, the entity, group values and value it reads (the
# group-by and value fields lower-cased), and the record's file, number, start, time and (for an alerting
# rule's match) text.
MATCHES_SQL = (
    "CREATE OR REPLACE TEMP TABLE matches AS WITH flat AS (SELECT file, number, start, ts, matched_text, "
    "record_group, field_values, unnest(matches) AS target FROM outcomes WHERE matches IS NOT NULL) "
    "SELECT file, number, start, ts, matched_text, target, field_values[entity] AS entity, "
    "list_transform(list_select(field_values, group_fields), lambda v: lower(v)) AS group_values, "
    "lower(field_values[value_field]) AS value FROM flat LEFT JOIN target_reads USING (target, record_group)"
)
# The copies of a record (one per value of a key that holds a list) keep each target in the first copy
# that matched it.
FIRST_MATCH_OF_COPIES_SQL = (
    "CREATE OR REPLACE TEMP TABLE listed AS WITH earlier AS (SELECT *, flatten(coalesce(list(matches) "
    "OVER (PARTITION BY file, number ORDER BY copy ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), [])) "
    "AS _earlier FROM listed WHERE number IS NOT NULL) SELECT * EXCLUDE (_earlier) REPLACE (nullif("
    "list_filter(matches, lambda target: NOT list_contains(_earlier, target)), []) AS matches) FROM earlier"
)
PRESENT_GROUPS_SQL = "SELECT DISTINCT _group FROM grouped_records WHERE _group IS NOT NULL"
TARGET_READS_SCHEMA = pa.schema(
    [
        ("target", pa.int32()),
        ("record_group", pa.int32()),
        ("entity", pa.int64()),
        ("group_fields", pa.list_(pa.int64())),
        ("value_field", pa.int64()),
    ]
)


@dataclass(frozen=True, slots=True)
class Hit:
    """A single-event rule matched one record (`values`: those of its detection's `later_fields`; the
    record's text is read with HuntEngine.texts, for the hits that become alerts)."""

    detection: Detection
    file: int
    line: int
    ts: float | None
    start: int | None
    entity: str | None
    values: tuple[str | None, ...]


@dataclass(frozen=True, slots=True)
class Occurrence:
    """A correlation fired for one group in the window ending at `end` (one per qualifying event)."""

    correlation: Correlation
    group: tuple[str, ...]
    start: float
    end: float
    metric: float
    evidence: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Evidence:
    """Where an event a correlation alert cites is: its file's index, line, time and line start."""

    file: int
    line: int
    ts: float | None
    start: int | None


# The shapes of a field that hold what no rule value can equal (see extract's shapes).
UNCOMPARABLE = (OBJECT, DEEP, LISTED_OBJECT)


@dataclass(frozen=True)
class Uncomparable:
    """Records of one file whose field holds what no Sigma value can equal (`shape`): a JSON object, whose
    JSON text the rules compare, or lists nested deeper than the engine reads them, whose deeper values
    they do not. The records are kept and matched on their other fields and values."""

    field: str
    file: str
    records: int
    first_line: int
    shape: str = OBJECT

    def what(self) -> str:
        if self.shape == DEEP:
            return f"holds lists nested more than {MAX_LIST_DEPTH} deep, whose deeper values no rule compares"
        if self.shape == LISTED_OBJECT:
            return "holds a list with a JSON object in it, which no rule value can equal (its other values compared)"
        return "holds a JSON object, which no rule value can equal (compared as its JSON text)"


@dataclass(frozen=True)
class EngineStats:
    """What the engine read: records in all, by source, not recognised (also by input file), outside
    --since/--until; the fields no rule could compare; the seconds it took."""

    records: int
    by_source: dict[str, int]
    unrecognised: int
    # Input file -> records in it no source recognised.
    unrecognised_in: dict[str, int]
    out_of_range: int
    uncomparable: list[Uncomparable]
    elapsed: float


@dataclass(frozen=True)
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
        small_input: bool = False,
    ) -> None:
        """`small_input`: the input is read into a table on one thread, and the rules are matched over it
        in parts, each planned alone (see Extraction.match_in_parts_sql); a large input is streamed
        through one statement of all the rules on every core."""
        self.plan = plan
        self.small_input = small_input
        self._spill = tempfile.TemporaryDirectory(prefix="ghosthire-")
        self.db = duckdb.connect(
            config={
                "memory_limit": memory_limit,
                "temp_directory": self._spill.name,
                "preserve_insertion_order": False,
            }
        )
        # The command shows its own progress (or none: --no-progress, not a terminal), never DuckDB's.
        self.db.execute("SET enable_progress_bar = false")
        if small_input:
            # Each of DuckDB's threads holds its own state of every rule's expressions, and one thread
            # reads a small input as fast.
            self.db.execute("SET threads = 1")
        _read_times_as_utc(self.db)
        # The hunt statement is large (thousands of rules) and already simple: these optimizers would
        # rewrite every expression of it for nothing, and cost more than the rest of its planning.
        self.db.execute(f"SET disabled_optimizers = '{','.join(UNHELPFUL_OPTIMIZERS)}'")
        self.db.execute(TIMESTAMP_MACRO)
        candidates = (source_by_id(source),) if source else load_sources()
        self._bounds = {
            "candidates": candidates,
            "since": since.timestamp() if since else None,
            "until": until.timestamp() if until else None,
        }
        self.extraction = Extraction(plan, **self._bounds)

    def run(
        self,
        batches: Iterable[RecordBatch],
        report: ReadReport,
        on_batch: Callable[[RecordBatch], None] | None = None,
        keep: Callable[[Hit], bool] | None = None,
    ) -> EngineResult:
        """Ingest and match in one streamed statement; then the correlations over what fed them. `keep`:
        which hits a later stage keeps (the others are dropped as they are read, not held)."""
        started = time.perf_counter()
        feed = _Feed(iter(batches), on_batch)
        self.db.register("batch", pa.RecordBatchReader.from_batches(BATCH_SCHEMA, feed.stream()))
        try:
            self._match(self.extraction, into="outcomes")
        except duckdb.Error:
            if feed.failure is None:
                raise
        finally:
            self.db.unregister("batch")
        if feed.failure is not None:
            raise feed.failure
        self._match_lists()
        files = {index: name for name, index in feed.files.items()}
        self._report_problems(report, files)
        report.sort()
        reads = [
            dict(zip(TARGET_READS_SCHEMA.names, read, strict=True)) for read in self.extraction.target_reads
        ]
        self.db.register("target_reads", pa.Table.from_pylist(reads, schema=TARGET_READS_SCHEMA))
        try:
            self.db.execute(MATCHES_SQL)
        finally:
            self.db.unregister("target_reads")
        hits = self._hits(keep)
        self._load_correlation_inputs()
        occurrences = self._correlate()
        evidence = self._evidence(occurrences)
        # Only `outcomes` is read after the run (texts): the copies of the matches go before the texts come.
        self.db.execute("DROP TABLE matches; DROP TABLE correlation_inputs")
        stats = self._stats(files, started)
        return EngineResult(hits, occurrences, evidence, stats, report, files)

    def source_rows(self, batches: Iterable[RecordBatch]) -> dict[str, pa.Table]:
        """Each source's records as the rules read them, columns named by Sigma field (the differential
        tests load them into SQLite to run SigmaHQ's backend on exactly what this engine sees)."""
        texts = [_arrow_table(batch, index) for index, batch in enumerate(batches)]
        tables = {}
        for source in self.extraction.used:
            self.db.register("batch", pa.concat_tables(texts) if texts else BATCH_SCHEMA.empty_table())
            try:
                tables[source.id] = self.db.sql(self.extraction.source_rows_sql(source.id)).to_arrow_table()
            finally:
                self.db.unregister("batch")
        return tables

    def _match(self, extraction: Extraction, *, into: str) -> None:
        """The outcomes of the records of `batch` into the table `into`: one statement, or (small input)
        the records read into a table first and the rules matched over it in parts."""
        if not self.small_input:
            # Executed into a table, not read through a relation: planning a statement of thousands of
            # rules is most of a small hunt's time, and a relation would parse and bind it twice more.
            self.db.execute(f"CREATE OR REPLACE TEMP TABLE {into} AS {extraction.hunt_sql()}")
            return
        # The record groups first: only the fields and rules of the groups the input holds are planned.
        self.db.execute(f"CREATE OR REPLACE TEMP TABLE grouped_records AS {extraction.grouped_sql()}")
        try:
            present = {group for (group,) in self.db.execute(PRESENT_GROUPS_SQL).fetchall()}
            self.db.execute(
                f"CREATE OR REPLACE TEMP TABLE records AS {extraction.records_sql('grouped_records', present)}"
            )
        finally:
            self.db.execute("DROP TABLE IF EXISTS grouped_records")
        self.db.execute(
            "CREATE OR REPLACE TEMP TABLE record_matches "
            "(file BIGINT, number BIGINT, _copy INTEGER, targets INTEGER[])"
        )
        try:
            for part in extraction.match_in_parts_sql("records", present):
                self.db.execute(f"INSERT INTO record_matches {part}")
            self.db.execute(
                f"CREATE OR REPLACE TEMP TABLE {into} AS "
                f"{extraction.outcomes_in_parts_sql('records', 'record_matches')}"
            )
        finally:
            self.db.execute("DROP TABLE IF EXISTS records")
            self.db.execute("DROP TABLE IF EXISTS record_matches")

    def _match_lists(self) -> None:
        """The records whose key or fields may hold JSON arrays matched again, by rules that also test each
        element (a statement planned only when the input has such records): their matches replace the
        first's. A key that holds a list gives one copy of the record per value: the first copy replaces
        the record's outcome, the others are added (counting no record), and a target matched by several
        copies is kept in the first that matched it."""
        if not self.db.execute("SELECT count(*) FROM outcomes WHERE listed_text IS NOT NULL").fetchone()[0]:
            return
        extraction = Extraction(self.plan, **self._bounds, on_lists=True)
        self.db.execute(
            "CREATE OR REPLACE TEMP VIEW batch AS SELECT listed_text AS text, number, start, file "
            "FROM outcomes WHERE listed_text IS NOT NULL"
        )
        try:
            self._match(extraction, into="listed")
        finally:
            self.db.execute("DROP VIEW batch")
        self.db.execute(FIRST_MATCH_OF_COPIES_SQL)
        self.db.execute(
            "UPDATE outcomes SET matches = listed.matches, matched_text = listed.matched_text, "
            "field_values = listed.field_values, shapes = listed.shapes, record_group = listed.record_group "
            "FROM listed WHERE outcomes.listed_text IS NOT NULL AND listed.copy = 1 "
            "AND outcomes.file = listed.file AND outcomes.number = listed.number"
        )
        self.db.execute(
            "INSERT INTO outcomes BY NAME SELECT * REPLACE (0::BIGINT AS records, NULL AS shapes, "
            "NULL AS listed_text) FROM listed WHERE copy > 1 AND matches IS NOT NULL"
        )

    def _uncomparable(self, files: dict[int, str]) -> list[Uncomparable]:
        """Per field, shape and file, the records whose field no value can equal, and the first one's line."""
        rows = self.db.execute(
            "SELECT file, number, source, record_group, shapes FROM outcomes "
            f"WHERE list_has_any(shapes, [{', '.join(map(quote_literal, UNCOMPARABLE))}]) ORDER BY file, number"
        ).fetchall()
        keys = {group.source.id: group.key for group in self.extraction.groups}
        found: dict[tuple[str, str, int], list[int]] = {}
        for file_index, number, source, group, shapes in rows:
            fields = self.extraction.groups[group].fields if group is not None else ()
            for name, shape in zip([keys.get(source), *fields], shapes, strict=True):
                if shape in UNCOMPARABLE and name is not None:
                    found.setdefault((name, shape, file_index), []).append(number)
        return [
            Uncomparable(name, files[file_index], len(numbers), numbers[0], shape)
            for (name, shape, file_index), numbers in sorted(found.items())
        ]

    def _report_problems(self, report: ReadReport, files: dict[int, str]) -> None:
        rows = self.db.execute(
            "SELECT file, number, kind FROM outcomes "
            f"WHERE kind IN ({', '.join(map(quote_literal, PROBLEM_KINDS))}) ORDER BY ALL"
        ).fetchall()
        for file_index, number, kind in rows:
            report.problem(files[file_index], number, PROBLEM_REASONS[kind])

    def _stats(self, files: dict[int, str], started: float) -> EngineStats:
        """The counts of what was read, once the run is done (`started`: when it began)."""
        rows = self.db.execute(
            "SELECT file, source, in_range, sum(records)::BIGINT FROM outcomes WHERE kind = 'object' "
            "GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        by_source: Counter[str] = Counter()
        unrecognised_in: Counter[str] = Counter()
        out_of_range = 0
        for file_index, source_id, in_range, count in rows:
            if source_id is None:
                unrecognised_in[files[file_index]] += count
            elif not in_range:
                out_of_range += count
            else:
                by_source[source_id] += count
        return EngineStats(
            records=sum(count for *_, count in rows),
            by_source=dict(by_source),
            unrecognised=unrecognised_in.total(),
            unrecognised_in=dict(unrecognised_in),
            out_of_range=out_of_range,
            uncomparable=self._uncomparable(files),
            elapsed=time.perf_counter() - started,
        )

    def _hits(self, keep: Callable[[Hit], bool] | None) -> list[Hit]:
        targets = self.extraction.targets
        result = self.db.execute(
            f"WITH hits AS (SELECT *, matched_text AS {TEXT_COLUMN} FROM matches "
            f"WHERE target < {self.extraction.alerting}), {self._later_values()}"
        )
        hits: list[Hit] = []
        while rows := result.fetchmany(HIT_ROWS):
            read = (
                Hit(targets[target].detection, file, line, ts, start, entity, tuple(values or ()))
                for target, file, line, ts, start, entity, values in rows
            )
            hits.extend(filter(keep, read) if keep else read)
        return hits

    def _later_values(self) -> str:
        """The end of the hits' query: each hit's values of its detection's `later_fields`, read from its
        text where the rule's source keeps each field (NULL for detections that read none)."""
        paths = PathList("_later")
        branches = {
            index: ", ".join(
                paths.value(source_by_id(target.detection.query.table).paths_of(name))
                for name in target.detection.later_fields
            )
            for index, target in enumerate(self.extraction.targets[: self.extraction.alerting])
            if target.detection.later_fields
        }
        columns = "target, file, number, ts, start, entity"
        if not branches:
            return f"read AS (SELECT * FROM hits) SELECT {columns}, NULL FROM read"
        reading = ", ".join(map(str, branches))
        cases = " ".join(f"WHEN {index} THEN [{values}]" for index, values in branches.items())
        return (
            f"read AS (SELECT *, CASE WHEN target IN ({reading}) THEN {paths.call()} END AS _later FROM hits) "
            f"SELECT {columns}, CASE target {cases} END FROM read"
        )

    def texts(self, files: np.ndarray, lines: np.ndarray) -> pa.Table:
        """The text of matched records (file index and line of each): how hits that became alerts get
        theirs, as an Arrow table of file, number and text (each record once)."""
        wanted = pa.table({"file": pa.array(files, pa.int64()), "number": pa.array(lines, pa.int64())})
        self.db.register("wanted", wanted)
        try:
            return self.db.sql(
                "SELECT file, number, any_value(matched_text) AS text FROM outcomes "
                "JOIN wanted USING (file, number) WHERE matched_text IS NOT NULL GROUP BY ALL"
            ).to_arrow_table()
        finally:
            self.db.unregister("wanted")

    def _load_correlation_inputs(self) -> None:
        """The matches that feed correlation slots, with their event ids, as `correlation_inputs`."""
        targets = self.extraction.targets
        slots = pa.table(
            {
                "target": pa.array(range(len(targets)), pa.int32()),
                "correlation": pa.array([target.correlation for target in targets], pa.int32()),
                "slot": pa.array([target.slot for target in targets], pa.int32()),
            }
        )
        self.db.register("target_slots", slots)
        try:
            self.db.execute(
                "CREATE OR REPLACE TEMP TABLE correlation_inputs AS "
                f"SELECT correlation, slot, file * {EID_FILE_FACTOR} + number AS event_id, start, ts, "
                "group_values, value FROM matches JOIN target_slots USING (target) "
                f"WHERE target >= {self.extraction.alerting} "
                "AND ts IS NOT NULL AND list_count(group_values) = len(group_values)"
            )
        finally:
            self.db.unregister("target_slots")

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
            "SELECT DISTINCT group_values, ts, slot, event_id FROM correlation_inputs "
            f"WHERE correlation = {index} ORDER BY group_values, ts, slot, event_id"
        ).fetchall()
        by_group: dict[tuple[str, ...], list[tuple[float, int, int]]] = {}
        for group, ts, slot, event_id in rows:
            by_group.setdefault(tuple(group), []).append((ts, slot, event_id))
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
        self.db.register("wanted", pa.table({"event_id": pa.array(wanted, pa.int64())}))
        try:
            rows = self.db.execute(
                "SELECT DISTINCT ON (event_id) event_id, ts, start FROM correlation_inputs "
                "JOIN wanted USING (event_id)"
            ).fetchall()
        finally:
            self.db.unregister("wanted")
        return {
            eid: Evidence(eid // EID_FILE_FACTOR, eid % EID_FILE_FACTOR, ts, start) for eid, ts, start in rows
        }

    def close(self) -> None:
        self.db.close()
        self._spill.cleanup()


class _Feed:
    """The input as the Arrow stream DuckDB pulls: each batch numbered by its file. A read error is kept
    and raised again once DuckDB has stopped pulling (raised inside the stream, DuckDB would wrap it)."""

    def __init__(
        self, batches: Iterator[RecordBatch], on_batch: Callable[[RecordBatch], None] | None
    ) -> None:
        self.batches = batches
        self.on_batch = on_batch
        self.files: dict[str, int] = {}
        self.failure: BaseException | None = None

    def stream(self) -> Iterator[pa.RecordBatch]:
        """Record batches of SCAN_ROWS rows, those of small files put together: the hunt statement's
        rules cost a fixed time per chunk of rows, whatever its size."""
        pending: list[pa.Table] = []
        rows = 0
        try:
            for batch in self.batches:
                pending.append(_arrow_table(batch, self.files.setdefault(batch.file, len(self.files))))
                rows += len(batch)
                if self.on_batch:
                    self.on_batch(batch)
                if rows >= SCAN_ROWS:
                    yield from _rebatched(pending)
                    pending, rows = [], 0
            yield from _rebatched(pending)
        except BaseException as error:  # a read error: raised again once DuckDB has stopped pulling
            self.failure = error


def _read_times_as_utc(db: duckdb.DuckDBPyConnection) -> None:
    """A time without a zone is UTC. Without the ICU extension DuckDB reads it so already; with ICU it
    would take the machine's zone, so the session zone is set where ICU is there to set it."""
    with contextlib.suppress(duckdb.Error):
        db.execute("SET TimeZone = 'UTC'")


def _windowed_sql(correlation: Correlation, index: int) -> str:
    """(index, group, window end, metric, cited event ids) of each window, one per event, where the
    correlation fires: event_count, value_count or temporal over a true sliding window."""
    aggregate = {
        "event_count": "count(DISTINCT event_id)",
        "value_count": "count(DISTINCT value)",
        "temporal": "count(DISTINCT slot)",
    }[correlation.kind]
    span = correlation.timespan
    candidates = _groups_that_can_fire(correlation, index, aggregate)
    return (
        f"WITH fed AS (SELECT * FROM correlation_inputs WHERE correlation = {index}{candidates}), "
        f"windows AS (SELECT group_values, ts AS end_ts, {aggregate} OVER (PARTITION BY group_values "
        f"ORDER BY ts RANGE BETWEEN {span} PRECEDING AND CURRENT ROW) AS metric FROM fed), "
        "firing AS (SELECT DISTINCT group_values, end_ts, metric FROM windows "
        f"WHERE metric {correlation.operator} {correlation.count}) "
        f"SELECT {index} AS correlation, firing.group_values, firing.end_ts, firing.metric::BIGINT AS metric, "
        "list(DISTINCT fed.event_id ORDER BY fed.event_id) FROM firing JOIN fed "
        f"ON fed.group_values = firing.group_values AND fed.ts BETWEEN firing.end_ts - {span} AND firing.end_ts "
        "GROUP BY ALL"
    )


def _groups_that_can_fire(correlation: Correlation, index: int, aggregate: str) -> str:
    """For an at-least threshold, the groups whose rows, all windows together, reach it: no window of a
    group holds more than all its rows, and most groups (one user, one country) never come close, so
    only the few that do are windowed."""
    if correlation.operator not in (">=", ">"):
        return ""
    return (
        f" AND group_values IN (SELECT group_values FROM correlation_inputs WHERE correlation = {index} "
        f"GROUP BY group_values HAVING {aggregate} {correlation.operator} {correlation.count})"
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
    return pa.table(
        {
            "text": batch.texts,
            "number": batch.numbers,
            "start": batch.starts if batch.starts is not None else pa.nulls(size, pa.int64()),
            "file": pa.array(np.full(size, file_index, np.int64)),
        },
        schema=BATCH_SCHEMA,
    )


def _rebatched(tables: list[pa.Table]) -> Iterator[pa.RecordBatch]:
    """The rows of some tables as record batches of up to SCAN_ROWS rows; rows in chunks smaller than
    a DuckDB vector are copied together first (large NDJSON chunks are not copied)."""
    if not tables:
        return
    table = pa.concat_tables(tables)
    if table.num_rows < VECTOR_ROWS * table["text"].num_chunks:
        table = table.combine_chunks()
    yield from table.to_batches(max_chunksize=SCAN_ROWS)
