"""`ghosthire identities`: write the identity and asset lookups from the exports a company has."""

from __future__ import annotations

from pathlib import Path

import click

from ghosthire.commands.common import print_capped, stderr
from ghosthire.identities import ASSETS_FILE, IDENTITIES_FILE, Directory
from ghosthire.identities.builder import LookupBuild
from ghosthire.identities.exports import read_export

# Read in this order: the first export that names a person gives the key (Entra's sAMAccountName first).
EXPORTS = (
    ("entra-users", "Entra ID users, Graph GET /users (JSON)."),
    ("okta", "Okta users, GET /api/v1/users (JSON)."),
    ("hr", "HR employee records, docs/hr-schema.md (NDJSON or CSV)."),
    ("github", "GitHub organisation SAML/SCIM external identities, GraphQL externalIdentities (JSON)."),
    ("entra-devices", "Entra ID devices with registeredOwners, Graph GET /devices?$expand=registeredOwners."),
    ("intune", "Intune managed devices, Graph GET /deviceManagement/managedDevices (primary user)."),
)
MAX_LISTED_NOTES = 20


def _export_options(function: click.Command) -> click.Command:
    for kind, help_text in reversed(EXPORTS):
        option = click.option(
            f"--{kind}",
            kind.replace("-", "_"),
            multiple=True,
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help=help_text + " Repeatable.",
        )
        function = option(function)
    return function


@click.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help=f"The company's lookups folder: {IDENTITIES_FILE} and {ASSETS_FILE} are written (merged into "
    "what it holds: existing values are kept) for `hunt --lookups` and `build --lookups`.",
)
@_export_options
def identities(out_dir: Path, **exports: tuple[Path, ...]) -> None:
    """Build the identity and asset lookups (Splunk ES Asset & Identity columns) from IdP, MDM, GitHub and
    HR exports. Nothing is written unless every export is read."""
    if not any(exports.values()):
        raise click.UsageError("give at least one export (--okta, --entra-users, --hr, ...)")
    build = LookupBuild.from_folder(out_dir)
    before = (len(build.identities), len(build.assets))
    for kind, _ in EXPORTS:
        for path in exports[kind.replace("-", "_")]:
            build.merge(read_export(kind, path))
    build.write(out_dir)
    identities_written, assets_written = len(build.identity_rows()), len(build.asset_rows())
    stderr.print(
        f"{out_dir / IDENTITIES_FILE}: {identities_written} persons ({identities_written - before[0]} new); "
        f"{out_dir / ASSETS_FILE}: {assets_written} assets ({assets_written - before[1]} new)",
        markup=False,
        soft_wrap=True,
    )
    directory = Directory.load(out_dir)
    notes = [*build.notes, *map(str, directory.problems), *map(str, directory.conflicts)]
    print_capped([f"  {note}" for note in notes], "notes", MAX_LISTED_NOTES)
