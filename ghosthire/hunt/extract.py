"""The hunt as one streamed SQL statement, built once per hunt: records in, one outcome per record out.

Ingest: the first `json_extract_string` reads, for every record, only the paths that recognise a log
source (and the key that splits its rules, e.g. Windows' EventID); that puts the record in a record
group. The second reads, for the records of each group only, the fields and time its rules use, into a
few slot columns (`_f0`, `_f1`, ...), so the statement stays narrow however many fields the rules
read. A record no rule can match belongs to no group and is not read again.

Match: each group's rules are evaluated on its records only, one `CASE` branch per group, and every rule
that matches adds its targets (numbers) to the record's `matches` list: the rule itself when it alerts,
and each correlation slot it feeds. A matched record keeps its group and slot values: the entity of an
alert and the group-by and value fields of a correlation slot are read from them (`target_reads`).

The statement is planned once, whatever the size of the input: DuckDB pulls the input as an Arrow stream
and hands back an Arrow stream of outcomes (ghosthire.hunt.engine tallies them batch by batch).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from ghosthire.hunt.backend import ELEMENTS_OF, RAW_FIELD, quote_identifier, quote_literal
from ghosthire.hunt.plan import Detection, HuntPlan
from ghosthire.model.sources import WILDCARD, Source, TextField, json_path, path_variants

# A record's epoch seconds from ISO 8601 text (TimeZone is UTC) or epoch seconds / milliseconds.
TIMESTAMP_MACRO = """
CREATE MACRO ghosthire_ts(x) AS coalesce(
    epoch(TRY_CAST(x AS TIMESTAMPTZ)),
    CASE WHEN TRY_CAST(x AS DOUBLE) >= 1e11 THEN TRY_CAST(x AS DOUBLE) / 1000 ELSE TRY_CAST(x AS DOUBLE) END
)
"""
# What a line is: a malformed line's recognition paths are NULL (`try`), so valid objects are parsed once.
KIND_SQL = (
    "CASE WHEN _recognised IS NULL THEN (CASE WHEN trim(text, ' \t\r\n') = '' THEN 'blank' ELSE 'invalid' END) "
    "WHEN starts_with(text, '{') OR json_type(text) = 'OBJECT' THEN 'object' ELSE 'other' END"
)
TEXT_COLUMN = "text"
# The kinds of line that are reported as skipped: malformed JSON, and JSON that is not an object.
PROBLEM_KINDS = ("invalid", "other")
# A matched record's values, read again for its targets: the splitting key, then each slot column.
KEY_POSITION = 1
# (target, record group, entity, group-by fields, value field): positions in a record's `field_values`.
TargetRead = tuple[int, int, int | None, list[int] | None, int | None]
# The rules' WHERE clauses (characters) matched by one statement when the rules are matched in parts.
MATCH_SQL_PER_STATEMENT = 256 * 1024
# A field's shape (its JSON type, read from the record itself: a string that spells a list is a string)
# when it is one the rules cannot read as one value; a list nested deeper than MAX_LIST_DEPTH is DEEP, a
# list holding an object (no value of the field, its other values still compared) is LISTED_OBJECT.
ARRAY, OBJECT, DEEP, LISTED_OBJECT = "ARRAY", "OBJECT", "DEEP", "LISTED_OBJECT"
# The shapes whose values the engine reads one by one.
LIST_SHAPES = (ARRAY, DEEP, LISTED_OBJECT)
# Lists inside lists are read this many levels down (Elasticsearch flattens any depth; a bound keeps a
# hostile record cheap): the values deeper still are not compared, and the record is reported.
MAX_LIST_DEPTH = 8
NULL_TYPE = "'NULL'"
# A string literal, a field's elements (`ghosthire_elements("Image")`) or a field (`"Image"`).
_QUOTED = re.compile(rf"'(?:[^']|'')*'|{ELEMENTS_OF}\(\"((?:[^\"]|\"\")*)\"\)|\"((?:[^\"]|\"\")*)\"")


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
        elements = [element for path in raw_paths for element in self._elements(path)]
        return elements[0] if len(elements) == 1 else f"coalesce({', '.join(elements)})"

    def json_type(self, raw_paths: Iterable[str], types: str) -> str:
        """SQL for the JSON type of the value `value` reads, from `types`, the list `json_type` gives for
        the same paths in the record (NULL where the value is absent or JSON null, as for the value)."""
        elements = [element for path in raw_paths for element in self._elements(path, types)]
        return f"coalesce({', '.join(f'nullif({element}, {NULL_TYPE})' for element in elements)})"

    def _elements(self, raw_path: str, types: str | None = None) -> list[str]:
        """One raw path's slots; a path through `*` (any one key) reads the object before it, then the
        rest of the path under each of its keys, the first found (one call: wildcards cannot share it).
        With `types` (see `json_type`), the JSON type of each instead."""
        prefix, wildcard, rest = raw_path.partition(f".{WILDCARD}.")
        if not wildcard:
            return [f"{types or self.column}[{slot}]" for slot in self.slots(raw_path)]
        under = quote_literal("$.*" + json_path(rest.split("."))[1:])
        function = "json_type" if types else "json_extract_string"
        return [f"{function}({self.column}[{slot}], {under})[1]" for slot in self.slots(prefix)]

    def call(self, function: str = "json_extract_string") -> str:
        return f"{function}({TEXT_COLUMN}, [{', '.join(quote_literal(path) for path in self.paths)}])"


@dataclass
class RecordGroup:
    """The records of a source (or of some values of its key; `key_values` None: every other value) and
    the Sigma fields its rules read, held in the slot columns `_f0`, `_f1`, ... in `fields` order."""

    index: int
    source: Source
    key: str | None
    key_values: frozenset[str] | None
    fields: tuple[str, ...]
    paths: PathList = field(init=False)

    def __post_init__(self) -> None:
        self.paths = PathList("_field_texts")

    def column(self, name: str) -> str:
        """SQL for a Sigma field on this group's records (keyword searches read the record itself)."""
        if name == self.key:
            return "_split_key"
        return TEXT_COLUMN if name == RAW_FIELD else f"_f{self.fields.index(name)}"

    def elements(self, name: str) -> str:
        """SQL for the values of a field that holds a JSON list, NULL when it holds none (read on the
        second statement only). The key holds one value in each copy of its record."""
        return "NULL::VARCHAR[]" if name == self.key else f"_e{self.fields.index(name)}"

    def position(self, name: str) -> int:
        """Where a Sigma field is in a matched record's `field_values` (1-based)."""
        return KEY_POSITION if name == self.key else KEY_POSITION + 1 + self.fields.index(name)

    def rows_sql(self) -> str:
        """This group's records, columns named by Sigma field (tests compare them with a reference)."""
        columns = [f", _split_key AS {quote_identifier(self.key)}"] if self.key else []
        columns += [f", {self.column(name)} AS {quote_identifier(name)}" for name in self.fields]
        return (
            f"SELECT number AS _line, file AS _file, start AS _start, _ts{''.join(columns)} "
            f"FROM ranged WHERE _group = {self.index}"
        )


