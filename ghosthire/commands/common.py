"""Options and console helpers shared by the commands."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

stderr = Console(stderr=True, highlight=False)

rules_option = click.option(
    "--rules",
    "rules",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="Sigma rule directory (default: the pack's sigma_rules/).",
)

lookups_option = click.option(
    "--lookups",
    "lookups",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="The company's lookups folder (file names of splunk_app/lookups/: ghosthire_identities.csv, "
    "ghosthire_assets.csv, ghosthire_corporate_egress.csv, ...); a file it lacks is taken from the shipped "
    "examples (default: the shipped examples).",
)


def print_capped(lines: list[str], more: str, limit: int = 20) -> None:
    """The first `limit` lines on stderr as plain text, then how many more `more` there are."""
    for line in lines[:limit]:
        stderr.print(line, markup=False, soft_wrap=True)
    if len(lines) > limit:
        stderr.print(f"  ... and {len(lines) - limit} more {more}", markup=False, soft_wrap=True)
