"""The app-wide choices of splunk_app/settings.yml: scheduling, alerting, ES risk and domain mappings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ghosthire.errors import ContentError
from ghosthire.model.levels import Level
from ghosthire.rules import Guidance, RiskEntity


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AppIdentity(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    label: str
    author: str
    description: str


class ScheduleTier(_Strict):
    max_timespan_seconds: Annotated[int, Field(ge=0)] | None
    every_minutes: Literal[60, 1440]


class Schedule(_Strict):
    ingestion_lag_minutes: Annotated[int, Field(ge=0, le=59)]
    tiers: Annotated[list[ScheduleTier], Field(min_length=1)]

    def tier_for(self, timespan_seconds: int) -> ScheduleTier:
        for tier in self.tiers:
            if tier.max_timespan_seconds is None or timespan_seconds <= tier.max_timespan_seconds:
                return tier
        raise ContentError("splunk_app/settings.yml", f"no schedule tier covers {timespan_seconds} s")


class Alerting(_Strict):
    suppress_period: Annotated[str, Field(pattern=r"^\d+[smhd]$")]
    notable_levels: list[Level]
    summary_index: Annotated[str, Field(pattern=r"^[a-z0-9_][a-z0-9_-]*$")]


class Annotations(_Strict):
    """contentctl's annotation vocabulary beyond ATT&CK: analytic stories, NIST CSF, CIS, data sources."""

    pack_story: str
    stories: dict[Guidance, str]
    nist: dict[Literal["single_event", "correlation"], list[str]]
    cis20: dict[Guidance, list[str]]
    data_sources: dict[str, str]


class AppSettings(_Strict):
    app: AppIdentity
    schedule: Schedule
    alerting: Alerting
    risk_object_types: dict[RiskEntity, Literal["user", "system", "other"]]
    security_domains: dict[Guidance, Literal["access", "endpoint", "network", "threat", "identity", "audit"]]
    annotations: Annotations
    threat_objects: dict[str, str]
    navigation: Annotated[list[str], Field(min_length=1)]


def load_settings(path: Path) -> AppSettings:
    try:
        return AppSettings.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as error:
        raise ContentError(path, f"invalid Splunk app settings: {error}") from None
