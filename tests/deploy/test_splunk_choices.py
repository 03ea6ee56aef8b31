"""`install splunk --enable ... --index ...`: a chosen set of searches enabled and the source macros narrowed
in one step, on a fresh install and over an existing one, checked before anything is written."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from ghosthire.commands.deploy import install
from ghosthire.deploy.report import Action
from ghosthire.deploy.retry import RetryPolicy
from ghosthire.deploy.splunk import install_splunk
from ghosthire.deploy.splunk_choices import SiteChoices, apply_choices, parse_index_options
from ghosthire.deploy.splunk_package import load_package
from ghosthire.errors import GhosthireError
from tests.deploy.conftest import SAVEDSEARCHES_CONF, SPLUNK_TOKEN, write_package
from tests.fakes.splunkd import FakeSplunkd

RMM = "Ghosthire - RMM tool not company standard"  # remote-access, high
CRD = "Ghosthire - Chrome Remote Desktop headless enrolment"  # remote-access + least-privilege, medium


def server(splunkd: FakeSplunkd) -> list[str]:
    return ["--host", "127.0.0.1", "--port", str(splunkd.port), "--scheme", "http"]


def chosen(package: Path, *enable: str, index: tuple[str, ...] = ()) -> object:
    return apply_choices(load_package(package), SiteChoices(enable, parse_index_options(index)))


def disabled(splunkd: FakeSplunkd) -> dict[str, str]:
    return {name: splunkd.get("saved/searches", name).content["disabled"] for name in (RMM, CRD)}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("selectors", "enabled"),
    [
        (("all",), {RMM, CRD}),
        (("recommended",), {CRD}),
        (("level:high",), {RMM}),
        (("level:medium",), {RMM, CRD}),
        (("guidance:least-privilege",), {CRD}),
        (("guidance:least-privilege", f"search:{RMM}"), {RMM, CRD}),
    ],
)
def test_selectors_choose_by_annotation(package: Path, selectors: tuple[str, ...], enabled: set[str]) -> None:
    objects = chosen(package, *selectors).objects  # type: ignore[attr-defined]
    searches = {obj.name: obj.attributes["disabled"] for obj in objects if obj.kind.name == "savedsearch"}
    assert {name for name, value in searches.items() if value == "0"} == enabled


def test_detections_bring_the_identity_keys_search_and_a_first_seen_one_its_baseline(tmp_path: Path) -> None:
    baseline, keys = (
        f"{RMM} (first-seen baseline)",
        "Ghosthire - Identity keys from the identity and asset lookups",
    )
    stanzas = (
        f"\n[{baseline}]\nsearch = `ghosthire_src_windows` EventCode=1\ndisabled = 1\n"
        'action.correlationsearch.annotations = {"ghosthire_role":"baseline",'
        f'"ghosthire_baseline_of":"{RMM}"}}\n'
        f"\n[{keys}]\nsearch = | inputlookup ghosthire_identities\ndisabled = 1\n"
        'action.correlationsearch.annotations = {"ghosthire_role":"identity-keys"}\n'
    )
    package = write_package(tmp_path, {"default/savedsearches.conf": SAVEDSEARCHES_CONF + stanzas})
    for selectors, enabled in (
        (("level:high",), {RMM, baseline, keys}),
        (("recommended",), {CRD, keys}),
        (("all",), {RMM, CRD, baseline, keys}),
        ((), set()),
    ):
        objects = chosen(package, *selectors).objects  # type: ignore[attr-defined]
        searches = {obj.name: obj.attributes["disabled"] for obj in objects if obj.kind.name == "savedsearch"}
        assert {name for name, value in searches.items() if value == "0"} == enabled, selectors


@pytest.mark.parametrize(
    ("enable", "index", "message"),
    [
        (("guidance:nope",), (), "--enable 'guidance:nope' matches no search"),
        (("level:severe",), (), "the level is one of informational, low, medium, high, critical"),
        (("everything",), (), "expected all, recommended, guidance:<area>"),
        ((), ("okta",), "expected SOURCE=INDEX"),
        ((), ("okta=",), "expected SOURCE=INDEX"),
        ((), ("windows=bad index",), "is not an index name"),
        ((), ("okta=okta",), "no source macro ghosthire_src_okta; sources: windows"),
    ],
)
def test_a_bad_choice_is_one_line_naming_it(
    package: Path, enable: tuple[str, ...], index: tuple[str, ...], message: str
) -> None:
    with pytest.raises(GhosthireError, match=message.replace("(", r"\(").replace(")", r"\)")):
        chosen(package, *enable, index=index)


def test_index_choice_narrows_the_source_macro(package: Path) -> None:
    [macro] = [
        obj
        for obj in chosen(package, index=("windows=wineventlog,sysmon",)).objects  # type: ignore[attr-defined]
        if obj.name == "ghosthire_src_windows"
    ]
    assert macro.attributes["definition"] == "(index=wineventlog OR index=sysmon) sourcetype=XmlWinEventLog"
    [macro] = [
        obj
        for obj in chosen(package, index=("windows=win",)).objects  # type: ignore[attr-defined]
        if obj.name == "ghosthire_src_windows"
    ]
    assert macro.attributes["definition"] == "index=win sourcetype=XmlWinEventLog"


def test_choices_apply_over_an_existing_install_and_converge(
    splunkd: FakeSplunkd, service: object, package: Path, policy: RetryPolicy
) -> None:
    console = Console(file=io.StringIO(), width=200)
    install_splunk(service, load_package(package), policy, console)  # type: ignore[arg-type]
    assert disabled(splunkd) == {RMM: "1", CRD: "1"}

    choice = chosen(package, "level:high", index=("windows=wineventlog",))
    report = install_splunk(service, choice, policy, console)  # type: ignore[arg-type]
    assert report.count(Action.UPDATE) == 2  # the search and the source macro, admin-owned otherwise
    assert disabled(splunkd) == {RMM: "0", CRD: "1"}
    macro = splunkd.get("configs/conf-macros", "ghosthire_src_windows")
    assert macro is not None and macro.content["definition"].startswith("index=wineventlog ")

    again = install_splunk(service, choice, policy, console)  # type: ignore[arg-type]
    assert again.count(Action.UPDATE) == 0 and again.count(Action.CREATE) == 0

    # without choices, a later install leaves what the admin (or an earlier choice) set
    plain = install_splunk(service, load_package(package), policy, console)  # type: ignore[arg-type]
    assert plain.count(Action.UPDATE) == 0
    assert disabled(splunkd) == {RMM: "0", CRD: "1"}


def test_the_cli_refuses_a_bad_selector_before_connecting(splunkd: FakeSplunkd, package: Path) -> None:
    result = CliRunner().invoke(
        install,
        ["splunk", "--package", str(package), "--enable", "guidance:nope", *server(splunkd)],
        env={"SPLUNK_TOKEN": SPLUNK_TOKEN},
    )
    assert isinstance(result.exception, GhosthireError)
    assert "--enable 'guidance:nope' matches no search" in str(result.exception)
    assert splunkd.requests == [] and "ghosthire" not in splunkd.apps()


def test_the_cli_enables_and_narrows_in_one_step(splunkd: FakeSplunkd, package: Path) -> None:
    result = CliRunner().invoke(
        install,
        [
            "splunk",
            "--package",
            str(package),
            "--enable",
            "recommended",
            "--index",
            "windows=win",
            *server(splunkd),
        ],
        env={"SPLUNK_TOKEN": SPLUNK_TOKEN},
    )
    assert result.exit_code == 0, result.output
    assert disabled(splunkd) == {RMM: "1", CRD: "0"}
