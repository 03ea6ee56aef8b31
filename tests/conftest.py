"""Shared fixtures: the pack, its local hunt plan and its test events, loaded once per session."""

from __future__ import annotations

import pytest

from ghosthire.content import detection_tests_dir, rules_dir
from ghosthire.hunt import HuntPlan, build_plan
from ghosthire.rules import RulePack, load_pack
from ghosthire.rules.cases import RuleCases, load_cases

DETECTION_CASES = detection_tests_dir()


@pytest.fixture(scope="session")
def pack() -> RulePack:
    return load_pack(rules_dir())


@pytest.fixture(scope="session")
def hunt_plan(pack: RulePack) -> HuntPlan:
    return build_plan(pack)


@pytest.fixture(scope="session")
def rule_cases() -> dict[str, RuleCases]:
    return load_cases(DETECTION_CASES)
