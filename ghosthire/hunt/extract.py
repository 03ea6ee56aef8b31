"""The per-batch parse, as one SQL statement built once per hunt: every record is parsed twice at most.

The first `json_extract_string` reads, for every record, only the paths that recognise a log source
(and the key that partitions its rules, e.g. Windows' EventID); that picks the record's reader. The
second reads, for the records of each reader only, the fields and time its rules use, straight into a
few slot columns (`_f0`, `_f1`, ...), so the `parsed` table stays narrow however many fields the pack
reads. Reading every field of every source for every record costs far more: most paths are absent from
any one record, yet each is looked up and takes a slot per row. (A `json_transform` struct per reader
costs more still: every row carries every reader's struct, NULL or not.)

A reader is a source, or the records of a source whose key has some values: the rules for EventID 4624
read other fields than those for EventID 1. A rule scans only its readers' rows, slots named back to
Sigma field names (`rows_sql`); a record no rule can match belongs to no reader and is not read again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ghosthire.hunt.backend import RAW_FIELD, quote_identifier, quote_literal
from ghosthire.hunt.plan import Detection, HuntPlan
from ghosthire.model.sources import Source, json_path, path_variants

# A record's epoch seconds from ISO 8601 text (TimeZone is UTC) or epoch seconds / milliseconds.
TIMESTAMP_MACRO = """
CREATE MACRO ghosthire_ts(x) AS coalesce(
    epoch(TRY_CAST(x AS TIMESTAMPTZ)),
    CASE WHEN TRY_CAST(x AS DOUBLE) >= 1e11 THEN TRY_CAST(x AS DOUBLE) / 1000 ELSE TRY_CAST(x AS DOUBLE) END
)
"""
# What a line is: parsed `tolerant`ly, an invalid line's `_r` is NULL, so valid objects are parsed once.
KIND_SQL = (
    "CASE WHEN _r IS NULL THEN (CASE WHEN trim(text, ' \t\r\n') = '' THEN 'blank' ELSE 'invalid' END) "
    "WHEN starts_with(text, '{') OR json_type(text) = 'OBJECT' THEN 'object' ELSE 'other' END"
)
TEXT_COLUMN = "text"


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
        return (
            f"json_extract_string({TEXT_COLUMN}, [{', '.join(quote_literal(path) for path in self.paths)}])"
        )


@dataclass
class Reader:
    """The records of a source (or of some values of its key) and the Sigma fields its rules read; the
    `parsed` table holds a record's fields in the slot columns `_f0`, `_f1`, ... in `fields` order."""

    index: int
    source: Source
    key: str | None
    key_values: frozenset[str] | None
    fields: tuple[str, ...]
    paths: PathList = field(init=False)

    def __post_init__(self) -> None:
        self.paths = PathList("_v")

    def rows_sql(self) -> str:
        """This reader's rows of the window, columns named by Sigma field."""
        columns = [f", _k AS {quote_identifier(self.key)}"] if self.key else []
        columns += [f", _f{slot} AS {quote_identifier(name)}" for slot, name in enumerate(self.fields)]
        return f"SELECT _n, _file, _start, _ts{''.join(columns)} FROM parsed WHERE _reader = {self.index}"


