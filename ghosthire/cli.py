"""The `ghosthire` command: a thin layer over the library's stages."""

from __future__ import annotations

import sys

import click
from rich.console import Console

from ghosthire.errors import GhosthireError

stderr = Console(stderr=True, highlight=False)


class _Root(click.Group):
    """Turns the project's own errors into one line on stderr instead of a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except GhosthireError as error:
            stderr.print(f"[bold red]error:[/] {error}", markup=True, soft_wrap=True)
            sys.exit(2)


@click.group(cls=_Root)
@click.version_option(package_name="ghosthire")
def cli() -> None:
    """Detections for fraudulent remote IT workers: build, hunt, check, install."""


def _register() -> None:
    from ghosthire.commands import all_commands

    for command in all_commands():
        cli.add_command(command)


def main() -> None:
    _register()
    cli(prog_name="ghosthire")
