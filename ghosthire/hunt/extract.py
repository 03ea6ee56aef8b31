"""The per-batch parse, as SQL built once per hunt: every record is parsed twice at most.

The first `json_extract_string` reads, for every record, only the paths that recognise a log source
(and the field that partitions its rules, e.g. Windows' EventID); the second reads the fields and time
of the rules the record can match, only for sources some rule reads. Reading every field of every
source for every record costs far more: most paths are absent from any one record, yet each takes a
slot per row, and past a few dozen slots a row's values no longer fit in the CPU's caches.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ghosthire.hunt.backend import RAW_FIELD, quote_identifier, quote_literal
from ghosthire.hunt.plan import HuntPlan
from ghosthire.hunt.sources import Source, json_path, path_variants

# A record's epoch seconds from ISO 8601 text (TimeZone is UTC) or epoch seconds / milliseconds.
TIMESTAMP_MACRO = """
CREATE MACRO ghosthire_ts(x) AS coalesce(
    epoch(TRY_CAST(x AS TIMESTAMPTZ)),
    CASE WHEN TRY_CAST(x AS DOUBLE) >= 1e11 THEN TRY_CAST(x AS DOUBLE) / 1000 ELSE TRY_CAST(x AS DOUBLE) END
)
"""
# What a line is: `try` turns invalid JSON into NULL, so valid objects are parsed once.
KIND_SQL = (
    "CASE WHEN _r IS NULL THEN (CASE WHEN trim(text, ' \t\r\n') = '' THEN 'blank' ELSE 'invalid' END) "
    "WHEN starts_with(text, '{') OR json_type(text) = 'OBJECT' THEN 'object' ELSE 'other' END"
)


@dataclass
class PathList:
    """JSON paths read by one `json_extract_string` call; a raw path maps to its (1-based) slots."""

    column: str
    paths: list[str] = field(default_factory=list)

    def slots(self, raw_path: str) -> list[int]:
        """Slots of every way the raw path may be stored (nested objects or flattened dotted keys)."""
        found = []
        for keys in path_variants(raw_path):
            path = json_path(keys)
            if path not in self.paths:
                self.paths.append(path)
            found.append(self.paths.index(path) + 1)
        return found

    def value(self, raw_paths: Iterable[str]) -> str:
        """SQL for the first present of several raw paths."""
        elements = [f"{self.column}[{slot}]" for path in raw_paths for slot in self.slots(path)]
        return elements[0] if len(elements) == 1 else f"coalesce({', '.join(elements)})"

    def call(self) -> str:
        return f"json_extract_string(text, [{', '.join(quote_literal(path) for path in self.paths)}])"


@dataclass
class Reader:
    """One second-parse call: the fields some records of a source need, for the records `condition` picks."""

    paths: PathList
    condition: str
    fields: frozenset[str]


class Extraction:
    """SQL for a batch: the `parsed` table (kind, source, time, fields) and one table per source."""

    def __init__(self, plan: HuntPlan, *, candidates: tuple[Source, ...]) -> None:
        """`candidates`: the sources a record may be (all, or the one --source names)."""
        self.candidates = candidates
        self.recognition = PathList("_r")
        self._source_sql = quote_literal(candidates[0].id) if len(candidates) == 1 else self._source_case()
        used = plan.sources()
        # source id -> (the source, its partitioning field, the column holding that field's value)
        self._keys: dict[str, tuple[Source, str, str]] = {}
        self.readers: dict[str, list[Reader]] = {
            s.id: self._readers(plan, s, index) for index, s in enumerate(used)
        }
        self._time_sql = self._time_case(used)
        self._keys_sql = "".join(
            f", CASE WHEN _source = {quote_literal(source.id)} THEN "
            f"{self.recognition.value(source.paths_of(name))} END AS {key}"
            for source, name, key in self._keys.values()
        )
        # Keyword (unbound value) searches read the record's text: only those sources keep it.
        self.raw_sources = [s.id for s in used if RAW_FIELD in plan.fields_of(s.id)]
        self.source_tables = {s.id: self._source_table_sql(s, plan.fields_of(s.id)) for s in used}

    def _readers(self, plan: HuntPlan, source: Source, index: int) -> list[Reader]:
        is_source = f"_source = {quote_literal(source.id)}"
        partition = plan.partition_of(source.id)
        if partition is None:
            return [Reader(PathList(f"_v{index}"), is_source, frozenset(plan.fields_of(source.id)))]
        key = f"_k{index}"
        self._keys[source.id] = (source, partition.key, key)
        values_by_fields: dict[frozenset[str], list[str]] = {}
        for value, fields in sorted(partition.fields_by_value.items()):
            values_by_fields.setdefault(fields - {partition.key}, []).append(value)
        return [
            Reader(PathList(f"_v{index}_{group}"), f"{is_source} AND {key} IN ({_listed(values)})", fields)
            for group, (fields, values) in enumerate(values_by_fields.items())
        ]

    def parsed_sql(self, file_index: int, time_filter: str) -> str:
        """CREATE the `parsed` table from the registered `batch` (columns text, number, pos)."""
        raw = (
            f", CASE WHEN _source IN ({_listed(self.raw_sources)}) THEN text END AS {RAW_FIELD}"
            if self.raw_sources
            else ""
        )
        reads = raw + "".join(
            f", CASE WHEN {reader.condition} THEN {reader.paths.call()} END AS {reader.paths.column}"
            for readers in self.readers.values()
            for reader in readers
            if reader.paths.paths
        )
        return (
            "CREATE OR REPLACE TEMP TABLE parsed AS "
            f"WITH lines AS (SELECT pos, number, text, {self._first_parse()} AS _r FROM batch), "
            f"kinds AS (SELECT *, {KIND_SQL} AS _kind FROM lines), "
            f"tagged AS (SELECT *, CASE WHEN _kind = 'object' THEN {self._source_sql} END AS _source FROM kinds), "
            f"keyed AS (SELECT *{self._keys_sql} FROM tagged), "
            f"read AS (SELECT * EXCLUDE (text, _r){reads} FROM keyed), "
            f"timed AS (SELECT *, {self._time_sql} AS _ts FROM read) "
            f"SELECT * EXCLUDE (pos, number), pos AS _pos, number AS _n, {file_index}::BIGINT AS _file, "
            f"{time_filter} AS _in_range FROM timed"
        )

    def _first_parse(self) -> str:
        """The recognition paths, or only the JSON check when the source is given (NULL: invalid)."""
        if self.recognition.paths:
            return f"try({self.recognition.call()})"
        return "CASE WHEN json_valid(text) THEN true END"

    def _value(self, source: Source, raw_paths: list[str], field_name: str | None) -> str:
        """A field (or, with None, the time) of a source's record, from whichever reader read it."""
        readers = [r for r in self.readers[source.id] if field_name is None or field_name in r.fields]
        if len(readers) == 1:
            return readers[0].paths.value(raw_paths)
        # A record was read by one reader at most: only that reader's branch is evaluated for it.
        branches = " ".join(
            f"WHEN {r.paths.column} IS NOT NULL THEN {r.paths.value(raw_paths)}" for r in readers
        )
        return f"CASE {branches} END"

    def _source_table_sql(self, source: Source, fields: set[str]) -> str:
        """One source's table: a column per Sigma field the rules read, named by that field."""
        columns = "".join(
            f", {self._column(source, name)} AS {quote_identifier(name)}" for name in sorted(fields)
        )
        picked = f"_source = {quote_literal(source.id)} AND _in_range"
        if source.id in self._keys:
            picked += (
                " AND (" + " OR ".join(f"({reader.condition})" for reader in self.readers[source.id]) + ")"
            )
        return (
            f"CREATE OR REPLACE TEMP TABLE {quote_identifier(source.id)} AS SELECT _pos, _n, _file, _ts{columns} "
            f"FROM parsed WHERE {picked}"
        )

    def _column(self, source: Source, name: str) -> str:
        if name == RAW_FIELD:
            return RAW_FIELD
        if source.id in self._keys and self._keys[source.id][1] == name:
            return self._keys[source.id][2]
        return self._value(source, source.paths_of(name), name)

    def _source_case(self) -> str:
        branches = []
        for source in self.candidates:
            alternatives = [
                "(" + " AND ".join(self._recognised(path, value) for path, value in alternative.items()) + ")"
                for alternative in source.recognize
            ]
            branches.append(f"WHEN {' OR '.join(alternatives)} THEN {quote_literal(source.id)}")
        return "CASE " + " ".join(branches) + " END"

    def _recognised(self, path: str, value: object) -> str:
        column = self.recognition.value([path])
        if value is None:
            return f"{column} IS NOT NULL"
        return f"lower({column}) = {quote_literal(str(value).lower())}"

    def _time_case(self, used: list[Source]) -> str:
        branches = [
            f"WHEN {quote_literal(source.id)} THEN ghosthire_ts({self._value(source, source.time, None)})"
            for source in used
            if source.time
        ]
        return "CASE _source " + " ".join(branches) + " END" if branches else "NULL::DOUBLE"


def _listed(values: list[str]) -> str:
    return ", ".join(map(quote_literal, values))
