"""`ghosthire coverage`: which rules cover each part of the FBI guidance, on which sources and targets."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ghosthire.commands.common import rules_option, stderr
from ghosthire.compile import compile_pack, load_targets
from ghosthire.content import rules_dir
from ghosthire.coverage import coverage as compute_coverage
from ghosthire.coverage import navigator_layer, to_markdown
from ghosthire.hunt import build_plan
from ghosthire.rules import load_pack


@click.command()
@rules_option
@click.option(
    "--markdown", type=click.Path(dir_okay=False, path_type=Path), help="Also write the matrix as Markdown."
)
@click.option(
    "--navigator",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write an ATT&CK Navigator layer (JSON) of the techniques the rules cover.",
)
def coverage(rules: Path | None, markdown: Path | None, navigator: Path | None) -> None:
    """Print the guidance -> rules -> log sources -> targets matrix; exit 1 on a coverage gap."""
    with stderr.status("compiling"):
        pack = load_pack(rules or rules_dir())
        areas = compute_coverage(pack, compile_pack(pack, load_targets()), set(build_plan(pack).skipped))
    table = Table(title="FBI guidance coverage")
    for column in ("guidance", "rules", "log sources", "targets", "gap"):
        table.add_column(column, overflow="fold")
    for area in areas:
        targets = sorted({target for entry in area.rules for target in entry.targets})
        table.add_row(
            str(area.guidance),
            "\n".join(entry.rule.name for entry in area.rules),
            "\n".join(area.log_sources),
            ", ".join(targets),
            area.gap or "",
        )
    Console(width=160).print(table)
    if markdown:
        markdown.write_text(to_markdown(areas), encoding="utf-8")
    if navigator:
        layer = navigator_layer(areas)
        navigator.write_text(json.dumps(layer, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    if any(area.gap for area in areas):
        sys.exit(1)
