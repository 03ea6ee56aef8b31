"""`ghosthire check`: validate the rules (pySigma parse and the pack's own policy)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ghosthire.commands.common import rules_option, stderr
from ghosthire.content import detection_tests_dir, rules_dir
from ghosthire.policy import check_pack
from ghosthire.rules import load_pack


@click.command()
@rules_option
@click.option(
    "--tests",
    "tests_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory of per-rule test events (default: the pack's detection_tests/).",
)
def check(rules: Path | None, tests_dir: Path | None) -> None:
    """Validate every rule; exit non-zero on any violation."""
    root = rules or rules_dir()
    pack = load_pack(root)
    violations = check_pack(pack, tests_dir or detection_tests_dir())
    for violation in violations:
        stderr.print(str(violation))
    if violations:
        stderr.print(f"[red]{len(violations)} violations[/] in {len(pack.rules)} rules")
        sys.exit(1)
    stderr.print(f"{len(pack.rules)} rules: OK")
