"""A rule's work pattern (`work_pattern`) as SPL, inserted before the rule's filter macro: the matched
events of each person are measured as the local hunt measures them (ghosthire/hunt/work_patterns.py) and
one result per person stands when the pattern holds in a window of `window_days` UTC days ending on a day
the pattern shows. The user resolves through `ghosthire_identity_keys` (a user it does not know, or in an
exempt category, gives no verdict); the person's local clock comes from their `time_zone` and the
generated `ghosthire_time_zones` lookup (ghosthire.model.time_zones), the other working day's clock from
plain offsets. Windows are slid per person with `streamstats time_window` over per-day rows; a run judges the windows of
finished days whose first day lies inside the searched range, so it never judges a cut window or day."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sigma.exceptions import SigmaError, SigmaFeatureNotSupportedByBackendError

from ghosthire.model.time_zones import KEY
from ghosthire.rules.metadata import WorkPattern, WorkPatternMeasure
from ghosthire.splunk.identity_checks import country_codes, resolve_user

if TYPE_CHECKING:
    from ghosthire.compile.targets import Target
    from ghosthire.rules import PackRule

TIME_ZONES = "ghosthire_time_zones.csv"
DAY, HOUR = 86400, 3600
WEEKEND = 5  # weekday numbers from Monday = 0; the epoch began on a Thursday (3)


def work_pattern_stage(pack_rule: PackRule, query: str, target: Target) -> str:
    """The query with the work pattern's measure before its last line (the filter macro)."""
    from ghosthire.splunk.entities import FieldResolver

    meta = pack_rule.meta
    pattern = meta.work_pattern if meta else None
    if meta is None or pattern is None:
        return query
    resolver = FieldResolver(target)
    try:
        user = resolver.resolve(pack_rule.rule, pattern.entity_field).name
        entity = resolver.resolve(pack_rule.rule, meta.risk.field).name
        country = (
            resolver.resolve(pack_rule.rule, pattern.country_field).name if pattern.country_field else None
        )
    except SigmaError as error:
        raise SigmaFeatureNotSupportedByBackendError(
            f"work_pattern field has no Splunk field: {error}"
        ) from None
    search, _, filter_line = query.rpartition("\n")
    measure = (
        _off_hours(pattern, entity, country)
        if pattern.measure is WorkPatternMeasure.OFF_HOURS_IN_ANOTHER_WORKING_DAY
        else _continuous(pattern, entity)
    )
    return "\n".join([search, *_person(pattern, user), *measure, filter_line])


def _person(pattern: WorkPattern, user: str) -> list[str]:
    """The events of users the identity lookup resolves, outside the exempt categories."""
    time_zone = (
        " time_zone AS gh_time_zone" if pattern.measure is not WorkPatternMeasure.CONTINUOUS_ACTIVITY else ""
    )
    exempt = "|".join(category.lower() for category in pattern.exempt_categories)
    category = (
        f' AND NOT match(lower(coalesce(gh_category, "")), "(^|[|])({exempt})([|]|$)")' if exempt else ""
    )
    return [
        *resolve_user(
            user, f"person AS gh_person category AS gh_category work_country AS gh_work_country{time_zone}"
        ),
        f'| where isnotnull(gh_person) AND gh_person!=""{category}',
    ]


