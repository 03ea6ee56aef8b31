"""`install elastic` / `uninstall elastic` against the loopback Kibana."""

from __future__ import annotations

import copy
import io
import json
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console

from ghosthire.deploy.kibana import KibanaClient, KibanaTarget, install_kibana, load_rules, uninstall_kibana
from ghosthire.deploy.report import Action, IncompleteRun
from ghosthire.deploy.retry import RetryPolicy
from ghosthire.errors import ContentError, GhosthireError
from tests.deploy.conftest import KIBANA_API_KEY, RULES, reset, write_rules
from tests.fakes.kibana import FakeKibana
from tests.fakes.server import TlsFiles

RMM, CRD, MFA = (str(rule["rule_id"]) for rule in RULES)
IMPORT = "/api/detection_engine/rules/_import"
BULK = "/api/detection_engine/rules/_bulk_action"


def posts(kibana: FakeKibana, path: str) -> int:
    return sum(1 for method, seen in kibana.requests if method == "POST" and seen.endswith(path))


def changed_rules() -> list[dict[str, object]]:
    rules = copy.deepcopy(RULES)
    rules[0]["query"] = (
        'process where event.type == "start" and process.name : ("anydesk.exe", "splashtop.exe")'
    )
    rules[0]["version"] = 2
    return rules


def test_fresh_install_imports_every_rule(
    kibana: FakeKibana,
    kibana_client: KibanaClient,
    rules_file: Path,
    policy: RetryPolicy,
    console: Console,
    output: io.StringIO,
) -> None:
    report = install_kibana(kibana_client, load_rules(rules_file), policy, console)

    assert report.count(Action.CREATE) == 3
    assert "install elastic rules: 3 created, 0 updated, 0 unchanged" in output.getvalue()
    assert set(kibana.rules["default"]) == {RMM, CRD, MFA}
    assert kibana.rule(MFA)["threshold"]["field"] == ["okta.debug_context.debug_data.dt_hash"]  # type: ignore[index]
    assert kibana.rule(RMM)["enabled"] is False  # type: ignore[index]
    assert posts(kibana, IMPORT) == 1


def test_second_run_reports_nothing_changed_and_imports_nothing(
    kibana: FakeKibana,
    kibana_client: KibanaClient,
    rules_file: Path,
    policy: RetryPolicy,
    console: Console,
    output: io.StringIO,
) -> None:
    rules = load_rules(rules_file)
    install_kibana(kibana_client, rules, policy, console)
    kibana.requests.clear()

    report = install_kibana(kibana_client, rules, policy, console)

    assert report.count(Action.UNCHANGED) == 3
    assert kibana.writes() == []
    assert "install elastic rules: 0 created, 0 updated, 3 unchanged" in output.getvalue()


def test_dry_run_compares_with_kibana_and_writes_nothing(
    kibana: FakeKibana,
    kibana_client: KibanaClient,
    rules_file: Path,
    policy: RetryPolicy,
    console: Console,
    output: io.StringIO,
) -> None:
    install_kibana(kibana_client, load_rules(rules_file), policy, console, dry_run=True)
    assert kibana.writes() == [] and kibana.rules["default"] == {}
    assert f"+ rule:{RMM}  (Ghosthire - RMM tool not company standard)" in output.getvalue()

    install_kibana(kibana_client, load_rules(rules_file), policy, console)
    kibana.requests.clear()
    reset(output)
    report = install_kibana(kibana_client, changed_rules(), policy, console, dry_run=True)

    assert kibana.writes() == []
    assert [
        (c.object_id, [f.key for f in c.fields]) for c in report.changes if c.action is Action.UPDATE
    ] == [(f"rule:{RMM}", ["query", "version"])]
    assert "    version: 1 -> 2\n" in output.getvalue()
    assert "dry run, nothing was changed: 0 to create, 1 to update, 2 unchanged" in output.getvalue()


def test_admin_enabled_state_and_exceptions_are_kept(
    kibana: FakeKibana, kibana_client: KibanaClient, rules_file: Path, policy: RetryPolicy, console: Console
) -> None:
    install_kibana(kibana_client, load_rules(rules_file), policy, console)
    body = {"list_id": "site-allowlist", "name": "Site", "description": "the admin's", "type": "detection"}
    _, created = kibana_client.request("POST", "/api/exception_lists", json=body)
    exceptions = [
        {"id": created["id"], "list_id": "site-allowlist", "namespace_type": "single", "type": "detection"}
    ]
    kibana.rule(RMM).update(enabled=True, exceptions_list=exceptions)  # type: ignore[union-attr]
    kibana.rule(CRD)["enabled"] = True  # type: ignore[index]

    report = install_kibana(kibana_client, changed_rules(), policy, console)

    assert report.count(Action.UPDATE) == 1 and report.count(Action.UNCHANGED) == 2
    stored = kibana.rule(RMM)
    assert stored is not None and "splashtop.exe" in stored["query"] and stored["revision"] == 1
    assert (stored["enabled"], stored["exceptions_list"]) == (True, exceptions)
    assert kibana.rule(CRD)["enabled"] is True  # type: ignore[index]


