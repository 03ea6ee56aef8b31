"""The self-contained HTML report: the triage queue first, then the ranked persons with one timeline each
across sources (repeats folded, every row linked to its alert), the alerts linked to their evidence, and
each cited event printed once. One file, no network, no script; every value is HTML-escaped."""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from ghosthire.hunt.alerts import Alert, Location, new_hire_note
from ghosthire.hunt.persons import Findings, PersonRisk, RiskWindow, TimelineRow, timeline
from ghosthire.hunt.summary import summarise
from ghosthire.hunt.wording import summary_of

# A report stays readable (and small) however noisy a rule is: persons shown, timeline rows per person,
# cited events per timeline row (each event printed once however many alerts cite it).
MAX_PERSONS = 100
MAX_TIMELINE = 200
MAX_EVENTS = 5


@dataclass(frozen=True)
class GuidanceArea:
    name: str
    alerts: int
    persons: int


@dataclass(frozen=True)
class EventView:
    """A cited event, printed once in the evidence section; alerts link to `anchor`."""

    anchor: str
    where: str
    text: Markup


@dataclass(frozen=True)
class RowView:
    """A timeline row: a run of one rule about the same thing, with the evidence of each of its alerts."""

    row: TimelineRow
    events: list[EventView]
    more_events: int


@dataclass(frozen=True)
class PersonView:
    anchor: str
    risk: PersonRisk
    rows: list[RowView]


def render_report(findings: Findings, generated: str | None = None) -> str:
    evidence: dict[tuple[str, int], EventView] = {}
    shown = [*findings.queue, *(risk for risk in findings.persons if not risk.triage)][:MAX_PERSONS]
    persons = [PersonView(f"person-{risk.rank}", risk, _rows(risk.alerts, evidence)) for risk in shown]
    nobody = [alert for alert in findings.alerts if not alert.entity]
    template = _environment().get_template("report.html.j2")
    return template.render(
        summary=summarise(findings.outcome),
        policy=findings.policy.describe(),
        queue=[view for view in persons if view.risk.triage],
        persons=persons,
        person_count=len(findings.persons),
        unattributed=_rows(nobody[:MAX_TIMELINE], evidence),
        guidance=guidance_areas(findings.alerts, findings.persons),
        alert_count=len(findings.alerts),
        evidence=list(evidence.values()),
        lookup_notes=[*map(str, findings.directory.problems), *map(str, findings.directory.conflicts)],
        generated=generated,
        max_timeline=MAX_TIMELINE,
    )


def guidance_areas(alerts: list[Alert], persons: list[PersonRisk]) -> list[GuidanceArea]:
    """Each guidance area the alerts touch: how many alerts, and how many persons."""
    alert_counts = Counter(area for alert in alerts for area in areas(alert))
    person_counts = Counter(
        area for risk in persons for area in {a for alert in risk.alerts for a in areas(alert)}
    )
    return [
        GuidanceArea(name, count, person_counts.get(name, 0))
        for name, count in sorted(alert_counts.items(), key=lambda item: (-item[1], item[0]))
    ]


def areas(alert: Alert) -> list[str]:
    return [str(area) for area in alert.rule.meta.guidance] if alert.rule.meta else []


def _rows(alerts: list[Alert], evidence: dict[tuple[str, int], EventView]) -> list[RowView]:
    """Timeline rows (the first MAX_TIMELINE), each with the cited events of its alerts, up to MAX_EVENTS."""
    rows = []
    for row in timeline(alerts)[:MAX_TIMELINE]:
        cited = [pair for alert in row.alerts for pair in _cited(alert)]
        events = [_event_view(event, location, evidence) for event, location in cited[:MAX_EVENTS]]
        total = sum(max(len(alert.locations), 1) for alert in row.alerts)
        rows.append(RowView(row, events, max(0, total - len(events))))
    return rows


def _cited(alert: Alert) -> list[tuple[dict[str, Any], Location | None]]:
    """An alert's events with their locations (a correlation's events follow its first locations)."""
    if alert.group is None:
        event = alert.event
        return [(event, alert.locations[0] if alert.locations else None)] if event is not None else []
    events = alert.events
    located = len(events) <= len(alert.locations)
    return [(event, alert.locations[number] if located else None) for number, event in enumerate(events)]


def _event_view(
    event: dict[str, Any], location: Location | None, evidence: dict[tuple[str, int], EventView]
) -> EventView:
    key = (location.file, location.line) if location else ("", id(event))
    if key not in evidence:
        where = f"{location.file}:{location.line}" if location else "event"
        evidence[key] = EventView(f"event-{len(evidence) + 1}", where, _text_block(_without_empty(event)))
    return evidence[key]


def _without_empty(value: Any) -> Any:
    """An event without its empty fields (CSV exports carry every column on every row)."""
    if isinstance(value, dict):
        kept = {key: _without_empty(item) for key, item in value.items()}
        return {key: item for key, item in kept.items() if item not in (None, "", [], {})}
    if isinstance(value, list):
        return [_without_empty(item) for item in value]
    return value


def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("ghosthire.hunt", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        thousands=_thousands, when=_when, span=_span, what=summary_of, areas=areas, new_hire=new_hire_note
    )
    return environment


def _span(window: RiskWindow) -> str:
    """A window as `2025-06-01 08:00 to 06-05 14:30 UTC` (the end's year left out when it is the start's)."""
    if window.start is None or window.end is None:
        return "-"
    end_format = "%m-%d %H:%M" if window.end.year == window.start.year else "%Y-%m-%d %H:%M"
    return f"{window.start:%Y-%m-%d %H:%M} to {window.end.strftime(end_format)} UTC"


def _thousands(number: int) -> str:
    return f"{number:,}"


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


def _lines(event: Any, depth: int = 0) -> Iterator[str]:
    """An event as indented `key: value` lines (nested objects one space deeper), strings unquoted."""
    pairs = sorted(event.items()) if isinstance(event, dict) else enumerate(event)
    for key, value in pairs:
        nested = isinstance(value, dict) or (
            isinstance(value, list) and any(isinstance(i, dict | list) for i in value)
        )
        if nested:
            yield f"{' ' * depth}{key}:"
            yield from _lines(value, depth + 1)
        else:
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            yield f"{' ' * depth}{key}: {text}"


def _text_block(event: Any) -> Markup:
    """Element text needs only &, < and > escaped; leaving quotes alone keeps JSON-heavy events small."""
    return Markup(html.escape("\n".join(_lines(event)), quote=False))