@dataclass(frozen=True)
class MatchTarget:
    """What a rule's match on a record feeds: its own alert, or one slot of a correlation."""

    detection: Detection
    correlation: int | None = None
    slot: int | None = None


class Extraction:
    """The hunt statement (`hunt_sql`) and the SQL of each group's rows (`source_rows_sql`)."""

    def __init__(
        self,
        plan: HuntPlan,
        *,
        candidates: tuple[Source, ...],
        since: float | None = None,
        until: float | None = None,
        on_lists: bool = False,
    ) -> None:
        """`candidates`: the sources a record may be (all, or the one --source names); `since`/`until`:
        epoch seconds bounding the records kept; `on_lists`: match with the rules' WHERE clauses that
        also test each element of a field holding a JSON array (planned for the records that hold one)."""
        self.plan = plan
        self.on_lists = on_lists
        self.candidates = candidates
        self.used = plan.sources()
        self.groups: list[RecordGroup] = []
        for source in self.used:
            self.groups += _groups(plan, source, first_index=len(self.groups))
        self.targets = [MatchTarget(detection) for detection in plan.detections if detection.alerts] + [
            MatchTarget(slot.detection, index, position)
            for index, correlation in enumerate(plan.correlations)
            for position, slot in enumerate(correlation.slots)
        ]
        self.alerting = sum(1 for target in self.targets if target.correlation is None)
        groups_by_source: dict[str, list[RecordGroup]] = {}
        for group in self.groups:
            groups_by_source.setdefault(group.source.id, []).append(group)
        self._groups_of = {
            id(detection): [
                group
                for group in groups_by_source.get(detection.query.table, [])
                if _can_match(group, detection)
            ]
            for detection in plan.detections
        }
        self.target_reads = self._reads()
        self.recognition = PathList("_recognised")
        # Every expression is built before the path lists are read into calls: building one adds its paths.
        source_sql = quote_literal(candidates[0].id) if len(candidates) == 1 else self._source_case()
        key_sql = self._key_case()
        self._width = max((len(group.fields) for group in self.groups), default=0)
        bounds = [f"_ts >= {since}"] * (since is not None) + [f"_ts < {until}"] * (until is not None)
        self._in_range = "(" + " AND ".join(["true", *bounds]) + ")"
        self._grouping = (
            f"lines AS (SELECT file, number, start, text, {self._first_parse()} AS _recognised FROM batch), "
            f"kinds AS (SELECT *, {KIND_SQL} AS _kind FROM lines), "
            f"tagged AS (SELECT *, CASE WHEN _kind = 'object' THEN {source_sql} END AS _source FROM kinds), "
            f"keyed AS (SELECT *, {key_sql} AS _split_key FROM tagged), "
            f"{self._copies_sql()}"
            f"grouped AS (SELECT * EXCLUDE (_recognised), {self._group_case()} AS _group FROM copied)"
        )
        # The records as the rules read them: on the second statement, with their shapes and lists' values.
        self._records = "elements" if on_lists else "ranged"

    @cached_property
    def _ctes(self) -> str:
        """The CTEs of the records of `batch` as the rules read them, every group's fields read (a small
        input reads its own groups' only: see grouped_sql and records_sql)."""
        return f"{self._grouping}, {self._reading('grouped', self.groups)}"

    def _reading(self, grouped: str, groups: Sequence[RecordGroup]) -> str:
        """The CTEs that read, for the records of `grouped` (a CTE or table of records with their group),
        the time and fields of their group (for those of `groups`; any other group's fields are NULL)."""
        # The fields first: their paths are then known to the reads (and types) of each group.
        fields_sql = self._fields_case(groups)
        ctes = (
            f"read AS (SELECT *, {self._reads_case(groups)} AS _field_texts FROM {grouped}), "
            f"fielded AS (SELECT *, {fields_sql} AS _fields FROM read), "
            # The slots as columns of their own: a rule reads a column, not a field of a struct.
            "timed AS (SELECT * EXCLUDE (_fields), unnest(_fields), ghosthire_ts(_fields._time) AS _ts "
            "FROM fielded), "
            f"ranged AS (SELECT *, {self._in_range} AS _in_range FROM timed)"
        )
        if self.on_lists:
            ctes += (
                f", typed AS (SELECT *, {self._types_case(groups)} AS _field_types FROM ranged), "
                "shaped AS (SELECT * EXCLUDE (_field_types), "
                f"[_key_shape] || coalesce({self._shapes_case(groups)}, []) AS _shapes FROM typed), "
                f"elements AS (SELECT *{self._elements_sql()} FROM shaped)"
            )
        return ctes

    def hunt_sql(self) -> str:
        """The outcomes of the records of the registered `batch` (columns text, number, start, file): one
        row per record that matched or is malformed (`number` set), with its time, the targets its matches
        feed and, when an alerting rule matched, its text; the other records counted (`records`) by file,
        kind, source and whether they are in range. Memory grows with the matches, not with the input.
        A record in range whose key or fields may hold a JSON array or object (their text is JSON that
        begins as one) has a row too, with its text (`listed_text`): the second statement (`on_lists`)
        reads it again, with the JSON shape of its key and of each of its group's fields (`shapes`, in
        `field_values` order; a scalar's JSON type or NULL), and matches the values of its lists."""
        matched = (
            f"{self._ctes}, with_targets AS (SELECT *, CASE WHEN _in_range THEN "
            f"{self._match_case(self.plan.detections)} END AS _matched_targets FROM {self._records})"
        )
        return self._outcomes_sql(matched)

    def grouped_sql(self) -> str:
        """Every record of the registered `batch` with its source, key and record group, not yet read
        further: the table `records_sql` reads."""
        return f"WITH {self._grouping} SELECT * FROM grouped"

    def records_sql(self, grouped: str, present: Collection[int]) -> str:
        """Every record of the `grouped` table (see grouped_sql) as the rules read it (time, field slots),
        the fields read for the `present` record groups only: the table `match_in_parts_sql` and
        `outcomes_in_parts_sql` read."""
        groups = [group for group in self.groups if group.index in present]
        return f"WITH {self._reading(grouped, groups)} SELECT * EXCLUDE (_field_texts) FROM {self._records}"

    def match_in_parts_sql(self, records: str, present: Collection[int]) -> list[str]:
        """Statements that each match a part of the rules over the `records` table: (file, number, copy,
        targets) of every record some rule of the part matched. Only the rules that can match a record of
        the `present` record groups are planned, each statement alone, so planning holds the expressions
        of one part at a time (thousands of rules at once hold hundreds of MB)."""
        parts: list[list[Detection]] = [[]]
        size = 0
        for detection in self.plan.detections:
            if not any(group.index in present for group in self.groups_of(detection)):
                continue
            if size >= MATCH_SQL_PER_STATEMENT:
                parts.append([])
                size = 0
            parts[-1].append(detection)
            size += len(detection.query.where_on_lists if self.on_lists else detection.query.where)
        return [
            f"SELECT file, number, _copy, _matched_targets AS targets FROM (SELECT file, number, _copy, "
            f"{self._match_case(part, present)} AS _matched_targets FROM {records} WHERE _in_range) "
            "WHERE len(_matched_targets) > 0"
            for part in parts
            if part
        ]

    def outcomes_in_parts_sql(self, records: str, record_matches: str) -> str:
        """The outcomes (as `hunt_sql`) of the `records` table, the targets of each record gathered from
        the `record_matches` table of the parts."""
        return self._outcomes_sql(
            f"targets AS (SELECT file, number, _copy, flatten(list(targets)) AS _matched_targets "
            f"FROM {record_matches} GROUP BY file, number, _copy), "
            f"with_targets AS (SELECT * FROM {records} LEFT JOIN targets USING (file, number, _copy))"
        )

    def _outcomes_sql(self, matched: str) -> str:
        """The outcomes of the records of a `with_targets` CTE (among the `matched` CTEs): `ranged`'s
        columns and the targets each record's matches feed, `_matched_targets`."""
        problem = f"_kind IN ({_listed(PROBLEM_KINDS)})"
        if self.on_lists:
            shapes, listed = "_shapes", f"list_has_any(_shapes, [{_listed((OBJECT, *LIST_SHAPES))}])"
        else:
            shapes, listed = "NULL::VARCHAR[]", self._may_be_listed()
        return (
            f"WITH {matched}, "
            f"matched AS (SELECT *, CASE WHEN _in_range THEN coalesce({listed}, false) END AS _listed "
            "FROM with_targets), "
            "outcomes AS (SELECT *, CASE WHEN len(_matched_targets) > 0 THEN _matched_targets END AS matches FROM matched) "
            "SELECT file, _kind AS kind, _source AS source, _in_range AS in_range, "
            f"CASE WHEN matches IS NOT NULL OR {problem} OR _listed THEN number END AS number, _copy AS copy, "
            "count(*) AS records, any_value(start) AS start, any_value(_ts) AS ts, any_value(matches) AS matches, "
            f"any_value(_group) AS record_group, any_value(CASE WHEN _listed THEN {shapes} END) AS shapes, "
            f"any_value(CASE WHEN matches IS NOT NULL THEN {self._field_values()} END) AS field_values, "
            f"any_value(CASE WHEN list_min(matches) < {self.alerting} THEN {TEXT_COLUMN} END) AS matched_text, "
            f"any_value(CASE WHEN _listed THEN {TEXT_COLUMN} END) AS listed_text FROM outcomes GROUP BY ALL"
        )

    def _copies_sql(self) -> str:
        """The `copied` CTE: each record once (`_copy` 1); on the second statement, a record whose key
        holds a JSON list once per value (`_copy` 1, 2, ...), the key that value: a Sigma value of the key
        matches when one of the list's does, and each value's rules are in its own record group."""
        if not self.on_lists:
            return "copied AS (SELECT *, 1 AS _copy FROM keyed), "
        values = _list_values("_split_key")
        copies = (
            f"CASE WHEN _key_shape = {quote_literal(ARRAY)} AND len({values}) > 0 THEN {values} "
            "ELSE [_split_key] END"
        )
        return (
            f"key_shaped AS (SELECT *, {self._key_shape()} AS _key_shape FROM keyed), "
            "copied AS (SELECT * EXCLUDE (_split_key, _copy_of), _copy_of.value AS _split_key, "
            "_copy_of.copy AS _copy FROM (SELECT *, unnest(list_transform("
            f"{copies}, lambda value, copy: {{'value': value, 'copy': copy}})) AS _copy_of FROM key_shaped)), "
        )

    def _may_be_listed(self) -> str:
        """Whether the key or a slot holds the text of a JSON array or object (a test of the first
        character, then of the JSON): one test per column, whatever the group, so the statement stays
        small. A string that spells a list is read again too, and found to be a string."""
        columns = ["_split_key"] * any(group.key for group in self.groups)
        columns += [f"_f{slot}" for slot in range(self._width)]
        tests = [f"CASE WHEN {_structured(column)} THEN json_valid({column}) END" for column in columns]
        return " OR ".join(tests) or "false"

    def _reads(self) -> list[TargetRead]:
        """(target, group, entity, group-by fields, value field) for the targets that read fields of the
        records they match, as positions in `field_values`: an alerting rule's entity, a correlation
        slot's group-by and value fields."""
        reads = []
        for index, target in enumerate(self.targets):
            entity_field = target.detection.entity_field if target.correlation is None else None
            slot = None
            if target.correlation is not None:
                slot = self.plan.correlations[target.correlation].slots[target.slot or 0]
            if entity_field is None and slot is None:
                continue
            for group in self.groups_of(target.detection):
                reads.append(
                    (
                        index,
                        group.index,
                        group.position(entity_field) if entity_field else None,
                        [group.position(name) for name in slot.group_fields] if slot else None,
                        group.position(slot.value_field) if slot and slot.value_field else None,
                    )
                )
        return reads

    def _field_values(self) -> str:
        """A matched record's key and slot values, when some target reads them."""
        if not self.target_reads:
            return "NULL::VARCHAR[]"
        return f"[{', '.join(['_split_key', *(f'_f{slot}' for slot in range(self._width))])}]::VARCHAR[]"

    def source_rows_sql(self, source_id: str) -> str:
        """Every record read for a source, with every field any of its groups reads."""
        groups = [group for group in self.groups if group.source.id == source_id]
        union = " UNION ALL BY NAME ".join(f"({group.rows_sql()})" for group in groups)
        return f"WITH {self._ctes} {union}"

    def _first_parse(self) -> str:
        """The recognition paths (a malformed line reads as NULL), or only the JSON check when no
        recogniser reads a path."""
        if not self.recognition.paths:
            return "CASE WHEN json_valid(text) THEN true END"
        return f"try({self.recognition.call()})"

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
        """The splitting key's value, for the sources that have one (read with the recognition paths)."""
        keys = {group.source.id: (group.source, group.key) for group in self.groups if group.key}
        branches = [
            f"WHEN {quote_literal(source_id)} THEN {self.recognition.value(source.paths_of(key))}"
            for source_id, (source, key) in keys.items()
        ]
        return f"CASE _source {' '.join(branches)} END" if branches else "NULL::VARCHAR"

    def _group_case(self) -> str:
        branches = []
        # Groups of listed key values first: the group of every other value (if any) is each source's last.
        for group in sorted(self.groups, key=lambda group: group.key_values is None):
            condition = f"_source = {quote_literal(group.source.id)}"
            if group.key_values is not None:
                condition += f" AND _split_key IN ({_listed(group.key_values)})"
            branches.append(f"WHEN {condition} THEN {group.index}")
        return f"CASE {' '.join(branches)} END" if branches else "NULL::INTEGER"

    def _reads_case(self, groups: Sequence[RecordGroup]) -> str:
        """The second parse: for each group's records, the paths of its fields and time (one list)."""
        branches = [f"WHEN {group.index} THEN {group.paths.call()}" for group in groups if group.paths.paths]
        return f"CASE _group {' '.join(branches)} END" if branches else "NULL::VARCHAR[]"

    def _types_case(self, groups: Sequence[RecordGroup]) -> str:
        """The JSON type of each path a record's group reads, from the record itself: json_extract_string
        gives a list and a string that spells one as the same text."""
        branches = [
            f"WHEN {group.index} THEN {group.paths.call('json_type')}"
            for group in groups
            if group.paths.paths
        ]
        return f"CASE _group {' '.join(branches)} END" if branches else "NULL::VARCHAR[]"

    def _shapes_case(self, groups: Sequence[RecordGroup]) -> str:
        """Each of the group's fields' shape, from `_field_types` (second statement only)."""
        branches = []
        for group in groups:
            shapes = ["NULL" if name == RAW_FIELD else self._shape(group, name) for name in group.fields]
            if shapes:
                branches.append(f"WHEN {group.index} THEN [{', '.join(shapes)}]::VARCHAR[]")
        return f"CASE _group {' '.join(branches)} END" if branches else "NULL::VARCHAR[]"

    def _shape(self, group: RecordGroup, name: str) -> str:
        """A field's JSON type (NULL when absent or null); for a list, DEEP when nested deeper than read,
        LISTED_OBJECT when it holds an object. A value read inside JSON text is one string."""
        if name in group.source.text_fields:
            return "NULL"
        json_type = group.paths.json_type(group.source.paths_of(name), "_field_types")
        column = group.column(name)
        deeper = quote_literal("$" + "[*]" * (MAX_LIST_DEPTH + 1))
        with_object = (
            f"list_contains(list_transform({_list_items(column)}, lambda v: json_type(v)), 'OBJECT')"
        )
        return (
            f"CASE WHEN {json_type} = {quote_literal(ARRAY)} THEN CASE "
            f"WHEN len(json_extract({column}, {deeper})) > 0 THEN {quote_literal(DEEP)} "
            f"WHEN {with_object} THEN {quote_literal(LISTED_OBJECT)} ELSE {quote_literal(ARRAY)} END "
            f"ELSE {json_type} END"
        )

    def _key_shape(self) -> str:
        """The key's JSON type when its text may be an array or object (see `_types_case`)."""
        keys = {group.source.id: (group.source, group.key) for group in self.groups if group.key}
        branches = []
        for source_id, (source, key) in keys.items():
            types = [
                f"nullif(json_type({TEXT_COLUMN}, {quote_literal(json_path(variant))}), {NULL_TYPE})"
                for path in source.paths_of(key)
                for variant in path_variants(path)
            ]
            branches.append(f"WHEN {quote_literal(source_id)} THEN coalesce({', '.join(types)})")
        if not branches:
            return "NULL::VARCHAR"
        return f"CASE WHEN {_structured('_split_key')} THEN CASE _source {' '.join(branches)} END END"

    def _elements_sql(self) -> str:
        """`_e0`, `_e1`, ...: the values of each slot that holds a JSON list, lists inside it read
        MAX_LIST_DEPTH levels down; objects in a list are no values of the field (NULL for the others)."""
        return "".join(
            f", CASE WHEN _shapes[{KEY_POSITION + 1 + slot}] IN ({_listed(LIST_SHAPES)}) "
            f"THEN {_list_values(f'_f{slot}')} END AS _e{slot}"
            for slot in range(self._width)
        )

    def _fields_case(self, groups: Sequence[RecordGroup]) -> str:
        """Each group's time and fields as one struct: one CASE over the groups, where a CASE per slot
        would test every group again for every slot."""
        branches = [f"WHEN {group.index} THEN {self._fields(group)}" for group in groups]
        return f"CASE _group {' '.join(branches)} END" if branches else self._fields(None)

    def _fields(self, group: RecordGroup | None) -> str:
        time = group.paths.value(group.source.time) if group is not None and group.source.time else "NULL"
        slots = [
            self._field(group, group.fields[slot])
            if group is not None and slot < len(group.fields)
            else "NULL"
            for slot in range(self._width)
        ]
        return (
            "{"
            + ", ".join(
                [f"'_time': {time}::VARCHAR"] + [f"'_f{n}': {v}::VARCHAR" for n, v in enumerate(slots)]
            )
            + "}"
        )

    @staticmethod
    def _field(group: RecordGroup, name: str) -> str:
        # Keyword (unbound value) searches read the record's text itself (RecordGroup.column): no slot.
        if name == RAW_FIELD:
            return "NULL"
        if text_field := group.source.text_fields.get(name):
            return text_field_sql(text_field, group.paths.value(group.source.paths_of(text_field.items)))
        return group.paths.value(group.source.paths_of(name))

    def groups_of(self, detection: Detection) -> list[RecordGroup]:
        """The record groups whose records a rule can match."""
        return self._groups_of[id(detection)]

    def _match_case(self, detections: Sequence[Detection], present: Collection[int] | None = None) -> str:
        """The targets of every one of `detections` that matches the record: the rules that bound their source's key,
        in the branch of each group they can match; the others once per source (their fields are in the
        same slots in every group of the source). An empty list when none matches."""
        targets_of: dict[int, list[int]] = {}
        for index, target in enumerate(self.targets):
            targets_of.setdefault(id(target.detection), []).append(index)
        by_group: dict[int, list[str]] = {}
        by_source: dict[str, list[str]] = {}
        for detection in detections:
            targets = targets_of.get(id(detection))
            if not targets:
                continue
            groups = [
                group for group in self.groups_of(detection) if present is None or group.index in present
            ]
            key = groups[0].key if groups else None
            everywhere = key is not None and key not in detection.query.required_numbers
            for group in groups[:1] if everywhere else groups:
                listed = ", ".join(map(str, targets))
                where = detection.query.where_on_lists if self.on_lists else detection.query.where
                case = f"CASE WHEN {_on_group(where, group)} THEN [{listed}] END"
                if everywhere:
                    by_source.setdefault(group.source.id, []).append(case)
                else:
                    by_group.setdefault(group.index, []).append(case)
        group_branches = " ".join(
            f"WHEN {index} THEN flatten([{', '.join(cases)}])" for index, cases in sorted(by_group.items())
        )
        source_branches = " ".join(
            f"WHEN {quote_literal(source)} THEN flatten([{', '.join(cases)}])"
            for source, cases in by_source.items()
        )
        parts = [f"CASE _group {group_branches} END"] * bool(by_group)
        parts += [f"CASE _source {source_branches} END"] * bool(by_source)
        return f"flatten([{''.join(part + ', ' for part in parts)}[]::INTEGER[]])"


