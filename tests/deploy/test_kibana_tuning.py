"""`install elastic` with the company's run-time tuning: value lists and exception lists made from the
lookup CSVs, against the loopback Kibana."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from ghosthire.content import splunk_app_dir
from ghosthire.deploy.kibana import KibanaClient, install_kibana, uninstall_kibana
from ghosthire.deploy.kibana_lists import TuningObjects, ip_block, tuning_objects, wildcard_pattern
from ghosthire.deploy.report import Action, IncompleteRun
from ghosthire.deploy.retry import RetryPolicy
from ghosthire.elastic.exceptions import RunTimeFilter, run_time_filters
from ghosthire.rules import RulePack
from tests.deploy.conftest import RULES
from tests.elastic.engines import KibanaExceptions
from tests.fakes.kibana import FakeKibana

RMM_LIST = "ghosthire-sanctioned-rmm-process"
EGRESS_LIST = "ghosthire-corporate-egress-okta"
EGRESS_VALUES = "ghosthire-corporate-egress-ip"


@pytest.fixture(scope="module")
def filters(pack: RulePack) -> list[RunTimeFilter]:
    return run_time_filters(pack)


@pytest.fixture
def lookups(tmp_path: Path) -> Path:
    folder = tmp_path / "lookups"
    shutil.copytree(splunk_app_dir() / "lookups", folder)
    return folder


def rules_with_exceptions() -> list[dict[str, object]]:
    """Two of the installer-test rules, filtered at run time as the build makes them."""
    rmm = {**RULES[0], "exceptions_list": [_reference(RMM_LIST)]}
    okta = {**RULES[2], "exceptions_list": [_reference(EGRESS_LIST)]}
    return [rmm, RULES[1], okta]


def _reference(list_id: str) -> dict[str, str]:
    return {"id": list_id, "list_id": list_id, "namespace_type": "single", "type": "detection"}


def install(client: KibanaClient, tuning: TuningObjects, policy: RetryPolicy, console: Console, **kw):
    return install_kibana(client, rules_with_exceptions(), policy, console, tuning=tuning, **kw)


def test_every_pack_filter_becomes_an_exception_list(filters: list[RunTimeFilter], lookups: Path) -> None:
    tuning = tuning_objects(filters, lookups)
    assert {e.list_id for e in tuning.exception_lists} >= {RMM_LIST, EGRESS_LIST}
    lists = {v.id: v for v in tuning.value_lists}
    assert (lists[EGRESS_VALUES].type, lists[EGRESS_VALUES].values) == (
        "ip_range",
        ("192.0.2.0/24", "198.51.100.0/24"),
    )
    assert tuning.problems == []
    rmm = next(e for e in tuning.exception_lists if e.list_id == RMM_LIST)
    assert [item["entries"] for item in rmm.items] == [
        [
            {
                "field": "process.executable",
                "operator": "included",
                "type": "wildcard",
                "value": "*\\\\ExampleHelpdeskAgent.exe",
            }
        ]
    ]
    exceptions = KibanaExceptions(tuning)
    rule = {"exceptions_list": [_reference(RMM_LIST), _reference(EGRESS_LIST)]}
    assert exceptions.excepted(rule, {"process": {"executable": "C:\\Tools\\ExampleHelpdeskAgent.exe"}})
    assert not exceptions.excepted(rule, {"process": {"executable": "C:\\Tools\\AnyDesk.exe"}})
    assert exceptions.excepted(rule, {"client": {"ip": "198.51.100.77"}})
    assert not exceptions.excepted(rule, {"client": {"ip": "203.0.113.5"}})


def test_values_a_list_cannot_hold_are_reported_with_file_and_line(
    filters: list[RunTimeFilter], lookups: Path
) -> None:
    egress = lookups / "ghosthire_corporate_egress.csv"
    egress.write_text(
        egress.read_text()
        + "bad row,office-router,typo\nnew office,203.0.113.0/25,\nv6 office,2001:db8:4a00::/48,\n"
    )
    tuning = tuning_objects(filters, lookups)
    assert tuning.problems == [
        "ghosthire_corporate_egress.csv:4: 'office-router' is not an address, CIDR block or a.b.c.* prefix; left out"
    ]
    values = next(v for v in tuning.value_lists if v.id == EGRESS_VALUES).values
    assert {"203.0.113.0/25", "2001:db8:4a00::/48"} <= set(values)
    rule = {"exceptions_list": [_reference(EGRESS_LIST)]}
    exceptions = KibanaExceptions(tuning)
    for address, excepted in (("203.0.113.100", True), ("203.0.113.200", False)):
        assert exceptions.excepted(rule, {"client": {"ip": address}}) is excepted, address
    for address, excepted in (("2001:db8:4a00:12::7", True), ("2001:db8:4a01::7", False)):
        assert exceptions.excepted(rule, {"client": {"ip": address}}) is excepted, address
    assert (ip_block("10.1.*"), ip_block("2001:db8::1")) == ("10.1.0.0/16", "2001:db8::1/128")
    assert wildcard_pattern("rmm.example.com", "startswith") == "rmm.example.com*"


def test_wildcard_rows_of_an_exactly_compared_column_become_matches_items(
    filters: list[RunTimeFilter], lookups: Path
) -> None:
    # A value list is exact (keyword) or ip_range: a `*.vendor.example` row there would never match, so
    # it becomes a wildcard item beside the list that holds the column's exact rows.
    sanctioned = lookups / "ghosthire_sanctioned_rmm.csv"
    sanctioned.write_text(sanctioned.read_text() + "Relay fleet,,,*.relay.rmm.example.net,\n")
    tuning = tuning_objects(filters, lookups)
    proxy = next(e for e in tuning.exception_lists if e.list_id == "ghosthire-sanctioned-rmm-proxy")
    kinds = sorted(entry["type"] for item in proxy.items for entry in item["entries"])
    assert kinds == ["list", "wildcard"]
    rule = {"exceptions_list": [_reference(proxy.list_id)]}
    exceptions = KibanaExceptions(tuning)
    for host, excepted in (
        ("helpdesk-rmm.example.com", True),
        ("eu1.relay.rmm.example.net", True),
        ("relay.rmm.example.net.attacker.example", False),
        ("anydesk.com", False),
    ):
        assert exceptions.excepted(rule, {"url": {"domain": host}}) is excepted, host


def test_install_creates_lists_then_rules_referencing_them_and_a_rerun_writes_nothing(
    kibana: FakeKibana,
    kibana_client: KibanaClient,
    filters: list[RunTimeFilter],
    lookups: Path,
    policy: RetryPolicy,
    console: Console,
    output: io.StringIO,
) -> None:
    tuning = tuning_objects(filters, lookups)
    dry = install(kibana_client, tuning, policy, console, dry_run=True)
    assert dry.count(Action.CREATE) == len(tuning.value_lists) + len(tuning.exception_lists) + 3
    assert kibana.writes() == []

    install(kibana_client, tuning, policy, console)

    assert kibana.list_items["default"][EGRESS_VALUES] == ["192.0.2.0/24", "198.51.100.0/24"]
    stored = kibana.exception_lists["default"]
    assert set(stored) == {e.list_id for e in tuning.exception_lists}
    rule = kibana.rule(str(RULES[0]["rule_id"]))
    assert rule is not None and rule["exceptions_list"][0]["id"] == stored[RMM_LIST]["id"]
    assert f"+ exception-list:{RMM_LIST}" in output.getvalue()

    kibana.requests.clear()
    again = install(kibana_client, tuning, policy, console)
    assert kibana.writes() == [] and again.count(Action.CREATE) == again.count(Action.UPDATE) == 0


def test_editing_a_csv_retunes_kibana_without_a_rebuild_and_keeps_what_the_admin_added(
    kibana: FakeKibana,
    kibana_client: KibanaClient,
    filters: list[RunTimeFilter],
    lookups: Path,
    policy: RetryPolicy,
    console: Console,
) -> None:
    install(kibana_client, tuning_objects(filters, lookups), policy, console)
    admin_item = {
        "list_id": RMM_LIST,
        "name": "jump host",
        "description": "the admin's",
        "type": "simple",
        "namespace_type": "single",
        "entries": [{"field": "host.name", "operator": "included", "type": "match", "value": "jump-1"}],
    }
    kibana_client.request("POST", "/api/exception_lists/items", json=admin_item)
    site = {"id": "x", "list_id": "site-list", "namespace_type": "single", "type": "detection"}
    body = {"list_id": "site-list", "name": "Site", "description": "site", "type": "detection"}
    _, created = kibana_client.request("POST", "/api/exception_lists", json=body)
    kibana.rule(str(RULES[0]["rule_id"]))["exceptions_list"].append({**site, "id": created["id"]})  # type: ignore[index]
    (lookups / "ghosthire_corporate_egress.csv").write_text("name,ip_pattern,note\nHQ,203.0.113.0/24,\n")
    sanctioned = lookups / "ghosthire_sanctioned_rmm.csv"
    sanctioned.write_text(sanctioned.read_text() + "Helpdesk 2,\\SupportAgent.exe,,,\n")
    kibana.requests.clear()

    report = install(kibana_client, tuning_objects(filters, lookups), policy, console)

    assert kibana.list_items["default"][EGRESS_VALUES] == ["203.0.113.0/24"]
    items = kibana.exception_items["default"][RMM_LIST].values()
    assert {item["name"] for item in items} == {
        "jump host",
        "process.executable matches *\\\\ExampleHelpdeskAgent.exe",
        "process.executable matches *\\\\SupportAgent.exe",
    }
    lists = [ref["list_id"] for ref in kibana.rule(str(RULES[0]["rule_id"]))["exceptions_list"]]  # type: ignore[index]
    assert lists == [RMM_LIST, "site-list"]
    assert not any("_import" in path and "rules" in path for _, path in kibana.writes())
    # What reads the two edited files, and nothing else, is updated.
    updated = {change.object_id for change in report.changes if change.action is Action.UPDATE}
    assert updated == {
        "value-list:ghosthire-corporate-egress-ip",
        "exception-list:ghosthire-corporate-egress-entra-audit",
        "value-list:ghosthire-sanctioned-rmm-process",
        "exception-list:ghosthire-sanctioned-rmm-process",
        "exception-list:ghosthire-sanctioned-rmm-process-macos",
    }


def test_a_failed_list_stops_before_any_rule_is_imported(
    kibana: FakeKibana,
    kibana_client: KibanaClient,
    filters: list[RunTimeFilter],
    lookups: Path,
    policy: RetryPolicy,
    console: Console,
) -> None:
    kibana.inject("status", method="POST", path="/api/exception_lists/items", times=-1, status=503)
    with pytest.raises(IncompleteRun, match="stopped at exception-list:"):
        install(kibana_client, tuning_objects(filters, lookups), policy, console)
    assert kibana.rules["default"] == {}
    kibana.clear_faults()
    assert install(kibana_client, tuning_objects(filters, lookups), policy, console).complete


def test_uninstall_removes_the_lists_too(
    kibana: FakeKibana,
    kibana_client: KibanaClient,
    filters: list[RunTimeFilter],
    lookups: Path,
    policy: RetryPolicy,
    console: Console,
) -> None:
    tuning = tuning_objects(filters, lookups)
    install(kibana_client, tuning, policy, console)
    ids = [str(rule["rule_id"]) for rule in RULES]
    report = uninstall_kibana(kibana_client, ids, policy, console, tuning=tuning)
    assert report.count(Action.DELETE) == 3 + len(tuning.value_lists) + len(tuning.exception_lists)
    assert kibana.exception_lists["default"] == {} and kibana.value_lists["default"] == {}
