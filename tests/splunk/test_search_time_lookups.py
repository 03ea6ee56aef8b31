"""Tuning without a rebuild: the searches read the lists of splunk_app/lookups/ when they run.

A placeholder (`Field|expand: '%corporate_egress_ip%'`) compiles to a subsearch over its lookup
definition, so an admin who edits the lookup in Splunk changes what the shipped search matches. Checked
here by running the built app's searches in the SPL interpreter twice: with the shipped lookups, then with
a row an admin would add (or remove), and nothing rebuilt in between.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable

import pytest

from ghosthire.compile import TargetOutput
from ghosthire.compile.targets import placeholder_lookups, placeholder_values
from ghosthire.rules import RulePack
from ghosthire.splunk.conf import parse_conf
from tests.conftest import shipped_cases
from tests.splunk.spl_window import Lookups, app_lookups, run
from tests.splunk.splunk_events import splunk_events

CASES = shipped_cases()
# Lists a company keeps (backends/placeholders.yml): their example values must not be in any search.
COMPANY_LOOKUPS = {
    "ghosthire_corporate_egress.csv",
    "ghosthire_code_hosting_orgs.csv",
    "ghosthire_github_orgs.csv",
    "ghosthire_sanctioned_rmm.csv",
    "ghosthire_sanctioned_storage.csv",
    "ghosthire_approved_vpn.csv",
    "ghosthire_approved_keep_awake.csv",
}


@pytest.fixture(scope="module")
def macros(app_files: dict[str, bytes]) -> dict[str, str]:
    conf = parse_conf(app_files["default/macros.conf"].decode("utf-8"), "macros.conf")
    return {name: keys["definition"] for name, keys in conf.items()}


@pytest.fixture(scope="module")
def lookups(app_files: dict[str, bytes]) -> Lookups:
    return app_lookups(app_files)


@pytest.fixture(scope="module")
def searches(splunk_output: TargetOutput) -> dict[str, str]:
    return {item.rule.name: str(item.queries[0]) for item in splunk_output.ok()}


def verdict(
    rule: str,
    case_name: str,
    searches: dict[str, str],
    macros: dict[str, str],
    lookups: Lookups,
    pack: RulePack,
    readdress: Callable[[str], str] | None = None,
) -> bool:
    """Whether the rule's search returns a row for the case's events; `readdress` rewrites every
    `client.ipAddress` first (the same case from other addresses)."""
    cases = CASES[rule]
    [case] = [case for case in cases.must_fire + cases.must_not_fire if case.name == case_name]
    events = splunk_events(case.events, cases.source_of(case))
    if readdress:
        events = [{**e, "client.ipAddress": readdress(e["client.ipAddress"])} for e in events]
    rule_object = pack.get(rule).rule
    timespan = rule_object.timespan.seconds if pack.get(rule).is_correlation else 0
    return bool(run(searches[rule], events, min(e["_time"] for e in events) - timespan, macros, lookups))


def with_row(lookups: Lookups, name: str, row: dict[str, str]) -> Lookups:
    edited = copy.deepcopy(dict(lookups))
    edited[name] = [*edited[name], row]
    return edited


def test_every_subsearch_reads_a_lookup_definition_of_the_app(
    searches: dict[str, str], app_files: dict[str, bytes]
) -> None:
    transforms = parse_conf(app_files["default/transforms.conf"].decode("utf-8"), "transforms.conf")
    read = {name for query in searches.values() for name in re.findall(r"\| inputlookup (\w+)", query)}
    assert read, "no search reads a lookup at search time"
    assert read <= transforms.keys()
    declared = {lookup.lookup.removesuffix(".csv") for lookup in placeholder_lookups().values()}
    assert read == declared


def test_company_list_values_are_not_compiled_into_any_search(app_files: dict[str, bytes]) -> None:
    saved = app_files["default/savedsearches.conf"].decode("utf-8")
    values = placeholder_values()
    company = [name for name, spec in placeholder_lookups().items() if spec.lookup in COMPANY_LOOKUPS]
    assert company
    for name in company:
        for value in values[name]:
            assert value not in saved, f"{name}: {value!r} is inlined"


def test_an_egress_address_added_in_splunk_silences_the_shared_address_correlation(
    searches: dict[str, str], macros: dict[str, str], lookups: Lookups, pack: RulePack
) -> None:
    rule, case = "okta_source_ip_used_by_many_users", "three users from one residential address in an evening"
    assert verdict(rule, case, searches, macros, lookups, pack)
    edited = with_row(
        lookups, "ghosthire_corporate_egress", {"name": "new office", "ip_pattern": "155.94.199.*"}
    )
    assert not verdict(rule, case, searches, macros, edited, pack)


@pytest.mark.parametrize(
    ("readdress", "covering", "beside"),
    [
        (None, "155.94.199.0/24", "155.94.198.0/24"),
        (None, "155.94.199.59/32", "155.94.199.64/26"),
        (
            lambda ip: "2001:db8:4a00:12::" + ip.rsplit(".", 1)[1],
            "2001:db8:4a00::/48",
            "2001:db8:4a01::/48",
        ),
    ],
    ids=["ipv4-cidr", "ipv4-address-and-narrow-cidr", "ipv6-cidr"],
)
def test_a_cidr_egress_range_added_in_splunk_is_matched_as_a_network(
    searches: dict[str, str],
    macros: dict[str, str],
    lookups: Lookups,
    pack: RulePack,
    readdress: Callable[[str], str] | None,
    covering: str,
    beside: str,
) -> None:
    """The lookup's rows reach the search as `client.ipAddress="<row>"`, which Splunk's search command
    matches as a network when the row is a CIDR block (IPv4 or IPv6): no build-time expansion needed."""
    rule, case = "okta_source_ip_used_by_many_users", "three users from one residential address in an evening"
    assert verdict(rule, case, searches, macros, lookups, pack, readdress)
    for pattern, silenced in ((covering, True), (beside, False)):
        edited = with_row(lookups, "ghosthire_corporate_egress", {"name": "office", "ip_pattern": pattern})
        assert verdict(rule, case, searches, macros, edited, pack, readdress) is not silenced, pattern


def test_a_sanctioned_tool_added_in_splunk_is_excluded_with_the_rules_endswith(
    searches: dict[str, str], macros: dict[str, str], lookups: Lookups, pack: RulePack
) -> None:
    rule, case = "win_rmm_catalog_process_execution", "ScreenConnect client service (catalogue entry)"
    assert verdict(rule, case, searches, macros, lookups, pack)
    # `Image|endswith`: the bare file name with its backslash matches the end of the full path
    sanctioned = {"tool": "ScreenConnect", "process": "\\ScreenConnect.ClientService.exe"}
    assert not verdict(
        rule, case, searches, macros, with_row(lookups, "ghosthire_sanctioned_rmm", sanctioned), pack
    )
    # not a whole-value match: a name that only ends the same way stays a signal
    other = {"tool": "other", "process": "\\ClientService.exe"}
    assert verdict(rule, case, searches, macros, with_row(lookups, "ghosthire_sanctioned_rmm", other), pack)


def test_a_tool_removed_from_the_catalogue_in_splunk_no_longer_fires(
    searches: dict[str, str], macros: dict[str, str], lookups: Lookups, pack: RulePack
) -> None:
    rule, case = "win_rmm_catalog_process_execution", "ScreenConnect client service (catalogue entry)"
    edited = copy.deepcopy(dict(lookups))
    edited["ghosthire_rmm_catalog"] = [
        row
        for row in edited["ghosthire_rmm_catalog"]
        if "screenconnect" not in " ".join(row.values()).lower()
    ]
    assert not verdict(rule, case, searches, macros, edited, pack)


def test_an_empty_list_matches_nothing_and_filters_nothing(
    searches: dict[str, str], macros: dict[str, str], lookups: Lookups, pack: RulePack
) -> None:
    rule, case = "okta_source_ip_used_by_many_users", "three users from one residential address in an evening"
    emptied = {**lookups, "ghosthire_corporate_egress": []}
    assert verdict(rule, case, searches, macros, emptied, pack)
