"""Splunk fixtures, built once per session: the targets, the compiled fixture rules, the built app."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from ghosthire.compile import CompiledRule, Target, TargetOutput, compile_target, load_targets
from ghosthire.rules import RulePack, load_pack
from ghosthire.splunk.app import tstats_target
from ghosthire.splunk.conf import Stanzas, parse_conf
from tests.conftest import CliBuild
from tests.splunk.spl_window import Lookups, app_lookups, app_macros

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def splunk_target() -> Target:
    return next(target for target in load_targets() if target.id == "splunk")


@pytest.fixture(scope="session")
def splunk_tstats_target() -> Target:
    return tstats_target()


@pytest.fixture(scope="session")
def fixture_pack() -> RulePack:
    return load_pack(FIXTURES)


@pytest.fixture(scope="session")
def fixture_queries(fixture_pack: RulePack, splunk_target: Target) -> dict[str, CompiledRule]:
    """The fixture rules compiled for Splunk, by rule name."""
    return {item.rule.name: item for item in compile_target(fixture_pack, splunk_target).compiled}


@pytest.fixture(scope="session")
def splunk_output(target_outputs: dict[str, TargetOutput]) -> TargetOutput:
    """The whole pack compiled for Splunk (tests/conftest.py)."""
    return target_outputs["splunk"]


@pytest.fixture(scope="session")
def built_app(cli_build: CliBuild) -> Path:
    """The app package `ghosthire build` wrote (tests/conftest.py)."""
    return cli_build.result.artifacts["splunk_app"]


@pytest.fixture(scope="session")
def app_files(built_app: Path) -> dict[str, bytes]:
    """The package's files by path inside the app folder (`default/macros.conf`)."""
    with tarfile.open(built_app) as tar:
        return {
            member.name.removeprefix("ghosthire/"): tar.extractfile(member).read()  # type: ignore[union-attr]
            for member in tar.getmembers()
            if member.isfile()
        }


@pytest.fixture(scope="session")
def saved(app_files: dict[str, bytes]) -> Stanzas:
    """The built app's savedsearches.conf, by stanza."""
    return parse_conf(app_files["default/savedsearches.conf"].decode("utf-8"), "savedsearches.conf")


@pytest.fixture(scope="session")
def macros(app_files: dict[str, bytes]) -> dict[str, str]:
    """The built app's macros as the SPL interpreter runs them (a module may define its own)."""
    return app_macros(app_files)


@pytest.fixture(scope="session")
def lookups(app_files: dict[str, bytes]) -> Lookups:
    """The built app's lookup definitions with their rows: copy them before editing."""
    return app_lookups(app_files)
