"""Hunt output formats, registered by name: a readable table, JSON lines, CSV, a self-contained HTML report."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from typing import TextIO

from rich.console import Console
from rich.table import Table

from ghosthire.hunt.alerts import Alert, new_hire_note
from ghosthire.hunt.report import render_report
from ghosthire.hunt.risk import roll_up
from ghosthire.hunt.run import HuntOutcome
from ghosthire.model.levels import Level

Writer = Callable[[HuntOutcome, TextIO], None]
WRITERS: dict[str, Writer] = {}
LEVEL_STYLES: dict[Level, str] = {
    "critical": "bold red",
    "high": "red",
    "medium": "yellow",
    "low": "cyan",
    "informational": "dim",
}
TOP_ENTITIES = 10
CSV_COLUMNS = (
    "time",
    "level",
    "base_level",
    "rule_id",
    "rule_name",
    "title",
    "entity_type",
    "entity",
    "risk_score",
    "base_risk_score",
    "new_hire",
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
def write_table(outcome: HuntOutcome, stream: TextIO) -> None:
    alerts = outcome.alerts
    console = Console(file=stream, width=max(Console(file=stream).width, 140), highlight=False)
    table = Table(title=f"{len(alerts)} alerts", show_lines=False)
    for column in ("time (UTC)", "level", "rule", "guidance", "entity / group", "where"):
        table.add_column(column, overflow="fold")
    for alert in alerts:
        level = alert.level
        marker = " [bold](new hire)[/]" if alert.new_hire else ""
        table.add_row(
            alert.time.strftime("%Y-%m-%d %H:%M:%S") if alert.time else "-",
            f"[{LEVEL_STYLES.get(level, '')}]{level}[/]{marker}",
            alert.rule.title,
            ", ".join(str(g) for g in alert.rule.meta.guidance) if alert.rule.meta else "",
            summary_of(alert),
            _where(alert),
        )
    console.print(table)
    _print_roll_up(console, alerts)


def _print_roll_up(console: Console, alerts: list[Alert]) -> None:
    entities = roll_up(alerts)[:TOP_ENTITIES]
    if not entities:
        return
    table = Table(title=f"risk roll-up: top {len(entities)} entities (distinct guidance areas, then score)")
    for column in ("entity", "guidance areas", "score", "alerts"):
        table.add_column(column, overflow="fold")
    for risk in entities:
        table.add_row(
            f"{risk.entity_type} {risk.entity}" + (" (new hire)" if risk.new_hire else ""),
            ", ".join(risk.guidance),
            str(risk.score),
            str(len(risk.alerts)),
        )
    console.print(table)


@writer("jsonl")
def write_jsonl(outcome: HuntOutcome, stream: TextIO) -> None:
    for alert in outcome.alerts:
        stream.write(json.dumps(alert.to_json(), sort_keys=True, default=str) + "\n")


@writer("csv")
def write_csv(outcome: HuntOutcome, stream: TextIO) -> None:
    table = csv.DictWriter(stream, fieldnames=[*CSV_COLUMNS, "summary"], extrasaction="ignore")
    table.writeheader()
    for alert in outcome.alerts:
        record = alert.to_json()
        record["locations"] = " ".join(record["locations"])
        record["new_hire"] = new_hire_note(alert)
        table.writerow({**record, "summary": summary_of(alert)})


@writer("html")
def write_html(outcome: HuntOutcome, stream: TextIO) -> None:
    stream.write(render_report(outcome))


def _where(alert: Alert) -> str:
    if not alert.locations:
        return ""
    first = alert.locations[0]
    more = f" (+{len(alert.locations) - 1})" if len(alert.locations) > 1 else ""
    return f"{first.file}:{first.line}{more}"
