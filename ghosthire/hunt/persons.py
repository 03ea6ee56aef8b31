"""Person-level risk: every alert's entity resolved to a person (ghosthire.identities), each person's
risk taken over the sliding window of the triage policy (backends/triage.yml), and the triage queue.

One fake worker shows up as a UPN, a `DOMAIN\\sam`, a laptop, a cloud device and a GitHub login; joined
into one person, the breadth of evidence across guidance areas is what singles them out among remote
staff who each trip one indicator. Within a window, distinct guidance areas rank first, then the sum of
the alerts' scores (a new hire's raised, ghosthire.tuning). Unresolved entities stay themselves.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

from ghosthire.hunt.alerts import EARLIEST, Alert, escalated
from ghosthire.hunt.run import HuntOutcome
from ghosthire.hunt.wording import summary_of
from ghosthire.identities import Directory, Person, entity_key
from ghosthire.identities.directory import EntityKind
from ghosthire.model.sources import field_value
from ghosthire.rules.metadata import Guidance
from ghosthire.triage import TriagePolicy, load_triage_policy
from ghosthire.tuning import NewHire, escalation_since

# Contributing alerts listed per person in `--format persons` (the counts cover them all).
MAX_LISTED_ALERTS = 1000


@dataclass(frozen=True)
class RiskWindow:
    """The alerts of one person inside one window of the policy's length, and what they add up to."""

    alerts: tuple[Alert, ...]
    guidance: tuple[str, ...]
    score: int
    queued: bool

    @property
    def start(self) -> datetime | None:
        return min((alert.time for alert in self.alerts if alert.time), default=None)

    @property
    def end(self) -> datetime | None:
        """When the window closes: its latest alert's time (an earlier alert's span may go on after it)."""
        return max((alert.time for alert in self.alerts if alert.time), default=None)


@dataclass
class PersonRisk:
    """One person (or an entity no lookup resolves), all their alerts in time order, and their riskiest
    window."""

    key: str
    person: Person | None
    alerts: list[Alert] = field(default_factory=list)
    window: RiskWindow = field(default_factory=lambda: RiskWindow((), (), 0, False))
    triage: bool = False
    rank: int = 0
    # The identifiers the alerts named this person by, as written, by their case-folded form.
    seen: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """What an analyst reads: the person's name and key, or the entity as the logs wrote it."""
        if self.person is None:
            return self.key
        return f"{self.person.display_name} ({self.person.key})"

    @property
    def identifiers(self) -> list[str]:
        """The identifiers the alerts name, as written, in order of first appearance (case folded)."""
        return list(self.seen.values())

    def add(self, alert: Alert, identifier: str) -> None:
        self.alerts.append(alert)
        self.seen.setdefault(identifier.lower(), identifier)

    @property
    def guidance(self) -> list[str]:
        return list(self.window.guidance)

    @property
    def score(self) -> int:
        return self.window.score

    @property
    def new_hire(self) -> bool:
        return any(alert.new_hire for alert in self.alerts)

    @property
    def first_seen(self) -> datetime | None:
        return min((alert.time for alert in self.alerts if alert.time), default=None)

    @property
    def last_seen(self) -> datetime | None:
        return max((last for alert in self.alerts if (last := _last_time(alert))), default=None)

    def to_json(self) -> dict[str, Any]:
        """The `--format persons` record: one line per person, in rank order."""
        person = self.person
        return {
            "rank": self.rank,
            "person": person.key if person else self.key,
            "display_name": person.display_name if person else None,
            "resolved": person is not None,
            "identifiers": self.identifiers,
            "guidance": self.guidance,
            "score": self.score,
            "alerts": [_alert_json(alert) for alert in self.window.alerts[:MAX_LISTED_ALERTS]],
            "window_alert_count": len(self.window.alerts),
            "alert_count": len(self.alerts),
            "triage": self.triage,
            "new_hire": self.new_hire,
            "window_start": _iso(self.window.start),
            "window_end": _iso(self.window.end),
            "first_seen": _iso(self.first_seen),
            "last_seen": _iso(self.last_seen),
            "category": list(person.categories) if person else [],
            "watchlist": person.watchlist if person else False,
            "start_date": person.start_date.isoformat() if person and person.start_date else None,
            "work_country": person.work_country if person else None,
        }


