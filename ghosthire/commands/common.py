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