class Extraction:
    """SQL for the `parsed` table (kind, source, time, reader, slots) and for each rule's rows in it."""

    def __init__(
        self,
        plan: HuntPlan,
        *,
        candidates: tuple[Source, ...],
        since: float | None = None,
        until: float | None = None,
    ) -> None:
        """`candidates`: the sources a record may be (all, or the one --source names); `since`/`until`:
        epoch seconds bounding the records kept."""
        self.candidates = candidates
        self.used = plan.sources()
        self.readers: list[Reader] = []
        for source in self.used:
            self.readers += _readers(plan, source, first_index=len(self.readers))
        self.recognition = PathList("_r")
        # Every expression is built before the path lists are read into calls: building one adds its paths.
        source_sql = quote_literal(candidates[0].id) if len(candidates) == 1 else self._source_case()
        key_sql = self._key_case()
        self._width = max((len(reader.fields) for reader in self.readers), default=0)
        fields_sql = self._fields_case()
        bounds = [f"_ts >= {since}"] * (since is not None) + [f"_ts < {until}"] * (until is not None)
        in_range = "(" + " AND ".join(["true", *bounds]) + ")"
        slots = "".join(f", _s.f{slot}" for slot in range(self._width))
        self._head = "WITH lines AS (SELECT file, number, start, text, "
        self._tail = (
            f" AS _r FROM batch), kinds AS (SELECT *, {KIND_SQL} AS _kind FROM lines), "
            f"tagged AS (SELECT *, CASE WHEN _kind = 'object' THEN {source_sql} END AS _source FROM kinds), "
            f"keyed AS (SELECT *, {key_sql} AS _k FROM tagged), "
            f"assigned AS (SELECT * EXCLUDE (_r), {self._reader_case()} AS _any_reader FROM keyed), "
            f"read AS (SELECT *, {self._reads_case()} AS _v FROM assigned), "
            f"fielded AS (SELECT *, {fields_sql} AS _s FROM read), "
            "timed AS (SELECT *, ghosthire_ts(_s.ts) AS _ts FROM fielded), "
            f"ranged AS (SELECT *, {in_range} AS _in_range FROM timed) "
            "SELECT number, start, file, _kind, _source, _ts, _in_range, "
            f"CASE WHEN _in_range THEN _any_reader END, _k{slots} FROM ranged"
        )

    def parsed_table_sql(self) -> str:
        """CREATE the empty `parsed` table that `parse_sql` fills."""
        slots = "".join(f", _f{slot} VARCHAR" for slot in range(self._width))
        return (
            "CREATE OR REPLACE TEMP TABLE parsed (_n BIGINT, _start BIGINT, _file BIGINT, _kind VARCHAR, "
            f"_source VARCHAR, _ts DOUBLE, _in_range BOOLEAN, _reader INTEGER, _k VARCHAR{slots})"
        )

    def parse_sql(self, *, tolerant: bool) -> str:
        """INSERT the registered `batch` (columns text, number, start, file) into `parsed`. Unless
        `tolerant`, a malformed line fails the statement: `try` costs a sixth of the parse, so a batch is
        parsed without it first and again with it only when it holds a malformed line."""
        return f"INSERT INTO parsed {self._head}{self._first_parse(tolerant)}{self._tail}"

    def _first_parse(self, tolerant: bool) -> str:
        """The recognition paths, or only the JSON check when no recogniser reads a path."""
        if not self.recognition.paths:
            return "CASE WHEN json_valid(text) THEN true END"
        return f"try({self.recognition.call()})" if tolerant else self.recognition.call()

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

    def _key_case(self) -> str:
        """The partitioning key's value, for the sources that have one (read with the recognition paths)."""
        keys = {reader.source.id: (reader.source, reader.key) for reader in self.readers if reader.key}
        branches = [
            f"WHEN {quote_literal(source_id)} THEN {self.recognition.value(source.paths_of(key))}"
            for source_id, (source, key) in keys.items()
        ]
        return f"CASE _source {' '.join(branches)} END" if branches else "NULL::VARCHAR"

    def _reader_case(self) -> str:
        branches = []
        for reader in self.readers:
            condition = f"_source = {quote_literal(reader.source.id)}"
            if reader.key_values is not None:
                condition += f" AND _k IN ({_listed(reader.key_values)})"
            branches.append(f"WHEN {condition} THEN {reader.index}")
        return f"CASE {' '.join(branches)} END" if branches else "NULL::INTEGER"

    def _reads_case(self) -> str:
        """The second parse: for each reader's records, the paths of its fields and time (one list)."""
        branches = [
            f"WHEN {reader.index} THEN {reader.paths.call()}" for reader in self.readers if reader.paths.paths
        ]
        return f"CASE _any_reader {' '.join(branches)} END" if branches else "NULL::VARCHAR[]"

    def _fields_case(self) -> str:
        """Each reader's time and fields as one struct: one CASE over the readers, where a CASE per slot
        would test every reader again for every slot."""
        branches = [f"WHEN {reader.index} THEN {self._fields(reader)}" for reader in self.readers]
        return f"CASE _any_reader {' '.join(branches)} END" if branches else self._fields(None)

    def _fields(self, reader: Reader | None) -> str:
        time = reader.paths.value(reader.source.time) if reader is not None and reader.source.time else "NULL"
        slots = [
            self._field(reader, reader.fields[slot])
            if reader is not None and slot < len(reader.fields)
            else "NULL"
            for slot in range(self._width)
        ]
        return (
            "{"
            + ", ".join([f"'ts': {time}::VARCHAR"] + [f"'f{n}': {v}::VARCHAR" for n, v in enumerate(slots)])
            + "}"
        )

    @staticmethod
    def _field(reader: Reader, name: str) -> str:
        # Keyword (unbound value) searches read the record's text.
        return TEXT_COLUMN if name == RAW_FIELD else reader.paths.value(reader.source.paths_of(name))

    def readers_of(self, detection: Detection) -> list[Reader]:
        """The readers whose records a rule can match."""
        return [
            reader
            for reader in self.readers
            if reader.source.id == detection.query.table
            and (
                reader.key_values is None
                or reader.key_values & detection.query.required_numbers.get(reader.key or "", frozenset())
            )
        ]

    def rows_sql(self, detection: Detection, filled: set[int]) -> str | None:
        """The rows a rule scans: those of its readers that are among the filled ones, columns named by
        Sigma field; None when no reader of the rule is filled."""
        readers = [reader for reader in self.readers_of(detection) if reader.index in filled]
        return _union(readers) if readers else None

    def source_rows_sql(self, source_id: str) -> str:
        """Every row read for a source, with every field any of its readers reads."""
        return _union([reader for reader in self.readers if reader.source.id == source_id])


def _readers(plan: HuntPlan, source: Source, *, first_index: int) -> list[Reader]:
    """One reader for the source, or one per set of key values whose rules read the same fields."""
    partition = plan.partition_of(source.id)
    if partition is None:
        return [Reader(first_index, source, None, None, tuple(sorted(plan.fields_of(source.id))))]
    values_by_fields: dict[frozenset[str], list[str]] = {}
    for value, fields in sorted(partition.fields_by_value.items()):
        values_by_fields.setdefault(fields - {partition.key}, []).append(value)
    return [
        Reader(first_index + offset, source, partition.key, frozenset(values), tuple(sorted(fields)))
        for offset, (fields, values) in enumerate(values_by_fields.items())
    ]


def _union(readers: list[Reader]) -> str:
    return " UNION ALL BY NAME ".join(f"({reader.rows_sql()})" for reader in readers)


def _listed(values: Iterable[str]) -> str:
    return ", ".join(map(quote_literal, sorted(values)))
