"""The identity and asset lookups in Splunk Enterprise Security's Asset & Identity columns, read row by row:
a malformed row is reported with its file and line and skipped, the rest of the file is kept."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ghosthire.identities.countries import country_code

IDENTITIES_FILE = "ghosthire_identities.csv"
ASSETS_FILE = "ghosthire_assets.csv"
# Countries whose sign-ins break a person's work_country at any tenure (the country comparisons' watch list).
WATCH_COUNTRIES_FILE = "ghosthire_watch_countries.csv"
# ES identity columns, then ghosthire's: where the person is supposed to work, and their IANA time zone.
IDENTITY_COLUMNS = (
    "identity",
    "prefix",
    "nick",
    "first",
    "last",
    "suffix",
    "email",
    "phone",
    "phone2",
    "managedBy",
    "priority",
    "bunit",
    "category",
    "watchlist",
    "startDate",
    "endDate",
    "work_country",
    "time_zone",
)
# ES asset columns, then ghosthire's: cloud device ids (Entra deviceId, Okta device hash, Intune id).
ASSET_COLUMNS = (
    "ip",
    "mac",
    "nt_host",
    "dns",
    "owner",
    "priority",
    "lat",
    "long",
    "city",
    "country",
    "bunit",
    "category",
    "pci_domain",
    "is_expected",
    "should_timesync",
    "should_update",
    "requires_av",
    "device_id",
)
# Asset categories used by many people: their alerts stay on the asset, never on its listed owner.
SHARED_CATEGORIES = frozenset({"shared", "kiosk", "server", "lab", "vdi_pool"})
TRUE_VALUES = frozenset({"true", "t", "yes", "y", "1"})
FALSE_VALUES = frozenset({"false", "f", "no", "n", "0", ""})


@dataclass(frozen=True)
class LookupProblem:
    """A row (or a whole file, line 0) that was not used, and why."""

    file: Path
    line: int
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        return f"{where}: {self.reason}"


class RowError(ValueError):
    """Why one lookup row cannot be used."""


@dataclass(frozen=True)
class IdentityRow:
    line: int
    identifiers: tuple[str, ...]
    prefix: str
    nick: str
    first: str
    last: str
    suffix: str
    email: str
    phone: str
    managed_by: str
    priority: str
    bunit: str
    categories: tuple[str, ...]
    watchlist: bool
    start_date: date | None
    end_date: date | None
    work_country: str | None
    time_zone: str | None


@dataclass(frozen=True)
class AssetRow:
    line: int
    ips: tuple[str, ...]
    macs: tuple[str, ...]
    hosts: tuple[str, ...]
    owner: str
    categories: tuple[str, ...]
    device_ids: tuple[str, ...]

    @property
    def shared(self) -> bool:
        return bool(SHARED_CATEGORIES & {category.lower() for category in self.categories})


def read_identities(path: Path, problems: list[LookupProblem]) -> list[IdentityRow]:
    return list(_rows(path, "identity", _identity_row, problems))


def read_assets(path: Path, problems: list[LookupProblem]) -> list[AssetRow]:
    return list(_rows(path, "owner", _asset_row, problems))


def load_watched_countries(lookups_dir: Path, problems: list[LookupProblem]) -> frozenset[str]:
    """The folder's watch list; a company folder without one keeps the pack's, as with the other lists."""
    from ghosthire.content import shipped_lookups_dir

    path = lookups_dir / WATCH_COUNTRIES_FILE
    return read_watched_countries(
        path if path.is_file() else shipped_lookups_dir() / WATCH_COUNTRIES_FILE, problems
    )


def read_watched_countries(path: Path, problems: list[LookupProblem]) -> frozenset[str]:
    """The watch list's countries (`country`: ISO 3166 alpha-2 codes, as Splunk compares them)."""
    return frozenset(_rows(path, "country", _watched_country, problems))


