"""The stage after matching for rules with an `identity_check`: an alert stands only when the event
breaks the identity lookup's row of the person it names (country, end date)."""

from __future__ import annotations

from ghosthire.hunt.alerts import Alert
from ghosthire.identities import Directory
from ghosthire.identities.checks import identity_check_holds
from ghosthire.identities.directory import EntityKind
from ghosthire.model.sources import field_value


def has_identity_checks(alerts: list[Alert]) -> bool:
    return any(alert.rule.meta and alert.rule.meta.identity_check for alert in alerts)


def apply_identity_checks(alerts: list[Alert], directory: Directory) -> list[Alert]:
    """The alerts without those of identity-checked rules whose comparison does not hold."""
    return [alert for alert in alerts if _stands(alert, directory)]


def _stands(alert: Alert, directory: Directory) -> bool:
    check = alert.rule.meta.identity_check if alert.rule.meta else None
    if check is None:
        return True
    if alert.event is None:
        return False
    person = directory.resolve(EntityKind.USER, _text(field_value(alert.event, check.entity_field)))
    value = _text(field_value(alert.event, check.event_field)) if check.event_field else None
    return identity_check_holds(check, person, value, alert.time)


def _text(value: object) -> str | None:
    return None if value is None else str(value)
