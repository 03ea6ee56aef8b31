"""Hunt output formats, registered by name: a readable table, JSON lines, CSV."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from typing import TextIO

from rich.console import Console
from rich.table import Table

from ghosthire.hunt.alerts import Alert

Writer = Callable[[list[Alert], TextIO], None]
WRITERS: dict[str, Writer] = {}
LEVEL_STYLES = {
    "critical": "bold red",
    "high": "red",
    "medium": "yellow",
    "low": "cyan",
    "informational": "dim",
}
CSV_COLUMNS = (
    "time",
    "level",
    "rule_id",
    "rule_name",
    "title",
    "entity_type",
    "entity",
    "risk_score",
    "locations",
)


def writer(name: str) -> Callable[[Writer], Writer]:
    def register(function: Writer) -> Writer:
        WRITERS[name] = function
        return function

    return register


def summary_of(alert: Alert) -> str:
    """What happened, in a few words: the group and count for a correlation, the entity otherwise."""
    if alert.group is not None:
        group = ", ".join(f"{key}={value}" for key, value in alert.group.items())
        return f"{group}: {alert.event_count} events (metric {alert.metric:g})"
    return alert.entity or ""


@writer("table")
def write_table(alerts: list[Alert], stream: TextIO) -> None:
    console = Console(file=stream, width=max(Console(file=stream).width, 140), highlight=False)
    table = Table(title=f"{len(alerts)} alerts", show_lines=False)
    for column in ("time (UTC)", "level", "rule", "guidance", "entity / group", "where"):
        table.add_column(column, overflow="fold")
    for alert in alerts:
        level = alert.rule.level
        table.add_row(
            alert.time.strftime("%Y-%m-%d %H:%M:%S") if alert.time else "-",
            f"[{LEVEL_STYLES.get(level, '')}]{level}[/]",
            alert.rule.title,
            ", ".join(str(g) for g in alert.rule.meta.guidance) if alert.rule.meta else "",
            summary_of(alert),
            _where(alert),
        )
    console.print(table)


@writer("jsonl")
def write_jsonl(alerts: list[Alert], stream: TextIO) -> None:
    for alert in alerts:
        stream.write(json.dumps(alert.to_json(), sort_keys=True, default=str) + "\n")


@writer("csv")
def write_csv(alerts: list[Alert], stream: TextIO) -> None:
    table = csv.DictWriter(stream, fieldnames=[*CSV_COLUMNS, "summary"], extrasaction="ignore")
    table.writeheader()
    for alert in alerts:
        record = alert.to_json()
        record["locations"] = " ".join(record["locations"])
        table.writerow({**record, "summary": summary_of(alert)})


def _where(alert: Alert) -> str:
    if not alert.locations:
        return ""
    first = alert.locations[0]
    more = f" (+{len(alert.locations) - 1})" if len(alert.locations) > 1 else ""
    return f"{first.file}:{first.line}{more}"
