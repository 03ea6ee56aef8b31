"""`ghosthire build`: compile every rule and write the Splunk app, Kibana rules and plain queries."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from ghosthire.build import BuildResult
from ghosthire.build import build as run_build
from ghosthire.commands.common import lookups_option, rules_option, stderr
from ghosthire.content import using_lookups

# Rules named per skip reason; build-report.json lists every one.
LISTED_RULES = 5


@click.command()
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("build"), show_default=True)
@rules_option
@lookups_option
def build(out_dir: Path, rules: Path | None, lookups: Path | None) -> None:
    """Compile the rules into every target and write the installable artifacts into --out."""
    with using_lookups(lookups), stderr.status("building") as status:
        result = run_build(out_dir, rules=rules, on_step=lambda step: status.update(step))
    _print_summary(result)


def _print_summary(result: BuildResult) -> None:
    table = Table(title=f"{len(result.pack.rules)} rules compiled into {result.out_dir}")
    for column in ("target", "compiled", "skipped"):
        table.add_column(column)
    for output in result.outputs.values():
        table.add_row(output.target.label, str(len(output.ok())), str(len(output.skipped())))
    stderr.print(table)
    # One line per reason, naming the targets: a rule no target can express is listed once, not per target.
    targets_by_rule: dict[tuple[str, str], list[str]] = {}
    for target, rule, reason in result.skipped():
        targets_by_rule.setdefault((reason, rule), []).append(target)
    by_reason: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for (reason, rule), targets in targets_by_rule.items():
        by_reason.setdefault((reason, tuple(targets)), []).append(rule)
    for (reason, targets), rules in by_reason.items():
        more = f" and {len(rules) - LISTED_RULES} more" if len(rules) > LISTED_RULES else ""
        stderr.print(
            f"skipped for {', '.join(targets)} ({len(rules)}): {reason.rstrip('.')}: "
            f"{', '.join(rules[:LISTED_RULES])}{more}",
            markup=False,
            soft_wrap=True,
        )
    if by_reason:
        stderr.print(
            f"every skipped rule, per target: {result.artifacts['report']}", markup=False, soft_wrap=True
        )
    for name, path in result.artifacts.items():
        stderr.print(f"{name}: {path}")
