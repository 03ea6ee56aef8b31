"""Alerts as analysts see them: engine hits and correlation windows turned into readable records."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from types import MappingProxyType
from typing import Any

import numpy as np
import pyarrow as pa

from ghosthire.hunt.engine import EID_FILE_FACTOR, EngineResult, Hit, Occurrence
from ghosthire.model.attack import load_attack
from ghosthire.model.sources import field_value
from ghosthire.rules import PackRule
from ghosthire.rules.metadata import RiskEntity
from ghosthire.tuning import Escalation, NewHire, escalation_for

MAX_EVIDENCE = 500
# The values of an alert whose rule reads none after matching (shared: most alerts).
NO_VALUES: Mapping[str, str | None] = MappingProxyType({})
# Where alerts without a time sort.
EARLIEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Location:
    file: str
    line: int


class MatchedTexts:
    """The JSON text of the records alerts are about, as the engine hands them over: one Arrow column
    (`table`: file, number, text), never a Python string each. An alert refers to its row; the writers
    give the column back to DuckDB whole, and Python reads a text only to parse the event. Rows are
    found by event id in a sorted array (16 bytes a record, not a Python key each)."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        ids = event_ids(table.column("file").to_numpy(), table.column("number").to_numpy())
        self._order = np.argsort(ids, kind="stable")
        self._ids = ids[self._order]
        sizes = [len(chunk) for chunk in table.column("text").chunks]
        self._chunk_starts = np.cumsum([0, *sizes[:-1]], dtype=np.int64)

    def text(self, row: int) -> str:
        return self.table.column("text")[row].as_py()

    def texts_at(self, rows: np.ndarray) -> pa.Array:
        """The texts of these rows, in their order, taken chunk by chunk (the column is never copied
        whole)."""
        if not len(rows):
            return pa.array([], pa.large_string())
        column = self.table.column("text")
        chunk_of = np.searchsorted(self._chunk_starts, rows, side="right") - 1
        if chunk_of[0] == chunk_of[-1] and (chunk_of == chunk_of[0]).all():  # the usual case: one take
            chunk = int(chunk_of[0])
            return (
                column.chunk(chunk).take(pa.array(rows - self._chunk_starts[chunk])).cast(pa.large_string())
            )
        pieces = [
            column.chunk(chunk).take(pa.array(rows[chunk_of == chunk] - self._chunk_starts[chunk]))
            for chunk in np.unique(chunk_of)
        ]
        grouped = pa.concat_arrays([piece.cast(pa.large_string()) for piece in pieces])
        # `grouped` holds the rows by chunk, each chunk's in their order: put them back in theirs.
        order = np.argsort(chunk_of, kind="stable")
        back = np.empty_like(order)
        back[order] = np.arange(len(order))
        return grouped.take(pa.array(back))

    def rows_of(self, files: np.ndarray, lines: np.ndarray) -> list[int]:
        """The row of each record (file index, line) in the table; -1 for one not in it."""
        wanted = event_ids(files, lines)
        if not len(self._ids):
            return [-1] * len(wanted)
        at = np.minimum(np.searchsorted(self._ids, wanted), len(self._ids) - 1)
        return np.where(self._ids[at] == wanted, self._order[at], -1).tolist()


