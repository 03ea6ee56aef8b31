"""The end of a leaver's access, one definition for every target (ghosthire.model.leaving)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from ghosthire.model.leaving import access_end

END = date(2025, 5, 30)


@pytest.mark.parametrize(
    ("time_zone", "grace", "expected"),
    [
        (None, timedelta(0), datetime(2025, 5, 31, 0, 0, tzinfo=UTC)),  # no zone: the UTC day
        # the last day is the person's own: midnight in Los Angeles (PDT) is 07:00 UTC
        ("America/Los_Angeles", timedelta(0), datetime(2025, 5, 31, 7, 0, tzinfo=UTC)),
        ("Asia/Kolkata", timedelta(0), datetime(2025, 5, 30, 18, 30, tzinfo=UTC)),
        ("America/New_York", timedelta(hours=12), datetime(2025, 5, 31, 16, 0, tzinfo=UTC)),
    ],
)
def test_a_date_only_end_date_covers_the_whole_last_day_where_the_person_works(
    time_zone: str | None, grace: timedelta, expected: datetime
) -> None:
    assert access_end(END, date(2024, 10, 7), time_zone, grace) == expected


def test_a_rehire_whose_row_kept_the_previous_end_date_has_no_end() -> None:
    assert access_end(END, date(2025, 6, 16), "Europe/Berlin", timedelta(0)) is None
    assert access_end(END, END, None, timedelta(0)) is not None  # started and left the same day
    assert access_end(None, date(2025, 6, 16), None, timedelta(0)) is None
