"""A rule's work pattern (`work_pattern`) in ES|QL, appended to the rule's query: each matched event's user
joins the identities lookup index (a person it does not know, or in an exempt category, gives no verdict),
its country the countries index (a trip abroad), and the person's time zone and the event's UTC year the
time-zone index the installer loads from ghosthire.model.time_zones, which gives the person's offset at
that hour. Then STATS per person and clock hour, per person and UTC day, and, since ES|QL has no window
functions, each day's row expanded into the `window_days` windows ending on it (MV_EXPAND) and STATS per
person and window end: the local hunt's windows (ghosthire/hunt/work_patterns.py). A run judges the
windows that end on a finished UTC day and whose first day lies inside its range (the rule searches
`window_days` + 1 days, daily: each run judges yesterday's window), so a trip abroad later on a day is
seen before that day is judged, as the local hunt sees the whole day.

Continuous activity needs the gap between a person's consecutive events: without window functions or an
ordered per-group scan, ES|QL cannot measure it, and such a rule is left to Splunk and the local hunt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError

from ghosthire.elastic.identity_checks import COUNTRY, COUNTRY_CODE, WORK_COUNTRY, rule_ecs_field
from ghosthire.elastic.schedule import Duration
from ghosthire.model.time_zones import COLUMNS, KEY, time_zone_rows
from ghosthire.rules.metadata import WorkPattern, WorkPatternMeasure

if TYPE_CHECKING:
    from ghosthire.compile.targets import Target
    from ghosthire.rules import PackRule

DAY, HOUR = 86400, 3600
WEEKEND = 5  # weekday numbers from Monday = 0; the epoch began on a Thursday (3)
# The identities index's time-zone column (ghosthire.elastic.persons.LOOKUP_MAPPING).
TIME_ZONE = "ghosthire.time_zone"
# The time-zone index: its columns are the table's, under `ghosthire.zone_`.
ZONE_FIELDS = {column: f"ghosthire.zone_{column.removeprefix('zone_')}" for column in COLUMNS}
TIME_ZONES_MAPPING: dict[str, Any] = {
    "properties": {
        "ghosthire": {
            "properties": {
                name.removeprefix("ghosthire."): {"type": "keyword" if column == KEY else "long"}
                for column, name in ZONE_FIELDS.items()
            }
        }
    }
}
CONTINUOUS_UNSUPPORTED = (
    "continuous activity needs the gap between a person's consecutive events, and ES|QL has no window "
    "functions to measure it (the Splunk search and the local hunt do)"
)


class WorkPatternSettings(BaseModel):
    """backends/elastic/kibana.yml, `work_patterns`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    time_zones_index: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
    interval: Duration


def time_zone_documents() -> dict[str, dict[str, Any]]:
    """The time-zone index's documents, keyed by `zone|year`."""
    return {
        row[KEY]: {
            "ghosthire": {
                ZONE_FIELDS[column].removeprefix("ghosthire."): value if column == KEY else int(value)
                for column, value in row.items()
            }
        }
        for row in time_zone_rows()
    }


def lookback_seconds(pattern: WorkPattern) -> int:
    """What a run searches: the window and the day it runs in."""
    return (pattern.window_days + 1) * DAY


def work_pattern_stage(pack_rule: PackRule, query: str, target: Target) -> str:
    """The rule's ES|QL followed by the joins and the per-person measure."""
    from ghosthire.elastic.kibana import load_settings  # the Kibana settings module imports this one
    from ghosthire.elastic.persons import IDENTIFIER, PERSON, user_key

    meta = pack_rule.meta
    pattern = meta.work_pattern if meta else None
    if meta is None or pattern is None:
        return query
    if pattern.measure is not WorkPatternMeasure.OFF_HOURS_IN_ANOTHER_WORKING_DAY:
        raise SigmaFeatureNotSupportedByBackendError(CONTINUOUS_UNSUPPORTED)
    settings = load_settings()
    logsource = pack_rule.rule.logsource
    entity = rule_ecs_field(meta.risk.field, logsource, "risk")
    exempt = " or ".join(
        f'LOCATE(ghosthire.categories, "|{category.lower()}|") > 0' for category in pattern.exempt_categories
    )
    lines = [
        query,
        f"| eval {IDENTIFIER} = {user_key(rule_ecs_field(pattern.entity_field, logsource, 'work_pattern'))}",
        f"| lookup join {settings.person_risk.identities_index} on {IDENTIFIER}",
        '| eval ghosthire.categories = TO_LOWER(CONCAT("|", COALESCE(MV_CONCAT(ghosthire.category, "|"), ""), "|"))',
        f"| where {PERSON} is not null and {TIME_ZONE} is not null"
        + (f" and not ({exempt})" if exempt else ""),
        *_abroad(pattern, logsource, settings.identity_checks.countries_index),
        f"| eval ghosthire.hour = TO_LONG(@timestamp) / {HOUR * 1000} * {HOUR}, {ZONE_FIELDS[KEY]} = "
        f'CONCAT({TIME_ZONE}, "|", TO_STRING(DATE_EXTRACT("year", @timestamp)))',
        f"| lookup join {settings.work_patterns.time_zones_index} on {ZONE_FIELDS[KEY]}",
        f"| where {ZONE_FIELDS['offset']} is not null",
        *_clocks(pattern),
        *_windows(pattern, entity),
    ]
    return "\n".join(lines)


