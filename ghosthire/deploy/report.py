"""What an install or uninstall changed, the loop that applies it step by step, and how both are shown.

Both installers plan per object (read the server, compare, write only the difference) and hand the runner a
list of steps. The runner retries each step as a whole, so a step re-reads the server after a failure and a
write whose answer was lost is not repeated blindly. It stops at the first step that still fails, and the
report then says what was applied and what was not; since every step starts from the server's state, running
the same command again finishes the job.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from itertools import zip_longest
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.text import Text

from ghosthire.deploy.retry import DEADLINE_NOTE, RetryPolicy, is_transient, with_retries
from ghosthire.errors import GhosthireError

T = TypeVar("T")
Describe = Callable[[Exception], str | None]
_VALUE_WIDTH = 72


class Action(Enum):
    """What happened to one object, as (marker, done phrase, dry-run phrase)."""

    CREATE = ("+", "created", "to create")
    UPDATE = ("~", "updated", "to update")
    UNCHANGED = ("=", "unchanged", "unchanged")
    DELETE = ("-", "deleted", "to delete")
    ABSENT = ("=", "already absent", "already absent")
    KEEP = ("!", "kept", "to keep")

    @property
    def marker(self) -> str:
        return self.value[0]

    def phrase(self, dry_run: bool) -> str:
        return self.value[2] if dry_run else self.value[1]


INSTALL_HEADLINE = (Action.CREATE, Action.UPDATE, Action.UNCHANGED)
UNINSTALL_HEADLINE = (Action.DELETE, Action.ABSENT)


@dataclass(frozen=True)
class FieldChange:
    key: str
    old: object
    new: object


@dataclass(frozen=True)
class ObjectChange:
    object_id: str
    action: Action
    fields: tuple[FieldChange, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class StepResult:
    """The changes a step made, and the objects the server refused for a reason retrying cannot fix."""

    changes: tuple[ObjectChange, ...] = ()
    refused: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Step:
    label: str
    object_ids: tuple[str, ...]
    run: Callable[[], StepResult]


@dataclass
class RunReport:
    title: str
    dry_run: bool
    headline: tuple[Action, ...]
    changes: list[ObjectChange] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    stopped_by: str | None = None
    not_applied: list[str] = field(default_factory=list)

    def count(self, action: Action) -> int:
        return sum(1 for change in self.changes if change.action is action)

    def summary(self) -> str:
        shown = [*self.headline, *(a for a in Action if a not in self.headline and self.count(a))]
        counts = ", ".join(f"{self.count(action)} {action.phrase(self.dry_run)}" for action in shown)
        return (
            f"{self.title}: dry run, nothing was changed: {counts}"
            if self.dry_run
            else f"{self.title}: {counts}"
        )

    @property
    def complete(self) -> bool:
        return self.stopped_by is None and not self.refused


class IncompleteRun(GhosthireError):
    """An install or uninstall that stopped early or had objects refused; the report printed before it
    lists what was and was not applied."""

    def __init__(self, report: RunReport) -> None:
        self.report = report
        if report.stopped_by is not None:
            message = (
                f"{report.title} stopped at {report.not_applied[0]}: {report.stopped_by}; "
                f"{len(report.changes)} objects done, {len(report.not_applied)} not applied. "
                "Run the same command again to finish"
            )
        else:
            object_id, reason = report.refused[0]
            more = f" (and {len(report.refused) - 1} more, listed above)" if len(report.refused) > 1 else ""
            message = f"{report.title}: {object_id} was refused: {reason}{more}; fix it and run again"
        super().__init__(message)


def changed_fields(
    current: Mapping[str, object], desired: Mapping[str, object], same: Callable[[object, object], bool]
) -> tuple[FieldChange, ...]:
    """The desired keys whose current value differs, judged by `same(current, desired)`."""
    return tuple(
        FieldChange(key, current.get(key), value)
        for key, value in desired.items()
        if not same(current.get(key), value)
    )


def run_steps(
    steps: Sequence[Step],
    report: RunReport,
    policy: RetryPolicy,
    console: Console,
    describe: Describe,
) -> None:
    """Runs `steps` in order into `report`, stopping at the first one that fails for good.

    `describe` turns an expected failure into one line; an error it returns None for is a bug, not a
    server's answer, and is raised as it is.
    """
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task(report.title, total=len(steps))

        def notice(attempt: int, error: BaseException, delay: float) -> None:
            reason = describe(error) if isinstance(error, Exception) else None
            progress.console.print(
                Text(f"  retrying {progress.tasks[0].description} in {delay:.2f}s ({attempt}): {reason}"),
                style="dim",
                soft_wrap=True,
            )

        for index, step in enumerate(steps):
            progress.update(task, description=step.label)
            try:
                result = with_retries(step.run, policy, notice)
            except Exception as error:
                reason = _final_reason(error, policy, describe, step.label)
                if reason is None:
                    raise
                report.stopped_by = reason
                report.not_applied = [object_id for later in steps[index:] for object_id in later.object_ids]
                return
            report.changes.extend(result.changes)
            report.refused.extend(result.refused)
            progress.advance(task)


def read_with_retries(label: str, operation: Callable[[], T], policy: RetryPolicy, describe: Describe) -> T:
    """`operation()` with retries, for what a run reads before its steps; a failure that `describe` knows
    becomes one GhosthireError line starting with `label`."""
    try:
        return with_retries(operation, policy)
    except Exception as error:
        reason = _final_reason(error, policy, describe)
        if reason is None:
            raise
        raise GhosthireError(f"{label}: {reason}") from error


def _final_reason(error: Exception, policy: RetryPolicy, describe: Describe, step: str = "") -> str | None:
    reason = describe(error)
    if reason is None or not is_transient(error):
        return reason
    if DEADLINE_NOTE in getattr(error, "__notes__", ()):
        waited = f" at step {step!r}" if step else ""
        return f"{reason} (gave up{waited}: the run's {policy.deadline:g} s deadline passed)"
    if policy.attempts > 1:
        reason += f" (gave up after {policy.attempts} attempts)"
    return reason


def finish(report: RunReport, console: Console) -> RunReport:
    """Prints what changed and the summary line; raises IncompleteRun when not everything was applied."""
    for change in report.changes:
        if change.action is not Action.UNCHANGED or change.note:
            _print_change(console, change)
    for object_id, reason in report.refused:
        console.print(Text(f"x {object_id}: refused: {reason}", style="red"), soft_wrap=True)
    if report.not_applied:
        console.print(Text(f"not applied ({len(report.not_applied)}):", style="yellow"))
        for object_id in report.not_applied:
            console.print(Text(f"  {object_id}"), soft_wrap=True)
    console.print(Text(report.summary(), style="bold"), soft_wrap=True)
    if not report.complete:
        raise IncompleteRun(report)
    return report


def _print_change(console: Console, change: ObjectChange) -> None:
    line = Text(f"{change.action.marker} {change.object_id}")
    if change.note:
        line.append(f"  ({change.note})", style="dim")
    console.print(line, soft_wrap=True)
    for field_change in change.fields:
        console.print(
            Text(f"    {field_change.key}: {_difference(field_change.old, field_change.new)}"), soft_wrap=True
        )


def _difference(old: object, new: object) -> str:
    """`old -> new` on one line: for multi-line values the first line that differs, and for long lines the
    stretch where they start to differ."""
    old_lines, new_lines = _text(old).split("\n"), _text(new).split("\n")
    index = next(
        (i for i, (a, b) in enumerate(zip_longest(old_lines, new_lines, fillvalue="")) if a != b),
        0,
    )
    where = f"line {index + 1}: " if max(len(old_lines), len(new_lines)) > 1 else ""
    old_line = old_lines[index] if index < len(old_lines) else ""
    new_line = new_lines[index] if index < len(new_lines) else ""
    common = next(
        (i for i, (a, b) in enumerate(zip(old_line, new_line, strict=False)) if a != b),
        min(len(old_line), len(new_line)),
    )
    start = max(0, common - _VALUE_WIDTH // 2)
    shown_old = "(none)" if old is None else _clip(old_line, start, quoted=isinstance(old, str))
    shown_new = "(none)" if new is None else _clip(new_line, start, quoted=isinstance(new, str))
    return f"{where}{shown_old} -> {shown_new}"


def _text(value: object) -> str:
    if value is None or isinstance(value, str):
        return value or ""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _clip(line: str, start: int, quoted: bool) -> str:
    """Strings are quoted so that spaces show; other values are shown as JSON."""
    shown = ("…" if start else "") + line[start : start + _VALUE_WIDTH]
    shown += "…" if len(line) > start + _VALUE_WIDTH else ""
    return f"'{shown}'" if quoted else shown
