"""The HTTP client of the Elastic installers: one requests session against Kibana (a space of it) or
Elasticsearch, with an API key (`Authorization: ApiKey`, which both accept) and `kbn-xsrf`."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests


@dataclass(frozen=True)
class KibanaTarget:
    url: str
    space: str | None = None
    ca_file: Path | None = None
    insecure: bool = False


class KibanaHTTPError(Exception):
    """An HTTP error answer from Kibana; `status` makes it classifiable by the retry policy, and `headers`
    carry the server's Retry-After."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.headers = headers or {}


class KibanaClient:
    """A requests session against one Kibana space, sending `Authorization: ApiKey` and `kbn-xsrf`."""

    def __init__(
        self,
        target: KibanaTarget,
        api_key: str,
        timeout: float | Callable[[], float],
        service: str = "Kibana",
    ) -> None:
        self.target = target
        self.service = service
        # A callable gives each request its own timeout (RetryPolicy.request_timeout: never past the deadline).
        self.timeout = timeout
        space = f"/s/{quote(target.space, safe='')}" if target.space and target.space != "default" else ""
        self.base = target.url.rstrip("/") + space
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"ApiKey {api_key}", "kbn-xsrf": "ghosthire"})
        # Passed with every request: a session-level `verify` loses to REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE.
        self.verify: str | bool = str(target.ca_file) if target.ca_file else not target.insecure

    def request(self, method: str, path: str, allow: Collection[int] = (), **options: Any) -> tuple[int, Any]:
        """The status and the JSON Kibana answered (an object; a list where the API answers one); raises
        KibanaHTTPError for an error status not in `allow`, and for an answer that is not JSON (a proxy's
        page, say)."""
        response = self.session.request(
            method,
            self.base + path,
            timeout=self.timeout() if callable(self.timeout) else self.timeout,
            verify=self.verify,
            **options,
        )
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if response.status_code >= 400 and response.status_code not in allow:
            raise KibanaHTTPError(response.status_code, error_message(body), response.headers)
        if not isinstance(body, dict | list):
            raise KibanaHTTPError(response.status_code, f"expected a JSON object, got {str(body)[:80]!r}")
        return response.status_code, body

    def describe(self, error: Exception) -> str | None:
        if isinstance(error, KibanaHTTPError):
            if error.status == 401:
                return f"{self.service} rejected the API key (HTTP 401); set a valid KIBANA_API_KEY"
            if error.status == 404 and self.target.space:
                return f"{error} (does the space {self.target.space!r} exist?)"
            return str(error)
        if isinstance(error, requests.exceptions.SSLError):
            return (
                f"the TLS certificate of {self.target.url} did not verify; pass --ca-file with the CA that "
                "signed it (or --insecure, for a throwaway test instance only)"
            )
        if isinstance(error, requests.Timeout):
            return f"no answer from {self.target.url} in time"
        if isinstance(error, requests.RequestException):
            return f"connection to {self.target.url} failed ({type(error).__name__})"
        return None


def error_message(body: object) -> str:
    """Kibana's `message`, or Elasticsearch's `error.reason`."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return f"{error.get('type', 'error')}: {error.get('reason', '')}".rstrip(": ")
        return str(body.get("message") or error or body)
    return str(body)[:200] or "no message"
