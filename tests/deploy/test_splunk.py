"""`install splunk` / `uninstall splunk` driven through the real splunklib against the loopback splunkd."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console

from ghosthire.deploy.report import Action, IncompleteRun, RunReport
from ghosthire.deploy.retry import RetryPolicy
from ghosthire.deploy.splunk import (
    SplunkCredentials,
    SplunkTarget,
    connect_splunk,
    install_splunk,
    uninstall_splunk,
)
from ghosthire.deploy.splunk_package import load_package
from ghosthire.errors import GhosthireError
from tests.deploy.conftest import (
    MACROS_CONF,
    RMM_TOOLS_CSV,
    SAVEDSEARCHES_CONF,
    SPLUNK_PASSWORD,
    SPLUNK_TOKEN,
    reset,
    write_package,
)
from tests.fakes.server import TlsFiles
from tests.fakes.splunkd import FakeSplunkd

RMM = "Ghosthire - RMM tool not company standard"
CRD = "Ghosthire - Chrome Remote Desktop headless enrolment"
OBJECTS = 10  # the app, a KV collection and its lookup definition, 3 macros, 2 searches, a view, the nav
# The nav comes with every new app (from its template), so an install updates it rather than creating it.
INSTALLED = {
    "app:ghosthire",
    "collection:ghosthire_rmm_tools",
    "transform:ghosthire_rmm_tools",
    "macro:ghosthire_src_windows",
    "macro:ghosthire_rmm_filter",
    "macro:ghosthire_rmm_tools",
    f"savedsearch:{RMM}",
    f"savedsearch:{CRD}",
    "view:ghosthire_overview",
}


def install(
    service: object, package: Path, policy: RetryPolicy, console: Console, dry_run: bool = False
) -> RunReport:
    return install_splunk(service, load_package(package), policy, console, dry_run)  # type: ignore[arg-type]


def test_fresh_install_creates_every_object_with_its_acl(
    splunkd: FakeSplunkd,
    service: object,
    package: Path,
    policy: RetryPolicy,
    console: Console,
    output: io.StringIO,
) -> None:
    report = install(service, package, policy, console)

    assert (report.count(Action.CREATE), report.count(Action.UPDATE)) == (OBJECTS - 1, 1)
    assert "9 created, 1 updated, 0 unchanged" in output.getvalue()
    assert "ghosthire" in splunkd.apps()
    search = splunkd.get("saved/searches", RMM)
    assert search is not None
    assert search.content["search"] == load_package(package).objects[5].attributes["search"]
    assert search.content["search"].count("\n") == 4
    assert (search.content["is_scheduled"], search.content["disabled"], search.content["cron_schedule"]) == (
        "1",
        "1",
        "*/15 * * * *",
    )
    assert (search.sharing, search.owner, search.read, search.write) == (
        "app",
        "nobody",
        ["*"],
        ["admin", "sc_admin"],
    )
    assert splunkd.get("configs/conf-macros", "ghosthire_rmm_filter").sharing == "global"  # type: ignore[union-attr]
    assert splunkd.get("data/ui/views", "ghosthire_overview").content["eai:data"].startswith("<dashboard")  # type: ignore[union-attr]
    definition = splunkd.get("configs/conf-transforms", "ghosthire_rmm_tools")
    assert definition is not None and definition.content["external_type"] == "kvstore"
    rows = splunkd.kv[("ghosthire", "ghosthire_rmm_tools")]
    assert sorted(row["process_name"] for row in rows) == [
        "anydesk.exe",
        "jumpconnect.exe",
        "remoting_host.exe",
        "rustdesk.exe",
    ]
    assert splunkd.names("configs/conf-ghosthire_install") == INSTALLED


def test_second_run_changes_nothing_and_sends_no_write(
    splunkd: FakeSplunkd,
    service: object,
    package: Path,
    policy: RetryPolicy,
    console: Console,
    output: io.StringIO,
) -> None:
    install(service, package, policy, console)
    splunkd.requests.clear()

    report = install(service, package, policy, console)

    assert report.count(Action.UNCHANGED) == OBJECTS
    assert splunkd.writes() == []
    assert "install splunk app ghosthire: 0 created, 0 updated, 10 unchanged" in output.getvalue()


def test_dry_run_prints_the_diff_and_writes_nothing(
    splunkd: FakeSplunkd,
    service: object,
    package: Path,
    policy: RetryPolicy,
    console: Console,
    output: io.StringIO,
    tmp_path: Path,
) -> None:
    install(service, package, policy, console, dry_run=True)
    assert splunkd.writes() == []
    assert "ghosthire" not in splunkd.apps()
    assert f"+ savedsearch:{RMM}" in output.getvalue()
    assert "dry run, nothing was changed: 10 to create, 0 to update, 0 unchanged" in output.getvalue()

    install(service, package, policy, console)
    changed = write_package(
        tmp_path / "v2",
        {
            "default/macros.conf": MACROS_CONF.replace("OUTPUT vendor", "OUTPUT vendor category"),
            "lookups/ghosthire_rmm_tools.csv": RMM_TOOLS_CSV + "splashtop.exe,Splashtop\n",
        },
    )
    splunkd.requests.clear()
    reset(output)

    report = install(service, changed, policy, console, dry_run=True)

    assert splunkd.writes() == []
    assert report.count(Action.UPDATE) == 2
    text = output.getvalue()
    assert "~ macro:ghosthire_rmm_tools" in text
    assert (
        "    definition: '…s_name AS process_name OUTPUT vendor' -> '…s_name AS process_name OUTPUT vendor category'\n"
        in text
    )
    assert "rows: '4 rows #" in text and "-> '5 rows #" in text
    assert len(splunkd.kv[("ghosthire", "ghosthire_rmm_tools")]) == 4


def test_admin_tuning_is_never_overwritten(
    splunkd: FakeSplunkd,
    service: object,
    package: Path,
    policy: RetryPolicy,
    console: Console,
    output: io.StringIO,
    tmp_path: Path,
) -> None:
    install(service, package, policy, console)
    search = splunkd.get("saved/searches", RMM)
    assert search is not None
    tuning = {
        "disabled": "0",
        "cron_schedule": "*/5 * * * *",
        "dispatch.earliest_time": "-4h",
        "alert.suppress.period": "4h",
    }
    search.content.update(tuning)
    splunkd.get("configs/conf-macros", "ghosthire_rmm_filter").content["definition"] = (
        'search NOT host="vdi-*"'  # type: ignore[union-attr]
    )
    splunkd.get("configs/conf-macros", "ghosthire_src_windows").content["definition"] = "index=edr"  # type: ignore[union-attr]
    splunkd.get("configs/conf-macros", "ghosthire_rmm_filter").write = ["admin", "soc_lead"]  # type: ignore[union-attr]
    new_search = SAVEDSEARCHES_CONF.replace(
        "| where isnotnull(vendor)", '| where isnotnull(vendor) AND vendor!=""'
    )
    v2 = write_package(
        tmp_path / "v2",
        {
            "default/savedsearches.conf": new_search,
            "default/macros.conf": MACROS_CONF.replace('"jump-*"', '"jump-*", "bastion-*"'),
        },
    )
    reset(output)

    report = install(service, v2, policy, console)

    updated = [change for change in report.changes if change.action is Action.UPDATE]
    assert [(c.object_id, [f.key for f in c.fields]) for c in updated] == [(f"savedsearch:{RMM}", ["search"])]
    assert 'vendor!=""' in search.content["search"]
    assert {key: search.content[key] for key in tuning} == tuning
    assert (
        splunkd.get("configs/conf-macros", "ghosthire_rmm_filter").content["definition"]
        == 'search NOT host="vdi-*"'
    )  # type: ignore[union-attr]
    assert splunkd.get("configs/conf-macros", "ghosthire_rmm_filter").write == ["admin", "soc_lead"]  # type: ignore[union-attr]
    assert splunkd.get("configs/conf-macros", "ghosthire_src_windows").content["definition"] == "index=edr"  # type: ignore[union-attr]
    assert install(service, v2, policy, console).count(Action.UNCHANGED) == OBJECTS


def test_failure_midway_reports_what_was_applied_and_a_rerun_converges(
    splunkd: FakeSplunkd,
    service: object,
    package: Path,
    policy: RetryPolicy,
    console: Console,
    output: io.StringIO,
) -> None:
    splunkd.inject("status", method="POST", path="/saved/searches", times=-1, status=500)

    with pytest.raises(IncompleteRun) as raised:
        install(service, package, policy, console)

    message = str(raised.value)
    assert f"stopped at savedsearch:{RMM}: HTTP 500" in message
    assert "(gave up after 3 attempts)" in message and "Run the same command again to finish" in message
    assert "\n" not in message
    text = output.getvalue()
    assert "not applied (4):" in text
    for object_id in (f"savedsearch:{RMM}", f"savedsearch:{CRD}", "view:ghosthire_overview", "nav:default"):
        assert f"  {object_id}" in text
    assert "+ macro:ghosthire_rmm_tools" in text
    assert splunkd.names("saved/searches") == set() and "ghosthire_rmm_tools" in splunkd.names(
        "configs/conf-macros"
    )
    assert (
        sum(1 for method, path in splunkd.requests if method == "POST" and path.endswith("/saved/searches"))
        == 3
    )

    splunkd.clear_faults()
    reset(output)
    rerun = install(service, package, policy, console)

    assert [rerun.count(action) for action in (Action.CREATE, Action.UPDATE, Action.UNCHANGED)] == [3, 1, 6]
    assert splunkd.names("saved/searches") == {RMM, CRD}
    assert splunkd.names("configs/conf-ghosthire_install") == INSTALLED
    assert install(service, package, policy, console).count(Action.UNCHANGED) == OBJECTS


def test_transient_errors_resets_and_timeouts_are_retried(
    splunkd: FakeSplunkd,
    service: object,
    package: Path,
    policy: RetryPolicy,
    console: Console,
    output: io.StringIO,
) -> None:
    splunkd.inject("status", method="GET", path="/saved/searches/", times=2, status=503)
    splunkd.inject("reset", method="POST", path="/data/ui/views", times=1)
    splunkd.inject("hang", method="POST", path="/configs/conf-macros", times=1, seconds=1.0)
    # The collection is created but the answer is lost: the retry must find it, not create it twice.
    splunkd.inject("reset-after", method="POST", path="/storage/collections/config", times=1)

    report = install(service, package, policy, console)

    assert report.complete
    assert output.getvalue().count("retrying") == 5
    assert "no answer from http://127.0.0.1" in output.getvalue()
    assert "connection to http://127.0.0.1" in output.getvalue()
    assert len(splunkd.kv[("ghosthire", "ghosthire_rmm_tools")]) == 4
    assert splunkd.get("storage/collections/config", "ghosthire_rmm_tools").write == ["admin", "sc_admin"]  # type: ignore[union-attr]
    assert install(service, package, policy, console).count(Action.UNCHANGED) == OBJECTS


def test_expired_session_logs_in_again_once(
    splunkd: FakeSplunkd, service: object, package: Path, policy: RetryPolicy, console: Console
) -> None:
    splunkd.inject("run", method="POST", path="/saved/searches", action=splunkd.expire_sessions)

    report = install(service, package, policy, console)

    assert report.complete and report.count(Action.CREATE) == OBJECTS - 1
    assert splunkd.logins == 2


def test_revoked_token_stops_with_a_clear_report(
    splunkd: FakeSplunkd,
    splunk_target: SplunkTarget,
    package: Path,
    policy: RetryPolicy,
    console: Console,
    output: io.StringIO,
) -> None:
    service = connect_splunk(splunk_target, SplunkCredentials(token=SPLUNK_TOKEN), policy)
    splunkd.inject("run", method="POST", path="/saved/searches", action=splunkd.tokens.clear)

    with pytest.raises(IncompleteRun) as raised:
        install(service, package, policy, console)

    assert "Splunk rejected the token (HTTP 401): it expired or was revoked" in str(raised.value)
    assert "(gave up" not in str(raised.value)  # a 401 is not retried
    assert f"  savedsearch:{RMM}" in output.getvalue()
    assert SPLUNK_TOKEN not in output.getvalue() + str(raised.value)


def test_wrong_password_is_one_clear_line(splunk_target: SplunkTarget, policy: RetryPolicy) -> None:
    with pytest.raises(GhosthireError) as raised:
        connect_splunk(splunk_target, SplunkCredentials(username="admin", password="wrong-Pw1"), policy)
    expected = f"cannot connect to Splunk at http://127.0.0.1:{splunk_target.port}: Splunk rejected the login of 'admin'"
    assert str(raised.value) == expected + " (HTTP 401)"


def test_uninstall_removes_exactly_what_install_created(
    splunkd: FakeSplunkd,
    service: object,
    package: Path,
    policy: RetryPolicy,
    console: Console,
    output: io.StringIO,
) -> None:
    install(service, package, policy, console)
    splunkd.put("saved/searches", "Local triage", {"search": "index=main"}, app="ghosthire")
    splunkd.put(
        "configs/conf-macros", "site_vpn_ranges", {"definition": "10.0.0.0/8"}, app="search", sharing="global"
    )
    splunkd.requests.clear()

    uninstall_splunk(service, policy, console, dry_run=True)  # type: ignore[arg-type]
    assert splunkd.writes() == []
    assert f"- savedsearch:{RMM}" in output.getvalue()

    report = uninstall_splunk(service, policy, console)  # type: ignore[arg-type]

    assert report.count(Action.DELETE) == len(INSTALLED) - 1  # all but the app
    assert [c.note for c in report.changes if c.action is Action.KEEP] == [
        "holds 1 objects ghosthire did not install, e.g. savedsearch:Local triage"
    ]
    assert splunkd.names("saved/searches") == {"Local triage"}
    assert splunkd.get("configs/conf-macros", "site_vpn_ranges", app="search") is not None
    assert splunkd.names("configs/conf-macros") == set()
    assert ("ghosthire", "ghosthire_rmm_tools") not in splunkd.kv
    assert splunkd.names("configs/conf-ghosthire_install") == {"app:ghosthire"}

    del splunkd.objects[("saved/searches", "ghosthire", "Local triage")]
    again = uninstall_splunk(service, policy, console)  # type: ignore[arg-type]
    assert [c.object_id for c in again.changes if c.action is Action.DELETE] == ["app:ghosthire"]
    assert "ghosthire" not in splunkd.apps()


def test_an_object_of_another_app_is_refused_and_left_alone(
    splunkd: FakeSplunkd, service: object, package: Path, policy: RetryPolicy, console: Console
) -> None:
    splunkd.put("saved/searches", RMM, {"search": "index=theirs"}, app="search", sharing="global")

    with pytest.raises(
        IncompleteRun, match=rf"savedsearch:{RMM} was refused: .* already exists in app 'search'"
    ):
        install(service, package, policy, console)

    assert splunkd.get("saved/searches", RMM, app="search").content == {"search": "index=theirs"}  # type: ignore[union-attr]
    assert splunkd.names("saved/searches") == {CRD}


def test_tls_is_verified_by_default(
    tls_files: TlsFiles, package: Path, policy: RetryPolicy, console: Console
) -> None:
    credentials = SplunkCredentials(username="admin", password=SPLUNK_PASSWORD)
    with FakeSplunkd(password=SPLUNK_PASSWORD, tls=tls_files) as splunkd:
        target = SplunkTarget("127.0.0.1", splunkd.port, "https")
        with pytest.raises(
            GhosthireError, match=r"TLS certificate of 127\.0\.0\.1 did not verify .*--ca-file"
        ):
            connect_splunk(target, credentials, policy)
        assert splunkd.requests == []  # refused at the handshake, and not retried

        verified = SplunkTarget("127.0.0.1", splunkd.port, "https", ca_file=tls_files.certificate)
        assert install(connect_splunk(verified, credentials, policy), package, policy, console).complete

        insecure = SplunkTarget("127.0.0.1", splunkd.port, "https", insecure=True)
        assert install(connect_splunk(insecure, credentials, policy), package, policy, console).complete


def test_lookup_rows_are_the_packs_until_changed_in_splunk(
    splunkd: FakeSplunkd,
    service: object,
    package: Path,
    policy: RetryPolicy,
    console: Console,
    output: io.StringIO,
    tmp_path: Path,
) -> None:
    splunkd.inject("status", method="POST", path="/batch_save", times=-1)
    with pytest.raises(IncompleteRun, match="stopped at collection:ghosthire_rmm_tools"):
        install(service, package, policy, console)
    splunkd.clear_faults()
    install(service, package, policy, console)  # the collection was created, but never filled
    rows = splunkd.kv[("ghosthire", "ghosthire_rmm_tools")]
    assert len(rows) == 4

    v2 = write_package(
        tmp_path / "v2", {"lookups/ghosthire_rmm_tools.csv": RMM_TOOLS_CSV + "splashtop.exe,Splashtop\n"}
    )
    assert install(service, v2, policy, console).count(Action.UPDATE) == 1
    assert len(rows) == 5

    rows.append({"process_name": "approved-tool.exe", "vendor": "Site", "_key": "site1", "_user": "nobody"})
    v3 = write_package(tmp_path / "v3", {"lookups/ghosthire_rmm_tools.csv": RMM_TOOLS_CSV})
    reset(output)
    report = install(service, v3, policy, console)

    assert report.count(Action.UNCHANGED) == OBJECTS and len(rows) == 6
    assert (
        "= collection:ghosthire_rmm_tools  (rows kept: changed in Splunk since ghosthire wrote them)"
        in output.getvalue()
    )
    uninstall_splunk(service, policy, console)  # type: ignore[arg-type]
    assert (
        "- collection:ghosthire_rmm_tools  (with rows changed in Splunk since install)" in output.getvalue()
    )


def test_a_busy_splunk_is_asked_again_when_its_retry_after_says(
    splunkd: FakeSplunkd,
    service: object,
    package: Path,
    policy: RetryPolicy,
    console: Console,
    output: io.StringIO,
) -> None:
    splunkd.inject("status", method="GET", path="/saved/searches/", status=503, retry_after="1")

    report = install(service, package, replace(policy, deadline=30), console)

    assert report.complete
    assert "in 1.00s (1): HTTP 503" in output.getvalue()