def _abroad(pattern: WorkPattern, logsource: Any, countries_index: str) -> list[str]:
    """ghosthire.abroad: 1 when the event's country is known and is not the person's work_country."""
    if pattern.country_field is None:
        return ["| eval ghosthire.abroad = 0"]
    country = rule_ecs_field(pattern.country_field, logsource, "work_pattern")
    return [
        f"| eval {COUNTRY} = TO_LOWER({country})",
        f"| lookup join {countries_index} on {COUNTRY}",
        f"| eval ghosthire.abroad = CASE({COUNTRY_CODE} is not null and {WORK_COUNTRY} is not null "
        f"and {COUNTRY_CODE} != {WORK_COUNTRY}, 1, 0)",
    ]


def _clocks(pattern: WorkPattern) -> list[str]:
    """ghosthire.foreign: 1 for an hour outside the person's working time and inside the other one."""
    own_start, own_end = pattern.local_working_hours or (0, 24)
    other_start, other_end = pattern.other_working_hours or (0, 0)
    zone = ZONE_FIELDS
    shifted = " or ".join(
        f"ghosthire.hour >= {zone[start]} and ghosthire.hour < {zone[end]}"
        for start, end in (("shift_start", "shift_end"), ("shift2_start", "shift2_end"))
    )
    there = " or ".join(
        _working(_shifted("ghosthire.hour", round(offset * HOUR)), other_start, other_end)
        for offset in pattern.other_utc_offsets
    )
    return [
        f"| eval ghosthire.local = ghosthire.hour + CASE({shifted}, {zone['shifted_offset']}, {zone['offset']})",
        f"| eval ghosthire.foreign = CASE(({there}) and not {_working('ghosthire.local', own_start, own_end)}, 1, 0)",
    ]


def _windows(pattern: WorkPattern, entity: str) -> list[str]:
    from ghosthire.elastic.persons import PERSON

    ends = "ghosthire.day"
    for offset in range(1, pattern.window_days):
        ends = f"MV_APPEND({ends}, ghosthire.day + {offset})"
    first_day = f"(ghosthire.window_end - {pattern.window_days - 1}) * {DAY}"
    now = "TO_LONG(NOW()) / 1000"
    return [
        "| stats ghosthire.foreign = MAX(ghosthire.foreign), ghosthire.abroad = MAX(ghosthire.abroad), "
        f"ghosthire.events = COUNT(*), ghosthire.last_seen = MAX(@timestamp), {entity} = VALUES({entity}) "
        f"by {PERSON}, ghosthire.hour",
        f"| eval ghosthire.day = ghosthire.hour / {DAY}",
        "| stats ghosthire.active = COUNT(*), ghosthire.matched = SUM(ghosthire.foreign), "
        "ghosthire.abroad = MAX(ghosthire.abroad), ghosthire.events = SUM(ghosthire.events), "
        f"ghosthire.last_seen = MAX(ghosthire.last_seen), {entity} = VALUES({entity}) by {PERSON}, ghosthire.day",
        # Each day counts in the windows ending on it and on the next window_days - 1 days.
        f"| eval ghosthire.window_end = {ends}",
        "| mv_expand ghosthire.window_end",
        "| eval ghosthire.matched_day = CASE(ghosthire.matched > 0, 1, 0), "
        "ghosthire.ends = CASE(ghosthire.window_end == ghosthire.day and ghosthire.matched > 0, 1, 0)",
        "| stats ghosthire.active = SUM(ghosthire.active), ghosthire.matched = SUM(ghosthire.matched), "
        "ghosthire.days = SUM(ghosthire.matched_day), ghosthire.abroad = MAX(ghosthire.abroad), "
        "ghosthire.ends = MAX(ghosthire.ends), ghosthire.events = SUM(ghosthire.events), "
        f"ghosthire.last_seen = MAX(ghosthire.last_seen), {entity} = VALUES({entity}) "
        f"by {PERSON}, ghosthire.window_end",
        "| eval ghosthire.share = ghosthire.matched * 1.0 / ghosthire.active",
        f"| where ghosthire.ends == 1 and ghosthire.abroad == 0 and ghosthire.days >= {pattern.min_days} "
        f"and ghosthire.share >= {pattern.min_share or 1} "
        # Windows of finished days inside the run's range: a daily run judges yesterday's.
        f"and {first_day} >= {now} - {lookback_seconds(pattern)} and (ghosthire.window_end + 1) * {DAY} <= {now}",
        "| stats ghosthire.work_pattern_days = MAX(ghosthire.days), ghosthire.work_pattern_share = "
        "MAX(ghosthire.share), ghosthire.events = MAX(ghosthire.events), ghosthire.last_seen = "
        f"MAX(ghosthire.last_seen), {entity} = VALUES({entity}) by {PERSON}",
        f"| eval {entity} = MV_MIN({entity})",
    ]


def _shifted(field: str, seconds: int) -> str:
    return f"({field} + {seconds})" if seconds >= 0 else f"({field} - {-seconds})"


def _working(clock: str, start: int, end: int) -> str:
    """Whether the epoch-seconds clock reading `clock` is Monday to Friday, from `start` to `end` o'clock."""
    hour = f"{clock} / {HOUR} % 24"
    return f"(({clock} / {DAY} + 3) % 7 < {WEEKEND} and {hour} >= {start} and {hour} < {end})"
