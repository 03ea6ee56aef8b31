"""Both lookups built from exports (ghosthire.identities.exports), merged into what the folder already
holds: an existing row keeps every value it has (an admin's edits win), gains the identifiers, device ids
and empty cells the exports add; rows no export mentions stay. Files are replaced only once every export
has been read, each in one step, so an error never leaves a half-written lookup."""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ghosthire.errors import GhosthireError
from ghosthire.identities.exports import AssetRecord, ExportContent, PersonRecord
from ghosthire.identities.lookups import (
    ASSET_COLUMNS,
    ASSETS_FILE,
    IDENTITIES_FILE,
    IDENTITY_COLUMNS,
    RowError,
    check_time_zone,
    parse_date,
)


@dataclass
class _Row:
    """A lookup row being built: its cells, and the multi-value cells as lists."""

    cells: dict[str, str]
    lists: dict[str, list[str]]
    new: bool = False

    def keys(self, columns: Iterable[str]) -> set[str]:
        return {value.lower() for column in columns for value in self.lists.get(column, [])}

    def add(self, column: str, values: Iterable[str]) -> None:
        current = self.lists.setdefault(column, [])
        known = {value.lower() for value in current}
        for value in values:
            if value and value.lower() not in known:
                current.append(value)
                known.add(value.lower())

    def fill(self, values: dict[str, str]) -> None:
        for column, value in values.items():
            if value and not self.cells.get(column):
                self.cells[column] = value

    def written(self, columns: list[str]) -> dict[str, str]:
        return {
            column: "|".join(self.lists[column]) if column in self.lists else self.cells.get(column, "")
            for column in columns
        }


@dataclass
class LookupBuild:
    """The identity and asset rows so far, and what was noticed while merging."""

    identities: list[_Row] = field(default_factory=list)
    assets: list[_Row] = field(default_factory=list)
    identity_columns: list[str] = field(default_factory=lambda: list(IDENTITY_COLUMNS))
    asset_columns: list[str] = field(default_factory=lambda: list(ASSET_COLUMNS))
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_folder(cls, folder: Path) -> LookupBuild:
        """Start from the lookups already in the folder (none when absent)."""
        build = cls()
        build.identity_columns, build.identities = _existing(
            folder / IDENTITIES_FILE, IDENTITY_COLUMNS, ("identity", "category")
        )
        build.asset_columns, build.assets = _existing(
            folder / ASSETS_FILE, ASSET_COLUMNS, ("ip", "mac", "nt_host", "dns", "category", "device_id")
        )
        return build

    def merge(self, content: ExportContent) -> None:
        self.notes += content.notes
        for person in content.persons:
            self._merge_person(person)
        for asset in content.assets:
            self._merge_asset(asset)

    def _merge_person(self, record: PersonRecord) -> None:
        keys = {value.lower() for value in [*record.addresses, *record.employee_ids]}
        matches = [
            row
            for row in self.identities
            if keys & (row.keys(["identity"]) | {row.cells.get("email", "").lower()})
        ]
        if len(matches) > 1:
            names = ", ".join(row.lists["identity"][0] for row in matches)
            self.notes.append(
                f"{record.source} person {record.identifiers[0]} matches {names}: kept as its own row"
            )
        row = matches[0] if len(matches) == 1 else self._new(self.identities)
        row.add("identity", record.identifiers)
        row.add("category", record.categories)
        row.fill(self._loadable(record))

    def _loadable(self, record: PersonRecord) -> dict[str, str]:
        """The record's cells the identity lookup accepts: a date or time zone it would reject is left
        out (and noted) rather than written, since the whole row would then be skipped when loaded."""
        columns = dict(record.columns)
        checks: dict[str, Callable[[str], object]] = {
            "startDate": lambda value: parse_date("startDate", value),
            "endDate": lambda value: parse_date("endDate", value),
            "time_zone": check_time_zone,
        }
        for column, check in checks.items():
            if column in columns:
                try:
                    check(columns[column])
                except RowError as error:
                    self.notes.append(f"{record.source} person {record.identifiers[0]}: {error}; left empty")
                    del columns[column]
        return columns

    def _merge_asset(self, record: AssetRecord) -> None:
        names = {host.lower().split(".", 1)[0] for host in record.hosts}
        keys = {value.lower() for value in [*record.device_ids, *record.macs]}
        matches = [
            row
            for row in self.assets
            if keys & row.keys(["device_id", "mac"])
            or names & {host.split(".", 1)[0] for host in row.keys(["nt_host", "dns"])}
        ]
        row = matches[0] if matches else self._new(self.assets)
        short = [host.split(".", 1)[0] for host in record.hosts]
        row.add("nt_host", short[:1] if not row.lists.get("nt_host") else [])
        row.add("dns", [host for host in record.hosts if "." in host][:1] if not row.lists.get("dns") else [])
        row.add("device_id", record.device_ids)
        row.add("mac", record.macs)
        row.add("category", record.categories)
        owner = row.cells.get("owner", "")
        if record.owner and owner and owner.lower() != record.owner.lower():
            self.notes.append(
                f"{record.source} device {(record.hosts or record.device_ids)[0]}: owner {record.owner} "
                f"differs from {owner}; kept {owner}"
            )
        row.fill({"owner": record.owner})

    @staticmethod
    def _new(rows: list[_Row]) -> _Row:
        row = _Row({}, {}, new=True)
        rows.append(row)
        return row

    def identity_rows(self) -> list[dict[str, str]]:
        return [row.written(self.identity_columns) for row in self.identities if row.lists.get("identity")]

    def asset_rows(self) -> list[dict[str, str]]:
        return [row.written(self.asset_columns) for row in self.assets]

    def write(self, folder: Path) -> None:
        """Both lookups, each replaced in one step (a temporary file renamed over the old one)."""
        folder.mkdir(parents=True, exist_ok=True)
        _replace(folder / IDENTITIES_FILE, self.identity_columns, self.identity_rows())
        _replace(folder / ASSETS_FILE, self.asset_columns, self.asset_rows())


def _existing(path: Path, standard: tuple[str, ...], multi: tuple[str, ...]) -> tuple[list[str], list[_Row]]:
    """The rows a lookup already holds, every cell kept (columns beyond ES's too)."""
    if not path.is_file():
        return list(standard), []
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            header = list(reader.fieldnames or [])
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise GhosthireError(
            f"{path}: the existing lookup cannot be read, so it is left as it is: {error}"
        ) from None
    columns = [*standard, *(column for column in header if column and column not in standard)]
    built = []
    for row in rows:
        cells = {str(key): value for key, value in row.items() if key is not None and isinstance(value, str)}
        lists = {
            column: [part.strip() for part in cells.pop(column, "").split("|") if part.strip()]
            for column in multi
        }
        built.append(_Row(cells, {column: values for column, values in lists.items() if values}))
    return columns, built


def _replace(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(buffer.getvalue())
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise GhosthireError(f"{path}: not written: {error}") from None
