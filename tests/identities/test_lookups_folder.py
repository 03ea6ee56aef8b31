"""`--lookups DIR`: a company's folder replaces the shipped example of each lookup it holds, for the
placeholders every target compiles, the Splunk app's lookups and the new hires; other files stay shipped."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sigma.collection import SigmaCollection

from ghosthire.cli import _register, cli
from ghosthire.compile.targets import placeholder_values
from ghosthire.content import (
    company_lookups_dir,
    lookup_filenames,
    lookup_path,
    shipped_lookups_dir,
    using_lookups,
)
from ghosthire.errors import GhosthireError
from ghosthire.rules import RulePack
from ghosthire.splunk.app import app_lookups
from ghosthire.tuning import default_new_hires_path


def _company(tmp_path: Path) -> Path:
    folder = tmp_path / "company"
    folder.mkdir()
    (folder / "ghosthire_corporate_egress.csv").write_text(
        "name,ip_pattern,note\nhq,203.0.113.*,our office\n", encoding="utf-8"
    )
    (folder / "ghosthire_identities.csv").write_text(
        "identity,email\nzed|zed@corp.example,zed@corp.example\n"
    )
    return folder


def test_the_company_folder_wins_file_by_file(tmp_path: Path) -> None:
    folder = _company(tmp_path)
    shipped = placeholder_values()
    with using_lookups(folder):
        values = placeholder_values()
        assert lookup_path("ghosthire_rmm_catalog.csv") == shipped_lookups_dir() / "ghosthire_rmm_catalog.csv"
        assert default_new_hires_path() == shipped_lookups_dir() / "ghosthire_new_hires.csv"
        lookups = {lookup.filename: lookup.content for lookup in app_lookups([], _empty_pack())}
    assert values["corporate_egress_ip"] == ["203.0.113.*"]
    assert values["rmm_process"] == shipped["rmm_process"]
    assert shipped["corporate_egress_ip"] != ["203.0.113.*"]
    assert b"zed@corp.example" in lookups["ghosthire_identities.csv"]
    assert b"203.0.113.*" in lookups["ghosthire_corporate_egress.csv"]
    assert set(lookup_filenames()) <= set(lookups)


def test_outside_the_block_the_shipped_examples_are_read(tmp_path: Path) -> None:
    with using_lookups(_company(tmp_path)):
        pass
    assert lookup_path("ghosthire_corporate_egress.csv").parent == shipped_lookups_dir()


def test_the_hunt_command_reports_malformed_lookup_rows_and_goes_on(tmp_path: Path) -> None:
    folder = tmp_path / "company"
    folder.mkdir()
    (folder / "ghosthire_identities.csv").write_text(
        "identity,startDate\nok|ok@example.com,2025-01-01\nbroken,yesterday\n", encoding="utf-8"
    )
    logs = tmp_path / "okta.ndjson"
    logs.write_text('{"eventType": "user.session.start", "published": "2025-06-01T10:00:00Z"}\n')
    _register()
    result = CliRunner().invoke(cli, ["hunt", "--lookups", str(folder), "--format", "persons", str(logs)])
    assert result.exit_code == 0, result.output
    assert (
        f"lookup: {folder / 'ghosthire_identities.csv'}:3: row skipped: startDate 'yesterday'"
        in result.stderr
    )


def _empty_pack() -> RulePack:
    return RulePack([], SigmaCollection([]), Path("."))


def test_the_apps_new_hire_lookup_lists_every_identifier_and_host_of_a_recent_start(tmp_path: Path) -> None:
    folder = tmp_path / "company"
    folder.mkdir()
    (folder / "ghosthire_identities.csv").write_text(
        "identity,email,startDate,work_country\n"
        "zed|zed@corp.example|zed-gh,zed@corp.example,2025-05-01,US\n"
        "old|old@corp.example,old@corp.example,,\n",
        encoding="utf-8",
    )
    (folder / "ghosthire_assets.csv").write_text(
        "nt_host,owner,device_id\nLT-ZED,zed,dev-1\n", encoding="utf-8"
    )
    (folder / "ghosthire_new_hires.csv").write_text(
        "user,start_date,expected_country\nlisted@corp.example,2025-04-01,GB\nzed-gh,2025-05-03,CA\n",
        encoding="utf-8",
    )
    with using_lookups(folder):
        lookups = {lookup.filename: lookup.content for lookup in app_lookups([], _empty_pack())}
    rows = lookups["ghosthire_new_hires.csv"].decode().splitlines()
    assert rows[0] == "user,start_date,expected_country"
    assert set(rows[1:]) == {
        "zed,2025-05-01,US",
        "zed@corp.example,2025-05-01,US",
        "zed-gh,2025-05-03,CA",  # the listed row wins over the identity's
        "LT-ZED,2025-05-01,US",
        "dev-1,2025-05-01,US",
        "listed@corp.example,2025-04-01,GB",
    }


def test_the_build_command_compiles_under_the_company_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ghosthire.commands.build as build_command

    seen: list[Path | None] = []

    def fake_build(out_dir: Path, **_: object) -> None:
        seen.append(company_lookups_dir())
        raise GhosthireError("stop here")

    monkeypatch.setattr(build_command, "run_build", fake_build)
    _register()
    folder = _company(tmp_path)
    result = CliRunner().invoke(cli, ["build", "--lookups", str(folder), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "stop here" in result.stderr
    assert seen == [folder]
    assert company_lookups_dir() is None
