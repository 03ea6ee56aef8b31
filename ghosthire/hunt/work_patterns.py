"""The stage after matching for rules with a `work_pattern`: a person's matched events are measured over a
window (hours against the identity's time zone, unbroken activity) and one alert stands per window in which
the pattern holds; the events themselves never alert. A person the identity lookup does not resolve, or a
row without the time zone a measure needs, gives no verdict, as identity checks do."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from ghosthire.hunt.alerts import MAX_EVIDENCE, Alert, alert_order
from ghosthire.hunt.engine import Hit
from ghosthire.hunt.first_seen import Scope
from ghosthire.hunt.plan import HuntPlan
from ghosthire.identities import Directory
from ghosthire.identities.countries import country_code
from ghosthire.identities.directory import EntityKind, Person
from ghosthire.rules.metadata import WorkPattern, WorkPatternMeasure

WEEKEND = 5  # datetime.weekday() of Saturday


def has_work_patterns(alerts: list[Alert]) -> bool:
    return any(_pattern(alert) for alert in alerts)


def has_work_pattern_rules(plan: HuntPlan) -> bool:
    return any(detection.rule.meta and detection.rule.meta.work_pattern for detection in plan.detections)


def apply_work_patterns(alerts: list[Alert], directory: Directory, scope: Scope | None = None) -> list[Alert]:
    """The alerts with each work-pattern rule's event alerts replaced by its pattern alerts (`scope`
    separates independent event sets, as for first-seen baselines)."""
    kept: list[Alert] = []
    grouped: dict[tuple[str, str, str], list[Alert]] = defaultdict(list)
    persons: dict[str, Person] = {}
    for alert in alerts:
        pattern = _pattern(alert)
        if pattern is None:
            kept.append(alert)
            continue
        person = _person(alert, pattern, directory)
        if person is not None and alert.time is not None:
            persons[person.key] = person
            grouped[scope(alert) if scope else "", alert.rule.name, person.key].append(alert)
    for (_, _, key), events in grouped.items():
        pattern = _pattern(events[0])
        assert pattern is not None
        kept.extend(MEASURES[pattern.measure](pattern, persons[key], events))
    return sorted(kept, key=alert_order)


def measured_person(directory: Directory) -> Callable[[Hit], bool]:
    """Whether a hit can count in a work pattern: its rule has none, or it has a time and names a person
    the pattern measures. The engine drops the others as it reads them (a pattern's rule matches every
    sign-in), so that they never become alerts."""

    def keeps(hit: Hit) -> bool:
        meta = hit.detection.rule.meta
        pattern = meta.work_pattern if meta else None
        if pattern is None or not hit.values:
            return True
        value = hit.values[hit.detection.later_fields.index(pattern.entity_field)]
        return hit.ts is not None and _person_named(value, pattern, directory) is not None

    return keeps


def _pattern(alert: Alert) -> WorkPattern | None:
    return alert.rule.meta.work_pattern if alert.rule.meta else None


def _person(alert: Alert, pattern: WorkPattern, directory: Directory) -> Person | None:
    return _person_named(alert.value_of(pattern.entity_field), pattern, directory)


def _person_named(value: object, pattern: WorkPattern, directory: Directory) -> Person | None:
    """The person the pattern's entity value names, unless unknown or in an exempt category."""
    person = directory.resolve(EntityKind.USER, None if value is None else str(value))
    exempt = {category.lower() for category in pattern.exempt_categories}
    if person is None or {category.lower() for category in person.categories} & exempt:
        return None
    return person


def _off_hours_in_another_working_day(
    pattern: WorkPattern, person: Person, events: list[Alert]
) -> list[Alert]:
    """Windows in which the person's active hours (clock hours with an event) that are night or weekend
    in their own time zone and working time at one of the other offsets fall on `min_days` days and make
    at least `min_share` of all their active hours; a window with a trip abroad is left out."""
    if not person.time_zone:
        return []
    zone = ZoneInfo(person.time_zone)
    hours: dict[datetime, list[Alert]] = defaultdict(list)
    for alert in events:
        hours[_time(alert).replace(minute=0, second=0, microsecond=0)].append(alert)
    abroad = {_time(alert).date() for alert in events if _abroad(alert, pattern, person)}
    foreign = {
        hour
        for hour in hours
        if _other_working_hour(pattern, hour) and not _own_working_hour(pattern, hour, zone)
    }

    def holds(days: set[date]) -> Alert | None:
        active = [hour for hour in hours if hour.date() in days]
        matched = sorted(hour for hour in active if hour in foreign)
        share = len(matched) / len(active) if active else 0.0
        if days & abroad or len({hour.date() for hour in matched}) < pattern.min_days:
            return None
        if share < (pattern.min_share or 1.0):
            return None
        return _pattern_alert([alert for hour in matched for alert in hours[hour]], share)

    return _windows(pattern, sorted({hour.date() for hour in foreign}), holds)


