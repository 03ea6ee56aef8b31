"""Which failures are retried, and how the backoff grows."""

from __future__ import annotations

import http.client
import ssl

import pytest
import requests
from splunklib import binding

from ghosthire.deploy.kibana import KibanaHTTPError
from ghosthire.deploy.retry import RetryPolicy, is_transient, with_retries


class _Status(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


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


def test_backoff_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(attempts=6, initial_delay=0.5, max_delay=3.0)
    assert [policy.delay_after(attempt) for attempt in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


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
    assert notices == [(1, 0.001), (2, 0.002)]


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
