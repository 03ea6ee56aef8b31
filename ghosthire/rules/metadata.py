"""ghosthire's own top-level fields on a Sigma rule, validated strictly."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Guidance(StrEnum):
    """The parts of the FBI guidance (May 2025) a rule can cover."""

    LEAST_PRIVILEGE = "least-privilege"
    REMOTE_ACCESS = "remote-access"
    MULTI_LOGIN = "multi-login"
    SESSION_THEFT = "session-theft"
    EXFILTRATION = "exfiltration"
    CONCURRENT_AV = "concurrent-av"
    HIRING = "hiring"


class RiskEntity(StrEnum):
    USER = "user"
    HOST = "host"
    APPLICANT = "applicant"
    IP = "ip"


class Risk(BaseModel):
    """Who the alert is about and how much it adds to that entity's risk.

    `persons` names, on an alert about something several people share (an address), the field holding
    those people: a value_count correlation's counted field. Each of them gets the alert's risk too, as
    an ESCU detection lists several risk objects; the shared entity keeps its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    entity: RiskEntity
    field: Annotated[str, Field(min_length=1)]
    score: Annotated[int, Field(ge=1, le=100)]
    persons: Annotated[str, Field(min_length=1)] | None = None


class IdentityComparison(StrEnum):
    """How an event is compared with the identity lookup's row of the person it is about."""

    COUNTRY_DIFFERS_FROM_WORK_COUNTRY = "country_differs_from_work_country"
    AFTER_END_DATE = "after_end_date"
    # The event falls in the person's new-hire window of `days` days (ghosthire.model.hiring).
    WITHIN_DAYS_OF_START = "within_days_of_start"


class IdentityCheck(BaseModel):
    """A comparison with the identity lookup applied after the detection matched: the alert stands only
    when the person `entity_field` names resolves and the comparison holds (ghosthire.identities.checks)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    entity_field: Annotated[str, Field(min_length=1)]
    compare: IdentityComparison
    event_field: Annotated[str, Field(min_length=1)] | None = None
    # Only in the person's new-hire window (ghosthire.model.hiring, NEW_HIRE_DAYS): for comparisons that
    # long-standing staff break every day (travel abroad). A country on the watch list is compared at any
    # tenure (ghosthire.identities.checks).
    new_hires_only: bool = False
    days: Annotated[int, Field(ge=1, le=365)] | None = None

    @model_validator(mode="after")
    def _comparison_has_its_operand(self) -> IdentityCheck:
        if self.compare is IdentityComparison.COUNTRY_DIFFERS_FROM_WORK_COUNTRY and not self.event_field:
            raise ValueError("a country comparison names the event's country field (event_field)")
        if (self.compare is IdentityComparison.WITHIN_DAYS_OF_START) != (self.days is not None):
            raise ValueError("days is given with, and only with, the within_days_of_start comparison")
        return self


class WorkPatternMeasure(StrEnum):
    """What a work-pattern rule measures over a person's events (ghosthire.hunt.work_patterns)."""

    # Active hours that are night or weekend in the person's time zone and the working day at another UTC
    # offset (Korea's and China's), on several days and as a share of all the person's active hours.
    OFF_HOURS_IN_ANOTHER_WORKING_DAY = "off_hours_in_another_working_day"
    # Activity with no gap longer than max_gap_minutes lasting min_hours or more, on several days.
    CONTINUOUS_ACTIVITY = "continuous_activity"


Hours = Annotated[list[Annotated[int, Field(ge=0, le=24)]], Field(min_length=2, max_length=2)]


