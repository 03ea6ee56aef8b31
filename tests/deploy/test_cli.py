"""The `install`/`uninstall` commands: options, prompts, and secrets that never reach output or logs."""

from __future__ import annotations

import logging
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from ghosthire.commands.deploy import COMMANDS, install, uninstall
from ghosthire.deploy.report import IncompleteRun
from ghosthire.errors import GhosthireError
from tests.deploy.conftest import KIBANA_API_KEY, SPLUNK_PASSWORD, SPLUNK_TOKEN
from tests.fakes.kibana import FakeKibana
from tests.fakes.splunkd import FakeSplunkd

FAST = ["--retries", "2", "--retry-delay", "0.01", "--timeout", "1"]
NO_SECRETS = {"SPLUNK_TOKEN": None, "SPLUNK_USERNAME": None, "SPLUNK_PASSWORD": None, "KIBANA_API_KEY": None}


def run(group: click.Group, args: list[str], env: dict[str, str | None], stdin: str | None = None) -> Result:
    return CliRunner().invoke(group, args, env={**NO_SECRETS, **env}, input=stdin)


def splunk_args(splunkd: FakeSplunkd, *extra: str) -> list[str]:
    return ["splunk", "--host", "127.0.0.1", "--port", str(splunkd.port), "--scheme", "http", *FAST, *extra]


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def test_commands_are_exported_for_the_cli() -> None:
    assert [install, uninstall] == COMMANDS
    assert set(install.commands) == set(uninstall.commands) == {"splunk", "elastic"}


def test_splunk_with_password_from_the_environment(
    splunkd: FakeSplunkd, package: Path, debug_logs: pytest.LogCaptureFixture
) -> None:
    env = {"SPLUNK_USERNAME": "admin", "SPLUNK_PASSWORD": SPLUNK_PASSWORD}
    splunkd.inject("status", method="POST", path="/data/ui/views", times=-1)

    failed = run(install, splunk_args(splunkd, "--package", str(package)), env)
    assert isinstance(failed.exception, IncompleteRun)
    splunkd.clear_faults()
    first = run(install, splunk_args(splunkd, "--package", str(package)), env)
    second = run(install, splunk_args(splunkd, "--package", str(package), "--dry-run"), env)
    removed = run(uninstall, splunk_args(splunkd), env)

    assert first.exit_code == second.exit_code == removed.exit_code == 0, first.output + str(first.exception)
    assert "1 created, 1 updated, 8 unchanged" in first.output
    assert "dry run, nothing was changed: 0 to create, 0 to update, 10 unchanged" in second.output
    assert "9 deleted, 0 already absent" in removed.output
    assert "POST request to" in debug_logs.text  # splunklib did log its requests
    everything = failed.output + str(failed.exception) + first.output + removed.output + debug_logs.text
    assert SPLUNK_PASSWORD not in everything


def test_splunk_prompts_for_missing_credentials_without_echoing_the_password(
    splunkd: FakeSplunkd, package: Path
) -> None:
    result = run(
        install, splunk_args(splunkd, "--package", str(package)), {}, stdin=f"admin\n{SPLUNK_PASSWORD}\n"
    )

    assert result.exit_code == 0, result.output
    assert "Splunk username: admin" in result.output and "Splunk password for admin: " in result.output
    assert SPLUNK_PASSWORD not in result.output


def test_splunk_token_from_the_environment_and_revoked_midway(
    splunkd: FakeSplunkd, package: Path, debug_logs: pytest.LogCaptureFixture
) -> None:
    splunkd.inject("run", method="POST", path="/saved/searches", action=splunkd.tokens.clear)

    result = run(install, splunk_args(splunkd, "--package", str(package)), {"SPLUNK_TOKEN": SPLUNK_TOKEN})

    assert isinstance(result.exception, IncompleteRun)
    assert "rejected the token" in str(result.exception)
    assert splunkd.logins == 0
    assert SPLUNK_TOKEN not in result.output + str(result.exception) + debug_logs.text


def test_elastic_install_enable_and_uninstall(
    kibana: FakeKibana, rules_file: Path, debug_logs: pytest.LogCaptureFixture
) -> None:
    env = {"KIBANA_API_KEY": KIBANA_API_KEY, "KIBANA_URL": kibana.url}
    args = ["elastic", "--rules-file", str(rules_file), *FAST]

    installed = run(install, [*args, "--enable"], env)
    assert installed.exit_code == 0, installed.output
    assert "3 created, 0 updated, 0 unchanged" in installed.output
    assert [rule["enabled"] for rule in kibana.rules["default"].values()] == [True, True, True]

    unchanged = run(install, [*args, "--enable", "--dry-run"], env)
    removed = run(uninstall, args, env)

    assert unchanged.exit_code == removed.exit_code == 0, unchanged.output
    assert "0 to create, 0 to update, 3 unchanged" in unchanged.output
    assert "3 deleted" in removed.output and kibana.rules["default"] == {}
    assert KIBANA_API_KEY not in installed.output + unchanged.output + removed.output + debug_logs.text


def test_elastic_wrong_key_prompted_and_not_echoed(kibana: FakeKibana, rules_file: Path) -> None:
    result = run(
        install,
        ["elastic", "--url", kibana.url, "--rules-file", str(rules_file), *FAST],
        {},
        stdin="d3Jvbmc6a2V5\n",
    )

    assert isinstance(result.exception, GhosthireError)
    assert (
        str(result.exception)
        == "cannot read Kibana's rules: Kibana rejected the API key (HTTP 401); set a valid KIBANA_API_KEY"
    )
    assert "d3Jvbmc6a2V5" not in result.output


@pytest.mark.parametrize("option", ["--password", "--token", "--api-key"])
def test_secrets_are_not_accepted_as_options(option: str, package: Path) -> None:
    result = run(install, ["splunk", "--package", str(package), option, "hunter2"], {})
    assert result.exit_code == 2 and f"No such option '{option}'" in result.output


def test_insecure_and_ca_file_contradict(package: Path, splunkd: FakeSplunkd) -> None:
    args = splunk_args(splunkd, "--package", str(package), "--insecure", "--ca-file", str(package))
    result = run(install, args, {"SPLUNK_TOKEN": SPLUNK_TOKEN})
    assert result.exit_code == 2 and "--insecure and --ca-file contradict each other" in result.output