def _continuous_activity(pattern: WorkPattern, person: Person, events: list[Alert]) -> list[Alert]:
    """Windows with `min_days` long days: a run of activity without a gap over `max_gap_minutes` counts
    one long day, on the day (UTC) it began, for each `min_hours` it lasts (a 47-hour run is two)."""
    del person  # the measure needs no identity column
    gap, long_day = timedelta(minutes=pattern.max_gap_minutes or 0), timedelta(hours=pattern.min_hours or 0)
    runs: list[list[Alert]] = []
    for alert in sorted(events, key=_time):
        if runs and _time(alert) - _time(runs[-1][-1]) <= gap:
            runs[-1].append(alert)
        else:
            runs.append([alert])
    by_day: dict[date, list[list[Alert]]] = defaultdict(list)
    for run in runs:
        if _span(run) >= long_day:
            by_day[_time(run[0]).date()].append(run)

    def holds(days: set[date]) -> Alert | None:
        within = [run for day in sorted(days) for run in by_day.get(day, [])]
        if sum(_span(run) // long_day for run in within) < pattern.min_days:
            return None
        longest = max(_span(run) for run in within)
        return _pattern_alert([alert for run in within for alert in run], longest.total_seconds() / 3600)

    return _windows(pattern, sorted(by_day), holds)


def _span(run: list[Alert]) -> timedelta:
    return _time(run[-1]) - _time(run[0])


def _windows(
    pattern: WorkPattern, days: list[date], holds: Callable[[set[date]], Alert | None]
) -> list[Alert]:
    """One alert per window of `window_days` ending on a day the pattern shows, once the pattern holds
    in it; the next may come only when its window no longer overlaps the last alerted one."""
    alerts: list[Alert] = []
    last: date | None = None
    for day in days:
        if last is not None and day - last < timedelta(days=pattern.window_days):
            continue
        alert = holds({day - timedelta(days=n) for n in range(pattern.window_days)})
        if alert is not None:
            alerts.append(alert)
            last = day
    return alerts


def _pattern_alert(events: Iterable[Alert], metric: float) -> Alert:
    """The pattern as one alert: at its last event, citing its events, with the measured value."""
    ordered = sorted(events, key=_time)
    cited = ordered[-MAX_EVIDENCE:]
    return replace(
        ordered[-1],
        matched=None,
        texts=tuple(alert.text for alert in cited if alert.text is not None),
        locations=tuple(location for alert in cited for location in alert.locations),
        last_time=ordered[-1].time,
        event_count=len(ordered),
        metric=round(metric, 2),
    )


def _other_working_hour(pattern: WorkPattern, hour: datetime) -> bool:
    start, end = pattern.other_working_hours or (0, 0)
    return any(
        (there := hour + timedelta(hours=offset)).weekday() < WEEKEND and start <= there.hour < end
        for offset in pattern.other_utc_offsets
    )


def _own_working_hour(pattern: WorkPattern, hour: datetime, zone: ZoneInfo) -> bool:
    start, end = pattern.local_working_hours or (0, 24)
    local = hour.astimezone(zone)
    return local.weekday() < WEEKEND and start <= local.hour < end


def _abroad(alert: Alert, pattern: WorkPattern, person: Person) -> bool:
    if pattern.country_field is None:
        return False
    home, seen = country_code(person.work_country), country_code(alert.value_of(pattern.country_field))
    return home is not None and seen is not None and seen != home


def _time(alert: Alert) -> datetime:
    assert alert.time is not None  # grouped alerts all have one
    return alert.time


MEASURES: dict[WorkPatternMeasure, Callable[[WorkPattern, Person, list[Alert]], list[Alert]]] = {
    WorkPatternMeasure.OFF_HOURS_IN_ANOTHER_WORKING_DAY: _off_hours_in_another_working_day,
    WorkPatternMeasure.CONTINUOUS_ACTIVITY: _continuous_activity,
}