def test_enable_turns_on_every_pack_rule_once(
    kibana: FakeKibana, kibana_client: KibanaClient, rules_file: Path, policy: RetryPolicy, console: Console
) -> None:
    install_kibana(kibana_client, load_rules(rules_file)[:2], policy, console)
    kibana.requests.clear()

    report = install_kibana(kibana_client, load_rules(rules_file), policy, console, enable=True)

    assert (report.count(Action.CREATE), report.count(Action.UPDATE)) == (1, 2)
    assert all(rule["enabled"] for rule in kibana.rules["default"].values())
    assert (posts(kibana, IMPORT), posts(kibana, BULK)) == (1, 1)  # the new rule imported enabled
    kibana.requests.clear()
    again = install_kibana(kibana_client, load_rules(rules_file), policy, console, enable=True)
    assert again.count(Action.UNCHANGED) == 3 and kibana.writes() == []


def test_invalid_rules_are_reported_with_kibanas_errors(
    kibana: FakeKibana,
    kibana_client: KibanaClient,
    tmp_path: Path,
    policy: RetryPolicy,
    console: Console,
    output: io.StringIO,
) -> None:
    broken = copy.deepcopy(RULES)
    del broken[1]["type"]
    rules = load_rules(write_rules(tmp_path / "rules.ndjson", broken))

    with pytest.raises(
        IncompleteRun, match=rf"rule:{CRD} was refused: type: Invalid discriminator value.*\(HTTP 400\)"
    ):
        install_kibana(kibana_client, rules, policy, console)

    assert set(kibana.rules["default"]) == {RMM, MFA}
    assert f"+ rule:{RMM}" in output.getvalue() and f"x rule:{CRD}: refused" in output.getvalue()
    assert "2 created, 0 updated, 0 unchanged" in output.getvalue()


def test_failure_midway_reports_applied_chunks_and_a_rerun_converges(
    kibana: FakeKibana,
    kibana_client: KibanaClient,
    rules_file: Path,
    policy: RetryPolicy,
    console: Console,
    output: io.StringIO,
) -> None:
    kibana.inject("status", method="POST", path=IMPORT, skip=1, times=-1, status=500)

    with pytest.raises(IncompleteRun) as raised:
        install_kibana(kibana_client, load_rules(rules_file), policy, console, chunk_size=1)

    assert f"stopped at rule:{CRD}: HTTP 500" in str(raised.value)
    assert "(gave up after 3 attempts)" in str(raised.value)
    assert f"+ rule:{RMM}" in output.getvalue()
    assert f"not applied (2):\n  rule:{CRD}\n  rule:{MFA}\n" in output.getvalue()
    assert set(kibana.rules["default"]) == {RMM}

    kibana.clear_faults()
    rerun = install_kibana(kibana_client, load_rules(rules_file), policy, console, chunk_size=1)
    assert (rerun.count(Action.CREATE), rerun.count(Action.UNCHANGED)) == (2, 1)
    assert set(kibana.rules["default"]) == {RMM, CRD, MFA}


def test_transient_errors_resets_and_timeouts_are_retried(
    kibana: FakeKibana,
    kibana_client: KibanaClient,
    rules_file: Path,
    policy: RetryPolicy,
    console: Console,
    output: io.StringIO,
) -> None:
    kibana.inject("status", method="POST", path=IMPORT, times=1, status=502)
    kibana.inject("reset", method="POST", path=IMPORT, times=1)
    kibana.inject("hang", method="GET", path="/_find", skip=1, times=1, seconds=1.0)

    report = install_kibana(kibana_client, load_rules(rules_file), policy, console, chunk_size=2)

    assert report.complete and report.count(Action.CREATE) == 3
    assert output.getvalue().count("retrying") == 2
    with pytest.raises(GhosthireError, match=r"cannot read Kibana's rules: no answer .* in time"):
        kibana.inject("hang", method="GET", path="/_find", times=-1, seconds=1.0)
        install_kibana(kibana_client, load_rules(rules_file), RetryPolicy(1, timeout=0.3), console)


