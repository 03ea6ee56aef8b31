"""Bounded retries with exponential backoff, and which failures are worth retrying at all.

Shared by both installers. A failure is transient when waiting may fix it: HTTP 5xx and 429, a reset or
refused connection, a timeout. Everything else (4xx, authentication, TLS verification, a malformed answer)
fails at once, because retrying would only delay the same answer.

A whole run is bounded too: a server that accepts connections and never answers would otherwise hold the
installer for `timeout` x `attempts` per step. No request waits past the run's deadline, and no retry
starts after it.
"""

from __future__ import annotations

import http.client
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import requests

T = TypeVar("T")

RetryNotice = Callable[[int, BaseException, float], None]
# Added to the error with_retries gives up on because the run's deadline left no time for another attempt.
DEADLINE_NOTE = "ghosthire: the run's deadline passed"


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: `attempts` in all (not retries), waits doubling from `initial_delay` up to
    `max_delay`, the socket `timeout` in seconds for each request, and `deadline` seconds for the whole
    run, counted from when the policy is made."""

    attempts: int = 5
    initial_delay: float = 0.5
    max_delay: float = 8.0
    timeout: float = 30.0
    deadline: float = 120.0
    started: float = field(default_factory=time.monotonic, compare=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")

    def delay_after(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        return min(self.max_delay, self.initial_delay * 2 ** (attempt - 1))

    def remaining(self) -> float:
        return self.deadline - (time.monotonic() - self.started)

    def request_timeout(self) -> float:
        """The socket timeout for the next request: `timeout`, or less when the deadline is nearer."""
        return max(0.05, min(self.timeout, self.remaining()))


def http_status(error: BaseException) -> int | None:
    """The HTTP status an error carries: splunklib's HTTPError has `.status`, requests' has `.response`."""
    status = getattr(error, "status", None)
    if isinstance(status, int):
        return status
    response = getattr(error, "response", None)
    status_code = getattr(response, "status_code", None)
    return status_code if isinstance(status_code, int) else None


def is_transient(error: BaseException) -> bool:
    # TLS failures are checked first: ssl.SSLError and requests' SSLError are also connection errors, but a
    # certificate that does not verify will not verify on the next attempt either.
    if isinstance(error, ssl.SSLError | requests.exceptions.SSLError):
        return False
    status = http_status(error)
    if status is not None:
        return status >= 500 or status == 429
    return isinstance(
        error,
        ConnectionError
        | TimeoutError
        | http.client.HTTPException
        | requests.ConnectionError
        | requests.Timeout
        | requests.exceptions.ChunkedEncodingError,
    )


def with_retries(operation: Callable[[], T], policy: RetryPolicy, on_retry: RetryNotice | None = None) -> T:
    """`operation()`, repeated after transient failures until it succeeds, `policy.attempts` are used up or
    the next attempt would start after the run's deadline; then the last error is raised unchanged.
    `on_retry(attempt, error, delay)` is told before each wait."""
    attempt = 1
    while True:
        try:
            return operation()
        except Exception as error:
            delay = policy.delay_after(attempt)
            if attempt >= policy.attempts or not is_transient(error):
                raise
            if policy.remaining() <= delay:
                error.add_note(DEADLINE_NOTE)
                raise
            if on_retry is not None:
                on_retry(attempt, error, delay)
            time.sleep(delay)
            attempt += 1
