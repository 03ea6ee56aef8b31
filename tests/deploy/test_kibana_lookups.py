"""`install elastic` with the triage rule's lookup index, against the loopback Kibana and Elasticsearch."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from ghosthire.deploy.kibana import (
    KibanaClient,
    KibanaTarget,
    countries_index,
    identities_index,
    install_kibana,
    load_rules,
    time_zones_index,
    uninstall_kibana,
)
from ghosthire.deploy.lookup_index import BULK_OPERATIONS, LookupIndex
from ghosthire.deploy.report import Action, IncompleteRun
from ghosthire.deploy.retry import RetryPolicy
from tests.deploy.conftest import KIBANA_API_KEY, RULES
from tests.fakes.elasticsearch import FakeElasticsearch
from tests.fakes.kibana import FakeKibana

INDEX = "ghosthire-identities"
IDENTITIES = """identity,first,last,email,category,watchlist,startDate,work_country,time_zone
jsmith|jordan.smith@acme-corp.com|jsmith-acme,Jordan,Smith,jordan.smith@acme-corp.com,employee,false,2025-05-12,US,America/Chicago
akim|alex.kim@acme-corp.com,Alex,Kim,alex.kim@acme-corp.com,employee,false,2019-03-04,United States,
"""
ASSETS = """nt_host,dns,owner,category,device_id
LT-JSMITH-0142,LT-JSMITH-0142.corp.example.com,jsmith,laptop,8b4c2f6e-3d1a
"""


@pytest.fixture
def elasticsearch() -> Iterator[FakeElasticsearch]:
    with FakeElasticsearch(api_key=KIBANA_API_KEY) as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def es_client(elasticsearch: FakeElasticsearch, policy: RetryPolicy) -> KibanaClient:
    return KibanaClient(KibanaTarget(elasticsearch.url), KIBANA_API_KEY, policy.timeout, "Elasticsearch")


@pytest.fixture
def lookups(tmp_path: Path) -> Path:
    folder = tmp_path / "lookups"
    folder.mkdir()
    (folder / "ghosthire_identities.csv").write_text(IDENTITIES, encoding="utf-8")
    (folder / "ghosthire_assets.csv").write_text(ASSETS, encoding="utf-8")
    return folder


def index_of(lookups: Path) -> LookupIndex:
    found = identities_index(lookups, INDEX)
    assert found is not None
    return found[0]


def install(
    kibana_client: KibanaClient,
    es_client: KibanaClient,
    lookups: Path,
    policy: RetryPolicy,
    console: Console,
    **kw,
):
    return install_kibana(
        kibana_client,
        RULES,
        policy,
        console,
        elasticsearch=es_client,
        lookup_indices=[index_of(lookups)],
        **kw,
    )


def test_install_creates_a_lookup_index_and_publishes_it_once(
    kibana: FakeKibana,
    kibana_client: KibanaClient,
    elasticsearch: FakeElasticsearch,
    es_client: KibanaClient,
    lookups: Path,
    policy: RetryPolicy,
    console: Console,
    output: io.StringIO,
) -> None:
    dry = install(kibana_client, es_client, lookups, policy, console, dry_run=True)
    assert dry.count(Action.CREATE) == 4 and elasticsearch.indices == {}

    report = install(kibana_client, es_client, lookups, policy, console)

    assert report.count(Action.CREATE) == 4
    index = elasticsearch.indices[INDEX]
    assert (index.settings["mode"], index.settings["refresh_interval"]) == ("lookup", "-1")
    assert index.mappings["properties"]["ghosthire"]["properties"]["identifier"] == {"type": "keyword"}
    persons = {key: doc["ghosthire"]["person"] for key, doc in index.visible.items()}
    assert persons["lt-jsmith-0142"] == persons["jsmith-acme"] == persons["jordan.smith"] == "jsmith"
    assert persons["alex.kim@acme-corp.com"] == "akim"
    assert f"+ lookup-index:{INDEX}" in output.getvalue()
    assert [path for method, path in elasticsearch.writes() if "_refresh" in path] == [f"/{INDEX}/_refresh"]

    elasticsearch.requests.clear()
    kibana.requests.clear()
    again = install(kibana_client, es_client, lookups, policy, console)
    assert again.count(Action.UNCHANGED) == 4
    assert elasticsearch.writes() == [] and kibana.writes() == []


def test_editing_the_lookup_changes_only_the_difference(
    kibana_client: KibanaClient,
    elasticsearch: FakeElasticsearch,
    es_client: KibanaClient,
    lookups: Path,
    policy: RetryPolicy,
    console: Console,
    output: io.StringIO,
) -> None:
    install(kibana_client, es_client, lookups, policy, console)
    (lookups / "ghosthire_identities.csv").write_text(
        IDENTITIES.replace(
            "akim|alex.kim@acme-corp.com,Alex,Kim,alex.kim", "akim2|alex.kim@acme-corp.com,Alex,Kim,alex.kim"
        ),
        encoding="utf-8",
    )
    elasticsearch.requests.clear()

    report = install(kibana_client, es_client, lookups, policy, console)

    assert report.count(Action.UPDATE) == 1
    visible = elasticsearch.indices[INDEX].visible
    assert "akim2" in visible and "akim" not in visible
    assert elasticsearch.writes() == [("POST", "/_bulk"), ("POST", f"/{INDEX}/_refresh")]


def test_a_load_cut_short_publishes_nothing_and_imports_no_rule(
    kibana: FakeKibana,
    kibana_client: KibanaClient,
    elasticsearch: FakeElasticsearch,
    es_client: KibanaClient,
    lookups: Path,
    policy: RetryPolicy,
    console: Console,
    tmp_path: Path,
) -> None:
    install(kibana_client, es_client, lookups, policy, console)
    before = dict(elasticsearch.indices[INDEX].visible)
    many = "".join(
        f"user{n}|user{n}@acme-corp.com,U,{n},user{n}@acme-corp.com,employee,false,,US,\n"
        for n in range(BULK_OPERATIONS)
    )
    (lookups / "ghosthire_identities.csv").write_text(IDENTITIES + many, encoding="utf-8")
    elasticsearch.inject("status", method="POST", path="/_bulk", skip=1, times=-1, status=503)

    with pytest.raises(IncompleteRun, match=f"stopped at lookup-index:{INDEX}: HTTP 503"):
        install(kibana_client, es_client, lookups, policy, console)

    assert elasticsearch.indices[INDEX].visible == before, "half a load must never be searchable"
    elasticsearch.clear_faults()
    report = install(kibana_client, es_client, lookups, policy, console)
    assert report.count(Action.UPDATE) == 1
    assert len(elasticsearch.indices[INDEX].visible) > len(before) + BULK_OPERATIONS


def test_a_same_named_index_that_is_not_a_lookup_index_is_refused(
    kibana: FakeKibana,
    kibana_client: KibanaClient,
    elasticsearch: FakeElasticsearch,
    es_client: KibanaClient,
    lookups: Path,
    policy: RetryPolicy,
    console: Console,
) -> None:
    es_client.request("PUT", f"/{INDEX}", json={"settings": {"index.number_of_shards": 1}})
    with pytest.raises(IncompleteRun, match="exists but is not in lookup mode"):
        install(kibana_client, es_client, lookups, policy, console)
    assert kibana.rules["default"] == {}


def test_rules_over_the_alerts_index_read_the_space_they_are_installed_in(
    kibana: FakeKibana, policy: RetryPolicy, console: Console
) -> None:
    soc = KibanaClient(KibanaTarget(kibana.url, space="soc"), KIBANA_API_KEY, policy.timeout)
    triage = {**RULES[0], "rule_id": "triage", "type": "esql", "language": "esql"}
    triage["query"] = "from .alerts-security.alerts-default\n| stats n = COUNT(*)"
    install_kibana(soc, [triage], policy, console)
    assert kibana.rule("triage", "soc")["query"].startswith("from .alerts-security.alerts-soc\n")  # type: ignore[index]


def test_uninstall_deletes_the_lookup_index(
    kibana_client: KibanaClient,
    elasticsearch: FakeElasticsearch,
    es_client: KibanaClient,
    lookups: Path,
    policy: RetryPolicy,
    console: Console,
    rules_file: Path,
) -> None:
    install(kibana_client, es_client, lookups, policy, console)
    rule_ids = [str(rule["rule_id"]) for rule in load_rules(rules_file)]
    report = uninstall_kibana(
        kibana_client, rule_ids, policy, console, elasticsearch=es_client, lookup_index_names=[INDEX]
    )
    assert report.count(Action.DELETE) == 4 and elasticsearch.indices == {}
    again = uninstall_kibana(
        kibana_client, rule_ids, policy, console, elasticsearch=es_client, lookup_index_names=[INDEX]
    )
    assert again.count(Action.ABSENT) == 4


def test_the_identity_checked_and_work_pattern_rules_indices(
    elasticsearch: FakeElasticsearch,
    es_client: KibanaClient,
    kibana_client: KibanaClient,
    lookups: Path,
    policy: RetryPolicy,
    console: Console,
) -> None:
    """An event's country (a name as Okta writes it, a code as Entra does) and the person's work_country
    (written as a name here) meet as ISO alpha-2 codes in the two lookup indices; a person's time zone
    and an event's year meet the UTC offsets in the third (its mapping, and a slice of its thousands of
    documents: the bulk loading itself is the identities index's)."""
    countries = countries_index("ghosthire-countries", lookups, [])
    every_zone = time_zones_index("ghosthire-time-zones")
    assert len(every_zone.documents) > 10 * BULK_OPERATIONS
    chicago_rows = {
        key: doc for key, doc in every_zone.documents.items() if key.startswith("America/Chicago|")
    }
    zones = LookupIndex(every_zone.name, every_zone.mappings, chicago_rows)
    install_kibana(
        kibana_client,
        RULES,
        policy,
        console,
        elasticsearch=es_client,
        lookup_indices=[index_of(lookups), countries, zones],
    )
    chicago = elasticsearch.indices[zones.name].visible["America/Chicago|2025"]["ghosthire"]
    assert (chicago["zone_offset"], chicago["zone_shifted_offset"]) == (-6 * 3600, -5 * 3600)
    assert chicago["zone_shift_start"] < chicago["zone_shift_end"]
    codes = {
        key: doc["ghosthire"]["country_code"]
        for key, doc in elasticsearch.indices[countries.name].visible.items()
    }
    assert codes["united states"] == codes["us"] == codes["usa"] == "US"
    assert codes["korea, democratic people's republic of"] == codes["kp"] == "KP"
    watched = elasticsearch.indices[countries.name].visible
    assert watched["north korea"]["ghosthire"]["country_watched"] is True  # the shipped watch list
    assert watched["france"]["ghosthire"]["country_watched"] is False
    persons = elasticsearch.indices[INDEX].visible
    assert persons["alex.kim@acme-corp.com"]["ghosthire"]["work_country"] == "US"
    assert persons["jordan.smith@acme-corp.com"]["ghosthire"]["time_zone"] == "America/Chicago"
