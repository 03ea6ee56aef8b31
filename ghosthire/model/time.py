"""A record's time as the pack reads it everywhere: ISO 8601 text (UTC when it names no zone) or epoch
seconds or milliseconds, as a number or as text. The local hunt's SQL twin is `ghosthire.hunt.extract`'s
`ghosthire_ts` macro; tests/model/test_time.py holds them to the same answers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

# An epoch value at least this large is in milliseconds (1e11 seconds is the year 5138).
EPOCH_MILLISECONDS_FROM = 10**11


def parse_time(raw: Any) -> datetime:
    """The UTC time of a raw value; ValueError when it is not a time."""
    if isinstance(raw, bool):
        raise ValueError(f"not a time: {raw!r}")
    number = raw if isinstance(raw, int | float) else _number(str(raw))
    if number is not None:
        seconds = number / 1000 if number >= EPOCH_MILLISECONDS_FROM else number
        return datetime.fromtimestamp(seconds, tz=UTC)
    parsed = datetime.fromisoformat(str(raw).strip().replace("Z", "+00:00"))
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
