"""The new-hire window, one definition for the identity checks and the escalation (ghosthire.model.hiring)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from ghosthire.model.hiring import NEW_HIRE_DAYS, within_new_hire_window
from ghosthire.tuning import NewHire, escalation_since

START = date(2025, 3, 3)


@pytest.mark.parametrize(
    ("when", "inside"),
    [
        (datetime(2025, 3, 2, 23, 59, tzinfo=UTC), False),  # the day before the start
        (datetime(2025, 3, 3, 0, 0, tzinfo=UTC), True),  # the start day
        (datetime(2025, 4, 2, 23, 59, tzinfo=UTC), True),  # day 30, to its end
        (datetime(2025, 4, 3, 0, 0, tzinfo=UTC), False),  # day 31
        # the UTC day counts, not the local one: 20:00 in New York on day 30 is day 31 in UTC
        (datetime(2025, 4, 2, 20, 0, tzinfo=timezone(timedelta(hours=-4))), False),
    ],
)
def test_the_window_is_the_start_day_and_the_days_after_it(when: datetime, inside: bool) -> None:
    assert within_new_hire_window(START, when, 30) is inside


def test_the_escalation_uses_the_same_window() -> None:
    hire = NewHire("jsmith", START, None)
    last_day = datetime.combine(START + timedelta(days=NEW_HIRE_DAYS), datetime.max.time(), UTC)
    escalation = escalation_since(hire, last_day)
    assert escalation is not None and escalation.days_since_start == NEW_HIRE_DAYS
    assert escalation_since(hire, last_day + timedelta(seconds=1)) is None
    assert within_new_hire_window(None, last_day) is False
