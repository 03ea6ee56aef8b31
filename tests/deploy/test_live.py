"""The installer scenarios against a real Splunk and a real Kibana; skipped unless they are named.

Splunk: GHOSTHIRE_LIVE_SPLUNK_URL (e.g. https://localhost:8089) and SPLUNK_TOKEN, or SPLUNK_USERNAME and
SPLUNK_PASSWORD. Kibana: GHOSTHIRE_LIVE_KIBANA_URL and KIBANA_API_KEY (GHOSTHIRE_LIVE_KIBANA_SPACE optional).
GHOSTHIRE_LIVE_CA_FILE names the CA of a self-signed server; GHOSTHIRE_LIVE_INSECURE=1 skips verification.
Both suites uninstall first and last, and touch only the pack's own objects plus the one they create.
See docs/installers.md for throwaway containers.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from rich.console import Console
from splunklib import client

from ghosthire.deploy.kibana import KibanaClient, KibanaTarget, install_kibana, load_rules, uninstall_kibana
from ghosthire.deploy.report import Action
from ghosthire.deploy.retry import RetryPolicy
from ghosthire.deploy.splunk import (
    SplunkCredentials,
    SplunkTarget,
    connect_splunk,
    install_splunk,
    uninstall_splunk,
)
from ghosthire.deploy.splunk_choices import SiteChoices, apply_choices
from ghosthire.deploy.splunk_package import load_package
from tests.deploy.conftest import RULES

pytestmark = pytest.mark.live

SPLUNK_URL = os.environ.get("GHOSTHIRE_LIVE_SPLUNK_URL")
KIBANA_URL = os.environ.get("GHOSTHIRE_LIVE_KIBANA_URL")
CA_FILE = os.environ.get("GHOSTHIRE_LIVE_CA_FILE")
INSECURE = os.environ.get("GHOSTHIRE_LIVE_INSECURE") == "1"
LIVE_POLICY = RetryPolicy(attempts=3, initial_delay=0.5, timeout=60)
RMM = "Ghosthire - RMM tool not company standard"
ADMIN_SEARCH = "Ghosthire live test - admin search"


@pytest.fixture
def live_console() -> Console:
    return Console(file=io.StringIO(), width=200)


@pytest.fixture
def splunk(live_console: Console) -> Iterator[client.Service]:
    has_login = os.environ.get("SPLUNK_TOKEN") or (
        os.environ.get("SPLUNK_USERNAME") and os.environ.get("SPLUNK_PASSWORD")
    )
    if not SPLUNK_URL or not has_login:
        pytest.skip("set GHOSTHIRE_LIVE_SPLUNK_URL and SPLUNK_TOKEN (or SPLUNK_USERNAME/SPLUNK_PASSWORD)")
    url = urlsplit(SPLUNK_URL)
    target = SplunkTarget(url.hostname or "localhost", url.port or 8089, url.scheme, _ca_file(), INSECURE)
    credentials = SplunkCredentials(
        os.environ.get("SPLUNK_TOKEN"), os.environ.get("SPLUNK_USERNAME"), os.environ.get("SPLUNK_PASSWORD")
    )
    service = connect_splunk(target, credentials, LIVE_POLICY)
    _remove_admin_search(service)
    uninstall_splunk(service, LIVE_POLICY, live_console)
    yield service
    _remove_admin_search(service)
    uninstall_splunk(service, LIVE_POLICY, live_console)


@pytest.fixture
def kibana(live_console: Console) -> Iterator[KibanaClient]:
    api_key = os.environ.get("KIBANA_API_KEY")
    if not KIBANA_URL or not api_key:
        pytest.skip("set GHOSTHIRE_LIVE_KIBANA_URL and KIBANA_API_KEY")
    space = os.environ.get("GHOSTHIRE_LIVE_KIBANA_SPACE")
    kibana = KibanaClient(KibanaTarget(KIBANA_URL, space, _ca_file(), INSECURE), api_key, LIVE_POLICY.timeout)
    everything = [str(rule["rule_id"]) for rule in RULES] + ["ghosthire-live-test-admin-rule"]
    uninstall_kibana(kibana, everything, LIVE_POLICY, live_console)
    yield kibana
    uninstall_kibana(kibana, everything, LIVE_POLICY, live_console)


def test_live_splunk(splunk: client.Service, package: Path, live_console: Console) -> None:
    content = load_package(package)

    dry = install_splunk(splunk, content, LIVE_POLICY, live_console, dry_run=True)
    assert dry.count(Action.CREATE) == len(content.objects) + 1 and "ghosthire" not in splunk.apps

    first = install_splunk(splunk, content, LIVE_POLICY, live_console)
    assert (first.count(Action.CREATE), first.count(Action.UPDATE)) == (9, 1)  # a new app comes with a nav
    assert install_splunk(splunk, content, LIVE_POLICY, live_console).count(Action.UNCHANGED) == 10

    splunk.saved_searches[RMM].update(cron_schedule="*/7 * * * *", disabled="0")
    client.Collection(splunk, "configs/conf-macros")["ghosthire_rmm_filter"].update(definition="search *")
    assert install_splunk(splunk, content, LIVE_POLICY, live_console).count(Action.UNCHANGED) == 10
    assert splunk.saved_searches[RMM]["cron_schedule"] == "*/7 * * * *"
    macros = client.Collection(splunk, "configs/conf-macros")
    assert macros["ghosthire_rmm_filter"]["definition"] == "search *"

    chosen = apply_choices(content, SiteChoices(("level:high",), {"windows": ("main",)}))
    assert install_splunk(splunk, chosen, LIVE_POLICY, live_console).count(Action.UPDATE) == 1
    assert splunk.saved_searches[RMM]["disabled"] == "0"
    assert macros["ghosthire_src_windows"]["definition"].startswith("index=main ")
    assert install_splunk(splunk, chosen, LIVE_POLICY, live_console).count(Action.UNCHANGED) == 10

    splunk.saved_searches.create(ADMIN_SEARCH, "| makeresults")
    removed = uninstall_splunk(splunk, LIVE_POLICY, live_console)
    assert removed.count(Action.DELETE) == 8 and removed.count(Action.KEEP) == 1
    assert ADMIN_SEARCH in splunk.saved_searches and RMM not in splunk.saved_searches


def test_live_kibana(kibana: KibanaClient, rules_file: Path, tmp_path: Path, live_console: Console) -> None:
    rules = load_rules(rules_file)
    admin_rule = {
        **RULES[2],
        "rule_id": "ghosthire-live-test-admin-rule",
        "name": "Ghosthire live test admin",
    }
    files = {"file": ("admin.ndjson", (json.dumps(admin_rule) + "\n").encode(), "application/ndjson")}
    kibana.request("POST", "/api/detection_engine/rules/_import", params={"overwrite": "true"}, files=files)

    assert install_kibana(kibana, rules, LIVE_POLICY, live_console, dry_run=True).count(Action.CREATE) == 3
    assert install_kibana(kibana, rules, LIVE_POLICY, live_console).count(Action.CREATE) == 3
    assert install_kibana(kibana, rules, LIVE_POLICY, live_console).count(Action.UNCHANGED) == 3

    _, found = kibana.request("GET", "/api/detection_engine/rules", params={"rule_id": RULES[0]["rule_id"]})
    kibana.request(
        "POST", "/api/detection_engine/rules/_bulk_action", json={"action": "enable", "ids": [found["id"]]}
    )
    changed = [{**rule, "description": rule["description"] + " (v2)"} for rule in RULES]
    (tmp_path / "v2.ndjson").write_text("".join(json.dumps(rule) + "\n" for rule in changed))
    assert (
        install_kibana(kibana, load_rules(tmp_path / "v2.ndjson"), LIVE_POLICY, live_console).count(
            Action.UPDATE
        )
        == 3
    )
    _, after = kibana.request("GET", "/api/detection_engine/rules", params={"rule_id": RULES[0]["rule_id"]})
    assert after["enabled"] is True and after["description"].endswith("(v2)")

    removed = uninstall_kibana(kibana, [str(rule["rule_id"]) for rule in rules], LIVE_POLICY, live_console)
    assert removed.count(Action.DELETE) == 3
    status, _ = kibana.request(
        "GET", "/api/detection_engine/rules", params={"rule_id": admin_rule["rule_id"]}
    )
    assert status == 200


def _ca_file() -> Path | None:
    return Path(CA_FILE) if CA_FILE else None


def _remove_admin_search(service: client.Service) -> None:
    if "ghosthire" in service.apps and ADMIN_SEARCH in service.saved_searches:
        service.saved_searches.delete(ADMIN_SEARCH)


def test_live_splunk_built_app(splunk: client.Service, tmp_path: Path, live_console: Console) -> None:
    """The real app: chosen searches enabled, a source macro narrowed, the person objects in place and the
    identity keys readable by a search."""
    from ghosthire.build import build

    content = load_package(build(tmp_path).artifacts["splunk_app"])
    chosen = apply_choices(content, SiteChoices(("guidance:remote-access",), {"windows": ("main",)}))
    first = install_splunk(splunk, chosen, LIVE_POLICY, live_console)
    assert first.count(Action.CREATE) >= len(content.objects) - 1
    assert install_splunk(splunk, chosen, LIVE_POLICY, live_console).count(Action.UPDATE) == 0

    queue = splunk.saved_searches["ghosthire - Person in the triage queue"]
    assert queue["disabled"] == "0" and "`ghosthire_person_risk`" in queue["search"]
    assert splunk.saved_searches["ghosthire - Person in the triage queue (ES risk index)"]["disabled"] == "1"
    macros = client.Collection(splunk, "configs/conf-macros")
    assert macros["ghosthire_src_windows_security"]["definition"].startswith("index=main ")
    assert "ghosthire_person" in [view.name for view in client.Collection(splunk, "data/ui/views").list()]
    rows = splunk.jobs.oneshot(
        "| inputlookup ghosthire_identity_keys | stats count", output_mode="json"
    ).read()
    assert json.loads(rows)["results"][0]["count"] != "0"
