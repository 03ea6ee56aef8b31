"""Shared fixtures: the pack, its build (compiled targets, Splunk app, Kibana rules), its local hunt plan and
its test events, each made once per session (per xdist worker). A test that needs compiled queries, the app
or the Kibana NDJSON takes these fixtures rather than compiling or building again."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from click.testing import CliRunner

import ghosthire.commands.build
from ghosthire.build import BuildResult
from ghosthire.cli import _register, cli
from ghosthire.compile import TargetOutput
from ghosthire.content import detection_tests_dir, rules_dir
from ghosthire.hunt import HuntPlan, build_plan
from ghosthire.rules import RulePack, load_pack
from ghosthire.rules.cases import RuleCases, load_cases

DETECTION_CASES = detection_tests_dir()


@cache
def shipped_pack() -> RulePack:
    """The shipped rules, loaded once per process (module-level parametrisation reads them too)."""
    return load_pack(rules_dir())


@cache
def shipped_cases() -> dict[str, RuleCases]:
    """Every rule's test events, loaded once per process."""
    return load_cases(DETECTION_CASES)


@pytest.fixture(scope="session")
def pack() -> RulePack:
    return shipped_pack()


@dataclass(frozen=True)
class CliBuild:
    """`ghosthire build --out DIR` run once through the CLI: what it printed, and the library's result (what
    it compiled and wrote)."""

    output: str
    result: BuildResult


@pytest.fixture(scope="session")
def cli_build(tmp_path_factory: pytest.TempPathFactory) -> CliBuild:
    """The whole pack built as a user builds it, through the CLI; the result is kept from the real build
    call (a spy, the build itself is untouched)."""
    results: list[BuildResult] = []
    real_build = ghosthire.commands.build.run_build

    def keep(*args: object, **kwargs: object) -> BuildResult:
        results.append(real_build(*args, **kwargs))  # type: ignore[arg-type]
        return results[-1]

    _register()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ghosthire.commands.build, "run_build", keep)
        done = CliRunner().invoke(cli, ["build", "--out", str(tmp_path_factory.mktemp("build") / "out")])
    assert done.exit_code == 0 and results, done.output
    return CliBuild(done.output, results[0])


@pytest.fixture(scope="session")
def build_dir(cli_build: CliBuild) -> Path:
    return cli_build.result.out_dir


@pytest.fixture(scope="session")
def target_outputs(cli_build: CliBuild) -> dict[str, TargetOutput]:
    """The pack compiled for every target, by target id, as `ghosthire build` compiled it."""
    return cli_build.result.outputs


@pytest.fixture(scope="session")
def kibana_rules(cli_build: CliBuild) -> list[dict]:
    """The Kibana rules NDJSON the build wrote, one dict per rule."""
    path = cli_build.result.artifacts["kibana_rules"]
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="session")
def hunt_plan(pack: RulePack) -> HuntPlan:
    return build_plan(pack)


@pytest.fixture(scope="session")
def rule_cases() -> dict[str, RuleCases]:
    return shipped_cases()


# The files that take longest (whole-pack conversions and every rule's cases through a target's engine),
# first: `--dist loadfile` hands files to the workers in collection order, so a long file started last
# would leave the other worker idle at the end.
LONGEST_FIRST = (
    "tests/test_sigma_cli.py",
    "tests/hunt/test_differential.py",
    "tests/splunk/test_correlation_cases.py",
    "tests/test_detections.py",
    "tests/elastic/test_eql_verdicts.py",
    "tests/elastic/test_lucene_and_esql.py",
    "tests/splunk/test_first_seen.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.path.relative_to(config.rootpath).as_posix()
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order within a file and among the other files is kept
