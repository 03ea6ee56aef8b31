"""Identity comparisons a rule declares (`identity_check`): an event compared with the identity lookup's
row of the person it is about. A person the lookup does not know, or a row without the compared column,
gives no verdict: the alert is dropped, so an incomplete lookup stays quiet rather than noisy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ghosthire.identities.countries import country_code
from ghosthire.identities.directory import Person
from ghosthire.rules.metadata import IdentityCheck, IdentityComparison
from ghosthire.tuning import NEW_HIRE_DAYS


def identity_check_holds(
    check: IdentityCheck, person: Person | None, event_value: object, when: datetime | None
) -> bool:
    """Whether the event (its `event_field` value, its time) breaks the person's identity row."""
    if person is None or (check.new_hires_only and not _new_hire(person, when)):
        return False
    match check.compare:
        case IdentityComparison.COUNTRY_DIFFERS_FROM_WORK_COUNTRY:
            expected, seen = country_code(person.work_country), country_code(event_value)
            return expected is not None and seen is not None and seen != expected
        case IdentityComparison.AFTER_END_DATE:
            # The end date is the last working day: activity from the next day on (UTC) is after it.
            if person.end_date is None or when is None:
                return False
            return when.astimezone(UTC).date() > person.end_date
        case IdentityComparison.WITHIN_DAYS_OF_START:
            # From the start day (UTC) through `days` days after it.
            if person.start_date is None or when is None or check.days is None:
                return False
            elapsed = when.astimezone(UTC).date() - person.start_date
            return timedelta(0) <= elapsed <= timedelta(days=check.days)


def _new_hire(person: Person, when: datetime | None) -> bool:
    """Whether `when` falls within the person's first NEW_HIRE_DAYS days (from startDate, UTC)."""
    if person.start_date is None or when is None:
        return False
    elapsed = when - datetime.combine(person.start_date, datetime.min.time(), UTC)
    return timedelta(0) <= elapsed <= timedelta(days=NEW_HIRE_DAYS)
