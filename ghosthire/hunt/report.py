"""The self-contained HTML report: summary, guidance areas hit, risk roll-up, a timeline per entity and
every alert with its events. One file, no network, no script; every value is HTML-escaped."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from ghosthire.hunt.alerts import Alert, new_hire_note
from ghosthire.hunt.persons import Findings, PersonRisk
from ghosthire.hunt.summary import summarise
from ghosthire.hunt.wording import summary_of

# A report stays readable (and a few MB) however noisy a rule is.
MAX_ALERTS = 2000
MAX_TIMELINE = 200
MAX_EVENTS = 20


@dataclass(frozen=True)
class GuidanceArea:
    name: str
    alerts: int
    entities: int


def render_report(findings: Findings, generated: str | None = None) -> str:
    template = _environment().get_template("report.html.j2")
    return template.render(
        summary=summarise(findings.outcome),
        entities=findings.persons,
        guidance=guidance_areas(findings.alerts, findings.persons),
        alerts=findings.alerts,
        generated=generated,
        max_alerts=MAX_ALERTS,
        max_timeline=MAX_TIMELINE,
        max_events=MAX_EVENTS,
    )


def guidance_areas(alerts: list[Alert], entities: list[PersonRisk]) -> list[GuidanceArea]:
    """Each guidance area the alerts touch: how many alerts, and how many entities."""
    alert_counts = Counter(area for alert in alerts for area in areas(alert))
    entity_counts = Counter(area for risk in entities for area in risk.guidance)
    return [
        GuidanceArea(name, count, entity_counts.get(name, 0))
        for name, count in sorted(alert_counts.items(), key=lambda item: (-item[1], item[0]))
    ]


def areas(alert: Alert) -> list[str]:
    return [str(area) for area in alert.rule.meta.guidance] if alert.rule.meta else []


def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("ghosthire.hunt", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        thousands=_thousands, when=_when, what=summary_of, pretty=_pretty, areas=areas, new_hire=new_hire_note
    )
    return environment


def _thousands(number: int) -> str:
    return f"{number:,}"


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


def _pretty(event: Any) -> str:
    return json.dumps(event, indent=2, ensure_ascii=False, sort_keys=True)
