"""Identity and asset edits in Splunk apply without a rebuild: the saved search `ghosthire - Identity keys
from the identity and asset lookups` rewrites ghosthire_identity_keys from ghosthire_identities and
ghosthire_assets as they are in Splunk, with the rules of the build (ghosthire/splunk/persons.py).

Checked in the SPL interpreter: on the shipped examples, and on lookups an admin edited (a new person with a
laptop, an identifier two persons claim, a shared kiosk, an owner written DOMAIN\\name, an epoch start
date), the search writes exactly the rows the build computes from the same CSVs, and the person macro then
resolves with them."""

from __future__ import annotations

import copy
import csv
import io
from pathlib import Path

from ghosthire.identities import ASSETS_FILE, IDENTITIES_FILE, Directory
from ghosthire.splunk.conf import Stanzas
from ghosthire.splunk.persons import identity_keys
from ghosthire.triage import load_triage_policy
from tests.splunk.spl_window import Lookups, run

SEARCH = "ghosthire - Identity keys from the identity and asset lookups"
KEYS = "ghosthire_identity_keys"


def _rows(rows: list[dict[str, str]]) -> set[tuple[tuple[str, str], ...]]:
    return {tuple(sorted((k, str(v)) for k, v in row.items() if v not in ("", None))) for row in rows}


def _rewritten(saved: Stanzas, macros: dict[str, str], lookups: Lookups) -> dict[str, list[dict[str, str]]]:
    state = copy.deepcopy(dict(lookups))
    run(saved[SEARCH]["search"], [], macros=macros, lookups=state)
    return state


def _build_time(
    identities: list[dict[str, str]], assets: list[dict[str, str]], folder: Path
) -> list[dict[str, str]]:
    """What the build writes for these rows: the CSVs written to a folder and read by ghosthire.identities."""
    for name, rows in ((IDENTITIES_FILE, identities), (ASSETS_FILE, assets)):
        columns = list(dict.fromkeys(column for row in rows for column in row))
        with (folder / name).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, columns)
            writer.writeheader()
            writer.writerows(rows)
    directory = Directory.load(folder)
    assert not directory.problems, directory.problems
    return list(
        csv.DictReader(
            io.StringIO(identity_keys(directory, load_triage_policy().end_date_grace_length).decode("utf-8"))
        )
    )


def test_the_search_writes_the_build_time_keys_of_the_shipped_examples(
    saved: Stanzas, macros: dict[str, str], lookups: Lookups
) -> None:
    assert saved[SEARCH]["disabled"] == "1" and saved[SEARCH]["cron_schedule"].endswith("* * * *")
    written = _rewritten(saved, macros, lookups)[KEYS]
    assert len(written) > 50
    assert _rows(written) == _rows(lookups[KEYS])


def test_an_admins_edits_apply_at_the_next_run_as_a_rebuild_would(
    saved: Stanzas, macros: dict[str, str], lookups: Lookups, tmp_path: Path
) -> None:
    identities = [dict(row) for row in lookups["ghosthire_identities"]]
    assets = [dict(row) for row in lookups["ghosthire_assets"]]
    blank_identity = dict.fromkeys(identities[0], "")
    blank_asset = dict.fromkeys(assets[0], "")
    identities += [
        {**blank_identity, "identity": "pnew|pat.new@acme-corp.com|shared-login", "first": "Pat", "last": "New",
         "email": "pat.new@acme-corp.com", "category": "employee | remote", "startDate": "1751328000",
         "work_country": "de", "watchlist": "yes"},
        {**blank_identity, "identity": "qother|shared-login", "first": "Quinn", "email": "qother@acme-corp.com"},
    ]  # fmt: skip
    assets += [
        {**blank_asset, "nt_host": "LT-PNEW-0001", "dns": "LT-PNEW-0001.corp.example.com", "owner": "ACME\\pnew",
         "category": "laptop", "device_id": "AAAA-1111"},
        {**blank_asset, "nt_host": "KIOSK-9", "owner": "pnew", "category": "kiosk"},
    ]  # fmt: skip
    edited = {**lookups, "ghosthire_identities": identities, "ghosthire_assets": assets}
    written = _rewritten(saved, macros, edited)
    assert _rows(written[KEYS]) == _rows(_build_time(identities, assets, tmp_path))

    def person(entity: str, kind: str) -> str | None:
        [row] = run(
            "* | `ghosthire_person`",
            [{"entity": entity, "entity_type": kind}],
            macros=macros,
            lookups=written,
        )
        return row["person"] if str(row["person_resolved"]) == "1" else None

    assert (person("pat.new", "user"), person("ACME\\PNEW", "user"), person("lt-pnew-0001$", "host")) == (
        "pnew",
        "pnew",
        "pnew",
    )
    assert person("aaaa-1111", "host") == "pnew"
    assert person("shared-login", "user") is None  # two persons claim it
    assert person("KIOSK-9", "host") is None  # a shared category belongs to nobody
    before = {
        "ghosthire_identities": lookups["ghosthire_identities"],
        "ghosthire_assets": lookups["ghosthire_assets"],
    }
    [row] = run(
        "* | `ghosthire_person`",
        [{"entity": "pnew", "entity_type": "user"}],
        macros=macros,
        lookups={**lookups, **before},
    )
    assert str(row["person_resolved"]) == "0", "unknown before the edit"