def rank_persons(alerts: Iterable[Alert], directory: Directory, policy: TriagePolicy) -> list[PersonRisk]:
    """Persons ranked by the distinct guidance areas of their riskiest window, then its score; each
    marked for the triage queue when that window meets the policy. An alert counts for its entity and
    for each person behind it (`risk.persons`: the users behind a shared address), once per person."""
    persons: dict[str, PersonRisk] = {}
    for alert in sorted(alerts, key=_time_order):
        counted: set[str] = set()
        for kind, identifier, behind in risk_objects(alert, policy.shared_alert_max_persons):
            person = directory.resolve(kind, identifier)
            if person is None and behind:
                continue  # someone behind a shared entity whom no lookup knows: the entity stands for them
            key = f"person:{person.key}" if person else f"{kind}:{entity_key(kind, identifier)}"
            if key in counted:
                continue
            counted.add(key)
            label = person.key if person else identifier
            persons.setdefault(key, PersonRisk(label, person)).add(alert, identifier)
    for risk in persons.values():
        risk.window = riskiest_window(risk.alerts, policy, risk.person)
        risk.triage = risk.window.queued
    ranked = sorted(persons.values(), key=lambda risk: (-len(risk.guidance), -risk.score, risk.key.lower()))
    for rank, risk in enumerate(ranked, start=1):
        risk.rank = rank
    return ranked


def risk_objects(alert: Alert, max_persons: int) -> list[tuple[str, str, bool]]:
    """What an alert adds risk to, as (entity kind, identifier, behind the entity): its entity, then the
    users behind it that the rule's `risk.persons` field names in the events it cites, unless there are
    more than `max_persons` of them (a crowd)."""
    objects = [(alert.entity_type or "", alert.entity, False)] if alert.entity else []
    field_name = alert.rule.meta.risk.persons if alert.rule.meta else None
    if field_name:
        events = alert.events or ([event] if (event := alert.event) else [])
        named = (field_value(event, field_name) for event in events)
        # counted case-insensitively, as the rule does
        values = {str(value).lower(): str(value) for value in named if value not in (None, "")}
        if len(values) <= max_persons:
            objects += [(EntityKind.USER.value, value, True) for value in values.values()]
    return objects


def riskiest_window(alerts: list[Alert], policy: TriagePolicy, person: Person | None = None) -> RiskWindow:
    """The window of the policy's length that puts the person in the queue, if any does, with the most
    guidance areas, then the highest score. An alert counts in every window its span overlaps
    (`evidence_span`); alerts without a time belong to every window. `alerts` are in time order."""
    length = policy.window_length
    timed = sorted(
        ((span, alert) for alert in alerts if (span := evidence_span(alert, policy, person))),
        key=lambda item: item[0][0],
    )
    untimed = [alert for alert in alerts if not alert.time]
    tally = _Tally()
    for alert in untimed:
        tally.add(alert)
    best, best_end = tally.reach(policy), None
    active: list[tuple[datetime, int, Alert]] = []  # (end of span, order, alert): a heap by span end
    for order, ((start, end), alert) in enumerate(timed):
        tally.add(alert)
        heapq.heappush(active, (end, order, alert))
        while active[0][0] < start - length:  # its span ended before the window ending here began
            tally.remove(heapq.heappop(active)[2])
        reached = tally.reach(policy)
        if reached > best:
            best, best_end = reached, start
    inside = (
        [] if best_end is None else [a for (s, e), a in timed if s <= best_end and e >= best_end - length]
    )
    return _window([*untimed, *inside], best[0])


def evidence_span(
    alert: Alert, policy: TriagePolicy, person: Person | None
) -> tuple[datetime, datetime] | None:
    """When an alert counts: from its time to its correlation burst's last event; a hiring-stage alert
    (guidance area `hiring`: who applied, with what phone, résumé, bank account or address) about a
    person with a start date is about the person, not a moment, and counts through their first
    `hiring_alerts_days_after_start` days, so their later sign-ins and devices meet it in one window."""
    if alert.time is None:
        return None
    end = alert.last_time or alert.time
    days = policy.hiring_alerts_days_after_start
    if days and person is not None and person.start_date is not None and Guidance.HIRING in _guidance(alert):
        start = datetime.combine(person.start_date, time.min, tzinfo=UTC)
        end = max(end, start + timedelta(days=days))
    return alert.time, end


class _Tally:
    """The alerts of a sliding window: their guidance areas, whether one is alerting (not a building
    block), and each rule's scores (a rule counts with its highest: one that fires again adds nothing)."""

    def __init__(self) -> None:
        self.areas: Counter[str] = Counter()
        self.alerting = 0
        self.scores: dict[str, Counter[int]] = defaultdict(Counter)

    def add(self, alert: Alert) -> None:
        self.areas.update(_areas(alert))
        self.alerting += not _building_block(alert)
        self.scores[alert.rule.name][alert.score] += 1

    def remove(self, alert: Alert) -> None:
        self.areas.subtract(_areas(alert))
        self.alerting -= not _building_block(alert)
        scores = self.scores[alert.rule.name]
        scores[alert.score] -= 1
        if scores[alert.score] <= 0:
            del scores[alert.score]

    def reach(self, policy: TriagePolicy) -> tuple[bool, int, int]:
        """How far the window goes: whether it queues the person, its distinct guidance areas, its score."""
        distinct = sum(count > 0 for count in self.areas.values())
        score = sum(max(scores) for scores in self.scores.values() if scores)
        return (policy.queues(distinct, score, self.alerting > 0), distinct, score)


