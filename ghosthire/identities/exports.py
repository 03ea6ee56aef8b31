"""Readers for the exports people have, each turned into person and device records for the lookups:
Okta users (`/api/v1/users`), Entra ID users and devices with `registeredOwners` (Microsoft Graph), Intune
managed devices (primary user), GitHub organisation SAML/SCIM external identities (GraphQL
`externalIdentities`: login to NameID; or the SCIM REST users) and HR records in the schema of
docs/hr-schema.md.

A file that cannot be read, or is not the export it was given as, raises ExportError naming the file and
the reason; a record inside it that lacks what it needs is skipped and noted with its position.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ghosthire.errors import GhosthireError

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class ExportError(GhosthireError):
    """An export that cannot be used at all."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        super().__init__(f"{path}: {reason}")


@dataclass
class PersonRecord:
    """One person as one export sees them. `addresses` (work UPNs and e-mails) and `employee_ids` join
    records of several exports into one person; `identifiers` are listed in the lookup."""

    source: str
    addresses: list[str] = field(default_factory=list)
    employee_ids: list[str] = field(default_factory=list)
    identifiers: list[str] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)
    categories: list[str] = field(default_factory=list)


@dataclass
class AssetRecord:
    """One device as one export sees it; `owner` is one of the owner's addresses."""

    source: str
    hosts: list[str] = field(default_factory=list)
    device_ids: list[str] = field(default_factory=list)
    macs: list[str] = field(default_factory=list)
    owner: str = ""
    categories: list[str] = field(default_factory=list)


@dataclass
class ExportContent:
    persons: list[PersonRecord] = field(default_factory=list)
    assets: list[AssetRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.persons) + len(self.assets)


Reader = Callable[[Path], ExportContent]
READERS: dict[str, Reader] = {}


def read_export(kind: str, path: Path) -> ExportContent:
    """One export read as `kind` (a key of READERS); an export with records but none usable is the wrong
    kind of file, and an error."""
    content = READERS[kind](path)
    if not content and content.notes:
        raise ExportError(path, f"not a {kind} export: no record is usable ({content.notes[0]})")
    return content


def reader(kind: str) -> Callable[[Reader], Reader]:
    def register(function: Reader) -> Reader:
        READERS[kind] = function
        return function

    return register


@reader("okta")
def read_okta_users(path: Path) -> ExportContent:
    """`GET /api/v1/users` (a JSON array of users, or one page per line)."""
    content = ExportContent()
    for number, user in _items(path, "an Okta users export (JSON array of users with a profile)"):
        profile = user.get("profile")
        login = _text(profile.get("login")) if isinstance(profile, dict) else ""
        if not isinstance(profile, dict) or not login:
            content.notes.append(f"{path}: item {number}: skipped, no profile.login")
            continue
        addresses = _present(login, profile.get("email"))
        content.persons.append(
            PersonRecord(
                source="okta",
                addresses=addresses,
                employee_ids=_present(profile.get("employeeNumber")),
                identifiers=_present(
                    login,
                    profile.get("email"),
                    profile.get("secondEmail"),
                    profile.get("employeeNumber"),
                    user.get("id"),
                ),
                columns=_columns(
                    first=profile.get("firstName"),
                    last=profile.get("lastName"),
                    nick=profile.get("nickName"),
                    email=profile.get("email") or login,
                    phone=profile.get("mobilePhone") or profile.get("primaryPhone"),
                    bunit=profile.get("department"),
                    managedBy=profile.get("manager"),
                    work_country=profile.get("countryCode"),
                    time_zone=profile.get("timezone"),
                ),
                categories=_present(profile.get("userType")),
            )
        )
    return content


@reader("entra-users")
def read_entra_users(path: Path) -> ExportContent:
    """Graph `GET /users` (`{"value": [...]}`, a list, or one page per line)."""
    content = ExportContent()
    for number, user in _items(path, "an Entra ID users export (Graph /users JSON)"):
        upn = _text(user.get("userPrincipalName"))
        if not upn:
            content.notes.append(f"{path}: item {number}: skipped, no userPrincipalName")
            continue
        proxies = [
            address.split(":", 1)[1]
            for address in user.get("proxyAddresses") or []
            if isinstance(address, str) and address.lower().startswith("smtp:")
        ]
        mails = _present(user.get("mail"), *proxies)
        content.persons.append(
            PersonRecord(
                source="entra",
                addresses=_present(upn, *mails),
                employee_ids=_present(user.get("employeeId")),
                identifiers=_present(
                    user.get("onPremisesSamAccountName"),
                    upn,
                    *mails,
                    *(user.get("otherMails") or []),
                    user.get("id"),
                ),
                columns=_columns(
                    first=user.get("givenName"),
                    last=user.get("surname"),
                    email=user.get("mail") or upn,
                    phone=user.get("mobilePhone") or next(iter(user.get("businessPhones") or []), None),
                    bunit=user.get("department"),
                    work_country=user.get("usageLocation"),
                    startDate=_date_part(user.get("employeeHireDate")),
                ),
                categories=_present(
                    _lower(user.get("employeeType")), "guest" if user.get("userType") == "Guest" else None
                ),
            )
        )
    return content


