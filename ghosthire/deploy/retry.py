"""Bounded retries with exponential backoff, and which failures are worth retrying at all.

Shared by both installers. A failure is transient when waiting may fix it: HTTP 5xx and 429, a reset or
refused connection, a timeout. Everything else (4xx, authentication, TLS verification, a malformed answer)
fails at once, because retrying would only delay the same answer.

urllib3's `Retry` keeps the count, the backoff and a server's Retry-After (seconds or an HTTP date). It
retries a whole installer step rather than one request: every step reads the server's state before it
writes, so repeating it is safe whatever its HTTP methods (hence no `allowed_methods` restriction).

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
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import InvalidHeader, MaxRetryError
from urllib3.util import Retry

T = TypeVar("T")

RetryNotice = Callable[[int, BaseException, float], None]
# Added to the error with_retries gives up on because the run's deadline left no time for another attempt.
DEADLINE_NOTE = "ghosthire: the run's deadline passed"
# The server's own failures and "too many requests".
TRANSIENT_STATUSES = frozenset({429, *range(500, 600)})


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

    def retry(self) -> Retry:
        """urllib3's Retry for this policy: `attempts - 1` retries, the first at once, then waits doubling
        from `initial_delay` x 2 up to `max_delay`; a Retry-After is honoured up to the run's deadline."""
        return Retry(
            total=self.attempts - 1,
            allowed_methods=None,
            status_forcelist=TRANSIENT_STATUSES,
            backoff_factor=self.initial_delay,
            backoff_max=self.max_delay,
            respect_retry_after_header=True,
            retry_after_max=max(0, int(self.deadline)),
        )

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
        return status in TRANSIENT_STATUSES
    return isinstance(
        error,
        ConnectionError
        | TimeoutError
        | http.client.HTTPException
        | requests.ConnectionError
        | requests.Timeout
        | requests.exceptions.ChunkedEncodingError,
    )


def retry_after(error: BaseException, retry: Retry) -> float | None:
    """The seconds a server asked to wait in the Retry-After header of the answer an error carries
    (requests' `.response`, splunklib's and the Kibana client's `.headers`), None when it asked nothing."""
    response = getattr(error, "response", None)
    headers = getattr(response if response is not None else error, "headers", None)
    value = CaseInsensitiveDict(headers or {}).get("Retry-After")
    if not isinstance(value, str):
        return None
    try:
        return retry.parse_retry_after(value)
    except InvalidHeader:
        return None


def with_retries(operation: Callable[[], T], policy: RetryPolicy, on_retry: RetryNotice | None = None) -> T:
    """`operation()`, repeated after transient failures until it succeeds, `policy.attempts` are used up or
    the next attempt would start after the run's deadline; then the last error is raised unchanged.
    `on_retry(attempt, error, delay)` is told before each wait."""
    retry = policy.retry()
    while True:
        try:
            return operation()
        except Exception as error:
            if not is_transient(error):
                raise
            try:
                retry = retry.increment(error=error)
            except MaxRetryError:
                raise error from None
            delay = retry_after(error, retry)
            delay = retry.get_backoff_time() if delay is None else delay
            if policy.remaining() <= delay:
                error.add_note(DEADLINE_NOTE)
                raise
            if on_retry is not None:
                on_retry(len(retry.history), error, delay)
            time.sleep(delay)
