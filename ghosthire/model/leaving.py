"""The end of a person's access, defined once: the after-end-date comparison (`identity_check.compare:
after_end_date`) asks it on every target, the local hunt directly, Splunk and Elastic through the
`access_end` the build writes into their identity lookups.

An HR end date is the last working day, written as a date with no time: it covers that whole day where
the person works (their `time_zone`, UTC without one), so a last-day sign-in at 18:00 in California is
not after it. The company's grace (triage.yml `end_date_grace`) follows: a phone or sync client still
signed in keeps working until the account is disabled, which many companies do the next morning. An end
date before the start date is a previous employment's (a rehire whose HR row kept it): no end."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def access_end(
    end_date: date | None, start_date: date | None, time_zone: str | None, grace: timedelta
) -> datetime | None:
    """The first instant (UTC) after which activity is after the end date; None without a current end."""
    if end_date is None or (start_date is not None and start_date > end_date):
        return None
    zone = ZoneInfo(time_zone) if time_zone else UTC
    day_after = datetime.combine(end_date + timedelta(days=1), time(0), tzinfo=zone)
    return day_after.astimezone(UTC) + grace
