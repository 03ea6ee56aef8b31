"""The Enterprise Security identity switch: with `ghosthire_person` defined as `ghosthire_person_es` (as
docs/splunk.md tells an ES customer to do in local/macros.conf), the built searches resolve entities through
ES's merged Asset & Identity lookups instead of the app's identity keys.

ES's lookups are modelled as ES's merge writes them from the same example CSVs (ghosthire_identities.csv and
ghosthire_assets.csv use ES's columns): `identity_lookup_expanded` one row per identity with `identity` a
multivalue field, `asset_lookup_by_str` one row per asset with its string keys (MAC, host names, cloud
device ids) as the multivalue `key`. The interpreter matches a multivalue lookup field on any value, as a
KV store lookup does."""

from __future__ import annotations

import pytest

from ghosthire.hunt import HuntOutcome
from ghosthire.splunk.conf import parse_conf
from ghosthire.splunk.persons import company_directory
from tests.conftest import shipped_cases
from tests.splunk.spl_window import Lookups, app_lookups, app_macros, run
from tests.splunk.splunk_events import splunk_events
from tests.splunk.test_persons import hunt_persons, hunt_summary_events, queue_time

ES_SWITCH = "`ghosthire_person_es`"  # the local/macros.conf definition of ghosthire_person under ES


@pytest.fixture(scope="module")
def es_macros(app_files: dict[str, bytes]) -> dict[str, str]:
    return {**app_macros(app_files), "ghosthire_person": ES_SWITCH}


@pytest.fixture(scope="module")
def es_lookups(app_files: dict[str, bytes]) -> Lookups:
    """The app's lookups without its identity keys, plus ES's two merged lookups built from the examples."""
    lookups = {
        name: rows for name, rows in app_lookups(app_files).items() if name != "ghosthire_identity_keys"
    }
    identities = [
        {
            "identity": row["identity"].split("|"),
            "first": row["first"],
            "last": row["last"],
            "email": row["email"],
        }
        for row in lookups["ghosthire_identities"]
    ]
    assets = [
        {
            "key": [
                value
                for value in (row["mac"], row["nt_host"], row["dns"], *row["device_id"].split("|"))
                if value
            ],
            "owner": row["owner"],
            "category": row["category"],
        }
        for row in lookups["ghosthire_assets"]
    ]
    return {**lookups, "identity_lookup_expanded": identities, "asset_lookup_by_str": assets}


def es_person(entity: str, entity_type: str, macros: dict[str, str], lookups: Lookups) -> str | None:
    [row] = run(
        "* | `ghosthire_person`",
        [{"entity": entity, "entity_type": entity_type}],
        macros=macros,
        lookups=lookups,
    )
    return row["person"] if row["person_resolved"] in (1, "1") else None


def test_the_switch_resolves_identifiers_and_hosts_as_the_app_does(
    es_macros: dict[str, str], es_lookups: Lookups
) -> None:
    """Every identifier as the identities list it (any case, DOMAIN\\ prefixed) and every host of an owned
    asset (FQDN, short name, machine account, cloud device id) gives the person the shared resolver gives."""
    directory, _ = company_directory()
    checked = 0
    for person in directory.persons.values():
        forms = {
            "user": [f for i in person.identifiers for f in (i, i.upper(), f"ACME\\{i}")],
            "host": [
                *(
                    f
                    for h in person.hosts
                    for f in (h, h.upper(), f"ACME\\{h.split('.')[0]}$", h.split(".")[0])
                ),
                *person.device_ids,
            ],
        }
        for kind, values in forms.items():
            for value in values:
                expected = directory.resolve(kind, value)
                assert es_person(value, kind, es_macros, es_lookups) == (
                    expected.key if expected else None
                ), (
                    kind,
                    value,
                )
                checked += 1
    assert es_person("nobody@elsewhere.example", "user", es_macros, es_lookups) is None
    assert es_person("KIOSK-7", "host", es_macros, es_lookups) is None
    assert checked > 50


def test_a_built_search_under_the_switch_scores_the_laptops_owner(
    app_files: dict[str, bytes], es_macros: dict[str, str], es_lookups: Lookups
) -> None:
    searches = parse_conf(app_files["default/savedsearches.conf"].decode("utf-8"), "savedsearches.conf")
    rule = "win_rmm_catalog_process_execution"
    [search] = [
        k["search"] for k in searches.values() if k.get("action.summary_index.ghosthire_search_id") == rule
    ]
    cases = shipped_cases()[rule]
    events = splunk_events(cases.must_fire[0].events, cases.source_of(cases.must_fire[0]))
    [row] = run(search, events, macros=es_macros, lookups=es_lookups)
    assert (row["risk_person"], row.get("risk_unresolved"), row["person_name"]) == (
        "jsmith",
        None,
        "Jordan Smith",
    )
    strangers = [{**event, "Computer": "KIOSK-7"} for event in events]
    [row] = run(search, strangers, macros=es_macros, lookups=es_lookups)
    assert (row.get("risk_person"), row["risk_unresolved"]) == (None, "KIOSK-7")


def test_the_triage_queue_under_the_switch_is_the_local_hunts(
    examples_hunt: HuntOutcome, app_files: dict[str, bytes], es_macros: dict[str, str], es_lookups: Lookups
) -> None:
    events = hunt_summary_events(examples_hunt.alerts, app_files)
    local = [person for person in hunt_persons(examples_hunt.alerts) if person.triage]
    queue = run(
        "`ghosthire_person_risk` | `ghosthire_triage_threshold`",
        events,
        macros=es_macros,
        lookups=es_lookups,
        now=queue_time(local),
    )
    assert local and [row["person"] for row in queue] == [person.key for person in local]
    for row, person in zip(queue, local, strict=True):
        assert row["guidance_areas"] == len(person.guidance), person.key


def test_an_identity_added_in_es_applies_without_a_rebuild(
    es_macros: dict[str, str], es_lookups: Lookups
) -> None:
    assert es_person("newhire@acme-corp.com", "user", es_macros, es_lookups) is None
    added = {
        **es_lookups,
        "identity_lookup_expanded": [
            *es_lookups["identity_lookup_expanded"],
            {"identity": ["nhire", "newhire@acme-corp.com"], "first": "New", "last": "Hire"},
        ],
    }
    assert es_person("ACME\\NewHire@acme-corp.com", "user", es_macros, added) == "nhire"