def test_unauthorised_api_key_and_401_midway(
    kibana: FakeKibana,
    kibana_client: KibanaClient,
    rules_file: Path,
    policy: RetryPolicy,
    console: Console,
    output: io.StringIO,
) -> None:
    wrong = KibanaClient(KibanaTarget(kibana.url), "d3Jvbmc6a2V5", policy.timeout)
    with pytest.raises(
        GhosthireError, match=r"Kibana rejected the API key \(HTTP 401\); set a valid KIBANA_API_KEY"
    ):
        install_kibana(wrong, load_rules(rules_file), policy, console)

    kibana.inject("status", method="POST", path=IMPORT, status=401, times=-1)
    with pytest.raises(IncompleteRun, match="rejected the API key"):
        install_kibana(kibana_client, load_rules(rules_file), policy, console)
    assert posts(kibana, IMPORT) == 1  # not retried
    assert KIBANA_API_KEY not in output.getvalue()


def test_uninstall_deletes_only_the_pack_rules(
    kibana: FakeKibana,
    kibana_client: KibanaClient,
    rules_file: Path,
    policy: RetryPolicy,
    console: Console,
    output: io.StringIO,
) -> None:
    rules = load_rules(rules_file)
    install_kibana(kibana_client, rules[:2], policy, console)
    local = {**RULES[2], "rule_id": "site-local-rule", "name": "Site rule"}
    kibana.add_rule(local)
    rule_ids = [str(rule["rule_id"]) for rule in rules]
    kibana.requests.clear()

    uninstall_kibana(kibana_client, rule_ids, policy, console, dry_run=True)
    assert (
        kibana.writes() == []
        and "dry run, nothing was changed: 2 to delete, 1 already absent" in output.getvalue()
    )

    report = uninstall_kibana(kibana_client, rule_ids, policy, console)

    assert (report.count(Action.DELETE), report.count(Action.ABSENT)) == (2, 1)
    assert set(kibana.rules["default"]) == {"site-local-rule"}


def test_spaces(kibana: FakeKibana, rules_file: Path, policy: RetryPolicy, console: Console) -> None:
    soc = KibanaClient(KibanaTarget(kibana.url, space="soc"), KIBANA_API_KEY, policy.timeout)
    install_kibana(soc, load_rules(rules_file), policy, console)
    assert set(kibana.rules["soc"]) == {RMM, CRD, MFA} and kibana.rules["default"] == {}

    missing = KibanaClient(KibanaTarget(kibana.url, space="nope"), KIBANA_API_KEY, policy.timeout)
    with pytest.raises(GhosthireError, match="HTTP 404: Not Found \\(does the space 'nope' exist\\?\\)"):
        install_kibana(missing, load_rules(rules_file), policy, console)


def test_tls_is_verified_by_default(
    tls_files: TlsFiles, rules_file: Path, policy: RetryPolicy, console: Console
) -> None:
    with FakeKibana(KIBANA_API_KEY, tls=tls_files) as kibana:
        untrusted = KibanaClient(KibanaTarget(kibana.url), KIBANA_API_KEY, policy.timeout)
        with pytest.raises(
            GhosthireError, match=r"TLS certificate of https://127\.0\.0\.1:.* did not verify"
        ):
            install_kibana(untrusted, load_rules(rules_file), policy, console)
        trusted = KibanaClient(
            KibanaTarget(kibana.url, ca_file=tls_files.certificate), KIBANA_API_KEY, policy.timeout
        )
        assert install_kibana(trusted, load_rules(rules_file), policy, console).complete


def test_rule_files_are_checked(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    write_rules(folder / "a.ndjson", RULES[:1])
    (folder / "b.ndjson").write_text(json.dumps(RULES[1]) + "\n" + json.dumps({"exported_count": 1}) + "\n")
    assert [rule["rule_id"] for rule in load_rules(folder)] == [RMM, CRD]
    (folder / "c.ndjson").write_text(json.dumps(RULES[0]) + "\n")
    with pytest.raises(ContentError, match=rf"c\.ndjson:1: rule_id '{RMM}' appears twice"):
        load_rules(folder)
    (folder / "c.ndjson").write_text("{not json\n")
    with pytest.raises(ContentError, match=r"c\.ndjson:1: not JSON"):
        load_rules(folder)


def test_a_rate_limited_import_waits_as_long_as_kibana_asks(
    kibana: FakeKibana,
    kibana_client: KibanaClient,
    rules_file: Path,
    policy: RetryPolicy,
    console: Console,
    output: io.StringIO,
) -> None:
    kibana.inject("status", method="POST", path=IMPORT, status=429, retry_after="1")

    report = install_kibana(kibana_client, load_rules(rules_file), replace(policy, deadline=30), console)

    assert report.complete and set(kibana.rules["default"]) == {RMM, CRD, MFA}
    assert "in 1.00s (1): HTTP 429" in output.getvalue()
