"""A server that accepts connections and never answers holds the installer no longer than the run's
deadline, and the error says which step waited (against the loopback fakes, with real sockets)."""

from __future__ import annotations

import time
from pathlib import Path

from ghosthire.commands.deploy import install
from ghosthire.deploy.report import IncompleteRun
from ghosthire.errors import GhosthireError
from tests.deploy.conftest import KIBANA_API_KEY, SPLUNK_PASSWORD, SPLUNK_TOKEN
from tests.deploy.test_cli import run
from tests.fakes.kibana import FakeKibana
from tests.fakes.splunkd import FakeSplunkd

# Five attempts of a 0.4 s timeout would take over 2 s; the deadline stops the run after 1.
SLOW = ["--retries", "5", "--retry-delay", "0.05", "--timeout", "0.4", "--deadline", "1"]
HANG = 1.5  # longer than the deadline; short, as the fake joins its hanging threads when it stops


def _timed(
    group_args: list[str], env: dict[str, str | None], command: object = install
) -> tuple[float, object]:
    started = time.monotonic()
    result = run(install, group_args, env)
    return time.monotonic() - started, result


def test_splunk_that_never_answers_stops_at_the_deadline_naming_the_step(
    splunkd: FakeSplunkd, package: Path
) -> None:
    splunkd.inject("hang", method="POST", path="/saved/searches", times=-1, seconds=HANG)
    args = ["splunk", "--host", "127.0.0.1", "--port", str(splunkd.port), "--scheme", "http", *SLOW]
    elapsed, result = _timed([*args, "--package", str(package)], {"SPLUNK_TOKEN": SPLUNK_TOKEN})
    assert isinstance(result.exception, IncompleteRun)
    message = str(result.exception)
    assert "no answer" in message and "the run's 1 s deadline passed" in message
    assert "at step 'savedsearch:" in message
    assert elapsed < 2


def test_splunk_login_that_never_answers_stops_at_the_deadline(splunkd: FakeSplunkd, package: Path) -> None:
    splunkd.inject("hang", times=-1, seconds=HANG)
    args = ["splunk", "--host", "127.0.0.1", "--port", str(splunkd.port), "--scheme", "http", *SLOW]
    env = {"SPLUNK_USERNAME": "admin", "SPLUNK_PASSWORD": SPLUNK_PASSWORD}
    elapsed, result = _timed([*args, "--package", str(package)], env)
    assert isinstance(result.exception, GhosthireError)
    assert str(result.exception).startswith("cannot connect to Splunk")
    assert "the run's 1 s deadline passed" in str(result.exception)
    assert elapsed < 2


def test_kibana_that_never_answers_stops_at_the_deadline_naming_the_step(
    kibana: FakeKibana, rules_file: Path
) -> None:
    kibana.inject("hang", method="POST", path="_import", times=-1, seconds=HANG)
    env = {"KIBANA_API_KEY": KIBANA_API_KEY, "KIBANA_URL": kibana.url}
    elapsed, result = _timed(["elastic", "--rules-file", str(rules_file), *SLOW], env)
    assert isinstance(result.exception, IncompleteRun)
    message = str(result.exception)
    assert "the run's 1 s deadline passed" in message and "at step 'import " in message
    assert elapsed < 2