def _off_hours(pattern: WorkPattern, entity: str, country: str | None) -> list[str]:
    own_start, own_end = pattern.local_working_hours or (0, 24)
    other_start, other_end = pattern.other_working_hours or (0, 0)
    there = " OR ".join(
        _working(_shifted("gh_hour", round(offset * HOUR)), other_start, other_end)
        for offset in pattern.other_utc_offsets
    )
    abroad = (
        [
            *country_codes(country),
            "| eval gh_abroad=if(isnotnull(gh_event_code) AND isnotnull(gh_work_code) "
            "AND gh_event_code!=gh_work_code, 1, 0)",
        ]
        if country
        else ["| eval gh_abroad=0"]
    )
    window = pattern.window_days * DAY
    return [
        '| where isnotnull(gh_time_zone) AND gh_time_zone!=""',
        *abroad,
        f'| eval gh_hour=floor(_time / {HOUR}) * {HOUR}, gh_zone_year=gh_time_zone . "|" . strftime(gh_hour, "%Y")',
        f"| lookup ghosthire_time_zones {KEY} AS gh_zone_year OUTPUT offset AS gh_offset "
        "shifted_offset AS gh_shifted shift_start AS gh_s1 shift_end AS gh_e1 shift2_start AS gh_s2 shift2_end AS gh_e2",
        "| where isnotnull(gh_offset)",
        "| eval gh_local=gh_hour + if((gh_hour >= gh_s1 AND gh_hour < gh_e1) OR (gh_hour >= gh_s2 AND gh_hour < gh_e2), "
        "gh_shifted, gh_offset)",
        f"| eval gh_foreign=if(({there}) AND NOT {_working('gh_local', own_start, own_end)}, 1, 0)",
        "| stats max(gh_foreign) as gh_foreign max(gh_abroad) as gh_abroad count as gh_events "
        f"max(_time) as gh_last max({_quoted(entity)}) as {_quoted(entity)} by gh_person gh_hour",
        f"| eval gh_day=floor(gh_hour / {DAY}) * {DAY}",
        "| stats count as gh_active sum(gh_foreign) as gh_matched max(gh_abroad) as gh_abroad "
        f"sum(gh_events) as gh_events max(gh_last) as gh_last max({_quoted(entity)}) as {_quoted(entity)} "
        "by gh_person gh_day",
        "| eval _time=gh_day, gh_matched_day=if(gh_matched > 0, 1, 0)",
        "| sort 0 _time",
        f"| streamstats time_window={window}s sum(gh_active) as gh_window_active sum(gh_matched) as "
        "gh_window_matched sum(gh_matched_day) as gh_window_days max(gh_abroad) as gh_window_abroad "
        "sum(gh_events) as gh_window_events by gh_person",
        "| addinfo",
        f"| where gh_matched > 0 AND gh_window_abroad=0 AND gh_window_days >= {pattern.min_days} AND "
        f"gh_window_matched / gh_window_active >= {pattern.min_share or 1} AND "
        f"{_judged(window)}",
        "| eval work_pattern_share=round(gh_window_matched / gh_window_active, 2)",
        f"| stats max(gh_last) as _time max({_quoted(entity)}) as {_quoted(entity)} "
        "max(work_pattern_share) as work_pattern_share max(gh_window_days) as work_pattern_days "
        "max(gh_window_events) as count by gh_person",
        "| fields - gh_person",
    ]


def _continuous(pattern: WorkPattern, entity: str) -> list[str]:
    gap = (pattern.max_gap_minutes or 0) * 60
    long_day = round((pattern.min_hours or 0) * HOUR)
    window = pattern.window_days * DAY
    return [
        "| sort 0 _time",
        # The latest earlier event within one second past the gap; the exact gap is compared next.
        f"| streamstats current=f time_window={gap + 1}s max(_time) as gh_previous by gh_person",
        f"| eval gh_new_run=if(isnull(gh_previous) OR _time - gh_previous > {gap}, 1, 0)",
        "| streamstats sum(gh_new_run) as gh_run by gh_person",
        "| stats min(_time) as gh_start max(_time) as gh_last count as gh_events "
        f"max({_quoted(entity)}) as {_quoted(entity)} by gh_person gh_run",
        f"| eval gh_long_days=floor((gh_last - gh_start) / {long_day}), "
        f"gh_hours=round((gh_last - gh_start) / {HOUR}, 2), gh_day=floor(gh_start / {DAY}) * {DAY}",
        "| where gh_long_days >= 1",
        "| stats sum(gh_long_days) as gh_long_days max(gh_hours) as gh_hours sum(gh_events) as gh_events "
        f"max(gh_last) as gh_last max({_quoted(entity)}) as {_quoted(entity)} by gh_person gh_day",
        "| eval _time=gh_day",
        "| sort 0 _time",
        f"| streamstats time_window={window}s sum(gh_long_days) as gh_window_long_days max(gh_hours) as "
        "gh_window_hours sum(gh_events) as gh_window_events by gh_person",
        "| addinfo",
        f"| where gh_window_long_days >= {pattern.min_days} AND {_judged(window)}",
        f"| stats max(gh_last) as _time max({_quoted(entity)}) as {_quoted(entity)} "
        "max(gh_window_long_days) as work_pattern_days max(gh_window_hours) as work_pattern_longest_hours "
        "max(gh_window_events) as count by gh_person",
        "| fields - gh_person",
    ]


def _judged(window: int) -> str:
    """The windows a run judges (`_time`: the window's last day): those of finished days whose first day
    lies inside its range, so a daily run judges yesterday's and a trip abroad later on a day is seen
    before the day is judged, as the local hunt sees whole days."""
    return f"_time >= info_min_time + {window - DAY} AND _time + {DAY} <= info_max_time"


def _shifted(field: str, seconds: int) -> str:
    return f"({field} + {seconds})" if seconds >= 0 else f"({field} - {-seconds})"


def _working(clock: str, start: int, end: int) -> str:
    """Whether the epoch-seconds clock reading `clock` is Monday to Friday, from `start` to `end` o'clock."""
    hour = f"floor({clock} / {HOUR}) % 24"
    return f"((floor({clock} / {DAY}) + 3) % 7 < {WEEKEND} AND {hour} >= {start} AND {hour} < {end})"


def _quoted(field: str) -> str:
    """A field name as stats reads it: dotted names as they are, others needing quotes quoted."""
    return field if all(char.isalnum() or char in "._" for char in field) else f'"{field}"'
