"""Tuning without editing rules: the Sigma filters in sigma_rules/filters/ reach every target."""

from __future__ import annotations

import re

import pytest

import ghosthire.compile.targets as targets_module
from ghosthire.compile import TargetOutput, compile_target
from ghosthire.compile.targets import target_by_id
from ghosthire.hunt import HuntPlan, build_plan, hunt_events
from ghosthire.model.sources import source_by_id
from ghosthire.rules import RulePack
from tests.conftest import shipped_cases

RULE = "win_rmm_dprk_reported_tool_execution"


@pytest.fixture
def anydesk_sanctioned(monkeypatch: pytest.MonkeyPatch) -> None:
    """The admin lists AnyDesk in ghosthire_sanctioned_rmm.csv (process column)."""
    shipped = targets_module.placeholder_values()

    def with_anydesk() -> dict[str, list[str]]:
        return {**shipped, "sanctioned_rmm_process": [*shipped["sanctioned_rmm_process"], "\\AnyDesk.exe"]}

    monkeypatch.setattr(targets_module, "placeholder_values", with_anydesk)


def _anydesk_events() -> list[dict]:
    """The rule's must-fire events whose process image is AnyDesk.exe (what the admin sanctions)."""
    windows = source_by_id("windows")
    cases = shipped_cases()[RULE]
    return [
        event
        for case in cases.must_fire
        for event in case.events
        if str(windows.value(event, "Image") or "").lower().endswith("\\anydesk.exe")
    ]


def test_shipped_filters_leave_the_must_fire_events_alone(hunt_plan: HuntPlan) -> None:
    outcome = hunt_events(hunt_plan, _anydesk_events())
    assert any(alert.rule.name == RULE for alert in outcome.alerts)


@pytest.mark.usefixtures("anydesk_sanctioned")
def test_sanctioned_tool_is_excluded_locally(pack: RulePack) -> None:
    events = _anydesk_events()
    assert events, "the rule's test events must include an AnyDesk execution"
    outcome = hunt_events(build_plan(pack.subset([RULE])), events)
    assert [alert for alert in outcome.alerts if alert.rule.name == RULE] == []


def test_splunk_reads_the_sanctioned_list_when_the_search_runs(
    target_outputs: dict[str, TargetOutput],
) -> None:
    """Splunk reads the list at search time (tests/splunk/test_search_time_lookups.py edits it there)."""
    compiled = next(item for item in target_outputs["splunk"].compiled if item.rule.name == RULE)
    assert "NOT [| inputlookup ghosthire_sanctioned_rmm | where len(process) > 0" in str(compiled.queries[0])


@pytest.mark.usefixtures("anydesk_sanctioned")
@pytest.mark.parametrize("target_id", ["eql", "esql", "lucene", "local"])
def test_sanctioned_tool_is_excluded_on_every_build_time_target(pack: RulePack, target_id: str) -> None:
    # Compiled again: the placeholder values (the sanctioned list) are read when a pipeline is built.
    (compiled,) = compile_target(pack.subset([RULE]), target_by_id(target_id)).compiled
    assert compiled.ok, compiled.skipped
    # Lucene spells case-insensitive terms as [xX] classes; read them back as plain letters.
    query = re.sub(r"\[(.)\1\]", r"\1", " ".join(str(query) for query in compiled.queries).lower())
    assert "exampl" in query and "anydesk" in query
    # The exclusion stands after a negation in every language the pack emits.
    assert query.count("anydesk") >= 2


@pytest.mark.parametrize("target_id", ["splunk", "esql", "local"])
def test_a_filter_shared_by_several_rules_compiles_for_each(
    target_outputs: dict[str, TargetOutput], target_id: str
) -> None:
    """One filter applied to several rules must not be field-mapped twice (once per rule) in place."""
    output = {item.rule.name: item for item in target_outputs[target_id].compiled}
    for name in ("entra_signin_success", "entra_signin_success_registered_device"):
        assert output[name].ok, output[name].skipped
        text = " ".join(str(query) for query in output[name].queries)
        # the shipped example range, or (Splunk) the lookup it is read from when the search runs
        assert "198" in text or "inputlookup ghosthire_corporate_egress" in text


# macOS: an allowed tool is listed in the same lookup column as on Windows, by its executable path suffix
# or by its code-signing identifier (eslogger's signing_id): (rule, placeholder, listed value).
MAC_ALLOWED = [
    ("mac_rmm_tool_execution", "sanctioned_rmm_process", "/AnyDesk.app/Contents/MacOS/AnyDesk"),
    ("mac_rmm_tool_execution", "sanctioned_rmm_process", "com.philandro.anydesk"),
    ("mac_consumer_vpn_client_execution", "approved_vpn_process", "com.astrill.astrill"),
    (
        "mac_mouse_jiggler_execution",
        "approved_keep_awake_process",
        "/Amphetamine.app/Contents/MacOS/Amphetamine",
    ),
]


@pytest.mark.parametrize(("rule", "placeholder", "value"), MAC_ALLOWED)
def test_an_allowed_mac_tool_is_excluded_and_the_others_still_alert(
    pack: RulePack, monkeypatch: pytest.MonkeyPatch, rule: str, placeholder: str, value: str
) -> None:
    """A must-fire case whose program the admin lists goes quiet; the others, an unsigned copy of a listed
    signing identity among them, still alert."""
    shipped = targets_module.placeholder_values()
    listed = {**shipped, placeholder: [*shipped[placeholder], value]}
    monkeypatch.setattr(targets_module, "placeholder_values", lambda: listed)
    eslogger = source_by_id("macos_eslogger")
    plan = build_plan(pack.subset([rule]))
    quiet = 0
    for case in shipped_cases()[rule].must_fire:
        allowed = any(
            str(eslogger.value(event, "Image")).endswith(value) or eslogger.value(event, "SigningId") == value
            for event in case.events
        )
        fired = any(alert.rule.name == rule for alert in hunt_events(plan, case.events).alerts)
        assert fired is not allowed, f"{rule}: {case.name} (allowed: {allowed})"
        quiet += allowed
    assert quiet >= 1, f"no must-fire case of {rule} runs {value}"


def test_kibana_excepts_an_allowed_mac_tool_by_signing_id(pack: RulePack, tmp_path) -> None:
    """On Kibana the filter is an exception list: an `is in list` item on the signing identifier."""
    from ghosthire.content import splunk_app_dir
    from ghosthire.deploy.kibana_lists import tuning_objects
    from ghosthire.elastic.ecs import to_ecs
    from ghosthire.elastic.exceptions import run_time_filters
    from tests.elastic.engines import KibanaExceptions

    for lookup in (splunk_app_dir() / "lookups").glob("*.csv"):
        (tmp_path / lookup.name).write_bytes(lookup.read_bytes())
    sanctioned = tmp_path / "ghosthire_sanctioned_rmm.csv"
    sanctioned.write_text(sanctioned.read_text(encoding="utf-8") + "AnyDesk,com.philandro.anydesk,,,\n")
    exceptions = KibanaExceptions(tuning_objects(run_time_filters(pack), tmp_path))
    rule = {"exceptions_list": [{"list_id": "ghosthire-sanctioned-rmm-process-macos"}]}
    pack_rule = pack.get("mac_rmm_tool_execution")
    source = source_by_id("macos_eslogger")
    verdicts = {
        case.name: exceptions.excepted(rule, to_ecs(case.events[0], pack_rule.rule.logsource, source))
        for case in shipped_cases()["mac_rmm_tool_execution"].must_fire
    }
    assert verdicts["AnyDesk started from Applications"] is True
    assert not all(verdicts.values()), verdicts
