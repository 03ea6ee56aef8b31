"""Resolution of an alert's entity to a person through the identity and asset lookups: each normalisation,
conflicts reported and left unresolved, malformed rows reported with file and line and skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from ghosthire.content import shipped_lookups_dir
from ghosthire.identities import ASSET_COLUMNS, IDENTITY_COLUMNS, Directory, entity_key

IDENTITIES = [
    {
        "identity": "jdoe|jane.doe@example.com|jdoe@example.com|jdoe-gh|E1001|GH-5001",
        "first": "Jane",
        "last": "Doe",
        "email": "jane.doe@example.com",
        "category": "employee|remote",
        "startDate": "2025-05-01",
        "work_country": "us",
        "time_zone": "America/Chicago",
    },
    {
        "identity": "rroe|rick.roe@example.com|E1002",
        "first": "Rick",
        "last": "Roe",
        "email": "rick.roe@example.com",
        "category": "employee",
        "watchlist": "true",
    },
]
ASSETS = [
    {
        "ip": "10.1.0.5",
        "nt_host": "LT-JDOE-01",
        "dns": "LT-JDOE-01.corp.example.com",
        "owner": "jdoe",
        "category": "laptop",
        "device_id": "AAAA-1111|dthash-77",
    },
    {
        "ip": "10.1.0.6|10.2.0.0/24",
        "nt_host": "LT-RROE-02",
        "owner": "rick.roe@example.com",
        "category": "laptop",
        "mac": "00:11:22:33:44:55",
    },
    {"ip": "10.1.0.9", "nt_host": "KIOSK-1", "owner": "rroe", "category": "kiosk|shared"},
]


def _csv(columns: tuple[str, ...], rows: list[dict[str, str]]) -> str:
    lines = [",".join(columns)]
    lines += [",".join(row.get(column, "") for column in columns) for row in rows]
    return "\n".join(lines) + "\n"


def write_lookups(folder: Path, identities: list[dict[str, str]], assets: list[dict[str, str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ghosthire_identities.csv").write_text(_csv(IDENTITY_COLUMNS, identities), encoding="utf-8")
    (folder / "ghosthire_assets.csv").write_text(_csv(ASSET_COLUMNS, assets), encoding="utf-8")
    return folder


@pytest.fixture
def directory(tmp_path: Path) -> Directory:
    return Directory.load(write_lookups(tmp_path / "lookups", IDENTITIES, ASSETS))


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("user", "jdoe"),
        ("user", "JDoe"),
        ("user", "CORP\\jdoe"),
        ("user", "jane.doe@example.com"),
        ("user", "JDOE@EXAMPLE.COM"),
        ("user", "Jane.Doe@Example.com"),
        ("github", "jdoe-gh"),
        ("applicant", "gh-5001"),
        ("user", "e1001"),
        ("host", "LT-JDOE-01"),
        ("host", "lt-jdoe-01.corp.example.com"),
        ("host", "LT-JDOE-01.other.example.net"),
        ("host", "CORP\\LT-JDOE-01$"),
        ("device", "aaaa-1111"),
        ("host", "DTHASH-77"),
        ("ip", "10.1.0.5"),
        ("host", "10.1.0.5"),
    ],
)
def test_each_identifier_form_resolves_to_the_one_person(directory: Directory, kind: str, value: str) -> None:
    person = directory.resolve(kind, value)
    assert person is not None and person.key == "jdoe"


def test_a_bare_name_matches_a_upn_at_a_company_domain(tmp_path: Path) -> None:
    rows = [{"identity": "sam.lee@example.com", "email": "sam.lee@example.com"}]
    directory = Directory.load(write_lookups(tmp_path, rows, []))
    assert directory.resolve("user", "CORP\\sam.lee") is not None
    assert directory.resolve("user", "sam.lee@personal.example.org") is None


def test_an_address_in_a_range_one_person_owns_resolves(directory: Directory) -> None:
    person = directory.resolve("ip", "10.2.0.77")
    assert person is not None and person.key == "rroe"


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("user", "nobody"),
        ("host", "KIOSK-1"),
        ("ip", "10.1.0.9"),
        ("ip", "not-an-ip"),
        ("user", ""),
        ("host", None),
    ],
)
def test_unknown_and_shared_entities_stay_themselves(
    directory: Directory, kind: str, value: str | None
) -> None:
    assert directory.resolve(kind, value) is None


def test_the_person_carries_the_lookup_context(directory: Directory) -> None:
    person = directory.resolve("user", "jdoe")
    assert person is not None
    assert (person.display_name, person.categories, person.work_country, person.time_zone) == (
        "Jane Doe",
        ("employee", "remote"),
        "US",
        "America/Chicago",
    )
    assert str(person.start_date) == "2025-05-01"
    assert person.hosts == ("LT-JDOE-01", "LT-JDOE-01.corp.example.com")
    assert person.device_ids == ("AAAA-1111", "dthash-77")
    rick = directory.resolve("user", "rroe")
    assert rick is not None and rick.watchlist
    with pytest.raises(AttributeError):
        person.key = "other"  # type: ignore[misc]


def test_an_identifier_two_persons_claim_is_reported_and_resolves_to_nobody(tmp_path: Path) -> None:
    identities = [*IDENTITIES, {"identity": "mallory|GH-5001|shared@example.com", "email": "m@example.com"}]
    identities[1] = {**identities[1], "identity": identities[1]["identity"] + "|shared@example.com"}
    assets = [*ASSETS, {"nt_host": "LT-JDOE-01", "owner": "mallory", "category": "laptop"}]
    directory = Directory.load(write_lookups(tmp_path, identities, assets))
    claimed = {(conflict.kind, conflict.value): set(conflict.persons) for conflict in directory.conflicts}
    assert claimed[("identifier", "gh-5001")] == {"jdoe", "mallory"}
    assert claimed[("identifier", "shared@example.com")] == {"rroe", "mallory"}
    assert claimed[("host", "lt-jdoe-01")] == {"jdoe", "mallory"}
    (gh,) = [conflict for conflict in directory.conflicts if conflict.value == "gh-5001"]
    assert set(gh.where) == {"ghosthire_identities.csv:2", "ghosthire_identities.csv:4"}
    assert directory.resolve("applicant", "GH-5001") is None
    assert directory.resolve("host", "LT-JDOE-01") is None
    # the other identifiers of each person still resolve
    assert directory.resolve("user", "jdoe").key == "jdoe"  # type: ignore[union-attr]
    assert directory.resolve("user", "mallory").key == "mallory"  # type: ignore[union-attr]


def test_two_rows_with_the_same_first_name_stay_two_persons_and_the_name_resolves_to_nobody(
    tmp_path: Path,
) -> None:
    rows = [
        {"identity": "llopez|li.lopez@example.com|E1", "first": "Li", "email": "li.lopez@example.com"},
        {
            "identity": "llopez|linda.lopez@example.com|E2",
            "first": "Linda",
            "email": "linda.lopez@example.com",
        },
    ]
    directory = Directory.load(write_lookups(tmp_path, rows, []))
    assert list(directory.persons) == ["llopez", "linda.lopez@example.com"]
    assert directory.problems == []
    assert [(conflict.value, conflict.persons) for conflict in directory.conflicts] == [
        ("llopez", ("llopez", "linda.lopez@example.com"))
    ]
    assert directory.resolve("user", "CORP\\llopez") is None
    assert directory.resolve("user", "E2").key == "linda.lopez@example.com"  # type: ignore[union-attr]
    assert directory.resolve("user", "li.lopez@example.com").key == "llopez"  # type: ignore[union-attr]


def test_malformed_rows_are_reported_with_file_and_line_and_skipped(tmp_path: Path) -> None:
    header = ",".join(IDENTITY_COLUMNS)
    good = "ok|ok@example.com,,,Ok,Person,,ok@example.com,,,,,,employee,false,2025-01-02,,US,UTC"
    lines = [
        header,
        good,
        ",,,No,Identity,,,,,,,,,,,,,",
        "bad-date,,,,,,,,,,,,,,someday,,,",
        "bad-zone,,,,,,,,,,,,,,,,US,Mars/Olympus",
        "bad-flag,,,,,,,,,,,,,maybe,,,,",
        "too-many,,,,,,,,,,,,,,,,,,extra",
        "too-few,,",
        "ok,,,,,,,,,,,,,,,,,",
    ]
    folder = tmp_path / "lookups"
    folder.mkdir()
    (folder / "ghosthire_identities.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "ghosthire_assets.csv").write_text(
        ",".join(ASSET_COLUMNS) + "\n" + "10.0.0.1,,LT-1,,nobody-known,,,,,,,laptop,,,,,,\n" + ",,,,ok\n",
        encoding="utf-8",
    )
    directory = Directory.load(folder)
    assert list(directory.persons) == ["ok"]
    found = {(problem.file.name, problem.line) for problem in directory.problems}
    assert found == {("ghosthire_identities.csv", line) for line in range(3, 10)} | {
        ("ghosthire_assets.csv", 2),
        ("ghosthire_assets.csv", 3),
    }
    reasons = "\n".join(map(str, directory.problems))
    assert "ghosthire_identities.csv:4: row skipped: startDate 'someday'" in reasons
    assert "Mars/Olympus" in reasons and "each of its identifiers is another row's key" in reasons


def test_a_file_without_its_key_column_or_unreadable_is_one_problem(tmp_path: Path) -> None:
    (tmp_path / "ghosthire_identities.csv").write_text("name,email\njane,j@example.com\n", encoding="utf-8")
    (tmp_path / "ghosthire_assets.csv").write_bytes(b"owner,nt_host\n\xff\xfe\x00bad\n")
    directory = Directory.load(tmp_path)
    assert directory.persons == {}
    assert [(problem.file.name, problem.line) for problem in directory.problems] == [
        ("ghosthire_identities.csv", 1),
        ("ghosthire_assets.csv", 0),
    ]


def test_a_missing_folder_content_means_no_persons(tmp_path: Path) -> None:
    directory = Directory.load(tmp_path)
    assert (directory.persons, directory.problems, directory.conflicts) == ({}, [], [])


def test_the_shipped_examples_load_cleanly_and_join_the_example_worker() -> None:
    directory = Directory.load(shipped_lookups_dir())
    assert (directory.problems, directory.conflicts) == ([], [])
    forms = [
        ("user", "jordan.smith@acme-corp.com"),
        ("user", "jsmith@acme-corp.com"),
        ("user", "CORP\\jsmith"),
        ("github", "jsmith-acme"),
        ("host", "LT-JSMITH-0142"),
        ("host", "LT-JSMITH-0142.corp.example.com"),
        ("host", "8b4c2f6e-3d1a-4e7b-9c0d-5f2a1b3c4d5e"),
        ("device", "6C1D0F1B3A5E8F2C9D47B0E1A2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5"),
    ]
    assert {directory.resolve(kind, value).key for kind, value in forms} == {"jsmith"}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("kind", "value", "key"),
    [
        ("host", "LT-JSMITH-0142.corp.example.com", "lt-jsmith-0142"),
        ("host", "ACME\\LT-JSMITH-0142$", "lt-jsmith-0142"),
        ("host", "10.8.0.17", "10.8.0.17"),
        ("ip", "2001:db8::1", "2001:db8::1"),
        ("user", "ACME\\JSmith", "jsmith"),
        ("user", "Jordan.Smith@Acme-Corp.com", "jordan.smith@acme-corp.com"),
    ],
)
def test_an_unresolved_entity_is_counted_in_one_form(kind: str, value: str, key: str) -> None:
    assert entity_key(kind, value) == key


def test_the_watch_list_is_the_company_folders_else_the_packs_and_bad_rows_are_reported(
    tmp_path: Path,
) -> None:
    assert Directory.load(tmp_path).watched_countries == {"KP", "CN", "RU", "LA"}  # the pack's list
    (tmp_path / "ghosthire_watch_countries.csv").write_text(
        "country,note\nkp,\nNorth Korea,a name\nIR,\n", encoding="utf-8"
    )
    directory = Directory.load(tmp_path)
    assert directory.watched_countries == {"KP", "IR"}
    assert [str(problem) for problem in directory.problems] == [
        f"{tmp_path / 'ghosthire_watch_countries.csv'}:3: row skipped: 'North Korea' is not an ISO 3166 "
        "alpha-2 country code (KP, not North Korea)"
    ]
