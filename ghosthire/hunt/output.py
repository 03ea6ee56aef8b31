"""Hunt output formats, registered by name: a readable table, the ranked persons and the alerts as JSON
lines, CSV, a self-contained HTML report. Readable formats lead with the triage queue, then the ranked
persons, then each person's timeline."""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Callable, Iterable
from typing import TextIO

import pyarrow as pa
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ghosthire.hunt.alert_rows import CSV_FIELDS, csv_rows, json_lines, timesketch_lines
from ghosthire.hunt.persons import Findings, PersonRisk, TimelineRow, timeline
from ghosthire.hunt.report import render_report
from ghosthire.hunt.wording import summary_of
from ghosthire.model.levels import Level

Writer = Callable[[Findings, TextIO], None]
WRITERS: dict[str, Writer] = {}
LEVEL_STYLES: dict[Level, str] = {
    "critical": "bold red",
    "high": "red",
    "medium": "yellow",
    "low": "cyan",
    "informational": "dim",
}
# Persons listed after the queue, and persons whose timeline the table prints (the rest are in other formats).
TOP_PERSONS = 10
SHOWN_IDENTIFIERS = 3
TIMELINE_ROWS = 40


def writer(name: str) -> Callable[[Writer], Writer]:
    def register(function: Writer) -> Writer:
        WRITERS[name] = function
        return function

    return register


@writer("table")
def write_table(findings: Findings, stream: TextIO) -> None:
    """Sized to the terminal it prints in (80 columns, or $COLUMNS, when not a terminal)."""
    console = Console(file=stream, highlight=False)
    queue = findings.queue
    if queue:
        console.print(_persons_table(f"triage queue: {len(queue)} of {len(findings.persons)} persons", queue))
    else:
        console.print(f"triage queue: empty ({len(findings.persons)} persons with alerts)")
    console.print(f"[dim]queued when {findings.policy.describe()}[/]")
    others = [risk for risk in findings.persons if not risk.triage][:TOP_PERSONS]
    if others:
        title = f"ranked persons: top {len(others)} not queued (distinct guidance areas, then score)"
        console.print(_persons_table(title, others))
    shown = [*queue, *others]
    for risk in shown:
        console.print(_timeline_table(risk))
    hidden = len(findings.persons) - len(shown)
    if hidden > 0:
        console.print(f"[dim]{hidden} more persons: --format persons, csv or html lists every alert[/]")


def _persons_table(title: str, persons: list[PersonRisk]) -> Table:
    table = Table(title=title, title_justify="left")
    for column, justify in (
        ("#", "right"),
        ("person", "left"),
        ("guidance areas", "left"),
        ("score", "right"),
    ):
        table.add_column(column, justify=justify, overflow="fold")  # type: ignore[arg-type]
    table.add_column("alerts\nwindow/all", justify="right")
    for risk in persons:
        marker = " [bold](new hire)[/]" if risk.new_hire else ""
        table.add_row(
            str(risk.rank),
            f"{escape(risk.name)}{marker}{_identifiers(risk)}",
            ", ".join(risk.guidance),
            str(risk.score),
            f"{len(risk.window.alerts)}/{len(risk.alerts)}",
        )
    return table


def _identifiers(risk: PersonRisk) -> str:
    """The identifiers the alerts name, under a resolved person's name (the first few)."""
    if risk.person is None:
        return ""
    shown = ", ".join(risk.identifiers[:SHOWN_IDENTIFIERS])
    more = (
        f" +{len(risk.identifiers) - SHOWN_IDENTIFIERS}" if len(risk.identifiers) > SHOWN_IDENTIFIERS else ""
    )
    return f"\n[dim]{escape(shown)}{more}[/]"


def _timeline_table(risk: PersonRisk) -> Table:
    table = Table(title=f"#{risk.rank} {escape(risk.name)}: timeline", title_justify="left")
    for column in ("time (UTC)", "level", "rule", "what"):
        table.add_column(column, overflow="fold")
    rows = timeline(risk.alerts)
    for row in rows[:TIMELINE_ROWS]:
        alert = row.alert
        marker = " [bold](new hire)[/]" if alert.new_hire else ""
        table.add_row(
            _when(row),
            f"[{LEVEL_STYLES.get(alert.level, '')}]{alert.level}[/]{marker}",
            escape(alert.rule.title) + (f" [bold]x{row.count}[/]" if row.count > 1 else ""),
            escape(summary_of(alert)),
        )
    if len(rows) > TIMELINE_ROWS:
        table.caption = f"first {TIMELINE_ROWS} of {len(rows)} rows; --format html or jsonl has them all"
    return table


def _when(row: TimelineRow) -> str:
    first, last = row.alert.time, row.last
    if first is None:
        return "-"
    text = first.strftime("%Y-%m-%d %H:%M:%S")
    if last is None or last == first:
        return text
    return f"{text} .. {last.strftime('%H:%M:%S' if last.date() == first.date() else '%Y-%m-%d %H:%M:%S')}"


@writer("persons")
def write_persons(findings: Findings, stream: TextIO) -> None:
    """One JSON line per person (or unresolved entity), in rank order."""
    for risk in findings.persons:
        stream.write(json.dumps(risk.to_json(), sort_keys=True) + "\n")


@writer("jsonl")
def write_jsonl(findings: Findings, stream: TextIO) -> None:
    _write_utf8(json_lines(findings), stream)


@writer("csv")
def write_csv(findings: Findings, stream: TextIO) -> None:
    table = csv.writer(stream)
    table.writerow(CSV_FIELDS)
    for rows in csv_rows(findings):
        table.writerows(rows)


@writer("timesketch")
def write_timesketch(findings: Findings, stream: TextIO) -> None:
    """One Timesketch event per alert with a time (an alert without one cannot sit on a timeline)."""
    _write_utf8(timesketch_lines(findings), stream)


def _write_utf8(chunks: Iterable[pa.Buffer], stream: TextIO) -> None:
    """UTF-8 text chunks written to a text stream: as bytes when it writes UTF-8 to a byte stream (no
    Python string made and encoded again), else as text."""
    encoding = codecs.lookup(stream.encoding).name if getattr(stream, "encoding", None) else None
    binary = getattr(stream, "buffer", None) if encoding == "utf-8" else None
    if binary is not None:
        stream.flush()
    for chunk in chunks:
        if binary is not None:
            binary.write(memoryview(chunk))
        else:
            stream.write(chunk.to_pybytes().decode("utf-8"))
    if binary is not None:
        binary.flush()


@writer("html")
def write_html(findings: Findings, stream: TextIO) -> None:
    stream.write(render_report(findings))