def _watched_country(_line: int, cells: dict[str, str]) -> str:
    value = cells["country"]
    if len(value) != 2 or country_code(value) is None:
        raise RowError(f"{value!r} is not an ISO 3166 alpha-2 country code (KP, not North Korea)")
    return value.upper()


Row = TypeVar("Row")


def _rows(
    path: Path,
    required: str,
    parse: Callable[[int, dict[str, str]], Row],
    problems: list[LookupProblem],
) -> Iterator[Row]:
    """Each usable row of a lookup; a missing file yields nothing, an unreadable one is one problem."""
    if not path.is_file():
        return
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            if required not in header:
                problems.append(
                    LookupProblem(path, 1, f"no {required!r} column (header: {','.join(header)})")
                )
                return
            for row in reader:
                line = reader.line_num
                try:
                    yield parse(line, _cells(row, header))
                except RowError as error:
                    problems.append(LookupProblem(path, line, f"row skipped: {error}"))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        problems.append(LookupProblem(path, 0, f"not read: {error}"))


def _cells(row: dict[str | None, str | list[str] | None], header: list[str]) -> dict[str, str]:
    if None in row:
        raise RowError(f"{len(header) + len(row[None] or [])} cells for {len(header)} columns")
    if any(value is None for value in row.values()):
        raise RowError(f"fewer cells than the {len(header)} columns")
    return {str(key): str(value).strip() for key, value in row.items()}


def _identity_row(line: int, cells: dict[str, str]) -> IdentityRow:
    identifiers = _multi(cells.get("identity", ""))
    if not identifiers:
        raise RowError("empty identity")
    return IdentityRow(
        line=line,
        identifiers=identifiers,
        prefix=cells.get("prefix", ""),
        nick=cells.get("nick", ""),
        first=cells.get("first", ""),
        last=cells.get("last", ""),
        suffix=cells.get("suffix", ""),
        email=cells.get("email", ""),
        phone=cells.get("phone", ""),
        managed_by=cells.get("managedBy", ""),
        priority=cells.get("priority", ""),
        bunit=cells.get("bunit", ""),
        categories=_multi(cells.get("category", "")),
        watchlist=_flag("watchlist", cells.get("watchlist", "")),
        start_date=parse_date("startDate", cells.get("startDate", "")),
        end_date=parse_date("endDate", cells.get("endDate", "")),
        work_country=cells.get("work_country", "").upper() or None,
        time_zone=check_time_zone(cells.get("time_zone", "")),
    )


def _asset_row(line: int, cells: dict[str, str]) -> AssetRow:
    hosts = tuple(host for column in ("nt_host", "dns") for host in _multi(cells.get(column, "")))
    row = AssetRow(
        line=line,
        ips=_multi(cells.get("ip", "")),
        macs=_multi(cells.get("mac", "")),
        hosts=hosts,
        owner=cells.get("owner", ""),
        categories=_multi(cells.get("category", "")),
        device_ids=_multi(cells.get("device_id", "")),
    )
    if not (row.ips or row.macs or row.hosts or row.device_ids):
        raise RowError("no ip, mac, nt_host, dns or device_id")
    return row


def _multi(value: str) -> tuple[str, ...]:
    """ES multi-value cells are pipe-separated."""
    return tuple(part.strip() for part in value.split("|") if part.strip())


def _flag(column: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in TRUE_VALUES:
        return True
    if lowered in FALSE_VALUES:
        return False
    raise RowError(f"{column} {value!r} is not true or false")


def parse_date(column: str, value: str) -> date | None:
    """ISO 8601 (`2025-06-02`, a time allowed) or epoch seconds, as ES accepts both."""
    if not value:
        return None
    try:
        if value.replace(".", "", 1).isdigit():
            return datetime.fromtimestamp(float(value), UTC).date()
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except (ValueError, OverflowError, OSError):
        raise RowError(f"{column} {value!r} is not an ISO 8601 date or epoch seconds") from None


def check_time_zone(value: str) -> str | None:
    if not value:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise RowError(f"time_zone {value!r} is not an IANA time zone (e.g. America/Chicago)") from None
    return value