def escalate_new_hires(alerts: Iterable[Alert], directory: Directory) -> list[Alert]:
    """The alerts, those about persons in their first days (the identity lookup's startDate) raised as
    the new-hire lookup raises users' (ghosthire.tuning), whichever identifier or asset the alert names."""
    return [_escalated_for_start_date(alert, directory) for alert in alerts]


def _escalated_for_start_date(alert: Alert, directory: Directory) -> Alert:
    if alert.new_hire is not None or alert.time is None:
        return alert
    person = directory.resolve(alert.entity_type or "", alert.entity)
    if person is None or person.start_date is None:
        return alert
    hire = NewHire(person.key, person.start_date, person.work_country)
    return escalated(alert, escalation_since(hire, alert.time))


@dataclass(frozen=True)
class TimelineRow:
    """A run of alerts of one rule about the same thing, one after another: shown once, with a count."""

    alerts: tuple[Alert, ...]

    @property
    def alert(self) -> Alert:
        return self.alerts[0]

    @property
    def count(self) -> int:
        return len(self.alerts)

    @property
    def last(self) -> datetime | None:
        return self.alerts[-1].time


def timeline(alerts: list[Alert]) -> list[TimelineRow]:
    """Alerts in time order, each run of repeats (same rule, same summary) folded into one row."""
    rows: list[TimelineRow] = []
    for alert in alerts:
        previous = rows[-1].alert if rows else None
        if previous and previous.rule is alert.rule and summary_of(previous) == summary_of(alert):
            rows[-1] = TimelineRow((*rows[-1].alerts, alert))
        else:
            rows.append(TimelineRow((alert,)))
    return rows


def _window(alerts: list[Alert], queued: bool) -> RiskWindow:
    areas = sorted({area for alert in alerts for area in _areas(alert)})
    return RiskWindow(tuple(alerts), tuple(areas), rule_score(alerts), queued)


def rule_score(alerts: Iterable[Alert]) -> int:
    """The sum over the alerts' rules of each rule's highest score."""
    best: dict[str, int] = {}
    for alert in alerts:
        best[alert.rule.name] = max(best.get(alert.rule.name, 0), alert.score)
    return sum(best.values())


def _guidance(alert: Alert) -> list[Guidance]:
    return list(alert.rule.meta.guidance) if alert.rule.meta else []


def _areas(alert: Alert) -> list[str]:
    return [str(area) for area in _guidance(alert)]


def _building_block(alert: Alert) -> bool:
    return bool(alert.rule.rule.custom_attributes.get("building_block"))


def _alert_json(alert: Alert) -> dict[str, Any]:
    return {
        "time": _iso(alert.time),
        "last_time": _iso(alert.last_time),
        "rule_name": alert.rule.name,
        "title": alert.rule.title,
        "entity_type": alert.entity_type,
        "entity": alert.entity,
        "guidance": _areas(alert),
        "risk_score": alert.score,
        "level": alert.level,
        "location": f"{alert.locations[0].file}:{alert.locations[0].line}" if alert.locations else None,
    }


def _last_time(alert: Alert) -> datetime | None:
    return alert.last_time or alert.time


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _time_order(alert: Alert) -> tuple[datetime, str]:
    return (alert.time or EARLIEST, alert.rule.name)


@dataclass
class Findings:
    """A hunt's alerts with the persons they resolve to, ranked, as every output format shows them."""

    outcome: HuntOutcome
    persons: list[PersonRisk]
    directory: Directory
    policy: TriagePolicy

    @property
    def alerts(self) -> list[Alert]:
        return self.outcome.alerts

    @property
    def queue(self) -> list[PersonRisk]:
        """The persons the triage policy queues, in rank order."""
        return [risk for risk in self.persons if risk.triage]

    def person_of_alert(self) -> dict[int, str]:
        """The person key (or unresolved entity) each alert was counted for, by the alert's id()."""
        return {id(alert): risk.key for risk in self.persons for alert in risk.alerts}


def assess(
    outcome: HuntOutcome, directory: Directory | None = None, policy: TriagePolicy | None = None
) -> Findings:
    """Raise new hires' alerts, resolve every alert to its person and rank them (the shipped triage
    policy and no identities unless given)."""
    directory = directory or Directory()
    policy = policy or load_triage_policy()
    outcome = replace(outcome, alerts=escalate_new_hires(outcome.alerts, directory))
    return Findings(outcome, rank_persons(outcome.alerts, directory, policy), directory, policy)
