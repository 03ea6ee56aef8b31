"""Alerts as analysts see them: engine hits and correlation windows turned into readable records."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ghosthire.hunt.engine import EngineResult, Occurrence
from ghosthire.rules import PackRule

MAX_EVIDENCE = 500


@dataclass(frozen=True)
class Location:
    file: str
    line: int


@dataclass
class Alert:
    rule: PackRule
    time: datetime | None
    source: str | None
    entity: str | None
    event: dict[str, Any] | None = None
    group: dict[str, str] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    locations: list[Location] = field(default_factory=list)
    event_count: int = 1
    metric: float | None = None

    @property
    def score(self) -> int:
        return self.rule.meta.risk.score if self.rule.meta else 0

    def to_json(self) -> dict[str, Any]:
        rule = self.rule
        record: dict[str, Any] = {
            "rule_id": rule.id,
            "rule_name": rule.name,
            "title": rule.title,
            "level": rule.level,
            "time": self.time.isoformat().replace("+00:00", "Z") if self.time else None,
            "guidance": [str(g) for g in rule.meta.guidance] if rule.meta else [],
            "entity": self.entity,
            "entity_type": str(rule.meta.risk.entity) if rule.meta else None,
            "risk_score": self.score,
            "locations": [f"{location.file}:{location.line}" for location in self.locations[:MAX_EVIDENCE]],
        }
        if self.group is None:
            record["event"] = self.event
        else:
            record.update(
                group=self.group, event_count=self.event_count, metric=self.metric, events=self.events
            )
        return record


def to_time(epoch: float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch is not None else None


def alerts_from(result: EngineResult) -> list[Alert]:
    """Single-event hits one alert each; overlapping windows of one correlation group merged into one."""
    alerts = [
        Alert(
            rule=hit.detection.rule,
            time=to_time(hit.ts),
            source=hit.detection.query.table,
            entity=hit.entity,
            event=json.loads(hit.raw),
            locations=[Location(result.files[hit.file], hit.line)],
        )
        for hit in result.hits
    ]
    alerts.extend(_correlation_alert(result, run) for run in merge_windows(result.occurrences))
    alerts.sort(key=lambda alert: (alert.time or datetime.min.replace(tzinfo=UTC), alert.rule.name))
    return alerts


def merge_windows(occurrences: list[Occurrence]) -> list[list[Occurrence]]:
    """Runs of occurrences of one correlation and group whose windows overlap: one burst, one alert."""
    runs: list[list[Occurrence]] = []
    ordered = sorted(occurrences, key=lambda o: (o.correlation.rule.name, o.group, o.end))
    for occurrence in ordered:
        last = runs[-1][-1] if runs else None
        if (
            last is not None
            and last.correlation is occurrence.correlation
            and last.group == occurrence.group
            and occurrence.start <= last.end
        ):
            runs[-1].append(occurrence)
        else:
            runs.append([occurrence])
    return runs


def _correlation_alert(result: EngineResult, run: list[Occurrence]) -> Alert:
    first = run[0]
    correlation = first.correlation
    eids = sorted({eid for occurrence in run for eid in occurrence.evidence})
    evidence = [result.evidence[eid] for eid in eids if eid in result.evidence]
    texts = [item.raw for item in evidence[:MAX_EVIDENCE] if item.raw is not None]
    group = dict(zip(correlation.group_by, first.group, strict=True))
    entity_field = correlation.rule.meta.risk.field if correlation.rule.meta else None
    return Alert(
        rule=correlation.rule,
        time=to_time(first.end),
        source=correlation.slots[0].detection.query.table,
        entity=group.get(entity_field) if entity_field else None,
        group=group,
        events=[json.loads(text) for text in texts],
        locations=[Location(result.files[item.file], item.line) for item in evidence],
        event_count=len(eids),
        metric=max(occurrence.metric for occurrence in run),
    )