def event_ids(files: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """Each record's event id (file index and line in one number, as the engine counts them)."""
    return files.astype(np.int64) * EID_FILE_FACTOR + lines.astype(np.int64)


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert, complete when made: a stage that changes it (a new hire's escalation) makes another.
    The events it is about are kept as their JSON text (the `matched` row, or `texts` for the events a
    correlation cites) and parsed each time they are read (`event`, `events`): most outputs copy the
    text, and an output-heavy hunt holds hundreds of thousands of alerts (slots, nothing cached)."""

    rule: PackRule
    time: datetime | None
    source: str | None
    entity: str | None
    matched: tuple[MatchedTexts, int] | None = None
    group: dict[str, str] | None = None
    texts: tuple[str, ...] = ()
    locations: tuple[Location, ...] = ()
    event_count: int = 1
    metric: float | None = None
    # A correlation burst's last qualifying event (its evidence runs from `time` to here); None for one event.
    last_time: datetime | None = None
    # Given when the entity is a user who started recently (ghosthire.tuning): level and score are raised.
    new_hire: Escalation | None = None
    # The values of the rule's `later_fields` the engine read with the match (ghosthire.hunt.plan).
    values: Mapping[str, str | None] = field(default_factory=dict)

    @property
    def text(self) -> str | None:
        """The JSON text of a single-event alert's event."""
        return self.matched[0].text(self.matched[1]) if self.matched else None

    @property
    def event(self) -> dict[str, Any] | None:
        """The event of a single-event alert, parsed."""
        text = self.text
        return json.loads(text) if text is not None else None

    @property
    def events(self) -> tuple[dict[str, Any], ...]:
        """The events a correlation alert cites, parsed."""
        return tuple(json.loads(text) for text in self.texts)

    def value_of(self, name: str) -> Any:
        """A field's value in the alert's event: as the engine read it with the match, else from the
        parsed event (None when absent)."""
        if name in self.values:
            return self.values[name]
        event = self.event
        return field_value(event, name) if event else None

    @property
    def entity_type(self) -> str | None:
        return str(self.rule.meta.risk.entity) if self.rule.meta else None

    @property
    def base_score(self) -> int:
        """The rule's risk score."""
        return self.rule.meta.risk.score if self.rule.meta else 0

    @property
    def score(self) -> int:
        """The score the alert counts with: the rule's, raised for a new hire."""
        return self.new_hire.score(self.base_score) if self.new_hire else self.base_score

    @property
    def base_level(self) -> str:
        """The rule's level."""
        return self.rule.level

    @property
    def level(self) -> str:
        """The level the alert is shown with: the rule's, one up for a new hire."""
        return self.new_hire.level(self.base_level) if self.new_hire else self.base_level

    def to_json(self) -> dict[str, Any]:
        described = rule_json(self.rule)
        record: dict[str, Any] = {
            **{name: list(value) if isinstance(value, tuple) else value for name, value in described.items()},
            "level": self.level,
            "base_level": self.base_level,
            "time": self.time.isoformat().replace("+00:00", "Z") if self.time else None,
            "entity": self.entity,
            "entity_type": self.entity_type,
            "risk_score": self.score,
            "base_risk_score": self.base_score,
            "new_hire": new_hire_json(self.new_hire) if self.new_hire else None,
            "locations": [f"{location.file}:{location.line}" for location in self.locations[:MAX_EVIDENCE]],
        }
        if self.group is None:
            record["event"] = self.event
        else:
            record.update(
                group=self.group, event_count=self.event_count, metric=self.metric, events=list(self.events)
            )
        return record


@lru_cache(maxsize=4096)
def rule_json(rule: PackRule) -> dict[str, Any]:
    """What an alert's record says about its rule, worked out once per rule (lists as tuples: shared)."""
    return {
        "rule_id": rule.id,
        "rule_name": rule.name,
        "title": rule.title,
        "guidance": tuple(str(g) for g in rule.meta.guidance) if rule.meta else (),
        "attack_techniques": tuple(rule.attack_ids),
        "attack_tactics": tuple(attack_tactics(rule)),
    }


def attack_tactics(rule: PackRule) -> list[str]:
    """The ATT&CK tactics (short names) of the rule's techniques, in ATT&CK's order."""
    return load_attack().tactics_of(rule.attack_ids)


def new_hire_json(escalation: Escalation) -> dict[str, Any]:
    hire = escalation.hire
    return {
        "user": hire.user,
        "start_date": hire.start_date.isoformat(),
        "days_since_start": escalation.days_since_start,
        "expected_country": hire.expected_country,
    }


def new_hire_note(alert: Alert) -> str:
    """How a new hire's alert was raised, in a few words; empty for any other alert."""
    if alert.new_hire is None:
        return ""
    started = alert.new_hire.hire.start_date.isoformat()
    return (
        f"new hire (started {started}, day {alert.new_hire.days_since_start}): "
        f"{alert.base_level} -> {alert.level}, score {alert.base_score} -> {alert.score}"
    )


def escalate_new_hires(alerts: Iterable[Alert], hires: dict[str, NewHire]) -> list[Alert]:
    """The alerts, those about users in their first days (the new-hire lookup, ghosthire.tuning) raised
    as the Splunk app's `ghosthire_new_hire_escalation` does: one level up, score x1.5 up to 100."""
    return [
        escalated(alert, escalation_for(hires, alert.entity, alert.time))
        if alert.entity_type == RiskEntity.USER
        else alert
        for alert in alerts
    ]


def escalated(alert: Alert, escalation: Escalation | None) -> Alert:
    """The alert raised for a new hire (itself when there is no escalation)."""
    return replace(alert, new_hire=escalation) if escalation is not None else alert


def to_time(epoch: float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch is not None else None


def alerts_from(result: EngineResult, matched: MatchedTexts, cited: dict[int, str]) -> list[Alert]:
    """Single-event hits one alert each (`matched`: the text of the records they matched), and
    overlapping windows of one correlation group merged into one (`cited`: the text of the events
    correlations cite, by event id)."""
    files, lines = hit_records(result.hits)
    alerts = [
        Alert(
            rule=hit.detection.rule,
            time=to_time(hit.ts),
            source=hit.detection.query.table,
            entity=hit.entity,
            matched=(matched, row) if row >= 0 else None,
            locations=(Location(result.files[hit.file], hit.line),),
            values=dict(zip(hit.detection.later_fields, hit.values, strict=True))
            if hit.values
            else NO_VALUES,
        )
        for hit, row in zip(result.hits, matched.rows_of(files, lines), strict=True)
    ]
    alerts.extend(_correlation_alert(result, run, cited) for run in merge_windows(result.occurrences))
    alerts.sort(key=alert_order)
    return alerts


def hit_records(hits: list[Hit]) -> tuple[np.ndarray, np.ndarray]:
    """The file index and line of each hit's record, as two arrays."""
    count = len(hits)
    return (
        np.fromiter((hit.file for hit in hits), np.int64, count),
        np.fromiter((hit.line for hit in hits), np.int64, count),
    )


def alert_order(alert: Alert) -> tuple[datetime, str, str, int]:
    """Alerts in time order; events at one time for one rule follow the input (the engine finds them in
    no set order); an alert without a location first."""
    first = alert.locations[0] if alert.locations else None
    return (
        alert.time or EARLIEST,
        alert.rule.name,
        first.file if first else "",
        first.line if first else -1,
    )


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


def _correlation_alert(result: EngineResult, run: list[Occurrence], cited: dict[int, str]) -> Alert:
    first = run[0]
    correlation = first.correlation
    eids = sorted({eid for occurrence in run for eid in occurrence.evidence})
    evidence = [result.evidence[eid] for eid in eids if eid in result.evidence]
    texts = [cited[eid] for eid in eids[:MAX_EVIDENCE] if eid in cited]
    group = dict(zip(correlation.group_by, first.group, strict=True))
    entity_field = correlation.rule.meta.risk.field if correlation.rule.meta else None
    return Alert(
        rule=correlation.rule,
        time=to_time(first.end),
        source=correlation.slots[0].detection.query.table,
        entity=group.get(entity_field) if entity_field else None,
        group=group,
        texts=tuple(texts),
        locations=tuple(Location(result.files[item.file], item.line) for item in evidence),
        event_count=len(eids),
        metric=max(occurrence.metric for occurrence in run),
        last_time=to_time(run[-1].end),
    )
