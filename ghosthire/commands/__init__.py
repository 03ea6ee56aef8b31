"""The CLI's commands, one module per command group, each a thin layer over the library."""

from __future__ import annotations

import click


def all_commands() -> list[click.Command]:
    from ghosthire.commands import build, check, coverage, hunt, identities

    commands: list[click.Command] = [
        build.build,
        hunt.hunt,
        identities.identities,
        check.check,
        coverage.coverage,
    ]
    try:
        from ghosthire.commands import deploy
    except ImportError:  # the installers are optional for a pack that only builds and hunts
        return commands
    return [*commands, *deploy.COMMANDS]
