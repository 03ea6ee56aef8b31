"""pySigma Elasticsearch backends corrected where the stock ones do not keep Sigma's meaning.

* EQL: the stock correlation output is wrong or invalid (value_count counts one value N times, `runs=N`
  is off by one, temporal has no timespan), so those correlations are refused with the reason and Kibana
  gets them as ES|QL rules instead; an ordered temporal correlation, which ES|QL cannot express, becomes
  an EQL sequence (`sequence by <group> with maxspan=<timespan> [rule 1] [rule 2] ...`).
* ES|QL: Sigma strings match case-insensitively but ES|QL `==`/`like` on keywords do not, so every string
  comparison lower-cases the field (`TO_LOWER`) and the value; `like` patterns escape `\\`, `*` and `?`
  correctly; FROM names the log source's indices (indices.yml); correlations aggregate over the whole
  query window (the Kibana rule's lookback) instead of fixed `date_trunc` buckets, group and count
  keyword values lower-cased, and bound the events' spread when the lookback exceeds the timespan
  (ghosthire.elastic.schedule).
* Lucene: keyword fields are case-sensitive and Lucene has no case-insensitive term syntax, so a string
  with letters becomes an anchored regular expression with a `[xX]` class per letter.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any, ClassVar

from sigma.backends.elasticsearch import EqlBackend, ESQLBackend, LuceneBackend
from sigma.conditions import ConditionAND, ConditionFieldEqualsValueExpression, ConditionNOT, ConditionOR
from sigma.conversion.state import ConversionState
from sigma.correlations import SigmaCorrelationCondition, SigmaCorrelationRule, SigmaRuleReference
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.rule import SigmaRule
from sigma.types import SigmaString, SpecialChars

from ghosthire.elastic.fields import STRING_TYPES, field_type, pipeline_output_fields
from ghosthire.elastic.indices import indices_for
from ghosthire.elastic.schedule import correlation_window, duration

Part = str | SpecialChars
_EQL_CONTROL_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


class GhosthireEqlBackend(EqlBackend):
    """Stock EQL for single-event rules; correlations are refused (see the module docstring)."""

    # Building blocks referenced by a correlation still become complete EQL queries (`any where ...`).
    finalize_correlation_subqueries = True
    # EQL's test of a field's presence (a missing field is null): `|exists` in a negated filter keeps an
    # event without the field, where a bare comparison would be null and `not null` drop it.
    field_exists_expression = "{field} != null"
    field_not_exists_expression = "{field} == null"

    def convert_value_str(self, s: SigmaString, state: ConversionState) -> str:
        # The stock escaping puts a backslash before a raw newline, carriage return or tab, which EQL's
        # grammar rejects; its escape sequences are `\n`, `\r` and `\t`.
        converted = super().convert_value_str(s, state)
        for char, escape in _EQL_CONTROL_ESCAPES.items():
            converted = converted.replace("\\" + char, escape)
        return converted

    # EQL's `:` and `like~` take strings only: numbers and booleans compare with `==`.
    def convert_condition_field_eq_val_num(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return f"{self.escape_and_quote_field(cond.field)} == {cond.value}"

    def convert_condition_field_eq_val_bool(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return f"{self.escape_and_quote_field(cond.field)} == {self.bool_values[cond.value.boolean]}"

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        # EQL strings cannot escape `*`/`?`: a literal one is compared exactly (case-sensitively) with `==`.
        if not _has_literal_wildcard(cond.value):
            return super().convert_condition_field_eq_val_str(cond, state)
        if cond.value.contains_special():
            raise SigmaFeatureNotSupportedByBackendError("EQL cannot mix wildcards with a literal * or ?")
        return f"{self.escape_and_quote_field(cond.field)} == {string_literal(literal_text(cond.value))}"

    def decide_convert_condition_as_in_expression(
        self, cond: ConditionOR | ConditionAND, state: ConversionState
    ) -> bool:
        return super().decide_convert_condition_as_in_expression(cond, state) and all(
            isinstance(arg.value, SigmaString) and not _has_literal_wildcard(arg.value) for arg in cond.args
        )

    correlation_refusals: ClassVar[dict[str, str]] = {
        "event_count": "EQL sequences consume their events and the stock `runs=N` is off by one for gt",
        "value_count": "EQL cannot count distinct values (the stock `runs=N` counts one value N times)",
        "temporal": "EQL has no unordered multi-rule match within a timespan",
    }

    def _refuse(self, rule: SigmaCorrelationRule) -> list[str]:
        reason = self.correlation_refusals.get(str(rule.type), "this correlation type is not supported")
        raise SigmaFeatureNotSupportedByBackendError(
            f"{reason}; the Elastic rule for this correlation is ES|QL", source=rule.source
        )

    def convert_correlation_event_count_rule(self, rule: SigmaCorrelationRule, *_: Any) -> list[str]:
        return self._refuse(rule)

    def convert_correlation_value_count_rule(self, rule: SigmaCorrelationRule, *_: Any) -> list[str]:
        return self._refuse(rule)

    def convert_correlation_temporal_rule(self, rule: SigmaCorrelationRule, *_: Any) -> list[str]:
        return self._refuse(rule)

    def convert_correlation_temporal_ordered_rule(self, rule: SigmaCorrelationRule, *_: Any) -> list[str]:
        """Sigma's ordered temporal correlation is an EQL sequence: the rules' events in order, joined by
        the group-by fields, the whole sequence within maxspan = timespan."""
        if rule.aliases and rule.aliases.aliases:
            raise SigmaFeatureNotSupportedByBackendError(
                "field aliases across referenced rules are not supported in EQL sequences", source=rule.source
            )
        require_mapped(rule, self.processing_pipeline)
        fields = [self.escape_and_quote_field(field) for field in rule.group_by or []]
        by = f" by {', '.join(fields)}" if fields else ""
        steps = "\n".join(f"  [{_eql_query_of(reference)}]" for reference in rule.rules)
        return [f"sequence{by} with maxspan={duration(rule.timespan.seconds)}\n{steps}"]


def string_literal(text: str) -> str:
    """A double-quoted ES|QL (and EQL) string literal: only these escapes are legal in ES|QL's grammar."""
    escaped = (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'"{escaped}"'


def like_pattern(parts: Iterable[Part]) -> str:
    """An ES|QL LIKE pattern: Sigma wildcards become `*`/`?`, literal `\\`, `*` and `?` are escaped."""
    pattern = []
    for part in parts:
        if part is SpecialChars.WILDCARD_MULTI:
            pattern.append("*")
        elif part is SpecialChars.WILDCARD_SINGLE:
            pattern.append("?")
        else:
            pattern.append(str(part).replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?"))
    return "".join(pattern)


def literal_text(value: SigmaString) -> str:
    """The text of a wildcard-free Sigma string (to_plain() would re-escape `*`, `?` and `\\`)."""
    return "".join(part for part in value.s if isinstance(part, str))


def lowered(value: SigmaString) -> list[Part]:
    return [part.lower() if isinstance(part, str) else part for part in value.s]


class GhosthireEsqlBackend(ESQLBackend):
    """ES|QL that matches strings case-insensitively and correlates without fixed time buckets."""

    # Building blocks get a complete query of their own; correlations embed the bare condition, which
    # finish_query keeps in the conversion state.
    finalize_correlation_subqueries = True
    condition_state_key: ClassVar[str] = "ghosthire_condition"

    def finish_query(self, rule: Any, query: Any, state: ConversionState) -> Any:
        finished = super().finish_query(rule, query, state)
        state.processing_state[self.condition_state_key] = finished
        return finished

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        field = f"TO_LOWER({self.escape_and_quote_field(cond.field)})"
        parts = lowered(cond.value)
        literal_parts = [part for part in parts if isinstance(part, str)]
        if not cond.value.contains_special():
            return f"{field} == {string_literal(''.join(literal_parts))}"
        inner = parts[1:-1]
        if len(parts) >= 2 and parts[0] is parts[-1] is SpecialChars.WILDCARD_MULTI and _plain(inner):
            return f"{field} like {string_literal(like_pattern(parts))}"
        if parts[-1] is SpecialChars.WILDCARD_MULTI and _plain(parts[:-1]):
            return f"starts_with({field}, {string_literal(''.join(literal_parts))})"
        if parts[0] is SpecialChars.WILDCARD_MULTI and _plain(parts[1:]):
            return f"ends_with({field}, {string_literal(''.join(literal_parts))})"
        return f"{field} like {string_literal(like_pattern(parts))}"

    def convert_condition_not(self, cond: ConditionNOT, state: ConversionState) -> Any:
        # A comparison on a missing field is null in ES|QL, and `not null` drops the event; in Sigma the
        # comparison is false, so `not` holds. COALESCE gives the negated part Sigma's value.
        negated = super().convert_condition_not(cond, state)
        prefix = self.not_token + self.token_separator
        if not isinstance(negated, str) or not negated.startswith(prefix):
            return negated
        return f"{prefix}COALESCE({negated.removeprefix(prefix)}, false)"

    def decide_convert_condition_as_in_expression(
        self, cond: ConditionOR | ConditionAND, state: ConversionState
    ) -> bool:
        # Only plain strings go into `TO_LOWER(field) in (...)`; numbers keep their own comparisons.
        return super().decide_convert_condition_as_in_expression(cond, state) and all(
            isinstance(arg.value, SigmaString) for arg in cond.args
        )

    def convert_condition_as_in_expression(
        self, cond: ConditionOR | ConditionAND, state: ConversionState
    ) -> str:
        field = self.escape_and_quote_field(cond.args[0].field)
        values = ", ".join(string_literal(literal_text(arg.value).lower()) for arg in cond.args)
        return f"TO_LOWER({field}) in ({values})"

    def finalize_query_default(self, rule: Any, query: str, index: int, state: ConversionState) -> str:
        if isinstance(rule, SigmaCorrelationRule):
            return f"from {_indices_of_correlation(rule)}\n| where {query}"
        return f"from {','.join(indices_for(rule.logsource))} metadata _id, _index, _version | where {query}"

    # Correlations: one STATS over every event of the rule's window. Each Kibana run covers
    # [now - timespan, now], so the window slides with the schedule instead of being cut into buckets.
    def convert_correlation_event_count_rule(self, rule: SigmaCorrelationRule, *_: Any) -> list[str]:
        return [self._correlation(rule, "event_count = COUNT(*)", "event_count")]

    def convert_correlation_value_count_rule(self, rule: SigmaCorrelationRule, *_: Any) -> list[str]:
        field = self.escape_and_quote_field(_fieldref(rule))
        aggregate = f"value_count = COUNT_DISTINCT({field})"
        if (rule.custom_attributes.get("risk") or {}).get("persons"):
            # The persons behind the group (the person rule gives each of them the alert's risk).
            aggregate += f", distinct_values = VALUES({field})"
        return [self._correlation(rule, aggregate, "value_count")]

    def convert_correlation_temporal_rule(self, rule: SigmaCorrelationRule, *_: Any) -> list[str]:
        # One 0/1 flag per referenced rule (an event may match several), summed after MAX per group.
        flags = [f"rule_{number}" for number in range(len(rule.rules))]
        evals = ", ".join(
            f"rule_{number} = CASE({_query_of(reference)}, 1, 0)"
            for number, reference in enumerate(rule.rules)
        )
        maxima = ", ".join(f"{flag} = MAX({flag})" for flag in flags)
        return [
            self._correlation(
                rule, maxima, " + ".join(flags), before=f"| eval {evals}\n", count=len(rule.rules)
            )
        ]

    def convert_correlation_temporal_ordered_rule(self, rule: SigmaCorrelationRule, *_: Any) -> list[str]:
        raise SigmaFeatureNotSupportedByBackendError(
            "ES|QL cannot require an order of events within a group", source=rule.source
        )

    def _correlation(
        self,
        rule: SigmaCorrelationRule,
        aggregate: str,
        measure: str,
        before: str = "",
        count: int | None = None,
    ) -> str:
        if rule.aliases and rule.aliases.aliases:
            raise SigmaFeatureNotSupportedByBackendError(
                "field aliases across referenced rules are not supported in ES|QL", source=rule.source
            )
        require_mapped(rule, self.processing_pipeline)
        group_by = [self.escape_and_quote_field(field) for field in rule.group_by or []]
        search = " or ".join(f"({_query_of(reference)})" for reference in rule.rules)
        present = "".join(f" and {field} is not null" for field in group_by)
        # Sigma compares strings case-insensitively: group and count keyword values lower-cased.
        folded = [
            field
            for field in [*(rule.group_by or []), *_fieldrefs(rule)]
            if field_type(field) in STRING_TYPES
        ]
        if folded:
            lowered = ", ".join(
                f"{self.escape_and_quote_field(f)} = TO_LOWER({self.escape_and_quote_field(f)})"
                for f in dict.fromkeys(folded)
            )
            before = f"| eval {lowered}\n{before}"
        by = f" by {', '.join(group_by)}" if group_by else ""
        condition = rule.condition
        assert isinstance(condition, SigmaCorrelationCondition)
        operator = self.correlation_condition_mapping[condition.op]
        threshold = condition.count if count is None else count
        spread = ""
        window = correlation_window(rule.timespan.seconds)
        if window.bounds_spread:
            # The Kibana rule looks back further than the timespan (ghosthire.elastic.schedule): keep
            # Sigma's timespan by bounding the spread of the group's events.
            aggregate += ", first_seen = MIN(@timestamp), last_seen = MAX(@timestamp)"
            spread = f' and DATE_DIFF("seconds", first_seen, last_seen) <= {window.timespan}'
        return (
            f"({search}){present}\n{before}| stats {aggregate}{by}\n"
            f"| where {measure} {operator} {threshold}{spread}"
        )


class GhosthireLuceneBackend(LuceneBackend):
    """Lucene whose string matches ignore case as Sigma's do, through per-letter regex classes; values
    with unprintable characters are regular expressions too."""

    finalize_correlation_subqueries = True

    regex_reserved: ClassVar[str] = '.?+*|{}[]()"\\#@&<>~/ '

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        if not _needs_regex(cond.value):
            return super().convert_condition_field_eq_val_str(cond, state)
        return f"{self.escape_and_quote_field(cond.field)}:/{self.caseless_regex(cond.value)}/"

    def decide_convert_condition_as_in_expression(
        self, cond: ConditionOR | ConditionAND, state: ConversionState
    ) -> bool:
        return super().decide_convert_condition_as_in_expression(cond, state) and not any(
            isinstance(arg.value, SigmaString) and _needs_regex(arg.value) for arg in cond.args
        )

    def caseless_regex(self, value: SigmaString) -> str:
        pieces = []
        for part in value.s:
            if part is SpecialChars.WILDCARD_MULTI:
                pieces.append(".*")
            elif part is SpecialChars.WILDCARD_SINGLE:
                pieces.append(".")
            else:
                pieces.extend(self._regex_char(char) for char in str(part))
        return "".join(pieces)

    def _regex_char(self, char: str) -> str:
        if char.lower() != char.upper():
            return f"[{char.lower()}{char.upper()}]"
        return f"\\{char}" if char in self.regex_reserved else char


def _needs_regex(value: SigmaString) -> bool:
    """A term cannot hold tabs, newlines or other unprintable characters (the query parser splits on
    them, escaped or not); a regular expression holds any character as itself."""
    text = "".join(part for part in value.s if isinstance(part, str))
    return _needs_case_folding(value) or not text.isprintable()


def _needs_case_folding(value: SigmaString) -> bool:
    """Strings with letters, except IP addresses (ip-typed fields take no regex and ignore case anyway)."""
    text = "".join(part for part in value.s if isinstance(part, str))
    if text.lower() == text.upper():
        return False
    if value.contains_special():
        return True
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return True
    return False


def _has_literal_wildcard(value: SigmaString) -> bool:
    return any(isinstance(part, str) and ("*" in part or "?" in part) for part in value.s)


def _plain(parts: list[Part]) -> bool:
    return all(isinstance(part, str) for part in parts)


def require_mapped(rule: SigmaCorrelationRule, pipeline: Any) -> None:
    """Group-by and counted fields must be ECS fields too (strict mapping covers detections only)."""
    names, prefixes = pipeline_output_fields(pipeline)
    fields = [*(rule.group_by or []), *_fieldrefs(rule)]
    unmapped = [field for field in fields if field not in names and not field.startswith(prefixes)]
    if unmapped:
        raise SigmaFeatureNotSupportedByBackendError(
            f"correlation fields not mapped to ECS: {', '.join(unmapped)}", source=rule.source
        )


def _eql_query_of(reference: SigmaRuleReference) -> str:
    queries = reference.rule.get_conversion_result() or []
    if len(queries) != 1:
        raise SigmaFeatureNotSupportedByBackendError(
            f"referenced rule {reference.reference!r} compiles to {len(queries)} queries, expected one"
        )
    return str(queries[0])


def _fieldrefs(rule: SigmaCorrelationRule) -> list[str]:
    condition = rule.condition
    if not isinstance(condition, SigmaCorrelationCondition) or not condition.fieldref:
        return []
    refs = condition.fieldref
    return [refs] if isinstance(refs, str) else list(refs)


def _fieldref(rule: SigmaCorrelationRule) -> str:
    condition = rule.condition
    assert isinstance(condition, SigmaCorrelationCondition) and condition.fieldref
    fieldref = condition.fieldref
    return fieldref if isinstance(fieldref, str) else fieldref[0]


def _query_of(reference: SigmaRuleReference) -> str:
    states = reference.rule.get_conversion_states()
    if len(states) != 1:
        raise SigmaFeatureNotSupportedByBackendError(
            f"referenced rule {reference.reference!r} compiles to {len(states)} queries, expected one"
        )
    return str(states[0].processing_state[GhosthireEsqlBackend.condition_state_key])


def _indices_of_correlation(rule: SigmaCorrelationRule) -> str:
    indices: list[str] = []
    for reference in rule.rules:
        referenced = reference.rule
        patterns = (
            indices_for(referenced.logsource)
            if isinstance(referenced, SigmaRule)
            else _indices_of_correlation(referenced).split(",")
        )
        indices.extend(pattern for pattern in patterns if pattern not in indices)
    return ",".join(indices)
