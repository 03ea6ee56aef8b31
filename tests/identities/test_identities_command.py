"""`ghosthire identities` on the documented sample exports (docs/identity-exports/): one person per worker
across Okta, Entra, HR and GitHub, devices owned through Entra and Intune; an unreadable or wrong export
names the file and reason and writes nothing; an existing lookup's values are kept."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ghosthire.cli import _register, cli
from ghosthire.identities import Directory

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "identity-exports"
ALL = [
    "--okta", "okta_users.json",
    "--entra-users", "entra_users.json",
    "--entra-devices", "entra_devices.json",
    "--intune", "intune_managed_devices.json",
    "--github", "github_external_identities.json",
    "--hr", "hr_employees.ndjson",
]  # fmt: skip


def _run(out: Path, arguments: list[str]) -> Result:
    _register()
    paths = [
        str(SAMPLES / value) if value.endswith((".json", ".ndjson", ".csv")) else value for value in arguments
    ]
    return CliRunner().invoke(cli, ["identities", "--out", str(out), *paths])


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def built(tmp_path: Path) -> Path:
    result = _run(tmp_path / "lookups", ALL)
    assert result.exit_code == 0, result.output
    return tmp_path / "lookups"


def test_every_identifier_of_a_worker_lands_on_one_row(built: Path) -> None:
    rows = {row["identity"].split("|")[0]: row for row in _rows(built / "ghosthire_identities.csv")}
    jordan = rows["jsmith"]
    assert set(jordan["identity"].split("|")) == {
        "jsmith",  # Entra onPremisesSamAccountName
        "jordan.smith@acme-corp.com",  # UPN, Okta login, SAML NameID, HR e-mail
        "jsmith@acme-corp.com",  # Entra proxy address, Okta secondEmail
        "4f1c2a3b-5d6e-4f70-8a9b-0c1d2e3f4a5b",  # Entra object id
        "00u1448c828b4136d3b9",  # Okta user id
        "E100142",  # HR employee id
        "GH-87001",  # ATS applicant id
        "jordan.smith.dev@gmail.com",  # personal e-mail given when applying
        "jsmith-acme",  # GitHub login
    }
    assert (
        jordan["first"],
        jordan["last"],
        jordan["startDate"],
        jordan["work_country"],
        jordan["time_zone"],
    ) == (
        "Jordan",
        "Smith",
        "2025-05-12",
        "US",
        "America/Chicago",
    )
    assert "guest" in rows["vendor.rep_partner.example#EXT#@acmecorp.onmicrosoft.com"]["category"]
    assert rows["sam.lee@acme-corp.com"]["identity"].split("|")[-1] == "slee-acme"


def test_devices_join_across_entra_and_intune_and_resolve(built: Path) -> None:
    assets = {row["nt_host"]: row for row in _rows(built / "ghosthire_assets.csv")}
    laptop = assets["LT-JSMITH-0142"]
    assert (laptop["owner"], laptop["mac"]) == ("jordan.smith@acme-corp.com", "00:1b:44:11:3a:b7")
    assert set(laptop["device_id"].split("|")) == {
        "8b4c2f6e-3d1a-4e7b-9c0d-5f2a1b3c4d5e",
        "5d6e7f80-9a0b-4c1d-8e2f-3a4b5c6d7e8f",
    }
    assert (assets["MTG-ROOM-2"]["owner"], assets["MTG-ROOM-2"]["category"]) == ("", "shared")
    directory = Directory.load(built)
    assert directory.conflicts == []
    for kind, value in [
        ("host", "lt-jsmith-0142.corp.example.com"),
        ("device", "8B4C2F6E-3D1A-4E7B-9C0D-5F2A1B3C4D5E"),
    ]:
        assert directory.resolve(kind, value).key == "jsmith"  # type: ignore[union-attr]
    assert directory.resolve("host", "MTG-ROOM-2") is None


def test_skipped_records_and_unowned_devices_are_noted(tmp_path: Path) -> None:
    result = _run(tmp_path, ALL)
    assert "github_external_identities.json: item 4: skipped, needs user.login" in result.stderr
    assert "owner 'akim@acme-corp.com' is not one person of the identities" in result.stderr


def test_an_existing_lookup_keeps_its_values_and_rows(tmp_path: Path) -> None:
    folder = tmp_path / "lookups"
    folder.mkdir()
    (folder / "ghosthire_identities.csv").write_text(
        "identity,first,watchlist,time_zone,startDate,custom_note\n"
        "jsmith|jsmith@acme-corp.com,Jordy,true,Europe/London,,keep me\n"
        "contractor1|c1@acme-corp.com,Casey,false,,,\n",
        encoding="utf-8",
    )
    assert _run(folder, ALL).exit_code == 0
    rows = {row["identity"].split("|")[0]: row for row in _rows(folder / "ghosthire_identities.csv")}
    jordan = rows["jsmith"]
    assert (jordan["first"], jordan["watchlist"], jordan["time_zone"], jordan["custom_note"]) == (
        "Jordy",
        "true",
        "Europe/London",
        "keep me",
    )
    assert jordan["startDate"] == "2025-05-12" and "jsmith-acme" in jordan["identity"].split("|")
    assert "contractor1" in rows


@pytest.mark.parametrize(
    ("option", "content", "reason"),
    [
        ("--okta", "[{not json", "invalid JSON"),
        ("--entra-users", '[{"displayName": "no upn"}]', "no record is usable"),
        ("--intune", '"a string"', "holds something other than objects"),
        ("--hr", "record_type,employee_id\nemployee,E1\n", None),
        ("--hr", '{"record_type": "employee"\n', "not an HR export"),
        ("--okta", b"\xff\xfe\x00\x00", "not read"),
    ],
)
def test_an_unreadable_export_names_the_file_and_writes_nothing(
    tmp_path: Path, option: str, content: str | bytes, reason: str | None
) -> None:
    folder = tmp_path / "lookups"
    shutil.copytree(SAMPLES.parent.parent / "splunk_app" / "lookups", folder)
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    bad = tmp_path / ("bad.csv" if option == "--hr" and reason is None else "bad.json")
    (bad.write_bytes if isinstance(content, bytes) else bad.write_text)(content)  # type: ignore[operator]
    result = _run(folder, [*ALL, option, str(bad)])
    if reason is None:  # a CSV HR export is read like NDJSON
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code == 2
    assert f"{bad}: " in result.stderr and reason in result.stderr
    assert "Traceback" not in result.output
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before


def test_a_value_the_lookup_would_reject_is_left_out_so_the_person_still_loads(tmp_path: Path) -> None:
    okta = tmp_path / "okta.json"
    okta.write_text(
        '[{"id": "00u1", "profile": {"login": "pat@acme-corp.com", "email": "pat@acme-corp.com",'
        ' "timezone": "Pacific Standard Time", "countryCode": "US"}}]',
        encoding="utf-8",
    )
    entra = tmp_path / "entra.json"
    entra.write_text(
        '{"value": [{"userPrincipalName": "pat@acme-corp.com", "employeeHireDate": "last spring"}]}',
        encoding="utf-8",
    )
    result = _run(tmp_path / "lookups", ["--okta", str(okta), "--entra-users", str(entra)])
    assert result.exit_code == 0, result.output
    assert "time_zone 'Pacific Standard Time' is not an IANA time zone" in result.stderr
    assert "startDate 'last spring' is not an ISO 8601 date" in result.stderr
    directory = Directory.load(tmp_path / "lookups")
    assert directory.problems == []
    person = directory.resolve("user", "pat@acme-corp.com")
    assert person is not None and (person.time_zone, person.start_date, person.work_country) == (
        None,
        None,
        "US",
    )


def test_the_scim_rest_form_of_github_identities_joins_its_ids_to_the_person() -> None:
    """`GET /scim/v2/organizations/{org}/Users` carries no GitHub login: each resource adds its IdP
    externalId and SCIM id to the person its userName is; a resource without userName is noted."""
    from ghosthire.identities.exports import read_export

    content = read_export("github", SAMPLES / "github_scim_users.json")
    jordan = content.persons[0]
    assert (jordan.addresses, jordan.identifiers) == (
        ["jordan.smith@acme-corp.com"],
        ["00u1448c828b4136d3b9", "5fc0c238-1112-11e8-8e45-920c87bdbd75"],
    )
    assert len(content.persons) == 2
    assert content.notes == [
        f"{SAMPLES / 'github_scim_users.json'}: item 3: skipped, SCIM user without userName or externalId"
    ]
