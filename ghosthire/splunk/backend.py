"""pySigma's Splunk backend with sliding-window correlations and a tstats output format.

The stock backend counts correlations in fixed `bin _time` buckets, so a burst that straddles a bucket
edge is missed. Here the default correlation method is `streamstats`: events are sorted by time and every
event carries the count over the window that ends at it (`streamstats time_window=...`), which is Sigma's
sliding window. The stock `stats` method stays available under its name.

Every streamstats correlation ends with the same guard: only matches whose whole look-back window lies
inside the searched time range are kept (`_time >= info_min_time + timespan`). The app schedules each
correlation over `timespan + schedule interval`, so consecutive runs evaluate every event exactly once
with a complete window: no duplicate alerts, no half-empty windows.

Group-by fields and the counted field compare case-insensitively, as Sigma matches values and as the
local engine groups (`lower()`): Splunk's `by` and `dc()` are case-sensitive, so `JSmith@Acme.com` and
`jsmith@acme.com` would be two users and `ANYDESK.EXE`/`AnyDesk.exe` two tools. The streamstats method
groups and counts lower-cased copies (`gh_by<n>`, `gh_value`: plain names, not `_`-prefixed internal
ones, since they are by-fields) and renames the copies back to the group-by field names at the end:
results carry the group-by values lower-cased.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from sigma.backends.splunk import SplunkBackend
from sigma.conversion.state import ConversionState
from sigma.correlations import (
    SigmaCorrelationCondition,
    SigmaCorrelationConditionOperator,
    SigmaCorrelationRule,
    SigmaCorrelationTimespan,
)
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError, SigmaTransformationError
from sigma.processing.transformations import FieldMappingTransformation
from sigma.rule import SigmaRule
from sigma.types import SigmaString

STREAMSTATS = "streamstats"
STATS = "stats"

# Lower-cased copies of the group-by fields and of a value_count's counted field (see the module doc).
GROUP = "gh_by{index}"
VALUE = "gh_value"

_COMPLETE_WINDOWS_ONLY = '| addinfo\n| where _time >= relative_time(info_min_time, "+{timespan}")'


def _eval_field(name: str) -> str:
    """A field name on the right of an eval expression: single-quoted (`'actor.email'`)."""
    if "'" in name or '"' in name:
        raise SigmaFeatureNotSupportedByBackendError(f"field name {name!r} cannot be quoted in eval")
    return f"'{name}'"


def _streamstats_query(summary: str) -> str:
    """Search, time order, sliding aggregation, threshold, complete windows only, one row per group."""
    return "\n".join(
        ["{search}", "| sort 0 _time", "{aggregate}", "{condition}", _COMPLETE_WINDOWS_ONLY, summary]
    )


class GhosthireSplunkBackend(SplunkBackend):
    """Splunk SPL with Sigma's sliding correlation windows (streamstats) and tstats data model queries."""

    name: ClassVar[str] = "ghosthire Splunk SPL (sliding-window correlations, tstats)"
    formats: ClassVar[dict[str, str]] = {
        **SplunkBackend.formats,
        "tstats": "tstats over an accelerated CIM data model (pipelines in backends/splunk/tstats/)",
    }
    # A rule that a correlation references is wrapped like any other (source macro, filter macro), so
    # the correlation search reads the right data and honours the building block's tuning.
    finalize_correlation_subqueries: ClassVar[bool] = True
    # Splunk names JSON array members `target{}.alternateId`; such names need no quotes in SPL.
    field_quote_pattern: ClassVar[re.Pattern[str]] = re.compile(r"^[\w.{}]+$")

    def convert_value_str(self, s: SigmaString, state: ConversionState) -> str:
        # A search term cannot escape `*`: `"a\*b"` is still a wildcard to Splunk, so a value holding a
        # literal `*` would match something else. Refuse it rather than ship another meaning.
        if any("*" in part for part in s.s if isinstance(part, str)):
            raise SigmaFeatureNotSupportedByBackendError(
                "a value holds a literal *, which a Splunk search term cannot escape (it would match as a wildcard)"
            )
        return super().convert_value_str(s, state)

    correlation_methods: ClassVar[dict[str, str]] = {
        STREAMSTATS: "Sliding time window with streamstats time_window (Sigma semantics)",
        STATS: SplunkBackend.correlation_methods[STATS],
    }
    default_correlation_method: ClassVar[str] = STREAMSTATS

    event_count_correlation_query: ClassVar[dict[str, str]] = {
        STATS: SplunkBackend.default_correlation_query[STATS],
        STREAMSTATS: _streamstats_query(
            "| stats max(event_count) as event_count min(_time) as firstTime max(_time) as lastTime{groupby}"
        ),
    }
    value_count_correlation_query: ClassVar[dict[str, str]] = {
        STATS: SplunkBackend.default_correlation_query[STATS],
        STREAMSTATS: _streamstats_query(
            "| stats max(value_count) as value_count values(distinct_values) as distinct_values"
            " min(_time) as firstTime max(_time) as lastTime{groupby}"
        ),
    }
    temporal_correlation_query: ClassVar[dict[str, str]] = {
        STATS: SplunkBackend.default_correlation_query[STATS],
        STREAMSTATS: _streamstats_query(
            "| stats values(event_types) as event_types min(_time) as firstTime max(_time) as lastTime{groupby}"
        ),
    }
    temporal_ordered_correlation_query: ClassVar[dict[str, str]] = {
        STREAMSTATS: _streamstats_query(
            "| stats count as sequences min(_gh_start) as firstTime max(_time) as lastTime{groupby}"
        ),
    }

    event_count_aggregation_expression: ClassVar[dict[str, str]] = {
        **SplunkBackend.event_count_aggregation_expression,
        STREAMSTATS: "| streamstats time_window={timespan} count as event_count{groupby}",
    }
    value_count_aggregation_expression: ClassVar[dict[str, str]] = {
        **SplunkBackend.value_count_aggregation_expression,
        STREAMSTATS: f"| streamstats time_window={{timespan}} dc({VALUE}) as value_count"
        f" values({VALUE}) as distinct_values{{groupby}}",
    }
    temporal_aggregation_expression: ClassVar[dict[str, str]] = {
        **SplunkBackend.temporal_aggregation_expression,
        STREAMSTATS: "| streamstats time_window={timespan} dc(event_type) as event_type_count"
        " values(event_type) as event_types{groupby}",
    }
    event_count_condition_expression: ClassVar[dict[str, str]] = {
        **SplunkBackend.event_count_condition_expression,
        STREAMSTATS: "| where event_count {op} {count}",
    }
    value_count_condition_expression: ClassVar[dict[str, str]] = {
        **SplunkBackend.value_count_condition_expression,
        STREAMSTATS: "| where value_count {op} {count}",
    }
    temporal_condition_expression: ClassVar[dict[str, str]] = {
        **SplunkBackend.temporal_condition_expression,
        STREAMSTATS: "| where event_type_count {op} {count}",
    }
    temporal_ordered_condition_expression: ClassVar[dict[str, str]] = {
        STREAMSTATS: "| where isnotnull(_gh_start)",
    }

    # temporal_ordered as a chain, one step per referenced rule in order. Step i keeps, on every event,
    # the latest start time of a sequence rule 1..i that ended before it within the window (max over
    # streamstats); the last rule's events take that start if it is within the timespan. Keeping the
    # LATEST start is enough: if any sequence fits in the window, the latest-starting one does too.
    # current=f: an event never continues a sequence it started itself.
    sequence_step_expression: ClassVar[str] = (
        '| eval _gh_step{index}=if(event_type="{ruleid}", {previous}, null())\n'
        "| streamstats current=f time_window={timespan} max(_gh_step{index}) as _gh_chain{index}{groupby}"
    )
    sequence_end_expression: ClassVar[str] = (
        '| eval _gh_start=if(event_type="{ruleid}" AND {previous} >= relative_time(_time, "-{timespan}"),'
        " {previous}, null())"
    )

    groupby_expression: ClassVar[dict[str, str]] = {
        **SplunkBackend.groupby_expression,
        STREAMSTATS: " by {fields}",
    }
    groupby_field_expression: ClassVar[dict[str, str]] = {
        **SplunkBackend.groupby_field_expression,
        STREAMSTATS: "{field}",
    }
    groupby_field_expression_joiner: ClassVar[dict[str, str]] = {
        **SplunkBackend.groupby_field_expression_joiner,
        STREAMSTATS: " ",
    }

    def convert_timespan(
        self,
        timespan: SigmaCorrelationTimespan,
        output_format: str | None = None,
        method: str | None = None,
    ) -> str:
        """Seconds with unit: valid for `bin span=`, `time_window=` and `relative_time()` alike, and exact
        (a `1d` in relative_time is a calendar day, 23 or 25 hours on daylight-saving days)."""
        return f"{timespan.seconds}s"

    def convert_correlation_aggregation_from_template(
        self,
        rule: SigmaCorrelationRule,
        correlation_type: Any,
        method: str,
        search: str,
    ) -> str:
        if method != STREAMSTATS:
            return super().convert_correlation_aggregation_from_template(
                rule, correlation_type, method, search
            )
        if correlation_type == "temporal_ordered":
            aggregate = self._sequence_chain(rule, method)
        else:
            aggregate = super().convert_correlation_aggregation_from_template(
                rule, correlation_type, method, search
            )
        return "\n".join(filter(None, [self._case_folding(rule, correlation_type), aggregate]))

    def _case_folding(self, rule: SigmaCorrelationRule, correlation_type: Any) -> str:
        """`| eval gh_by1=lower('<group-by field>'), ..., gh_value=lower('<counted field>')`."""
        assignments = [
            f"{GROUP.format(index=index)}=lower({_eval_field(field)})"
            for index, field in enumerate(rule.group_by or [], start=1)
        ]
        if correlation_type == "value_count":
            fieldref = (
                rule.condition.fieldref if isinstance(rule.condition, SigmaCorrelationCondition) else None
            )
            if not isinstance(fieldref, str):
                raise SigmaFeatureNotSupportedByBackendError(
                    "a value_count correlation counts exactly one field", source=rule.source
                )
            assignments.append(f"{VALUE}=lower({_eval_field(fieldref)})")
        return f"| eval {', '.join(assignments)}" if assignments else ""

    def convert_correlation_aggregation_groupby_from_template(
        self, group_by: list[str] | None, method: str
    ) -> str:
        if method != STREAMSTATS or not group_by:
            return super().convert_correlation_aggregation_groupby_from_template(group_by, method)
        return " by " + " ".join(GROUP.format(index=index) for index in range(1, len(group_by) + 1))

    def convert_correlation_rule_from_template(
        self, rule: SigmaCorrelationRule, correlation_type: Any, method: str
    ) -> list[str]:
        """The streamstats queries end by renaming the lower-cased group copies to the field names."""
        queries = super().convert_correlation_rule_from_template(rule, correlation_type, method)
        if method != STREAMSTATS or not rule.group_by:
            return queries
        renames = ", ".join(
            f'{GROUP.format(index=index)} AS "{field}"' for index, field in enumerate(rule.group_by, start=1)
        )
        return [f"{query}\n| rename {renames}" for query in queries]

    def _sequence_chain(self, rule: SigmaCorrelationRule, method: str) -> str:
        condition = rule.condition
        rule_count = len(rule.referenced_rules)
        if not (
            isinstance(condition, SigmaCorrelationCondition)
            and condition.op == SigmaCorrelationConditionOperator.GTE
            and condition.count == rule_count
        ):
            raise SigmaFeatureNotSupportedByBackendError(
                "an ordered temporal correlation is expressed only when all its rules must occur in order",
                source=rule.source,
            )
        timespan = self.convert_timespan(rule.timespan)
        groupby = self.convert_correlation_aggregation_groupby_from_template(rule.group_by, method)
        previous = "_time"
        lines: list[str] = []
        for index, reference in enumerate(rule.referenced_rules, start=1):
            template = self.sequence_end_expression if index == rule_count else self.sequence_step_expression
            ruleid = self.convert_correlation_ruleid(reference.rule.name or reference.rule.id, template)
            lines.append(
                template.format(
                    index=index, ruleid=ruleid, previous=previous, timespan=timespan, groupby=groupby
                )
            )
            previous = f"_gh_chain{index}"
        return "\n".join(lines)

    def convert_correlation_rule(
        self,
        rule: SigmaCorrelationRule,
        output_format: str | None = None,
        method: str | None = None,
        callback: Any = None,
    ) -> list[Any]:
        queries = super().convert_correlation_rule(rule, output_format, method, callback)
        unmapped = self._unmapped_correlation_fields(rule)
        if unmapped:
            raise SigmaTransformationError(
                f"The following correlation fields are not mapped: {', '.join(unmapped)}", source=rule.source
            )
        return queries

    def _unmapped_correlation_fields(self, rule: SigmaCorrelationRule) -> list[str]:
        """Group-by and condition fields that no field mapping of a referenced rule's log source produces.

        pySigma maps these fields but, unlike detection fields, records no mapping for them, so the
        strict mapping check of the pipelines cannot see a field that passed through unmapped.
        """
        aliases = {alias.alias for alias in rule.aliases}
        fieldref = rule.condition.fieldref if isinstance(rule.condition, SigmaCorrelationCondition) else None
        fieldrefs = fieldref if isinstance(fieldref, list) else [fieldref] if fieldref else []
        shared = [field for field in [*(rule.group_by or []), *fieldrefs] if field not in aliases]
        unmapped: list[str] = []
        for reference in rule.referenced_rules:
            known = self._mapped_field_names(reference.rule)
            if known is None:
                continue
            per_rule = [alias.mapping[reference] for alias in rule.aliases if reference in alias.mapping]
            unmapped += [
                field for field in [*shared, *per_rule] if field not in known and field not in unmapped
            ]
        return unmapped

    def _mapped_field_names(self, rule: SigmaRule | SigmaCorrelationRule) -> set[str] | None:
        """Every field name the pipeline's field mappings can produce for this rule's log source."""
        if isinstance(rule, SigmaCorrelationRule):
            return None
        known: set[str] = set()
        for item in self.last_processing_pipeline.items:
            if isinstance(item.transformation, FieldMappingTransformation) and item.match_rule_conditions(
                rule
            ):
                for target in item.transformation.mapping.values():
                    known.update([target] if isinstance(target, str) else target)
        return known

    def finalize_query_tstats(
        self, rule: SigmaRule | SigmaCorrelationRule, query: str, index: int, state: ConversionState
    ) -> str:
        """The bare `where` clause; the tstats pipelines wrap it. Regular expressions and field
        comparisons become piped commands after the search, which a tstats `where` cannot hold."""
        if state.has_deferred() or state.processing_state.get("deferred_or_condition_fields"):
            raise SigmaFeatureNotSupportedByBackendError(
                "tstats cannot evaluate regular expressions or field comparisons", source=rule.source
            )
        return query

    def finalize_output_tstats(self, queries: list[str]) -> list[str]:
        return queries
