"""Google Workspace in Splunk: event names and parameters as the Splunk Add-on for Google Workspace indexes them.

The add-on writes one Splunk event per Reports API event, the event under `event` and its parameters as
a JSON array of typed {"name", "value"|...} objects; the `ghosthire_gws_parameters` macro turns the ones the
pipeline maps into `gws_parameter_<name>` fields. These tests run the shipped macro and the rules' own
searches in the SPL interpreter over events shaped like the add-on's (tests/splunk/splunk_events.py).
"""

from __future__ import annotations

import pytest

from ghosthire.compile import Target, TargetOutput
from ghosthire.rules import RulePack
from ghosthire.splunk.conf import parse_conf
from ghosthire.splunk.gws import MACRO, gws_parameters
from tests.conftest import shipped_cases
from tests.splunk.spl_window import app_lookups, run
from tests.splunk.splunk_events import NULL_MODELS, splunk_events

CASES = shipped_cases()


@pytest.fixture(scope="module")
def macros(app_files: dict[str, bytes]) -> dict[str, str]:
    conf = parse_conf(app_files["default/macros.conf"].decode("utf-8"), "macros.conf")
    return {name: keys["definition"] for name, keys in conf.items()}


def gws_rules(pack: RulePack) -> list[str]:
    return [
        rule.name
        for rule in pack.rules
        if any(
            getattr(dep.rule, "logsource", None) is not None
            and dep.rule.logsource.product == "google_workspace"
            for dep in pack.dependencies(rule)
        )
    ]


def test_every_google_workspace_rule_compiles_and_reads_parameters_through_the_macro(
    pack: RulePack, splunk_output: TargetOutput
) -> None:
    compiled = {item.rule.name: item for item in splunk_output.compiled}
    names = gws_rules(pack)
    assert {"gws_drive_shared_externally", "gws_drive_mass_download"} <= set(names)
    for name in names:
        assert compiled[name].ok, f"{name}: {compiled[name].skipped}"
        query = str(compiled[name].queries[0])
        assert f"\n| `{MACRO}`\n| search " in query or f" | `{MACRO}`\n| search " in query, name
        assert "events{}" not in query, name


def test_the_macro_extracts_every_mapped_parameter(splunk_target: Target, macros: dict[str, str]) -> None:
    parameters = gws_parameters(splunk_target)
    assert {"doc_id", "visibility"} <= {p.name for p in parameters}
    definition = macros[MACRO]
    for parameter in parameters:
        assert f'="{parameter.name}"), 0), {parameter.field}=coalesce(' in definition


def test_parameters_are_paired_by_name_not_by_position(macros: dict[str, str]) -> None:
    """Booleans and lists have no `value`: Splunk's parallel name/value lists would pair them wrongly."""
    raw = {
        "actor": {"email": "jo@example.com"},
        "event": {
            "name": "change_user_access",
            "parameters": [
                {"name": "primary_event", "boolValue": True},
                {"name": "old_value", "multiValue": ["none"]},
                {"name": "doc_id", "value": "1AbC"},
                {"name": "visibility", "value": "shared_externally"},
                {"name": "login_challenge_method", "multiValue": ["password", "security_key"]},
                {"name": "is_suspicious", "boolValue": False},
            ],
        },
    }
    indexed = {"_raw": raw, "_time": 0, "index": "main", "sourcetype": "gws:reports:drive"}
    [event] = run(f"`ghosthire_src_gws_drive` | `{MACRO}`", [indexed], macros=macros)
    assert event["gws_parameter_doc_id"] == "1AbC"
    assert event["gws_parameter_visibility"] == "shared_externally"
    assert event["gws_parameter_login_challenge_method"] == ["password", "security_key"]
    assert event["gws_parameter_is_suspicious"] == "false"
    assert event["gws_parameter_owner"] is None


@pytest.mark.parametrize("nulls", NULL_MODELS)
def test_google_workspace_rules_on_their_test_events(
    pack: RulePack,
    splunk_output: TargetOutput,
    macros: dict[str, str],
    app_files: dict[str, bytes],
    nulls: str,
) -> None:
    """Single-event rules: each must-fire event returns a row, must-not-fire events none (correlations:
    test_correlation_cases.py)."""
    compiled = {item.rule.name: item for item in splunk_output.ok()}
    checked = 0
    for name in gws_rules(pack):
        if pack.get(name).is_correlation:
            continue
        query = str(compiled[name].queries[0])
        for verdict, listed in (("fire", CASES[name].must_fire), ("quiet", CASES[name].must_not_fire)):
            for case in listed:
                events = splunk_events(case.events, CASES[name].source_of(case), nulls)
                rows = run(query, events, macros=macros, lookups=app_lookups(app_files))
                expected = len(events) if verdict == "fire" else 0
                assert len(rows) == expected, f"{name} / {case.name}: {len(rows)} of {len(events)} events"
                checked += 1
    assert checked