@reader("entra-devices")
def read_entra_devices(path: Path) -> ExportContent:
    """Graph `GET /devices?$expand=registeredOwners`: a device with several owners is marked shared."""
    content = ExportContent()
    for number, device in _items(path, "an Entra ID devices export (Graph /devices JSON)"):
        device_id = _text(device.get("deviceId"))
        if not device_id and not device.get("displayName"):
            content.notes.append(f"{path}: item {number}: skipped, no deviceId or displayName")
            continue
        owners = [owner for owner in device.get("registeredOwners") or [] if isinstance(owner, dict)]
        addresses = [_text(owner.get("userPrincipalName") or owner.get("mail")) for owner in owners]
        shared = len(set(filter(None, addresses))) > 1
        content.assets.append(
            AssetRecord(
                source="entra",
                hosts=_present(device.get("displayName")),
                device_ids=_present(device_id),
                owner="" if shared else next(filter(None, addresses), ""),
                categories=["shared"] if shared else [],
            )
        )
    return content


@reader("intune")
def read_intune_devices(path: Path) -> ExportContent:
    """Graph `GET /deviceManagement/managedDevices`: the primary user is the owner."""
    content = ExportContent()
    for number, device in _items(path, "an Intune managed devices export (Graph managedDevices JSON)"):
        name = _text(device.get("deviceName"))
        if not name and not device.get("azureADDeviceId"):
            content.notes.append(f"{path}: item {number}: skipped, no deviceName or azureADDeviceId")
            continue
        macs = [_mac(device.get(key)) for key in ("wiFiMacAddress", "ethernetMacAddress")]
        personal = _lower(device.get("managedDeviceOwnerType")) == "personal"
        content.assets.append(
            AssetRecord(
                source="intune",
                hosts=_present(name),
                device_ids=_present(_nil_guid(device.get("azureADDeviceId")), device.get("id")),
                macs=_present(*macs),
                owner=_text(device.get("userPrincipalName") or device.get("emailAddress")),
                categories=["personal_device" if personal else "laptop"],
            )
        )
    return content


@reader("github")
def read_github_identities(path: Path) -> ExportContent:
    """The organisation's external identities, in either form GitHub exports them:

    - GraphQL `samlIdentityProvider.externalIdentities`: each node's `user.login` joins the person whose
      address is the SAML NameID (or the SCIM user name or e-mail);
    - SCIM REST (`GET /scim/v2/organizations/{org}/Users`, a ListResponse of `Resources`): GitHub leaves
      the login out of this form, so each resource joins its `userName` and e-mails to the person with its
      IdP `externalId` (the Okta or Entra user id the IdP's own logs name) and its SCIM `id`."""
    content = ExportContent()
    for number, node in _items(path, "a GitHub external identities export (GraphQL or SCIM)"):
        scim = "schemas" in node or "userName" in node
        record = _scim_user(node) if scim else _external_identity(node)
        if record is None:
            content.notes.append(
                f"{path}: item {number}: skipped, SCIM user without userName or externalId"
                if scim
                else f"{path}: item {number}: skipped, needs user.login and a NameID or SCIM user"
            )
            continue
        content.persons.append(record)
    return content


def _external_identity(node: dict[str, Any]) -> PersonRecord | None:
    login = _text((node.get("user") or {}).get("login")) if isinstance(node.get("user"), dict) else ""
    saml = node.get("samlIdentity") if isinstance(node.get("samlIdentity"), dict) else {}
    scim = node.get("scimIdentity") if isinstance(node.get("scimIdentity"), dict) else {}
    emails = _emails([*saml.get("emails", []), *scim.get("emails", [])])
    addresses = _present(saml.get("nameId"), scim.get("username"), saml.get("username"), *emails)
    if not login or not addresses:
        return None
    return PersonRecord(source="github", addresses=addresses, identifiers=[login])


def _scim_user(resource: dict[str, Any]) -> PersonRecord | None:
    """A SCIM 2.0 User resource: its userName and e-mails are the person's addresses."""
    addresses = _present(resource.get("userName"), *_emails(resource.get("emails")))
    identifiers = _present(resource.get("externalId"), resource.get("id"))
    if not addresses or not identifiers:
        return None
    return PersonRecord(source="github", addresses=addresses, identifiers=identifiers)


