"""A pySigma backend that compiles Sigma detections to DuckDB SQL over the hunt's per-source views.

Sigma semantics carried over: strings match case-insensitively (ILIKE), `|cased` with LIKE, regular
expressions with RE2 (`regexp_matches`), and a condition on a field the event lacks reads as false even
under `not` (SQL's NULL is folded back to false at every NOT).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from sigma.conditions import ConditionAND, ConditionFieldEqualsValueExpression, ConditionNOT, ConditionOR
from sigma.conversion.base import TextQueryBackend
from sigma.conversion.deferred import DeferredQueryExpression
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.rule import SigmaRule
from sigma.types import SigmaCompareExpression, SigmaRegularExpressionFlag, SigmaString


@dataclass(frozen=True)
class LocalQuery:
    """A compiled detection: the source view it reads, its WHERE clause and the Sigma fields it uses."""

    table: str
    where: str
    fields: frozenset[str]

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

    # Every string comparison is a pattern match, so a literal %, _ or \ is escaped once, the same way.
    wildcard_match_expression: ClassVar[str] = "{field} ILIKE {value} ESCAPE '\\'"
    case_sensitive_match_expression: ClassVar[str] = "{field} LIKE {value} ESCAPE '\\'"
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
    unbound_value_str_expression: ClassVar[str] = "_raw ILIKE {value} ESCAPE '\\'"
    unbound_value_num_expression: ClassVar[str] = "_raw ILIKE '%{value}%'"
    deferred_start: ClassVar[str] = ""
    deferred_separator: ClassVar[str] = ""
    deferred_only_query: ClassVar[str] = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fields: set[str] = set()

    def convert_rule(
        self, rule: SigmaRule, output_format: str | None = None, callback: Any = None
    ) -> list[Any]:
        self._fields = set()
        return super().convert_rule(rule, output_format, callback)

    def convert_correlation_rule(
        self, rule: Any, output_format: str | None = None, method: Any = None
    ) -> list[Any]:
        raise NotImplementedError(
            "correlations run in the hunt engine over its sliding windows, not as one query"
        )

    def escape_and_quote_field(self, field_name: str) -> str:
        self._fields.add(field_name)
        return quote_identifier(field_name)

    def convert_value_str(self, s: SigmaString, state: ConversionState) -> str:
        converted = s.convert(self.escape_char, self.wildcard_multi, self.wildcard_single, self.add_escaped)
        return quote_literal(converted)

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self.wildcard_match_expression.format(
            field=self.escape_and_quote_field(cond.field), value=self.convert_value_str(cond.value, state)
        )

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self.case_sensitive_match_expression.format(
            field=self.escape_and_quote_field(cond.field), value=self.convert_value_str(cond.value, state)
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
        return LocalQuery(table=table, where=query, fields=frozenset(self._fields))

    def finalize_output_default(self, queries: list[LocalQuery]) -> list[LocalQuery]:
        return queries


def _describe(rule: SigmaRule) -> str:
    logsource = rule.logsource
    parts = [
        f"{key}={value}" for key in ("product", "service", "category") if (value := getattr(logsource, key))
    ]
    return re.sub(r"\s+", " ", ", ".join(parts)) or "(empty)"
