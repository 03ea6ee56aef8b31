"""Tuning without editing rules: recent hires raise the severity of their signals.

Every indicator alone is common among legitimate remote staff; the same signal in someone's first
weeks is what the FBI guidance and Microsoft's hunting advice single out. Recent hires come from the identity
lookup's `startDate` and `work_country` (ghosthire.identities); the older `ghosthire_new_hires.csv`
(`user,start_date,expected_country`) is still read, for users the identity lookup does not list.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from ghosthire.content import lookup_path
from ghosthire.errors import ContentError
from ghosthire.identities import Person
from ghosthire.model.hiring import NEW_HIRE_DAYS as NEW_HIRE_DAYS  # the policy's window, defined there
from ghosthire.model.hiring import days_since_start, within_new_hire_window
from ghosthire.model.levels import Level, raised

NEW_HIRE_SCORE_FACTOR = 1.5
NEW_HIRES_FILE = "ghosthire_new_hires.csv"
NEW_HIRES_COLUMNS = ("user", "start_date", "expected_country")


@dataclass(frozen=True)
class NewHire:
    user: str
    start_date: date
    expected_country: str | None


@dataclass(frozen=True)
class Escalation:
    """How a signal about a recent hire is raised: one level up, score x1.5 (at most 100)."""

    hire: NewHire
    days_since_start: int

    @staticmethod
    def level(level: Level) -> Level:
        return raised(level)

    @staticmethod
    def score(score: int) -> int:
        return min(100, round(score * NEW_HIRE_SCORE_FACTOR))


def default_new_hires_path() -> Path:
    return lookup_path(NEW_HIRES_FILE)


def load_new_hires(path: Path | None = None) -> dict[str, NewHire]:
    """Recent hires by lower-cased user name; a missing default lookup means none."""
    path = path or default_new_hires_path()
    if not path.exists():
        return {}
    hires: dict[str, NewHire] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            try:
                hire = NewHire(
                    row["user"].strip(),
                    date.fromisoformat(row["start_date"].strip()),
                    row.get("expected_country") or None,
                )
            except (KeyError, ValueError, AttributeError) as error:
                raise ContentError(
                    path, f"new-hire lookup row needs user and ISO start_date ({error})", line
                ) from None
            hires[hire.user.lower()] = hire
    return hires


def hires_from_persons(persons: Iterable[Person]) -> dict[str, NewHire]:
    """Every identifier and host of each person with a `startDate` in the identity lookup, as new-hire
    rows (the escalation itself checks the 90 days), for targets that look entities up by name."""
    hires: dict[str, NewHire] = {}
    for person in persons:
        if person.start_date is not None:
            for name in (*person.identifiers, *person.hosts, *person.device_ids):
                hires.setdefault(name.lower(), NewHire(name, person.start_date, person.work_country))
    return hires


def new_hires_csv(hires: dict[str, NewHire]) -> bytes:
    """The new-hire lookup (`user,start_date,expected_country`) holding these hires."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(NEW_HIRES_COLUMNS)
    for hire in sorted(hires.values(), key=lambda hire: hire.user.lower()):
        writer.writerow([hire.user, hire.start_date.isoformat(), hire.expected_country or ""])
    return buffer.getvalue().encode("utf-8")


def escalation_for(hires: dict[str, NewHire], entity: str | None, when: datetime | None) -> Escalation | None:
    """The escalation for a signal about `entity` at `when`, if that entity started recently."""
    if not entity or when is None:
        return None
    hire = hires.get(entity.lower())
    return escalation_since(hire, when) if hire else None


def escalation_since(hire: NewHire, when: datetime) -> Escalation | None:
    """The escalation for a signal at `when` about someone who started on `hire.start_date`, if recent."""
    if within_new_hire_window(hire.start_date, when):
        return Escalation(hire, days_since_start(hire.start_date, when))
    return None