def text_field_sql(text_field: TextField, items: str) -> str:
    """SQL for a value written inside JSON text (TextField): the first object of the list `items` whose
    members equal `where`, its member's text parsed (`try`: text that is not JSON gives NULL)."""
    tests = " AND ".join(
        f"json_extract_string(item, {quote_literal(json_path([key]))}) = {quote_literal(value)}"
        for key, value in text_field.where.items()
    )
    item = f"list_filter(json_extract({items}, '$[*]'), lambda item: {tests})[1]"
    member = f"json_extract_string({item}, {quote_literal(json_path([text_field.member]))})"
    inner = json_path(text_field.path.split("."))
    value = f"try(json_extract_string({member}, {quote_literal(inner)}))"
    return f"nullif(regexp_replace({value}, '[^0-9]', '', 'g'), '')" if text_field.digits else value


def _can_match(group: RecordGroup, detection: Detection) -> bool:
    """A rule that bounds the key reads the groups of its values; any other rule of the source, all."""
    if group.source.id != detection.query.table:
        return False
    bounded = detection.query.required_numbers.get(group.key) if group.key else None
    if bounded is None:
        return True
    return group.key_values is not None and bool(group.key_values & bounded)


def _structured(column: str) -> str:
    """Whether a field's text may be a JSON array or object (json_extract_string gives their JSON)."""
    return f"(starts_with({column}, '[') OR starts_with({column}, '{{'))"


