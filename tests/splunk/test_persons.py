"""Persons in the Splunk app: the built searches resolve each alert's entity through the identity keys
lookup, exactly as the shared resolver (ghosthire.identities.Directory) does for the local hunt.

The macros run in the SPL interpreter (tests/splunk/spl_window.py) over the app's own lookups, built from
the example identity and asset lookups (splunk_app/lookups/, ES Asset & Identity columns).
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from pathlib import Path

from ghosthire.hunt import HuntOutcome
from ghosthire.hunt.alerts import Alert
from ghosthire.hunt.persons import PersonRisk, escalate_new_hires, rank_persons, risk_objects
from ghosthire.identities import ASSETS_FILE, IDENTITIES_FILE, Directory, entity_key
from ghosthire.rules import RulePack
from ghosthire.splunk.conf import parse_conf
from ghosthire.splunk.persons import company_directory, identity_keys
from ghosthire.triage import load_triage_policy
from tests.conftest import shipped_cases
from tests.splunk.spl_window import Lookups, run
from tests.splunk.splunk_events import splunk_events


def splunk_person(entity: str, entity_type: str, macros: dict[str, str], lookups: Lookups) -> str | None:
    [row] = run(
        "* | `ghosthire_person`",
        [{"entity": entity, "entity_type": entity_type}],
        macros=macros,
        lookups=lookups,
    )
    assert row["person"] == (
        row["person"] if row["person_resolved"] == "1" else entity_key(entity_type, entity)
    )
    return row["person"] if row["person_resolved"] in (1, "1") else None


def variants(value: str, prefixed: bool = True) -> list[str]:
    """How logs write an identifier: as is, upper-case, `DOMAIN\\`-prefixed (a host also as a machine
    account, `NAME$`), an FQDN's short name."""
    forms = [value, value.upper()]
    if prefixed:
        forms += [f"ACME\\{value}", f"ACME\\{value}$"] if "@" not in value else [f"ACME\\{value}"]
    if "." in value and "@" not in value:
        forms.append(value.split(".", 1)[0])
    return forms


def test_every_example_identifier_resolves_as_the_shared_resolver_does(
    macros: dict[str, str], lookups: Lookups
) -> None:
    directory, problems = company_directory()
    assert directory.persons and not problems
    checked = 0
    for person in directory.persons.values():
        users = [*person.identifiers, person.email, f"{person.identifiers[0]}@nowhere.example"]
        forms = [form for identifier in users if identifier for form in variants(identifier)]
        forms_of = {"user": forms}
        forms_of["host"] = [form for host in [*person.hosts, "LT-NOBODY-1"] for form in variants(host)]
        forms_of["host"] += [
            form for device in person.device_ids for form in variants(device, prefixed=False)
        ]
        for kind, values in forms_of.items():
            for value in values:
                expected = directory.resolve(kind, value)
                assert splunk_person(value, kind, macros, lookups) == (expected.key if expected else None), (
                    kind,
                    value,
                )
                checked += 1
    assert checked > 50


def test_an_identifier_two_persons_claim_resolves_to_nobody(macros: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / IDENTITIES_FILE).write_text(
        "identity,first,last,email,startDate\n"
        "alice|shared-login,Alice,A,alice@acme.example,2025-01-01\n"
        "bob|shared-login,Bob,B,bob@acme.example,2025-01-01\n"
    )
    (tmp_path / ASSETS_FILE).write_text(
        "nt_host,dns,owner,category\nLT-1,,alice,laptop\n,LT-1.acme.example,bob,laptop\n"
    )
    directory = Directory.load(tmp_path)
    keys = {
        "ghosthire_identity_keys": list(
            csv.DictReader(io.StringIO(identity_keys(directory, timedelta(0)).decode()))
        )
    }
    assert splunk_person("shared-login", "user", macros, keys) is None
    assert splunk_person("alice@acme.example", "user", macros, keys) == "alice"
    assert splunk_person("ACME\\bob", "user", macros, keys) == "bob"
    assert splunk_person("lt-1", "host", macros, keys) is None  # both own a host named LT-1
    assert splunk_person("LT-1.acme.example", "host", macros, keys) == "bob"
    for kind, value in (("user", "shared-login"), ("host", "lt-1"), ("user", "ACME\\bob")):
        expected = directory.resolve(kind, value)
        assert splunk_person(value, kind, macros, keys) == (expected.key if expected else None)


