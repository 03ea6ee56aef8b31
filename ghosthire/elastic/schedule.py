"""How a correlation's Kibana ES|QL rule is scheduled, and what that means for its query.

Each run searches [now - lookback, now] and runs every `interval` (backends/elastic/kibana.yml,
`correlation`). Normally the lookback is the Sigma timespan and the interval the longest schedule people
recognise (`schedules`: 1m, 5m, 15m, 1h, ...) that is at most timespan / runs_per_timespan, so the window
slides with the runs: a burst shorter than timespan - interval is always inside one run.

A timespan too short to run that often (interval clamped up to min_interval, e.g. a 30s correlation and
Kibana's 1m minimum) would leave runs that never see some events. Such a rule looks back
timespan + interval instead, so every burst of up to timespan lies inside one run, and its query keeps
Sigma's timespan itself: the group's matching events must span at most the timespan
(DATE_DIFF(MIN(@timestamp), MAX(@timestamp)) <= timespan). That check is exact when the group has no
other matching events in the run; with extra ones it can only miss, never fire wrongly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ghosthire.content import backends_dir
from ghosthire.errors import ContentError

Duration = Annotated[str, Field(pattern=r"^\d+[smhd]$")]
UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


class CorrelationSchedule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    runs_per_timespan: Annotated[int, Field(ge=1)]
    schedules: Annotated[list[Duration], Field(min_length=1)]
    suppression: Duration


@dataclass(frozen=True)
class CorrelationWindow:
    """One correlation's schedule, in seconds, and whether its query must bound the events' spread."""

    timespan: int
    lookback: int
    interval: int

    @property
    def bounds_spread(self) -> bool:
        return self.lookback > self.timespan


def seconds(text: str) -> int:
    return int(text[:-1]) * UNIT_SECONDS[text[-1]]


def duration(total_seconds: int) -> str:
    """The largest whole Kibana unit (d, h, m, s) for a number of seconds."""
    for unit, size in UNIT_SECONDS.items():
        if total_seconds % size == 0:
            return f"{total_seconds // size}{unit}"
    raise AssertionError("seconds always divide")


def kibana_settings_path() -> Path:
    return backends_dir() / "elastic" / "kibana.yml"


@cache
def load_correlation_schedule(path: Path | None = None) -> CorrelationSchedule:
    path = path or kibana_settings_path()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return CorrelationSchedule.model_validate(raw.get("correlation"))
    except (OSError, yaml.YAMLError, ValidationError) as error:
        raise ContentError(path, f"invalid correlation schedule: {error}") from None


def correlation_window(timespan: int, settings: CorrelationSchedule | None = None) -> CorrelationWindow:
    """The lookback and interval of a correlation rule with this Sigma timespan (seconds)."""
    settings = settings or load_correlation_schedule()
    wanted = timespan // settings.runs_per_timespan
    choices = sorted(seconds(schedule) for schedule in settings.schedules)
    interval = max((choice for choice in choices if choice <= wanted), default=choices[0])
    if interval > timespan // 2:
        # Cannot run often enough: look back one interval more and bound the spread in the query.
        return CorrelationWindow(timespan, timespan + interval, interval)
    return CorrelationWindow(timespan, timespan, interval)
