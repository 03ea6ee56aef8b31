"""Identity comparisons a rule declares (`identity_check`): an event compared with the identity lookup's
row of the person it is about. A person the lookup does not know, or a row without the compared column,
gives no verdict: the alert is dropped, so an incomplete lookup stays quiet rather than noisy.

`new_hires_only` keeps a comparison to the person's new-hire window (ghosthire.model.hiring), except
that a country comparison whose event country is on the watch list (ghosthire_watch_countries.csv)
holds at any tenure: a trip to France is routine for long-standing staff, a sign-in from North Korea is
not."""

from __future__ import annotations

from datetime import datetime, timedelta

from ghosthire.identities.countries import country_code
from ghosthire.identities.directory import Person
from ghosthire.model.hiring import NEW_HIRE_DAYS, within_new_hire_window
from ghosthire.model.leaving import access_end
from ghosthire.rules.metadata import IdentityCheck, IdentityComparison


def identity_check_holds(
    check: IdentityCheck,
    person: Person | None,
    event_value: object,
    when: datetime | None,
    watched_countries: frozenset[str] = frozenset(),
    end_date_grace: timedelta = timedelta(0),
) -> bool:
    """Whether the event (its `event_field` value, its time) breaks the person's identity row."""
    if person is None:
        return False
    match check.compare:
        case IdentityComparison.COUNTRY_DIFFERS_FROM_WORK_COUNTRY:
            expected, seen = country_code(person.work_country), country_code(event_value)
            if expected is None or seen is None or seen == expected:
                return False
            return seen in watched_countries or _in_scope(check, person, when)
        case IdentityComparison.AFTER_END_DATE:
            end = access_end(person.end_date, person.start_date, person.time_zone, end_date_grace)
            if end is None or when is None:
                return False
            return when >= end and _in_scope(check, person, when)
        case IdentityComparison.WITHIN_DAYS_OF_START:
            return within_new_hire_window(person.start_date, when, check.days or NEW_HIRE_DAYS)


def _in_scope(check: IdentityCheck, person: Person, when: datetime | None) -> bool:
    return not check.new_hires_only or within_new_hire_window(person.start_date, when)