def test_every_rule_search_scores_the_person_or_else_the_entity(app_files: dict[str, bytes]) -> None:
    searches = parse_conf(app_files["default/savedsearches.conf"].decode("utf-8"), "savedsearches.conf")
    checked = 0
    for name, keys in searches.items():
        if keys.get("action.summary_index") != "1":
            continue
        lines = keys["search"].splitlines()
        entity = keys["alert.suppress.fields"]
        assert re.fullmatch(
            rf"\| `ghosthire_risk_person\({re.escape(entity)}, (user|host|ip|applicant)(, distinct_values)?\)`",
            lines[-2],
        ), name
        risk = json.loads(keys["action.risk.param._risk"])
        assert [item.get("risk_object_field") for item in risk[:2]] == ["risk_person", "risk_unresolved"], (
            name
        )
        assert risk[0]["risk_object_type"] == "user" and risk[0]["risk_score"] == risk[1]["risk_score"]
        checked += 1
    assert checked


def test_a_built_search_raises_risk_on_the_person_who_owns_the_laptop(
    app_files: dict[str, bytes], macros: dict[str, str], lookups: Lookups, pack: RulePack
) -> None:
    searches = parse_conf(app_files["default/savedsearches.conf"].decode("utf-8"), "savedsearches.conf")
    rule = "win_rmm_catalog_process_execution"
    [search] = [
        keys["search"]
        for keys in searches.values()
        if keys.get("action.summary_index.ghosthire_search_id") == rule
    ]
    cases = shipped_cases()[rule]
    case = cases.must_fire[0]
    events = splunk_events(case.events, cases.source_of(case))
    assert {event["Computer"] for event in events} == {"LT-JSMITH-0142.corp.example.com"}
    [row] = run(search, events, macros=macros, lookups=lookups)
    assert (row["risk_person"], row.get("risk_unresolved"), row["person_name"]) == (
        "jsmith",
        None,
        "Jordan Smith",
    )

    strangers = [{**event, "Computer": "KIOSK-7"} for event in events]
    [row] = run(search, strangers, macros=macros, lookups=lookups)
    assert (row.get("risk_person"), row["risk_unresolved"]) == (None, "KIOSK-7")


def _persons_behind(alert: Alert) -> dict[str, object]:
    """A value_count correlation's counted values (`distinct_values`, lower-cased), for rules whose
    persons they are."""
    persons = [identifier.lower() for kind, identifier, behind in risk_objects(alert, 10**6) if behind]
    return {"distinct_values": persons} if persons else {}


def hunt_summary_events(alerts: list[Alert], app_files: dict[str, bytes]) -> list[dict[str, object]]:
    """The local hunt's alerts (over examples/) as the searches' summary-index action writes them
    (`ghosthire_rule`, `ghosthire_search_id`, the search's entity field)."""
    searches = parse_conf(app_files["default/savedsearches.conf"].decode("utf-8"), "savedsearches.conf")
    entity_field = {
        keys["action.summary_index.ghosthire_search_id"]: keys["alert.suppress.fields"]
        for keys in searches.values()
        if keys.get("action.summary_index") == "1"
    }
    return [
        {
            "index": "summary",
            "_time": alert.time.timestamp(),
            **(
                {"firstTime": alert.time.timestamp(), "lastTime": alert.last_time.timestamp()}
                if alert.last_time
                else {}
            ),
            "ghosthire_rule": alert.rule.name,
            "ghosthire_search_id": alert.rule.name,
            entity_field[alert.rule.name]: alert.entity,
            **_persons_behind(alert),
        }
        for alert in alerts
        if alert.rule.name in entity_field and alert.time is not None and alert.entity
    ]


def test_the_splunk_triage_queue_is_the_local_hunts(
    examples_hunt: HuntOutcome, app_files: dict[str, bytes], macros: dict[str, str], lookups: Lookups
) -> None:
    """The shipped person ranking and triage threshold over the examples' alerts, against the local hunt's
    persons (the same alerts, the same identities, the same policy of backends/triage.yml)."""
    events = hunt_summary_events(examples_hunt.alerts, app_files)
    local = [person for person in hunt_persons(examples_hunt.alerts) if person.triage]
    assert local, "the examples put someone in the local triage queue"
    now = queue_time(local)
    ranked = run("`ghosthire_person_risk`", events, macros=macros, lookups=lookups, now=now)
    queue = run(
        "`ghosthire_person_risk` | `ghosthire_triage_threshold`",
        events,
        macros=macros,
        lookups=lookups,
        now=now,
    )
    assert [row["person"] for row in queue] == [person.key for person in local]
    for row, person in zip(queue, local, strict=True):
        assert row["guidance_areas"] == len(person.guidance), person.key
        assert int(row["new_hire"]) == int(person.new_hire), person.key
    assert [row["person"] for row in ranked[: len(local)]] == [person.key for person in local]


