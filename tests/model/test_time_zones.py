"""The shipped time-zone table (ghosthire/model/time_zones.csv) against zoneinfo: the rows the targets join
on give an event's local offset as zoneinfo does, across DST, southern summers and Morocco's Ramadan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ghosthire.model.time_zones import FIRST_YEAR, LAST_YEAR, time_zone_rows, zone_year_key, zone_year_row

ZONE_YEARS = [
    ("America/Chicago", 2025),
    ("Australia/Sydney", 2026),
    ("Africa/Casablanca", 2029),
    ("Asia/Kolkata", 2025),
    ("Europe/London", 2024),
]


@pytest.fixture(scope="module")
def table() -> dict[str, dict[str, str]]:
    return {row["zone_year"]: row for row in time_zone_rows()}


def local_offset(row: dict[str, str], moment: int) -> int:
    """The offset as the Splunk and ES|QL stages read it from a row."""
    number = {name: int(value) for name, value in row.items() if name != "zone_year"}
    shifted = any(
        number[start] <= moment < number[end]
        for start, end in (("shift_start", "shift_end"), ("shift2_start", "shift2_end"))
    )
    return number["shifted_offset"] if shifted else number["offset"]


@pytest.mark.parametrize(("zone", "year"), ZONE_YEARS)
def test_rows_give_zoneinfo_offsets(table: dict[str, dict[str, str]], zone: str, year: int) -> None:
    row = table[zone_year_key(zone, year)]
    assert row == zone_year_row(zone, year), "time_zones.csv is stale: python -m ghosthire.model.time_zones"
    start = datetime(year, 1, 1, tzinfo=UTC)
    for hours in range(0, 366 * 24, 7):  # every seventh hour of the year, all weekdays and clock hours
        moment = start + timedelta(hours=hours)
        if moment.year != year:
            break
        expected = moment.astimezone(ZoneInfo(zone)).utcoffset()
        assert expected is not None
        assert local_offset(row, int(moment.timestamp())) == expected.total_seconds(), (zone, moment)


def test_every_zone_has_every_year(table: dict[str, dict[str, str]]) -> None:
    zones = {key.rsplit("|", 1)[0] for key in table}
    assert "America/Chicago" in zones and "localtime" not in zones
    assert len(table) == len(zones) * (LAST_YEAR - FIRST_YEAR + 1)
