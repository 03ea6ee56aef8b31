"""Which failures are retried, and how the backoff grows."""

from __future__ import annotations

import http.client
import ssl
import time
from email.utils import formatdate
from unittest.mock import patch

import pytest
import requests
from splunklib import binding

from ghosthire.deploy.kibana import KibanaHTTPError
from ghosthire.deploy.retry import DEADLINE_NOTE, RetryPolicy, is_transient, with_retries


class _Status(Exception):
    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.headers = headers or {}


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (_Status(500), True),
        (_Status(503), True),
        (_Status(429), True),
        (_Status(404), False),
        (_Status(409), False),
        (KibanaHTTPError(502, "bad gateway"), True),
        (KibanaHTTPError(401, "no"), False),
        (ConnectionResetError(104, "reset"), True),
        (http.client.RemoteDisconnected("closed"), True),
        (TimeoutError("timed out"), True),
        (requests.ConnectionError("refused"), True),
        (requests.ReadTimeout("slow"), True),
        (ssl.SSLCertVerificationError("certificate verify failed"), False),
        (requests.exceptions.SSLError("certificate verify failed"), False),
        (ValueError("bug"), False),
    ],
)
def test_transient_classification(error: Exception, transient: bool) -> None:
    assert is_transient(error) is transient


def test_splunklib_authentication_error_is_not_transient() -> None:
    assert binding.AuthenticationError.__mro__[1] is binding.HTTPError  # carries .status = 401
    assert not is_transient(_Status(401))


def test_the_first_retry_is_at_once_then_waits_double_up_to_the_cap() -> None:
    retry = RetryPolicy(attempts=6, initial_delay=0.5, max_delay=3.0).retry()
    delays = []
    for _ in range(5):
        retry = retry.increment(error=ConnectionResetError())
        delays.append(retry.get_backoff_time())
    assert delays == [0, 1.0, 2.0, 3.0, 3.0]


def test_retries_transient_then_succeeds_and_reports_each_wait() -> None:
    outcomes: list[object] = [ConnectionResetError(), _Status(503), "done"]
    notices: list[tuple[int, float]] = []

    def operation() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return str(outcome)

    policy = RetryPolicy(attempts=3, initial_delay=0.001, max_delay=0.002)
    assert (
        with_retries(operation, policy, lambda attempt, _, delay: notices.append((attempt, delay))) == "done"
    )
    assert notices == [(1, 0.0), (2, 0.002)]


def test_gives_up_after_the_last_attempt_with_the_last_error() -> None:
    calls = 0

    def operation() -> None:
        nonlocal calls
        calls += 1
        raise _Status(500)

    with pytest.raises(_Status):
        with_retries(operation, RetryPolicy(attempts=4, initial_delay=0.0))
    assert calls == 4


def test_does_not_retry_a_permanent_failure() -> None:
    calls = 0

    def operation() -> None:
        nonlocal calls
        calls += 1
        raise _Status(400)

    with pytest.raises(_Status):
        with_retries(operation, RetryPolicy(attempts=5, initial_delay=0.0))
    assert calls == 1


@pytest.mark.parametrize(
    ("header", "waited"),
    [
        ("2", 2.0),
        ("in 3 s, as an HTTP date", 3.0),
        ("soon", 0.0),  # unreadable: the backoff applies (the first retry is at once)
    ],
)
def test_a_servers_retry_after_is_the_wait(header: str, waited: float) -> None:
    if header.endswith("HTTP date"):
        header = formatdate(time.time() + 3, usegmt=True)
    outcomes: list[object] = [_Status(429, {"retry-after": header}), "done"]
    notices: list[float] = []

    def operation() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return str(outcome)

    policy = RetryPolicy(attempts=2, initial_delay=0.001, deadline=60)
    with patch("ghosthire.deploy.retry.time.sleep") as sleep:
        assert with_retries(operation, policy, lambda _, __, delay: notices.append(delay)) == "done"
    assert notices == [pytest.approx(waited, abs=1.1)]
    sleep.assert_called_once_with(notices[0])


def test_a_retry_after_past_the_deadline_gives_up_at_once_saying_so() -> None:
    def operation() -> None:
        raise _Status(503, {"Retry-After": "30"})

    with pytest.raises(_Status) as raised:
        with_retries(operation, RetryPolicy(attempts=5, deadline=5))
    assert DEADLINE_NOTE in raised.value.__notes__