def queue_time(queued: list[PersonRisk]) -> float:
    """When the triage search runs to see the local queue: as the last of its windows ends."""
    return max(person.window.end.timestamp() for person in queued if person.window.end)


def hunt_persons(alerts: list[Alert]) -> list[PersonRisk]:
    """The local hunt's persons (over examples/), as `ghosthire hunt --format persons` ranks them."""
    directory, _ = company_directory()
    return rank_persons(escalate_new_hires(alerts, directory), directory, load_triage_policy())


def test_an_alert_about_a_shared_address_counts_for_the_few_persons_behind_it(
    app_files: dict[str, bytes], macros: dict[str, str], lookups: Lookups
) -> None:
    """The laptop-farm search's risk persons (its counted users): each known person behind the address
    gets the alert, in the ranking and the ES risk action; a crowd (more than the policy's limit) does not."""
    rule = "entra_laptop_farm_shared_egress"
    searches = parse_conf(app_files["default/savedsearches.conf"].decode("utf-8"), "savedsearches.conf")
    [keys] = [k for k in searches.values() if k.get("action.summary_index.ghosthire_search_id") == rule]
    assert "risk_persons_behind" in [
        r.get("risk_object_field") for r in json.loads(keys["action.risk.param._risk"])
    ]
    limit = load_triage_policy().shared_alert_max_persons
    pair = ["jordan.smith@acme-corp.com", "stranger@elsewhere.example"]
    crowd = [*pair, *(f"guest{n}@elsewhere.example" for n in range(limit))]
    for users, expected in ((pair, {"jsmith", "203.0.113.9"}), (crowd, {"203.0.113.9"})):
        event = {
            "index": "summary",
            "_time": 1_750_000_000,
            "ghosthire_rule": rule,
            "ghosthire_search_id": rule,
            keys["alert.suppress.fields"]: "203.0.113.9",
            "distinct_values": users,
        }
        ranked = run("`ghosthire_person_risk`", [event], macros=macros, lookups=lookups, now=1_750_000_000)
        assert {row["person"] for row in ranked} == expected


def test_an_alert_counts_over_its_span_and_a_hiring_alert_through_the_new_hire_period(
    app_files: dict[str, bytes], macros: dict[str, str], lookups: Lookups
) -> None:
    """As the local hunt (backends/triage.yml): a correlation row the summary index dated at its search's
    start counts while its lastTime is in the window; an older one does not; a hiring-stage alert about
    jsmith (started 2025-05-12) counts through the new-hire period, another rule's alert of that day not."""
    searches = parse_conf(app_files["default/savedsearches.conf"].decode("utf-8"), "savedsearches.conf")
    field = {
        keys["action.summary_index.ghosthire_search_id"]: keys["alert.suppress.fields"]
        for keys in searches.values()
        if keys.get("action.summary_index") == "1"
    }
    policy = load_triage_policy()
    day = 86400.0
    start = 1_747_008_000.0  # 2025-05-12, jsmith's startDate
    now = start + (policy.hiring_alerts_days_after_start - 1) * day

    def summary(rule: str, entity: str, at: float, **span: float) -> dict[str, object]:
        return {"index": "summary", "_time": at, "ghosthire_rule": rule, "ghosthire_search_id": rule,
                field[rule]: entity, **span}  # fmt: skip

    farm, ip = "entra_laptop_farm_shared_egress", "203.0.113.9"
    old = now - policy.window_length.total_seconds() - 30 * day
    cases = [
        (summary(farm, ip, old, firstTime=old, lastTime=now - day), {ip}),
        (summary(farm, ip, old, firstTime=old, lastTime=old + day), set()),
        (summary("hr_bank_account_change_after_start", "E100142", start + day), {"jsmith"}),
        (summary("okta_session_start_via_anonymising_proxy", "jsmith@acme-corp.com", start + day), set()),
    ]
    for event, expected in cases:
        ranked = run("`ghosthire_person_risk`", [event], macros=macros, lookups=lookups, now=now)
        assert {row["person"] for row in ranked} == expected, event
