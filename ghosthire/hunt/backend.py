"""A pySigma backend that compiles Sigma detections to DuckDB SQL over the hunt's per-source tables.

Sigma semantics carried over: strings match case-insensitively (ILIKE), `|cased` with LIKE, regular
expressions with RE2 (`regexp_matches`), and a condition on a field the event lacks reads as false even
under `not` (SQL's NULL is folded back to false at every NOT). Several string values of one field
(`Image|endswith: [...]`, a `|expand`ed catalogue) become one RE2 alternation when that is cheaper: RE2
scans a value once for all of them, where a chain of ILIKEs scans it once per value (hundreds of times
slower for a catalogue of 600 names), but a few values RE2 cannot skip ahead to cost less as ILIKEs.
Keywords (values without a field) match anywhere in the record's JSON text.

A field holding a JSON array matches a value when any of its elements does, as Elasticsearch reads an
array field (a term query, EQL and Lucene match any value of a multi-valued field); SigmaHQ's SQLite
reference (through Zircolite) stores an array as one text column, which only a `contains` can reach, an
artefact of flattening rather than a meaning. Each detection is therefore written twice: `where`, for
the records whose fields hold no array (nearly all), and `where_on_lists`, which also tests each element
of a field that holds one; the engine plans the second only for the records that need it. Both are written
in one conversion: each comparison is a token in the condition's text, replaced by either form at the end.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionIdentifier,
    ConditionNOT,
    ConditionOR,
)
from sigma.conversion.base import TextQueryBackend
from sigma.conversion.deferred import DeferredQueryExpression
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.processing.transformations import AddConditionTransformation
from sigma.rule import SigmaDetectionItem, SigmaRule
from sigma.types import (
    SigmaBool,
    SigmaCasedString,
    SigmaCompareExpression,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

# The pseudo-field keyword searches read: the record's JSON text.
RAW_FIELD = "_raw"
# Values of one field searched with one RE2 regex rather than an ILIKE each, when nothing lets RE2 skip
# ahead (measured: such a regex costs about six ILIKEs, whatever its number of alternatives).
FOLD_MIN_SEARCHED = 7
# Values compared with each element of a field that holds a JSON array (presence tests and field
# references compare the field itself).
ELEMENT_WISE = (SigmaString, SigmaNumber, SigmaBool, SigmaRegularExpression, SigmaCompareExpression)
# The name an array's element takes in the comparison repeated over the elements.
ELEMENT = "ghosthire_element"
# Written around a field's name for the list of its values when it holds a JSON list, NULL otherwise
# (`ghosthire_elements("Image")`): the engine reads it from the record (ghosthire.hunt.extract).
ELEMENTS_OF = "ghosthire_elements"


@dataclass(frozen=True)
class LocalQuery:
    """A compiled detection: the source view it reads, its WHERE clause and the Sigma fields it uses."""

    table: str
    where: str
    fields: frozenset[str]
    # Fields a match requires to equal one of some numbers (EventID 1 or 4688), as the text they are
    # compared as: the engine reads a source's other fields only for records that can match.
    required_numbers: dict[str, frozenset[str]] = field(default_factory=dict, compare=False)
    # The same WHERE clause, also true where a field holding a JSON array has an element it holds for.
    where_on_lists: str = ""

    def __str__(self) -> str:
        return f'SELECT * FROM "{self.table}" WHERE {self.where}'


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class DuckDBBackend(TextQueryBackend):
    name: ClassVar[str] = "ghosthire DuckDB"
    formats: ClassVar[dict[str, str]] = {"default": "DuckDB SQL over ghosthire's per-source views"}
    requires_pipeline: ClassVar[bool] = True
    finalize_correlation_subqueries = True

    precedence: ClassVar[tuple[type, type, type]] = (ConditionNOT, ConditionAND, ConditionOR)
    group_expression: ClassVar[str] = "({expr})"
    token_separator: str = " "
    or_token: ClassVar[str] = "OR"
    and_token: ClassVar[str] = "AND"
    not_token: ClassVar[str] = "NOT"
    eq_token: ClassVar[str] = " = "

    str_quote: ClassVar[str] = "'"
    escape_char: ClassVar[str] = "\\"
    wildcard_multi: ClassVar[str] = "%"
    wildcard_single: ClassVar[str] = "_"
    add_escaped: ClassVar[str] = "\\"
    bool_values: ClassVar[dict[bool, str | None]] = {True: "'true'", False: "'false'"}

    # Every string comparison is a pattern match (`_like_pattern`: the pattern and, when the value holds
    # a literal % or _, the ESCAPE clause that lets it say so).
    wildcard_match_expression: ClassVar[str] = "{field} ILIKE {value}"
    case_sensitive_match_expression: ClassVar[str] = "{field} LIKE {value}"
    re_expression: ClassVar[str] = "regexp_matches({field}, {regex})"
    re_escape_char: ClassVar[str] = ""
    re_escape: ClassVar[tuple[str, ...]] = ()
    re_flag_prefix: bool = True
    re_flags: ClassVar[dict[SigmaRegularExpressionFlag, str]] = {
        SigmaRegularExpressionFlag.IGNORECASE: "i",
        SigmaRegularExpressionFlag.MULTILINE: "m",
        SigmaRegularExpressionFlag.DOTALL: "s",
    }
    compare_op_expression: ClassVar[str] = "TRY_CAST({field} AS DOUBLE) {operator} {value}"
    compare_operators: ClassVar[dict[SigmaCompareExpression.CompareOperators, str]] = {
        SigmaCompareExpression.CompareOperators.LT: "<",
        SigmaCompareExpression.CompareOperators.LTE: "<=",
        SigmaCompareExpression.CompareOperators.GT: ">",
        SigmaCompareExpression.CompareOperators.GTE: ">=",
    }
    field_equals_field_expression: ClassVar[str] = "lower({field1}) = lower({field2})"
    field_null_expression: ClassVar[str] = "{field} IS NULL"
    field_exists_expression: ClassVar[str] = "{field} IS NOT NULL"
    field_not_exists_expression: ClassVar[str] = "{field} IS NULL"
    unbound_value_str_expression: ClassVar[str] = f'"{RAW_FIELD}"' + " ILIKE {value}"
    unbound_value_num_expression: ClassVar[str] = f'"{RAW_FIELD}"' + " ILIKE '%{value}%'"
    any_of_expression: ClassVar[str] = "regexp_matches({field}, {regex})"
    deferred_start: ClassVar[str] = ""
    deferred_separator: ClassVar[str] = ""
    deferred_only_query: ClassVar[str] = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fields: set[str] = set()
        self._rule: SigmaRule | None = None
        # Set while a comparison is written for an array's element (see _element_wise).
        self._on_element = False
        # The comparisons of the rule being converted, as they are and as they read lists (see
        # _element_wise); each stands in the condition's text as a token no value can spell (the random
        # part is this backend's own).
        self._comparisons: list[tuple[str, str]] = []
        self._token = f"\x00{secrets.token_hex(16)}:"
        self._token_pattern = re.compile(re.escape(self._token) + r"(\d+)\x00")
        # Each condition's parsed tree by its conversion state: pySigma parses a condition again at every
        # `parsed`, and the tree is read again once the query is written (see finalize_query_default).
        self._conditions: dict[int, Any] = {}
        # The pipeline items that add a condition for a log source (EventID 1 or 4688, a Channel).
        self._log_source_items = {
            item.identifier
            for item in (self.processing_pipeline.items if self.processing_pipeline else [])
            if isinstance(item.transformation, AddConditionTransformation) and item.identifier
        }

    def convert_rule(
        self, rule: SigmaRule, output_format: str | None = None, callback: Any = None
    ) -> list[Any]:
        self._fields = set()
        self._rule = rule
        self._conditions = {}
        self._comparisons = []
        return super().convert_rule(rule, output_format, callback)

    def convert_condition(self, cond: Any, state: ConversionState) -> Any:
        # The first condition converted with a state is the whole condition (the others are its parts).
        self._conditions.setdefault(id(state), cond)
        return super().convert_condition(cond, state)

    def convert_correlation_rule(
        self, rule: Any, output_format: str | None = None, method: Any = None
    ) -> list[Any]:
        raise NotImplementedError(
            "correlations run in the hunt engine over its sliding windows, not as one query"
        )

    def escape_and_quote_field(self, field_name: str) -> str:
        self._fields.add(field_name)
        return ELEMENT if self._on_element else quote_identifier(field_name)

    def convert_condition_field_eq_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str | DeferredQueryExpression:
        expression = super().convert_condition_field_eq_val(cond, state)
        if not isinstance(cond.value, ELEMENT_WISE) or not isinstance(expression, str):
            return expression
        return self._element_wise(
            cond.field,
            expression,
            lambda: super(DuckDBBackend, self).convert_condition_field_eq_val(cond, state),
        )

    def _element_wise(self, field_name: str, expression: str, convert: Callable[[], Any]) -> str:
        """A comparison as it is and, for `where_on_lists`, as it reads a field that holds a JSON list:
        true when it holds for one of its values (`convert` writes it again, on the value); on any other
        field, as ever. Its token stands for it in the condition's text (see _written)."""
        self._on_element = True
        try:
            on_element = convert()
        finally:
            self._on_element = False
        values = f"{ELEMENTS_OF}({quote_identifier(field_name)})"
        on_lists = (
            f"(CASE WHEN {values} IS NULL THEN {expression} "
            f"ELSE list_bool_or(list_transform({values}, lambda {ELEMENT}: {on_element})) END)"
        )
        self._comparisons.append((expression, on_lists))
        return f"{self._token}{len(self._comparisons) - 1}\x00"

    def _written(self, query: str, on_lists: bool) -> str:
        """The condition's text with each comparison's token replaced by one of its forms."""
        form = int(on_lists)
        return self._token_pattern.sub(lambda found: self._comparisons[int(found.group(1))][form], query)

    def convert_value_str(self, s: SigmaString, state: ConversionState) -> str:
        converted = s.convert(self.escape_char, self.wildcard_multi, self.wildcard_single, self.add_escaped)
        return quote_literal(converted)

    def _like_pattern(self, s: SigmaString) -> str:
        """A (I)LIKE pattern for a Sigma string: without an escape character (DuckDB's default, where a
        backslash is itself) unless the value holds a literal % or _, which are then escaped, as is every
        backslash. Each ESCAPE clause is one more function to plan, and thousands of rules have one."""
        wildcards = {
            SpecialChars.WILDCARD_MULTI: self.wildcard_multi,
            SpecialChars.WILDCARD_SINGLE: self.wildcard_single,
        }
        if all(
            part in wildcards if isinstance(part, SpecialChars) else "%" not in part and "_" not in part
            for part in s.s
        ):
            # What SigmaString.convert gives without escapes, built directly: it tests each character.
            return quote_literal(
                "".join(wildcards[part] if isinstance(part, SpecialChars) else part for part in s.s)
            )
        escaped = s.convert(self.escape_char, self.wildcard_multi, self.wildcard_single, self.add_escaped)
        return f"{quote_literal(escaped)} ESCAPE {quote_literal(self.escape_char)}"

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self.wildcard_match_expression.format(
            field=self.escape_and_quote_field(cond.field), value=self._like_pattern(cond.value)
        )

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self.case_sensitive_match_expression.format(
            field=self.escape_and_quote_field(cond.field), value=self._like_pattern(cond.value)
        )

    def convert_condition_field_eq_val_num(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        # Columns hold JSON scalars as text: 4624 and "4624" are the same event id.
        return f"{self.escape_and_quote_field(cond.field)} = {quote_literal(str(cond.value))}"

    def convert_condition_field_eq_val_bool(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return f"{self.escape_and_quote_field(cond.field)} ILIKE {self.bool_values[cond.value.boolean]}"

    def convert_condition_and(
        self, cond: ConditionAND, state: ConversionState
    ) -> str | DeferredQueryExpression | None:
        """AND, with the conditions the pipeline adds for the log source (EventID, Channel) last: they
        hold for nearly every record of the rows a rule scans, and DuckDB tests the parts of an AND in the
        order written, each on the rows the parts before it kept (the order never changes the result)."""
        parts = []
        for argument in sorted(cond.args, key=self._describes_log_source):
            converted = (
                self.convert_condition(argument, state)
                if self.compare_precedence(cond, argument)
                else self.convert_condition_group(argument, state)
            )
            if converted is not None and not isinstance(converted, DeferredQueryExpression):
                parts.append(converted)
        return f" {self.and_token} ".join(parts) if parts else None

    def _describes_log_source(self, condition: Any) -> bool:
        """Whether a condition is a whole detection that a log-source pipeline item added."""
        name = _detection_name(condition)
        detection = self._rule.detection.detections.get(name) if self._rule and name else None
        return (
            detection is not None
            and bool(detection.detection_items)
            and all(
                isinstance(item, SigmaDetectionItem)
                and not self._log_source_items.isdisjoint(item.applied_processing_items)
                for item in detection.detection_items
            )
        )

    def convert_condition_or(
        self, cond: ConditionOR, state: ConversionState
    ) -> str | DeferredQueryExpression | None:
        """OR, with the string values of one field (two or more, same casing) folded into one regex,
        across nested ORs too (`1 of selection_*` is an OR of ORs): a row that matches nothing, the
        common case, is then tested once per field, not once per selection."""
        arguments = _or_arguments(cond)
        groups: dict[tuple[str, bool], list[SigmaString]] = {}
        for argument in arguments:
            if (key := _fold_key(argument)) is not None:
                groups.setdefault(key, []).append(argument.value)
        folded = {key for key, values in groups.items() if _folds_cheaply(values)}
        parts: list[str] = []
        emitted: set[tuple[str, bool]] = set()
        for argument in arguments:
            key = _fold_key(argument)
            if key in folded:
                if key not in emitted:
                    parts.append(self._any_of(*key, groups[key]))
                    emitted.add(key)
                continue
            converted = (
                self.convert_condition(argument, state)
                if self.compare_precedence(cond, argument)
                else self.convert_condition_group(argument, state)
            )
            if converted is not None and not isinstance(converted, DeferredQueryExpression):
                parts.append(converted)
        return f" {self.or_token} ".join(parts) if parts else None

    def _any_of(self, field_name: str, cased: bool, values: list[SigmaString]) -> str:
        flags = "(?s)" if cased else "(?is)"
        regex = quote_literal(flags + "(?:" + "|".join(_value_regex(value) for value in values) + ")")

        def convert() -> str:
            return self.any_of_expression.format(field=self.escape_and_quote_field(field_name), regex=regex)

        return self._element_wise(field_name, convert(), convert)

    def convert_condition_val_str(self, cond: Any, state: ConversionState) -> str:
        """A keyword matches anywhere in the record's JSON text, as a substring, written as JSON writes
        it (a backslash doubled, a quote escaped); one with non-ASCII characters also as `\\uXXXX`
        escapes, as many writers (Python's json among them) put such characters in the text."""
        self._fields.add(RAW_FIELD)
        searches = [
            self.unbound_value_str_expression.format(value=self._like_pattern(form))
            for form in _json_text_forms(cond.value)
        ]
        return searches[0] if len(searches) == 1 else f"({' OR '.join(searches)})"

    def convert_condition_val_num(self, cond: Any, state: ConversionState) -> str:
        self._fields.add(RAW_FIELD)
        return self.unbound_value_num_expression.format(value=cond.value)

    def convert_value_re(self, r: Any, state: ConversionState) -> str:
        return quote_literal(super().convert_value_re(r, state))

    def convert_condition_not(
        self, cond: ConditionNOT, state: ConversionState
    ) -> str | DeferredQueryExpression | None:
        """NOT over a comparison with an absent field must be true, as Sigma reads absent as false."""
        argument = cond.args[0]
        grouped = argument.__class__ in self.precedence
        expression = (
            self.convert_condition_group(argument, state)
            if grouped
            else self.convert_condition(argument, state)
        )
        if expression is None or isinstance(expression, DeferredQueryExpression):
            return expression.negate() if isinstance(expression, DeferredQueryExpression) else None
        return f"NOT COALESCE({expression}, false)"

    def finalize_query_default(
        self, rule: SigmaRule, query: str, index: int, state: ConversionState
    ) -> LocalQuery:
        table = state.processing_state.get("table")
        if not table:
            raise SigmaFeatureNotSupportedByBackendError(
                f"no local source reads logsource {_describe(rule)}; add it to backends/local/pipeline.yml"
            )
        if state.processing_state.get("log_source_conditions") == "required" and not self._restricted(rule):
            raise SigmaFeatureNotSupportedByBackendError(
                f"no event condition for logsource {_describe(rule)}: the engine cannot tell its records "
                "from the rest of the source"
            )
        return LocalQuery(
            table,
            self._written(query, on_lists=False),
            frozenset(self._fields),
            required_numbers(self._conditions[id(state)]),
            where_on_lists=self._written(query, on_lists=True),
        )

    def _restricted(self, rule: SigmaRule) -> bool:
        """Whether a log-source pipeline item narrowed the rule to its category or service (a rule that
        names neither reads the whole source, as Sigma means)."""
        logsource = rule.logsource
        if not (logsource.category or logsource.service):
            return True
        return not self._log_source_items.isdisjoint(rule.applied_processing_items)

    def finalize_output_default(self, queries: list[LocalQuery]) -> list[LocalQuery]:
        return queries


def _json_text_forms(value: SigmaString) -> list[SigmaString]:
    """The keyword as its JSON text is searched for, with `*` around it: its characters as they are, and
    (when some are not ASCII) escaped as lower- and upper-cased, since ILIKE folds the case of a
    character, not of its escape (`\\u00e9` is é, `\\u00c9` É)."""
    forms = [_as_json_text(value, str, ascii_only=False)]
    if any(isinstance(part, str) and not part.isascii() for part in value.s):
        for case in (str, str.lower, str.upper):
            escaped = _as_json_text(value, case, ascii_only=True)
            if escaped.s not in [form.s for form in forms]:
                forms.append(escaped)
    return forms


def _as_json_text(value: SigmaString, case: Callable[[str], str], *, ascii_only: bool) -> SigmaString:
    escaped = copy.copy(value)
    parts = [
        json.dumps(case(part), ensure_ascii=ascii_only)[1:-1] if isinstance(part, str) else part
        for part in value.s
    ]
    if not parts or parts[0] is not SpecialChars.WILDCARD_MULTI:
        parts.insert(0, SpecialChars.WILDCARD_MULTI)
    if parts[-1] is not SpecialChars.WILDCARD_MULTI:
        parts.append(SpecialChars.WILDCARD_MULTI)
    escaped.s = parts
    return escaped


def required_numbers(condition: Any) -> dict[str, frozenset[str]]:
    """For each field a condition bounds to numbers, the numbers (as the text the query compares);
    a field missing from the result is unbounded. NOT and keywords bound nothing."""
    if isinstance(condition, ConditionFieldEqualsValueExpression):
        if isinstance(condition.value, SigmaNumber):
            return {condition.field: frozenset({str(condition.value)})}
        return {}
    if isinstance(condition, ConditionAND):
        bounds: dict[str, frozenset[str]] = {}
        for argument in condition.args:
            for name, values in required_numbers(argument).items():
                bounds[name] = bounds[name] & values if name in bounds else values
        return bounds
    if isinstance(condition, ConditionOR):
        alternatives = [required_numbers(argument) for argument in condition.args]
        common = set.intersection(*(set(bound) for bound in alternatives)) if alternatives else set()
        return {name: frozenset().union(*(bound[name] for bound in alternatives)) for name in common}
    return {}


def _detection_name(condition: Any) -> str | None:
    """The name of the detection a condition stands for, when it stands for a whole named detection."""
    parent = condition.parent
    while parent is not None and not isinstance(
        parent, ConditionIdentifier | ConditionAND | ConditionOR | ConditionNOT
    ):
        parent = getattr(parent, "parent", None)
    return parent.identifier if isinstance(parent, ConditionIdentifier) else None


def _or_arguments(cond: ConditionOR) -> list[Any]:
    """The arguments of an OR, with those of nested ORs in their place (OR is associative)."""
    arguments: list[Any] = []
    for argument in cond.args:
        arguments += _or_arguments(argument) if isinstance(argument, ConditionOR) else [argument]
    return arguments


def _fold_key(argument: Any) -> tuple[str, bool] | None:
    """(field, cased) of a plain string match, the values that may share one regex; None otherwise."""
    if isinstance(argument, ConditionFieldEqualsValueExpression) and type(argument.value) in (
        SigmaString,
        SigmaCasedString,
    ):
        return argument.field, isinstance(argument.value, SigmaCasedString)
    return None


def _folds_cheaply(values: list[SigmaString]) -> bool:
    """Whether one regex for the values costs less than a (I)LIKE each. RE2 skips ahead to where a
    match can start when every value is anchored at the start of the field or begins with the same
    literal symbol (Windows paths: a backslash); otherwise it steps through every byte, which costs as
    much as FOLD_MIN_SEARCHED ILIKEs."""
    if len(values) >= FOLD_MIN_SEARCHED:
        return True
    starts = {_search_start(value) for value in values}
    return len(values) > 1 and len(starts) == 1 and None not in starts


def _search_start(value: SigmaString) -> str | None:
    """'^' for a value anchored at the start, the literal symbol a searched value begins with, else None."""
    parts = list(value.s)
    if not parts or parts[0] is not SpecialChars.WILDCARD_MULTI:
        return "^"
    first = parts[1] if len(parts) > 1 else None
    return first[0] if isinstance(first, str) and first and not first[0].isalnum() else None


def _value_regex(value: SigmaString) -> str:
    """RE2 for one Sigma string, searched (not fully matched): unanchored where the value has a
    leading or trailing `*`, which lets RE2 run one pass for a whole list of endswith/contains values."""
    parts = list(value.s)
    leading = bool(parts) and parts[0] is SpecialChars.WILDCARD_MULTI
    if leading:
        parts = parts[1:]
    trailing = bool(parts) and parts[-1] is SpecialChars.WILDCARD_MULTI
    if trailing:
        parts = parts[:-1]
    body = "".join(
        ".*"
        if part is SpecialChars.WILDCARD_MULTI
        else "."
        if part is SpecialChars.WILDCARD_SINGLE
        else _literal_regex(part)
        for part in parts
    )
    return ("" if leading else "^") + body + ("" if trailing else "$")


# Every ASCII character that is not a letter or digit, as a hex escape: nothing in a value can then mean
# anything to RE2.
_REGEX_ESCAPES = {code: f"\\x{code:02x}" for code in range(128) if not chr(code).isalnum()}


def _literal_regex(text: str) -> str:
    return text.translate(_REGEX_ESCAPES)


def _describe(rule: SigmaRule) -> str:
    logsource = rule.logsource
    parts = [
        f"{key}={value}" for key in ("product", "service", "category") if (value := getattr(logsource, key))
    ]
    return re.sub(r"\s+", " ", ", ".join(parts)) or "(empty)"
