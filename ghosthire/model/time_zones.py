"""UTC offsets of every IANA time zone, year by year, as a lookup table the SIEM targets join on: Splunk
(`ghosthire_time_zones`) and Elasticsearch (a lookup index) read an event's local clock from it, where
the local hunt asks zoneinfo directly (ghosthire.hunt.work_patterns).

One row per zone and UTC year, keyed `zone|year`: the offset at the year's start (`offset`), and the
offset it changes to (`shifted_offset`) within `[shift_start, shift_end)` and `[shift2_start, shift2_end)`
(epoch seconds; an empty interval is 0, 0). Daylight saving time is one interval, southern-hemisphere DST
the time between its two changes (the year starts on summer time), Morocco's Ramadan hour two. A change
still in force at the year's end runs on a day into the next year, so a year read from the clock in
another time zone than UTC still finds the right offset around New Year.

The table (time_zones.csv beside this module) is generated from Python's zoneinfo (the IANA tz database,
public domain) by `python -m ghosthire.model.time_zones`: computing it takes seconds, too long for
every build. Regenerate it when tzdata changes a rule.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

TIME_ZONES_CSV = Path(__file__).with_name("time_zones.csv")
FIRST_YEAR, LAST_YEAR = 2018, 2040
KEY = "zone_year"
COLUMNS = (KEY, "offset", "shifted_offset", "shift_start", "shift_end", "shift2_start", "shift2_end")
_SAMPLE_SECONDS = 7 * 86400  # no zone changes its offset and back within a week
_SPILL_SECONDS = 86400
# Names the system's tz folder holds that are not zones a person lives in.
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


def zone_year_key(zone: str, year: int) -> str:
    return f"{zone}|{year}"


def time_zones_csv() -> bytes:
    """The shipped table, as the Splunk app's lookup file."""
    return TIME_ZONES_CSV.read_bytes()


def time_zone_rows() -> list[dict[str, str]]:
    with TIME_ZONES_CSV.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def zone_year_row(zone: str, year: int) -> dict[str, str]:
    """One zone's row for one year, computed from zoneinfo."""
    info = ZoneInfo(zone)
    start = int(datetime(year, 1, 1, tzinfo=UTC).timestamp())
    end = int(datetime(year + 1, 1, 1, tzinfo=UTC).timestamp())
    base = _offset(info, start)
    changes = list(_changes(info, start, end))
    shifted = {offset for _, offset in changes} - {base}
    if len(shifted) > 1 or len(changes) > 4:
        raise ValueError(f"{zone} has more than two offsets in {year}: {changes}")
    bounds = [moment for moment, _ in changes] + ([end + _SPILL_SECONDS] if len(changes) % 2 else [])
    intervals = [*zip(bounds[::2], bounds[1::2], strict=True), (0, 0), (0, 0)][:2]
    (first_start, first_end), (second_start, second_end) = intervals
    values = (base, shifted.pop() if shifted else base, first_start, first_end, second_start, second_end)
    return dict(zip(COLUMNS, (zone_year_key(zone, year), *map(str, values)), strict=True))


def _offset(info: ZoneInfo, moment: int) -> int:
    offset = datetime.fromtimestamp(moment, UTC).astimezone(info).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def _changes(info: ZoneInfo, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Each moment in [start, end) the offset changes, with the new offset: weekly samples, then the
    second of the change by bisection."""
    moment, offset = start, _offset(info, start)
    while moment < end:
        later = min(moment + _SAMPLE_SECONDS, end)
        new = _offset(info, later)
        if new != offset:
            before, after = moment, later
            while after - before > 1:
                middle = (before + after) // 2
                before, after = (middle, after) if _offset(info, middle) == offset else (before, middle)
            if after < end:
                yield after, new
        moment, offset = later, new


def _table() -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, COLUMNS, lineterminator="\n")
    writer.writeheader()
    for zone in sorted(available_timezones() - _NOT_ZONES):
        for year in range(FIRST_YEAR, LAST_YEAR + 1):
            writer.writerow(zone_year_row(zone, year))
    return buffer.getvalue().encode("utf-8")


def main() -> None:
    TIME_ZONES_CSV.write_bytes(_table())
    sys.stdout.write(f"wrote {TIME_ZONES_CSV}\n")


if __name__ == "__main__":
    main()
