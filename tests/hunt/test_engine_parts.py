"""A small input is read into a table and its rules matched in parts, a large one streamed through one
statement of all the rules: both find the same alerts."""

from __future__ import annotations

import pytest

from ghosthire.hunt import build_plan, run
from ghosthire.hunt import extract as extraction
from ghosthire.rules.cases import RuleCases
from tests.conftest import shipped_pack

# Windows rules on several EventIDs (record groups), one on every record of the source, and a
# correlation over the rules it references.
RULES = (
    "win_rdp_enabled_via_registry",
    "win_usb_keyboard_interface_connected",
    "win_rmm_catalog_process_execution",
    "win_rmm_multiple_families_on_host",
    "okta_authenticator_device_shared_by_users",
)


def test_rules_matched_in_parts_find_what_one_statement_finds(
    rule_cases: dict[str, RuleCases], monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = build_plan(shipped_pack().subset(RULES)).with_building_blocks()
    events = [event for name in RULES for case in rule_cases[name].must_fire for event in case.events]

    def found() -> list[tuple[str, tuple[str, ...]]]:
        alerts = run.hunt_events(plan, events).alerts
        return sorted((alert.rule.name, tuple(map(str, alert.locations))) for alert in alerts)

    # One rule a part: every rule is matched by a statement of its own.
    monkeypatch.setattr(extraction, "MATCH_SQL_PER_STATEMENT", 1)
    in_parts = found()
    monkeypatch.setattr(run, "SMALL_INPUT_BYTES", -1)
    assert {name for name, _ in in_parts} >= set(RULES)
    assert in_parts == found()
