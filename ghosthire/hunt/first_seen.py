"""First-seen: a rule whose signal is "the first time" alerts only when its entity has not raised it within
the rule's history (`first_seen.history_days`). The local hunt applies it to the alerts, with the hunted
window as the baseline; Kibana's new_terms rule type and a Splunk baseline lookup do the same on the SIEMs
(docs/tuning.md)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from ghosthire.hunt.alerts import Alert

# What separates independent baselines (hunt_event_sets: one per event set); one baseline by default.
Scope = Callable[[Alert], str]


def first_seen_only(alerts: list[Alert], scope: Scope | None = None) -> list[Alert]:
    """The alerts in time order, without those of first-seen rules whose entity (with the values of the
    rule's first-seen fields) already raised the same rule within its history before them."""
    last: dict[tuple[str, ...], datetime] = {}
    kept: list[Alert] = []
    for alert in alerts:
        history = alert.rule.meta.first_seen if alert.rule.meta else None
        if history is None or alert.time is None or not alert.entity:
            kept.append(alert)
            continue
        key = (
            scope(alert) if scope else "",
            alert.rule.name,
            alert.entity.lower(),
            *_terms(alert, history.fields),
        )
        previous = last.get(key)
        last[key] = alert.time
        if previous is None or alert.time - previous > timedelta(days=history.history_days):
            kept.append(alert)
    return kept


def _terms(alert: Alert, fields: list[str]) -> list[str]:
    """The alert's values of the first-seen fields (lower-cased; empty when the event lacks one)."""
    if not fields:
        return []
    values = [alert.value_of(name) for name in fields]
    return ["" if value is None else str(value).lower() for value in values]
