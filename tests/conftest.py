"""Shared fixtures: the pack, its build (compiled targets, Splunk app, Kibana rules), its local hunt plan and
its test events, each made once per session (per xdist worker). A test that needs compiled queries, the app
or the Kibana NDJSON takes these fixtures rather than compiling or building again."""

from __future__ import annotations

import fcntl
import json
import os
import pickle
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from click.testing import CliRunner

import ghosthire.commands.build
from ghosthire.build import BuildResult
from ghosthire.cli import _register, cli
from ghosthire.compile import TargetOutput
from ghosthire.content import detection_tests_dir, examples_dir, rules_dir
from ghosthire.hunt import HuntOutcome, HuntPlan, build_plan, hunt
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
    """The whole pack built once per session. Under xdist the first worker that needs it builds it in the
    session's shared temporary directory, holding a lock; the others wait for it and load what it kept
    (a build is a sixth of the suite's work, most of it ES|QL's grammar checking every query)."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return _cli_build(tmp_path_factory.mktemp("build") / "out")
    shared = tmp_path_factory.getbasetemp().parent  # this session's, common to its workers
    kept = shared / "build.pickle"
    with (shared / "build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if kept.exists():
            return pickle.loads(kept.read_bytes())
        build = _cli_build(shared / "build" / "out")
        kept.write_bytes(pickle.dumps(build, protocol=pickle.HIGHEST_PROTOCOL))
        return build


def _cli_build(out: Path) -> CliBuild:
    """`ghosthire build --out OUT` as a user runs it, through the CLI; the result is kept from the real
    build call (a spy, the build itself is untouched)."""
    results: list[BuildResult] = []
    real_build = ghosthire.commands.build.run_build

    def keep(*args: object, **kwargs: object) -> BuildResult:
        results.append(real_build(*args, **kwargs))  # type: ignore[arg-type]
        return results[-1]

    _register()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ghosthire.commands.build, "run_build", keep)
        done = CliRunner().invoke(cli, ["build", "--out", str(out)])
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
def examples_hunt(hunt_plan: HuntPlan) -> HuntOutcome:
    """The shipped examples hunted with the whole pack, as `ghosthire hunt examples/` hunts them (read it,
    never change it)."""
    return hunt(hunt_plan, [examples_dir()])


@pytest.fixture(scope="session")
def rule_cases() -> dict[str, RuleCases]:
    return shipped_cases()


# Files that share work only a process can keep, each group one unit of work for xdist (whichever worker
# takes it runs all its files). A path ending in "/" names every file under it.
SHARED_UNITS = {
    # The files that parse ES|QL, with the build (whichever worker needs the build first makes it): ANTLR's
    # Python runtime spends most of a build warming up its parser, again in every process that parses ES|QL.
    "PARSE_ESQL": (
        "tests/test_cli.py",
        "tests/elastic/",
        "tests/test_sigma_cli.py",
        "tests/hostile/test_hostile_values.py",
        "tests/hostile/test_value_types.py",
        "tests/hostile/test_query_values.py",
        "tests/deploy/test_kibana_tuning.py",
        "tests/identities/test_lookups_folder.py",
        "tests/test_tuning.py",
    ),
    # Every correlation case hunted once for both (tests/hunt/correlation_runs.py).
    "CORRELATION_CASES": ("tests/test_detections.py", "tests/hunt/test_differential.py"),
}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """`--dist loadfile` (test.sh) with each of SHARED_UNITS one unit of work."""
    if config.getvalue("dist") != "loadfile":
        return None
    config.option.loadscopereorder = False  # LONGEST_FIRST's order, not the number of tests per file
    from xdist.scheduler import LoadFileScheduling

    class SharedUnitScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = super()._split_scope(nodeid)
            return next((unit for unit, paths in SHARED_UNITS.items() if path.startswith(paths)), path)

    return SharedUnitScheduling(config, log)  # type: ignore[arg-type]


# The longest units of work first: the scheduler hands them to the workers in this order (not by number
# of tests), so a long file started last would not leave the other worker idle at the end. The ES|QL unit
# starts with the build; the other worker begins with files that do not need it.
LONGEST_FIRST = (
    "tests/test_cli.py",
    "tests/test_detections.py",
    "tests/hunt/test_differential.py",
    "tests/splunk/test_correlation_cases.py",
    "tests/splunk/test_persons.py",
    "tests/splunk/test_dashboard_studio.py",
    "tests/splunk/test_es_identities.py",
    "tests/hunt/test_semantics.py",
    "tests/splunk/test_rule_cases.py",
    "tests/test_simulate_company.py",
    "tests/splunk/test_first_seen.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.path.relative_to(config.rootpath).as_posix()
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order within a file and among the other files is kept
