"""Every part of the FBI guidance stays covered, on at least two log sources where two exist."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ghosthire.compile import TargetOutput
from ghosthire.coverage import AreaCoverage, coverage, navigator_layer, to_markdown
from ghosthire.hunt import HuntPlan
from ghosthire.model.attack import load_attack
from ghosthire.policy import names_its_reporting
from ghosthire.rules import Guidance, RulePack

COVERAGE_DOC = Path(__file__).resolve().parents[1] / "docs" / "coverage.md"


@pytest.fixture(scope="module")
def areas(pack: RulePack, target_outputs: dict[str, TargetOutput], hunt_plan: HuntPlan) -> list[AreaCoverage]:
    return coverage(pack, target_outputs, set(hunt_plan.skipped))


def test_every_guidance_area_is_covered_on_enough_log_sources(areas: list[AreaCoverage]) -> None:
    assert {area.guidance for area in areas} == set(Guidance)
    assert {str(area.guidance): area.gap for area in areas if area.gap} == {}


def test_every_covering_rule_reaches_splunk_elastic_and_the_local_hunt(areas: list[AreaCoverage]) -> None:
    assert sum(len(area.rules) for area in areas) > 50
    for area in areas:
        for entry in area.rules:
            assert "local" in entry.targets, entry.rule.name
            assert "splunk" in entry.targets or "esql" in entry.targets or "eql" in entry.targets, (
                entry.rule.name
            )


def test_every_covering_rule_names_the_reporting_it_answers(areas: list[AreaCoverage]) -> None:
    unreported = sorted(
        {entry.rule.name for area in areas for entry in area.rules if not entry.rule.meta.reporting}
    )
    assert unreported == []


def test_a_rule_without_reporting_breaks_the_policy_a_building_block_does_not(pack: RulePack) -> None:
    alerting = pack.get("github_git_push_from_new_country")
    assert alerting.meta and alerting.meta.reporting and list(names_its_reporting(alerting)) == []
    unreported = replace(alerting, meta=alerting.meta.model_copy(update={"reporting": []}))
    assert [message for message in names_its_reporting(unreported) if "reporting" in message]
    building_block = pack.get("github_private_repo_clone")
    assert building_block.rule.custom_attributes.get("building_block") and not building_block.meta.reporting
    assert list(names_its_reporting(building_block)) == []


def test_coverage_document_is_current(areas: list[AreaCoverage]) -> None:
    assert COVERAGE_DOC.read_text(encoding="utf-8") == to_markdown(areas), (
        "docs/coverage.md is stale: run `ghosthire coverage --markdown docs/coverage.md`"
    )


def test_the_navigator_layer_holds_every_covering_rules_techniques_under_their_tactics(
    areas: list[AreaCoverage],
) -> None:
    layer = navigator_layer(areas)
    assert layer["domain"] == "enterprise-attack" and layer["versions"]["layer"] == "4.5"
    bundle = load_attack()
    cells = {(entry["techniqueID"], entry["tactic"]): entry for entry in layer["techniques"]}
    for area in areas:
        for item in area.rules:
            for technique_id in item.rule.attack_ids:
                for tactic in bundle.technique(technique_id).tactics:
                    cell = cells[(technique_id, tactic)]
                    assert item.rule.name in cell["comment"].split(", ")
                    assert 1 <= cell["score"] <= 5
    assert all(tactic in bundle.tactics for _, tactic in cells)