class WorkPattern(BaseModel):
    """A rule whose events are aggregated per person before it alerts: the matched events of each person
    (entity_field, resolved through the identity lookup) are measured over `window_days`, and one alert
    stands when the pattern shows on at least `min_days` days of the window. Thresholds are data."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    entity_field: Annotated[str, Field(min_length=1)]
    measure: WorkPatternMeasure
    window_days: Annotated[int, Field(ge=1, le=28)] = 7
    min_days: Annotated[int, Field(ge=1, le=28)]
    # Identity lookup categories (pipe-separated `category`, compared case-insensitively) whose hours are
    # not their time zone's day by arrangement (night shift, follow-the-sun support): left out.
    exempt_categories: list[Annotated[str, Field(pattern=r"^[\w-]+$")]] = []
    # off_hours_in_another_working_day
    other_utc_offsets: list[Annotated[float, Field(ge=-12, le=14)]] = []
    other_working_hours: Hours | None = None  # [from, to) on Monday to Friday at those offsets
    local_working_hours: Hours | None = None  # [from, to) on Monday to Friday in the person's time zone
    min_share: Annotated[float, Field(gt=0, le=1)] | None = None
    # An event from another country than the person's work_country marks a trip: that window is left out.
    country_field: Annotated[str, Field(min_length=1)] | None = None
    # continuous_activity
    min_hours: Annotated[float, Field(gt=0, le=72)] | None = None
    max_gap_minutes: Annotated[int, Field(ge=1, le=600)] | None = None

    @model_validator(mode="after")
    def _measure_has_its_thresholds(self) -> WorkPattern:
        hours = (self.other_utc_offsets, self.other_working_hours, self.local_working_hours, self.min_share)
        if self.measure is WorkPatternMeasure.OFF_HOURS_IN_ANOTHER_WORKING_DAY and not all(hours):
            raise ValueError(
                "off_hours_in_another_working_day needs other_utc_offsets, other_working_hours, "
                "local_working_hours and min_share"
            )
        if self.measure is WorkPatternMeasure.CONTINUOUS_ACTIVITY and not (
            self.min_hours and self.max_gap_minutes
        ):
            raise ValueError("continuous_activity needs min_hours and max_gap_minutes")
        if self.min_days > self.window_days:
            raise ValueError("min_days is at most window_days")
        return self


class Reporting(BaseModel):
    """A public report of the tradecraft a rule answers: who published it, when, and where."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: Annotated[str, Field(min_length=3)]
    date: Annotated[str, Field(pattern=r"^\d{4}-\d{2}(-\d{2})?$")]
    url: Annotated[str, Field(pattern=r"^https://")] | None = None

    @field_validator("date", mode="before")
    @classmethod
    def _iso_text(cls, value: Any) -> Any:
        """YAML reads 2025-06-30 as a date; a month (2025-12) stays text."""
        return value.isoformat() if isinstance(value, date) else value

    def __str__(self) -> str:
        return f"{self.source}, {self.date}"


class FirstSeen(BaseModel):
    """The rule's signal is the first time: it alerts when its risk entity, with the values of `fields`
    if any (a user's country, a user's token), has not raised it within the last `history_days` (Kibana
    new_terms on the risk field and `fields`, a baseline lookup on Splunk, the hunted window locally;
    docs/tuning.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    history_days: Annotated[int, Field(ge=1, le=90)]
    # Kibana's new_terms takes at most three fields, the risk field among them.
    fields: Annotated[list[Annotated[str, Field(min_length=1)]], Field(max_length=2)] = []


class RuleMetadata(BaseModel):
    """The custom top-level keys of a pack rule (Sigma keeps them as custom attributes)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    guidance: Annotated[list[Guidance], Field(min_length=1)]
    risk: Risk
    implementation: Annotated[str, Field(min_length=20)]
    enabled_by_default: bool = False
    reporting: list[Reporting] = []
    first_seen: FirstSeen | None = None
    identity_check: IdentityCheck | None = None
    work_pattern: WorkPattern | None = None

    @classmethod
    def from_custom_attributes(cls, attributes: dict[str, Any]) -> RuleMetadata:
        return cls.model_validate(attributes)


METADATA_KEYS = frozenset(RuleMetadata.model_fields)
