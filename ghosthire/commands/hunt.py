"""`ghosthire hunt`: run the rules over exported logs on the embedded engine."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

from ghosthire.commands.common import lookups_option, print_capped, rules_option, stderr
from ghosthire.content import rules_dir, shipped_lookups_dir, using_lookups
from ghosthire.hunt import hunt as run_hunt
from ghosthire.hunt.output import WRITERS
from ghosthire.hunt.persons import Findings, assess
from ghosthire.hunt.plan_cache import cached_plan
from ghosthire.hunt.readers import input_files
from ghosthire.hunt.summary import summarise
from ghosthire.identities import Directory
from ghosthire.model.levels import LEVELS
from ghosthire.model.time import parse_time
from ghosthire.rules.selection import RuleSelection
from ghosthire.tuning import NEW_HIRE_DAYS, NEW_HIRE_SCORE_FACTOR, load_new_hires

MAX_LISTED_PROBLEMS = 20
# Persons named in the triage queue line (the formats list them all).
QUEUE_NAMED = 10
# The hunt finished, but some rules could not be read and did not run (listed in the summary).
EXIT_RULES_SKIPPED = 3


class UtcTime(click.ParamType):
    name = "time"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_time(value)
        except (ValueError, OverflowError, OSError):
            self.fail(
                f"{value!r} is not an ISO 8601 time, e.g. 2025-06-01 or 2025-06-01T10:00:00Z", param, ctx
            )


@click.command()
# Not `readable=True`: a file that cannot be read is reported with the hunt's other problems, not refused.
@click.argument(
    "paths", nargs=-1, required=True, type=click.Path(exists=True, readable=False, path_type=Path)
)
@rules_option
@click.option("--source", help="Read every record as this log source (default: recognise each record).")
@click.option(
    "--format", "output_format", type=click.Choice(sorted(WRITERS)), default="table", show_default=True
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write alerts (or the report) here.",
)
@click.option("--since", type=UtcTime(), help="Only records at or after this time (UTC unless stated).")
@click.option("--until", type=UtcTime(), help="Only records before this time.")
@click.option(
    "--new-hires",
    "new_hires_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Lookup of recent hires (user,start_date,expected_country); their alerts in the first "
    f"{NEW_HIRE_DAYS} days are raised one level and their score x{NEW_HIRE_SCORE_FACTOR:g} "
    "(default: ghosthire_new_hires.csv of the lookups folder; the identity lookup's startDate and "
    "work_country raise every identifier and asset of a recent hire).",
)
@lookups_option
@click.option(
    "--strict",
    is_flag=True,
    help="Stop at the first rule that cannot be read (default: skip it, say so, and exit with "
    f"{EXIT_RULES_SKIPPED} once the hunt is done).",
)
@click.option(
    "--level",
    "min_level",
    type=click.Choice(LEVELS),
    help="Only rules of this level and above.",
)
@click.option(
    "--tag",
    "tags",
    multiple=True,
    help="Only rules with this tag: ATT&CK (attack.t1059, t1059, attack.execution; sub-techniques "
    "included) or a guidance area. Repeatable: any of them.",
)
@click.option(
    "--rule",
    "include",
    multiple=True,
    help="Only rules whose name, id, title or file name matches this glob (e.g. 'proc_creation_*'). "
    "Repeatable.",
)
@click.option(
    "--exclude-rule", "exclude", multiple=True, help="Leave out the rules matching this glob. Repeatable."
)
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal).")
def hunt(
    paths: tuple[Path, ...],
    rules: Path | None,
    source: str | None,
    output_format: str,
    output: Path | None,
    since: datetime | None,
    until: datetime | None,
    new_hires_file: Path | None,
    lookups: Path | None,
    strict: bool,
    min_level: str | None,
    tags: tuple[str, ...],
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    progress: bool | None,
) -> None:
    """Hunt with every rule, correlations included, over log files or directories; alerts are resolved to
    persons through the identity and asset lookups and ranked, the triage queue first."""
    selection = RuleSelection(min_level, tags, include, exclude)  # type: ignore[arg-type]
    with using_lookups(lookups):
        findings = _hunt(paths, rules, selection, strict, source, since, until, new_hires_file, progress)
    stream = output.open("w", encoding="utf-8") if output else sys.stdout
    try:
        WRITERS[output_format](findings, stream)
    finally:
        if output:
            stream.close()
    _summary(findings, lookups)
    if findings.outcome.plan.unreadable:
        sys.exit(EXIT_RULES_SKIPPED)


def _hunt(
    paths: tuple[Path, ...],
    rules: Path | None,
    selection: RuleSelection,
    strict: bool,
    source: str | None,
    since: datetime | None,
    until: datetime | None,
    new_hires_file: Path | None,
    progress: bool | None,
) -> Findings:
    directory = Directory.in_use()
    plan = cached_plan(
        rules or rules_dir(), require_metadata=rules is None, strict=strict, selection=selection
    )
    new_hires = load_new_hires(new_hires_file)
    total = sum(path.stat().st_size for path in input_files(paths))
    show = stderr.is_terminal if progress is None else progress
    with Progress(
        TextColumn("hunting"),
        BarColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
        console=stderr,
        disable=not show,
    ) as bar:
        task = bar.add_task("hunt", total=total)
        outcome = run_hunt(
            plan,
            paths,
            source=source,
            since=since,
            until=until,
            on_batch=lambda batch: bar.advance(task, batch.byte_count),
            new_hires=new_hires,
        )
        bar.update(task, completed=total)
    return assess(outcome, directory)


def _summary(findings: Findings, lookups: Path | None) -> None:
    """Records read, skipped with reasons, alerts per rule and elapsed time, on stderr; then the lookup
    rows not used and the identifiers two persons claim; then the first skipped records."""
    for line in summarise(findings.outcome).lines():
        stderr.print(line, markup=False, soft_wrap=True)
    queue = findings.queue
    named = ", ".join(risk.key for risk in queue[:QUEUE_NAMED]) or "nobody"
    more = f" and {len(queue) - QUEUE_NAMED} more" if len(queue) > QUEUE_NAMED else ""
    stderr.print(
        f"  triage queue ({findings.policy.describe()}): {len(queue)}: {named}{more}; "
        f"{len(findings.persons)} persons and unresolved entities ranked",
        markup=False,
        soft_wrap=True,
    )
    if lookups is None and findings.directory.persons:
        stderr.print(
            f"  persons resolved through the example company of {shipped_lookups_dir()}; "
            "give your own with --lookups DIR (ghosthire identities builds it)",
            markup=False,
            soft_wrap=True,
        )
    notes = [*map(str, findings.directory.problems), *map(str, findings.directory.conflicts)]
    print_capped([f"  lookup: {note}" for note in notes], "lookup notes", MAX_LISTED_PROBLEMS)
    problems = findings.outcome.result.report.problems
    skipped = [
        f"  skipped {problem.file}:{problem.line}: {problem.reason}"
        if problem.line
        else f"  skipped {problem.file}: {problem.reason}"
        for problem in problems
    ]
    print_capped(skipped, "skipped records", MAX_LISTED_PROBLEMS)
