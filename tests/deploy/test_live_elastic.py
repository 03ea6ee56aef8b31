"""The Elastic installer's run-time objects against a real Kibana (and Elasticsearch); skipped unless named.

Kibana as in test_live.py (GHOSTHIRE_LIVE_KIBANA_URL, KIBANA_API_KEY). The lookup index and the
LOOKUP JOIN check also need GHOSTHIRE_LIVE_ELASTICSEARCH_URL (Elasticsearch 8.19/9.1 or later, same API key).
The tests make and remove the pack's value lists and exception lists, two of the installer-test rules and
a lookup index of their own name: use throwaway instances (docs/installers.md).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from ghosthire.content import shipped_lookups_dir
from ghosthire.deploy.kibana import (
    KibanaClient,
    KibanaTarget,
    identities_index,
    install_kibana,
    uninstall_kibana,
)
from ghosthire.deploy.kibana_lists import tuning_objects
from ghosthire.deploy.report import Action
from ghosthire.elastic.exceptions import run_time_filters
from ghosthire.rules import RulePack
from tests.deploy.conftest import RULES
from tests.deploy.test_live import CA_FILE, INSECURE, LIVE_POLICY, kibana, live_console  # noqa: F401

pytestmark = pytest.mark.live

ELASTICSEARCH_URL = os.environ.get("GHOSTHIRE_LIVE_ELASTICSEARCH_URL")
INDEX = "ghosthire-live-identities"
RMM_LIST = "ghosthire-sanctioned-rmm-process"


@pytest.fixture
def lookups(tmp_path: Path) -> Path:
    folder = tmp_path / "lookups"
    shutil.copytree(shipped_lookups_dir(), folder)
    return folder


@pytest.fixture
def elasticsearch(kibana: KibanaClient) -> Iterator[KibanaClient]:  # noqa: F811
    if not ELASTICSEARCH_URL:
        pytest.skip("set GHOSTHIRE_LIVE_ELASTICSEARCH_URL for the lookup index")
    api_key = str(kibana.session.headers["Authorization"]).removeprefix("ApiKey ")
    target = KibanaTarget(ELASTICSEARCH_URL, None, Path(CA_FILE) if CA_FILE else None, INSECURE)
    client = KibanaClient(target, api_key, LIVE_POLICY.timeout, "Elasticsearch")
    client.request("DELETE", f"/{INDEX}", allow={404})
    yield client
    client.request("DELETE", f"/{INDEX}", allow={404})


def rules_with_exceptions() -> list[dict[str, object]]:
    reference = {"id": RMM_LIST, "list_id": RMM_LIST, "namespace_type": "single", "type": "detection"}
    return [{**RULES[0], "exceptions_list": [reference]}, RULES[1]]


def test_live_value_lists_and_exception_lists(
    kibana: KibanaClient,  # noqa: F811
    pack: RulePack,
    lookups: Path,
    live_console: Console,  # noqa: F811
) -> None:
    filters = run_time_filters(pack)
    tuning = tuning_objects(filters, lookups)
    ids = [str(rule["rule_id"]) for rule in RULES]
    uninstall_kibana(kibana, ids, LIVE_POLICY, live_console, tuning=tuning)
    try:
        first = install_kibana(kibana, rules_with_exceptions(), LIVE_POLICY, live_console, tuning=tuning)
        assert first.count(Action.CREATE) == len(tuning.value_lists) + len(tuning.exception_lists) + 2
        _, stored = kibana.request(
            "GET", "/api/exception_lists", params={"list_id": RMM_LIST, "namespace_type": "single"}
        )
        _, rule = kibana.request(
            "GET", "/api/detection_engine/rules", params={"rule_id": RULES[0]["rule_id"]}
        )
        assert rule["exceptions_list"][0]["id"] == stored["id"]
        again = install_kibana(kibana, rules_with_exceptions(), LIVE_POLICY, live_console, tuning=tuning)
        assert again.count(Action.CREATE) == again.count(Action.UPDATE) == 0

        (lookups / "ghosthire_corporate_egress.csv").write_text("name,ip_pattern,note\nHQ,203.0.113.0/24,\n")
        retuned = tuning_objects(filters, lookups)
        changed = install_kibana(kibana, rules_with_exceptions(), LIVE_POLICY, live_console, tuning=retuned)
        assert changed.count(Action.UPDATE) == 1
        params = {"list_id": "ghosthire-corporate-egress-ip", "per_page": 100}
        _, items = kibana.request("GET", "/api/lists/items/_find", params=params)
        assert [item["value"] for item in items["data"]] == ["203.0.113.0/24"]
    finally:
        removed = uninstall_kibana(kibana, ids, LIVE_POLICY, live_console, tuning=tuning)
    assert removed.complete


def test_live_lookup_index_joins_in_esql(
    kibana: KibanaClient,  # noqa: F811
    elasticsearch: KibanaClient,
    live_console: Console,  # noqa: F811
) -> None:
    found = identities_index(shipped_lookups_dir(), INDEX)
    assert found is not None
    index, _ = found
    first = install_kibana(
        kibana, [], LIVE_POLICY, live_console, elasticsearch=elasticsearch, lookup_indices=[index]
    )
    assert first.count(Action.CREATE) == 1
    again = install_kibana(
        kibana, [], LIVE_POLICY, live_console, elasticsearch=elasticsearch, lookup_indices=[index]
    )
    assert again.count(Action.UNCHANGED) == 1
    identifier, document = next(iter(index.documents.items()))
    query = f'ROW ghosthire.identifier = "{identifier}" | LOOKUP JOIN {INDEX} ON ghosthire.identifier | KEEP ghosthire.person'
    _, answer = elasticsearch.request("POST", "/_query", json={"query": query})
    assert answer["values"] == [[document["ghosthire"]["person"]]]
    removed = uninstall_kibana(
        kibana, [], LIVE_POLICY, live_console, elasticsearch=elasticsearch, lookup_index_names=[INDEX]
    )
    assert removed.count(Action.DELETE) == 1
