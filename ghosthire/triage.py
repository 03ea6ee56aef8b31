"""The person-level triage policy (backends/triage.yml): the sliding window and when a person is queued.

Every target reads the same file: the local hunt ranks persons with it, the Splunk and Elastic person
searches take their window and thresholds from it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ghosthire.content import backends_dir
from ghosthire.errors import ContentError

DURATION = re.compile(r"^(\d+)([mhd])$")
UNITS = {"m": "minutes", "h": "hours", "d": "days"}


class QueueCondition(BaseModel):
    """Reached when the window covers at least this many guidance areas and this total score."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_guidance_areas: Annotated[int, Field(ge=1)] = 1
    min_score: Annotated[int, Field(ge=0)] = 0

    def reached(self, guidance_areas: int, score: int) -> bool:
        return guidance_areas >= self.min_guidance_areas and score >= self.min_score

    def describe(self) -> str:
        areas = f"{self.min_guidance_areas}+ guidance areas"
        return f"{areas} and score {self.min_score}+" if self.min_score else areas


class TriagePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    window: str
    queue_when: Annotated[list[QueueCondition], Field(min_length=1)]
    building_blocks_queue_alone: bool = False
    # An alert about something several persons share (rule field `risk.persons`) adds risk to each of
    # them only when it names at most this many; a crowd's address stays the address's own risk.
    shared_alert_max_persons: Annotated[int, Field(ge=1)] = 4
    # A hiring-stage alert (guidance area `hiring`) about a person with a start date counts in every
    # window up to this many days after that start (0: only where its own time falls).
    hiring_alerts_days_after_start: Annotated[int, Field(ge=0)] = 0
    # How long after the end of a leaver's last day (their time zone) activity still counts as the
    # deprovisioning lag rather than after their end date (ghosthire.model.leaving).
    end_date_grace: str = "0h"

    @field_validator("window", "end_date_grace")
    @classmethod
    def _duration(cls, value: str) -> str:
        if not DURATION.match(value):
            raise ValueError(f"{value!r} is not a duration such as 7d, 48h or 90m")
        return value

    @property
    def window_length(self) -> timedelta:
        return _length(self.window)

    @property
    def end_date_grace_length(self) -> timedelta:
        return _length(self.end_date_grace)

    def lookback(self, reach: timedelta) -> timedelta:
        """How far back a target's triage search reads: the window, the new-hire period a hiring-stage
        alert counts through, and `reach`, the longest range a detection reads (so an alert raised at
        application, or a correlation a target dates at its range's start, still counts)."""
        return self.window_length + timedelta(days=self.hiring_alerts_days_after_start) + reach

    def describe(self) -> str:
        """The policy in words, for the outputs: `3+ guidance areas, or 2+ ... within 7d`."""
        conditions = " or ".join(condition.describe() for condition in self.queue_when)
        return f"{conditions} within {self.window}"

    def queues(self, guidance_areas: int, score: int, alerting: bool) -> bool:
        """Whether a window with this breadth and score, holding an alerting (non building-block) rule's
        alert or not, puts its person in the triage queue."""
        if not alerting and not self.building_blocks_queue_alone:
            return False
        return any(condition.reached(guidance_areas, score) for condition in self.queue_when)


def _length(duration: str) -> timedelta:
    match = DURATION.match(duration)
    assert match is not None  # validated with the policy
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


def triage_policy_path() -> Path:
    return backends_dir() / "triage.yml"


def load_triage_policy(path: Path | None = None) -> TriagePolicy:
    path = path or triage_policy_path()
    try:
        return TriagePolicy.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as error:
        raise ContentError(path, f"invalid triage policy: {error}") from None
