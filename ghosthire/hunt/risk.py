"""Risk roll-up: alerts gathered per entity (user, host, applicant, address), ranked for triage.

An entity that trips several parts of the FBI guidance (remote access and multi-login, say) ranks
above one with many alerts in a single area: breadth of independent evidence first, then the sum of
the alerts' risk scores (a recent hire's raised, see ghosthire.tuning).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ghosthire.hunt.alerts import Alert


@dataclass
class EntityRisk:
    """One entity's alerts, in time order, with the guidance areas they cover and their total score."""

    entity_type: str
    entity: str
    alerts: list[Alert] = field(default_factory=list)

    @property
    def guidance(self) -> list[str]:
        return sorted(
            {str(area) for alert in self.alerts if alert.rule.meta for area in alert.rule.meta.guidance}
        )

    @property
    def score(self) -> int:
        """The alerts' scores, a new hire's raised (ghosthire.tuning)."""
        return sum(alert.score for alert in self.alerts)

    @property
    def new_hire(self) -> bool:
        """Some alert was raised because the entity is a recent hire."""
        return any(alert.new_hire for alert in self.alerts)

    @property
    def first_seen(self) -> datetime | None:
        return min((alert.time for alert in self.alerts if alert.time), default=None)

    @property
    def last_seen(self) -> datetime | None:
        return max((alert.time for alert in self.alerts if alert.time), default=None)

    def rank_key(self) -> tuple[int, int, str]:
        return (-len(self.guidance), -self.score, self.entity)


def roll_up(alerts: list[Alert]) -> list[EntityRisk]:
    """Entities ranked by the number of distinct guidance areas hit, then by total risk score.
    Entities are matched case-insensitively (JSmith and jsmith are one user); alerts without one are left out."""
    by_entity: dict[tuple[str, str], EntityRisk] = {}
    for alert in sorted(alerts, key=_time_order):
        if not alert.entity:
            continue
        entity_type = str(alert.rule.meta.risk.entity) if alert.rule.meta else "entity"
        key = (entity_type, alert.entity.lower())
        by_entity.setdefault(key, EntityRisk(entity_type, alert.entity)).alerts.append(alert)
    return sorted(by_entity.values(), key=EntityRisk.rank_key)


def _time_order(alert: Alert) -> tuple[bool, datetime | None, str]:
    return (alert.time is None, alert.time, alert.rule.name)
