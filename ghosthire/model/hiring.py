"""The new-hire window, defined once: an event falls in a person's first `days` days when its UTC day is
the start day (the identity lookup's `startDate`) or one of the `days` days after it. Identity checks
(`identity_check.new_hires_only`, `within_days_of_start`) and the new-hire escalation all ask this, on
every target; `NEW_HIRE_DAYS` is the window wherever a rule or policy names no other."""

from __future__ import annotations

from datetime import UTC, date, datetime

NEW_HIRE_DAYS = 90


def days_since_start(start: date, when: datetime) -> int:
    """Whole UTC days from the start day to the event's day (0 on the start day, negative before it)."""
    return (when.astimezone(UTC).date() - start).days


def within_new_hire_window(start: date | None, when: datetime | None, days: int = NEW_HIRE_DAYS) -> bool:
    """Whether `when` falls on the start day or within the `days` days after it (UTC)."""
    if start is None or when is None:
        return False
    return 0 <= days_since_start(start, when) <= days
