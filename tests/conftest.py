"""Shared fixtures: the pack, its compiled targets, its local hunt plan and its test events, each made once
per session."""

from __future__ import annotations

import pytest

from ghosthire.compile import TargetOutput, compile_pack, load_targets
from ghosthire.content import detection_tests_dir, rules_dir
from ghosthire.hunt import HuntPlan, build_plan
from ghosthire.rules import RulePack, load_pack
from ghosthire.rules.cases import RuleCases, load_cases

DETECTION_CASES = detection_tests_dir()


@pytest.fixture(scope="session")
def pack() -> RulePack:
    return load_pack(rules_dir())


@pytest.fixture(scope="session")
def target_outputs(pack: RulePack) -> dict[str, TargetOutput]:
    """The pack compiled for every target, by target id (what `ghosthire build` compiles)."""
    return compile_pack(pack, load_targets())


@pytest.fixture(scope="session")
def hunt_plan(pack: RulePack) -> HuntPlan:
    return build_plan(pack)


@pytest.fixture(scope="session")
def rule_cases() -> dict[str, RuleCases]:
    return load_cases(DETECTION_CASES)
