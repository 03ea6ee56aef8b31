"""Who an alert's entity is: user names, hosts, cloud devices, GitHub logins, applicant ids and addresses
resolved to one person through the identity and asset lookups.

Matching is case-insensitive. A user name is tried as written, then `DOMAIN\\user` and a UPN or e-mail at a
company domain as the bare name, and a bare name as a UPN at each company domain; a host as written, then its
short name (an FQDN matches `LT-1`, a machine account `LT-1$` too), then as a cloud device id or address. An address
resolves only where one person owns it. An identifier two persons claim is a conflict: reported, and
resolved to nobody, so two people are never merged silently.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path

from ghosthire.content import company_lookups_dir, shipped_lookups_dir
from ghosthire.identities.lookups import (
    ASSETS_FILE,
    IDENTITIES_FILE,
    AssetRow,
    IdentityRow,
    LookupProblem,
    load_watched_countries,
    read_assets,
    read_identities,
)

ADDRESS_LIKE = re.compile(r"[\d.]+")


class EntityKind(StrEnum):
    USER = "user"
    HOST = "host"
    DEVICE = "device"
    GITHUB = "github"
    APPLICANT = "applicant"
    IP = "ip"


@dataclass(frozen=True)
class Person:
    """One worker as the identity lookup describes them, with the assets they own."""

    key: str
    display_name: str
    identifiers: tuple[str, ...]
    email: str = ""
    categories: tuple[str, ...] = ()
    watchlist: bool = False
    start_date: date | None = None
    end_date: date | None = None
    work_country: str | None = None
    time_zone: str | None = None
    bunit: str = ""
    priority: str = ""
    managed_by: str = ""
    hosts: tuple[str, ...] = ()
    device_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Conflict:
    """An identifier more than one person claims; it resolves to nobody."""

    kind: str
    value: str
    persons: tuple[str, ...]
    where: tuple[str, ...]

    def __str__(self) -> str:
        return (
            f"{self.kind} {self.value!r} is claimed by {', '.join(self.persons)} "
            f"({', '.join(self.where)}); left unresolved"
        )


@dataclass
class _Index:
    """Normalised value -> the person keys claiming it, and where each claim was written."""

    kind: str
    owners: dict[str, dict[str, str]] = field(default_factory=dict)

    def claim(self, value: str, person: str, where: str) -> None:
        self.owners.setdefault(value, {}).setdefault(person, where)

    def owner(self, value: str) -> str | None:
        claims = self.owners.get(value)
        return next(iter(claims)) if claims and len(claims) == 1 else None

    def conflicts(self) -> list[Conflict]:
        return [
            Conflict(self.kind, value, tuple(claims), tuple(claims.values()))
            for value, claims in sorted(self.owners.items())
            if len(claims) > 1
        ]


@dataclass
class Directory:
    """Persons from a company's identity and asset lookups, and the resolver every target uses."""

    persons: dict[str, Person] = field(default_factory=dict)
    problems: list[LookupProblem] = field(default_factory=list)
    company_domains: frozenset[str] = frozenset()
    # ISO alpha-2 codes of ghosthire_watch_countries.csv (ghosthire.identities.checks)
    watched_countries: frozenset[str] = frozenset()
    _identifiers: _Index = field(default_factory=lambda: _Index("identifier"))
    _hosts: _Index = field(default_factory=lambda: _Index("host"))
    _devices: _Index = field(default_factory=lambda: _Index("device"))
    _ips: _Index = field(default_factory=lambda: _Index("ip"))
    _networks: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]] = field(default_factory=list)
    _keys: set[str] = field(default_factory=set)
    # (kind, normalised value) -> person key: a hunt names the same few entities again and again.
    _resolved: dict[tuple[str, str], str | None] = field(default_factory=dict)

    @classmethod
    def load(cls, lookups_dir: Path) -> Directory:
        """Both lookups from a folder (`ghosthire_identities.csv`, `ghosthire_assets.csv`); a missing file
        means no such records, a malformed row is in `problems` and skipped."""
        problems: list[LookupProblem] = []
        identities = read_identities(lookups_dir / IDENTITIES_FILE, problems)
        assets = read_assets(lookups_dir / ASSETS_FILE, problems)
        directory = cls.from_rows(identities, assets, problems, lookups_dir)
        directory.watched_countries = load_watched_countries(lookups_dir, directory.problems)
        return directory

    @classmethod
    def in_use(cls) -> Directory:
        """The company's folder while `--lookups` is in effect (ghosthire.content.using_lookups), else the
        shipped example company; identities and assets always come from the same folder."""
        return cls.load(company_lookups_dir() or shipped_lookups_dir())

    @classmethod
    def from_rows(
        cls,
        identities: Iterable[IdentityRow],
        assets: Iterable[AssetRow],
        problems: list[LookupProblem] | None = None,
        lookups_dir: Path = Path("."),
    ) -> Directory:
        directory = cls(problems=list(problems or []))
        rows: dict[str, IdentityRow] = {}
        for row in identities:
            directory._add_identity(row, rows, lookups_dir / IDENTITIES_FILE)
        directory.company_domains = frozenset(
            row.email.rsplit("@", 1)[1].lower() for row in rows.values() if "@" in row.email
        )
        owned: dict[str, list[AssetRow]] = {}
        for asset in assets:
            owner = directory._asset_owner(asset, lookups_dir / ASSETS_FILE)
            if owner is not None:
                owned.setdefault(owner, []).append(asset)
        directory.persons = {key: _person(key, row, owned.get(key, [])) for key, row in rows.items()}
        return directory

    @property
    def conflicts(self) -> list[Conflict]:
        indexes = (self._identifiers, self._hosts, self._devices, self._ips)
        return [conflict for index in indexes for conflict in index.conflicts()]

    def resolve(self, kind: str, value: str | None) -> Person | None:
        """The person an entity of this kind is, or None (unknown, shared, or claimed by two persons)."""
        if not value or not value.strip():
            return None
        text = value.strip().lower()
        cached = (kind, text)
        if cached not in self._resolved:
            match kind:
                case EntityKind.HOST | EntityKind.DEVICE:
                    key = self._host_owner(text)
                case EntityKind.IP:
                    key = self._ip_owner(text)
                case _:
                    key = self._user_owner(text)
            self._resolved[cached] = key
        key = self._resolved[cached]
        return self.persons.get(key) if key else None

    def _add_identity(self, row: IdentityRow, rows: dict[str, IdentityRow], lookup: Path) -> None:
        """A person keyed by their first identifier no earlier row has as its key: two rows starting with
        the same name stay two persons, and the shared name is a conflict (resolved to nobody)."""
        key = next((name for name in row.identifiers if name.lower() not in self._keys), None)
        if key is None:
            self.problems.append(
                LookupProblem(lookup, row.line, "row skipped: each of its identifiers is another row's key")
            )
            return
        rows[key] = row
        self._keys.add(key.lower())
        where = f"{lookup.name}:{row.line}"
        for identifier in {*row.identifiers, *([row.email] if row.email else [])}:
            self._identifiers.claim(identifier.lower(), key, where)

    def _asset_owner(self, asset: AssetRow, lookup: Path) -> str | None:
        """The person key an asset's alerts go to: its owner's, unless the asset is shared or unowned."""
        if asset.shared or not asset.owner:
            return None
        owner = self._user_owner(asset.owner.lower())
        if owner is None:
            self.problems.append(
                LookupProblem(
                    lookup, asset.line, f"owner {asset.owner!r} is not one person of the identities"
                )
            )
            return None
        where = f"{lookup.name}:{asset.line}"
        for host in asset.hosts:
            for name in {host.lower(), _short_host(host.lower())}:
                self._hosts.claim(name, owner, where)
        for device in (*asset.device_ids, *asset.macs):
            self._devices.claim(device.lower(), owner, where)
        for address in asset.ips:
            self._claim_address(address, owner, where, lookup, asset.line)
        return owner

    def _claim_address(self, address: str, owner: str, where: str, lookup: Path, line: int) -> None:
        try:
            network = ipaddress.ip_network(address, strict=False)
        except ValueError:
            self.problems.append(
                LookupProblem(lookup, line, f"ip {address!r} is not an address or CIDR range")
            )
            return
        if network.num_addresses == 1:
            self._ips.claim(str(network.network_address), owner, where)
        else:
            self._networks.append((network, owner))

    def _user_owner(self, text: str) -> str | None:
        for candidate in self._user_candidates(text):
            if candidate in self._identifiers.owners:
                return self._identifiers.owner(candidate)
        return None

    def _user_candidates(self, text: str) -> list[str]:
        """`CORP\\jsmith` -> jsmith; `jsmith@company` -> jsmith; jsmith -> jsmith@<each company domain>."""
        bare = text.rsplit("\\", 1)[-1]
        candidates = [text, bare]
        if "@" in bare:
            local, domain = bare.rsplit("@", 1)
            if domain in self.company_domains:
                candidates.append(local)
                bare = local
        if "@" not in bare:
            candidates += [f"{bare}@{domain}" for domain in sorted(self.company_domains)]
        return list(dict.fromkeys(candidates))

    def _host_owner(self, text: str) -> str | None:
        name = text.rsplit("\\", 1)[-1].rstrip("$")
        for candidate in (name, _short_host(name)):
            if candidate in self._hosts.owners:
                return self._hosts.owner(candidate)
        if text in self._devices.owners:
            return self._devices.owner(text)
        # Some sources name a host by its address: resolve it as one (only a single owner's).
        return self._ip_owner(name) if ":" in name or ADDRESS_LIKE.fullmatch(name) else None

    def _ip_owner(self, text: str) -> str | None:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return None
        if str(address) in self._ips.owners:
            return self._ips.owner(str(address))
        owners = {owner for network, owner in self._networks if address in network}
        return owners.pop() if len(owners) == 1 else None


