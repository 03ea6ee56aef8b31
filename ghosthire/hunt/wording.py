"""How an alert reads in a few words, shared by the table, CSV and HTML outputs."""

from __future__ import annotations

from sigma.correlations import SigmaCorrelationRule, SigmaCorrelationType

from ghosthire.hunt.alerts import Alert


def summary_of(alert: Alert) -> str:
    """What happened: the group and what its count counts for a correlation, the entity otherwise."""
    if alert.group is None:
        return alert.entity or ""
    group = ", ".join(f"{key}={value}" for key, value in alert.group.items())
    return f"{group}: {counted(alert)}"


def counted(alert: Alert) -> str:
    """A correlation's measure in words: `7 distinct ipAddress`, `12 events`, `3 of 3 rules in order`."""
    rule = alert.rule.rule
    metric = f"{alert.metric:g}" if alert.metric is not None else "?"
    if not isinstance(rule, SigmaCorrelationRule):
        return f"{alert.event_count} events"
    match rule.type:
        case SigmaCorrelationType.VALUE_COUNT:
            field = getattr(rule.condition, "fieldref", None) or "values"
            return f"{metric} distinct {field} in {alert.event_count} events"
        case SigmaCorrelationType.TEMPORAL | SigmaCorrelationType.TEMPORAL_ORDERED:
            order = " in order" if rule.type == SigmaCorrelationType.TEMPORAL_ORDERED else ""
            return f"{metric} of {len(rule.rules)} rules{order} in {alert.event_count} events"
        case _:
            return f"{alert.event_count} events"