def _list_items(column: str) -> str:
    """The items of a JSON list's text and of the lists inside it, down to MAX_LIST_DEPTH, as JSON."""
    levels = ", ".join(
        f"json_extract({column}, {quote_literal('$' + '[*]' * depth)})"
        for depth in range(1, MAX_LIST_DEPTH + 1)
    )
    return f"flatten([{levels}])"


def _list_values(column: str) -> str:
    """The scalar values of a JSON list's text, from every level down to MAX_LIST_DEPTH (JSON null is
    NULL; objects are skipped)."""
    return (
        f"list_transform(list_filter({_list_items(column)}, lambda v: json_type(v) NOT IN "
        f"({_listed((ARRAY, OBJECT))})), lambda v: json_extract_string(v, '$'))"
    )


def _on_group(where: str, group: RecordGroup) -> str:
    """A rule's WHERE clause with each Sigma field (a quoted identifier) read from the group's slots;
    string literals are left as they are."""

    def column(match: re.Match[str]) -> str:
        listed, name = match.group(1), match.group(2)
        if listed is not None:
            return group.elements(listed.replace('""', '"'))
        return match.group(0) if name is None else group.column(name.replace('""', '"'))

    return _QUOTED.sub(column, where)


def _groups(plan: HuntPlan, source: Source, *, first_index: int) -> list[RecordGroup]:
    """One group for the source, or one per set of key values whose rules read the same fields, plus one
    for every other value when some rule does not bound the key."""
    partition = plan.partition_of(source.id)
    if partition is None:
        return [RecordGroup(first_index, source, None, None, tuple(sorted(plan.fields_of(source.id))))]
    values_by_fields: dict[frozenset[str], list[str]] = {}
    for value, fields in sorted(partition.fields_by_value.items()):
        values_by_fields.setdefault(fields - {partition.key}, []).append(value)
    # The fields of the rules that do not bound the key take the first slots of every group.
    shared = tuple(sorted((partition.unbounded_fields or frozenset()) - {partition.key}))
    groups = [
        RecordGroup(
            first_index + offset,
            source,
            partition.key,
            frozenset(values),
            shared + tuple(sorted(fields - set(shared))),
        )
        for offset, (fields, values) in enumerate(values_by_fields.items())
    ]
    if partition.unbounded_fields is not None:
        groups.append(RecordGroup(first_index + len(groups), source, partition.key, None, shared))
    return groups


def _listed(values: Iterable[str]) -> str:
    return ", ".join(map(quote_literal, sorted(values)))