def entity_key(kind: str, value: str) -> str:
    """What an entity no lookup resolves is counted as, so the forms logs write one thing in stay one:
    lower-cased without a `DOMAIN\\`; a host also without a machine account's `$` and its DNS domain (an
    address stays whole). The Splunk and Elastic person searches normalise alike."""
    text = value.strip().lower().rsplit("\\", 1)[-1]
    if kind in (EntityKind.HOST, EntityKind.DEVICE):
        return _short_host(text.rstrip("$"))
    return text


def _short_host(name: str) -> str:
    """The first label of a host name; an address (IPv4 digits and dots, or IPv6) is left whole."""
    return name if ":" in name or ADDRESS_LIKE.fullmatch(name) else name.split(".", 1)[0]


def _person(key: str, row: IdentityRow, assets: list[AssetRow]) -> Person:
    name = " ".join(part for part in (row.prefix, row.first, row.last, row.suffix) if part)
    return Person(
        key=key,
        display_name=name or row.nick or key,
        identifiers=row.identifiers,
        email=row.email,
        categories=row.categories,
        watchlist=row.watchlist,
        start_date=row.start_date,
        end_date=row.end_date,
        work_country=row.work_country,
        time_zone=row.time_zone,
        bunit=row.bunit,
        priority=row.priority,
        managed_by=row.managed_by,
        hosts=tuple(dict.fromkeys(host for asset in assets for host in asset.hosts)),
        device_ids=tuple(dict.fromkeys(device for asset in assets for device in asset.device_ids)),
    )