def _emails(values: Any) -> list[Any]:
    return [email.get("value") for email in values or [] if isinstance(email, dict)]


@reader("hr")
def read_hr_records(path: Path) -> ExportContent:
    """HR employee records (docs/hr-schema.md) as NDJSON or CSV: the employee id, the ATS applicant id and
    the personal e-mail join the work identity; applicant and change records are not persons."""
    content = ExportContent()
    for number, record in _hr_items(path):
        if _lower(record.get("record_type")) != "employee":
            continue
        employee_id = _text(record.get("employee_id"))
        if not employee_id:
            content.notes.append(f"{path}: record {number}: skipped, employee record without employee_id")
            continue
        first, _, last = _text(record.get("full_name")).partition(" ")
        content.persons.append(
            PersonRecord(
                source="hr",
                addresses=_present(record.get("email")),
                employee_ids=[employee_id],
                identifiers=_present(
                    record.get("email"), employee_id, record.get("applicant_id"), record.get("personal_email")
                ),
                columns=_columns(
                    first=first,
                    last=last,
                    email=record.get("email"),
                    phone=record.get("phone"),
                    startDate=_date_part(record.get("start_date")),
                    work_country=record.get("work_country"),
                ),
                categories=["employee"],
            )
        )
    return content


def _items(path: Path, expected: str) -> list[tuple[int, dict[str, Any]]]:
    """The objects of a JSON export: an array, Graph's `{"value": [...]}`, GraphQL's edges or nodes, or
    one such page per line; numbered from 1 in file order."""
    items = [item for document in _documents(path, expected) for item in _unwrap(document)]
    if any(not isinstance(item, dict) for item in items):
        raise ExportError(path, f"not {expected}: holds something other than objects")
    return list(enumerate(items, start=1))


def _documents(path: Path, expected: str) -> list[Any]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ExportError(path, f"not read: {error}") from None
    try:
        return [json.loads(text)]
    except json.JSONDecodeError as whole:
        try:
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError:
            raise ExportError(path, f"not {expected}: invalid JSON ({whole})") from None


def _unwrap(document: Any) -> list[Any]:
    if isinstance(document, list):
        return document
    if not isinstance(document, dict):
        return [document]
    if isinstance(document.get("value"), list):
        return document["value"]
    if isinstance(document.get("Resources"), list):  # a SCIM ListResponse
        return document["Resources"]
    if isinstance(document.get("data"), dict):
        organization = document["data"].get("organization") or {}
        provider = organization.get("samlIdentityProvider") or {}
        return _unwrap(provider.get("externalIdentities") or {})
    if isinstance(document.get("edges"), list):
        return [edge.get("node") for edge in document["edges"] if isinstance(edge, dict)]
    if isinstance(document.get("nodes"), list):
        return document["nodes"]
    return [document]


def _hr_items(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """HR records numbered by line: CSV (header first) when the file ends in .csv, NDJSON otherwise."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            if path.suffix.lower() == ".csv":
                rows = csv.DictReader(handle)
                if not rows.fieldnames or "record_type" not in rows.fieldnames:
                    raise ExportError(path, "not an HR export: no record_type column (docs/hr-schema.md)")
                for row in rows:
                    yield rows.line_num, row
                return
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    record = json.loads(line)
                    if not isinstance(record, dict):
                        raise ExportError(path, f"line {number}: not an HR record object")
                    yield number, record
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ExportError(path, f"not read: {error}") from None
    except json.JSONDecodeError as error:
        raise ExportError(path, f"not an HR export (NDJSON, docs/hr-schema.md): {error}") from None


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _lower(value: Any) -> str:
    return _text(value).lower()


def _present(*values: Any) -> list[str]:
    """The non-empty text values, first spelling of each kept (case-insensitive)."""
    seen: dict[str, str] = {}
    for value in values:
        text = _text(value)
        if text:
            seen.setdefault(text.lower(), text)
    return list(seen.values())


def _columns(**values: Any) -> dict[str, str]:
    return {name: _text(value) for name, value in values.items() if _text(value)}


def _date_part(value: Any) -> str | None:
    """The date of an ISO 8601 timestamp (`2025-05-12T00:00:00Z` -> `2025-05-12`); other text as it is."""
    text = _text(value)
    return text[:10] if ISO_DATE.match(text) else text or None


def _mac(value: Any) -> str:
    """Intune writes MACs without separators (`A1B2C3D4E5F6`); ES writes them with colons."""
    text = _text(value).replace("-", "").replace(":", "").lower()
    return ":".join(text[index : index + 2] for index in range(0, 12, 2)) if len(text) == 12 else ""


def _nil_guid(value: Any) -> str:
    text = _text(value)
    return "" if text.strip("0-") == "" else text
