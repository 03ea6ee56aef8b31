"""A threaded loopback HTTP(S) server for fakes of real services, with per-request fault injection.

A fake subclasses `FakeServer` and implements `handle(request) -> Response`. Tests inject faults by method
and path: an HTTP status, a connection reset (before or after the request was processed, so the client
cannot tell whether it landed), a hang longer than the client's timeout, or an action run before the
request is handled (e.g. expiring sessions).
"""

from __future__ import annotations

import socket
import ssl
import struct
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # raw, still percent-encoded
    query: dict[str, list[str]]
    headers: Message
    body: bytes

    def form(self) -> dict[str, str]:
        """The urlencoded body; a repeated key keeps its last value."""
        return {
            key: values[-1] for key, values in parse_qs(self.body.decode(), keep_blank_values=True).items()
        }

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Fault:
    """Hits the requests matching `method` and `path` (a substring of the decoded path): lets `skip` of them
    through, then hits `times` of them (-1: every one after that)."""

    kind: str  # "status" | "reset" | "reset-after" | "hang" | "run"
    method: str | None = None
    path: str | None = None
    times: int = 1
    skip: int = 0
    status: int = 500
    retry_after: str | None = None  # a "status" answer's Retry-After header
    seconds: float = 1.5
    action: Callable[[], None] | None = None
    seen: int = 0
    fired: int = 0

    def hits(self, request: Request, decoded_path: str) -> bool:
        if self.method and request.method != self.method:
            return False
        if self.path and self.path not in decoded_path:
            return False
        self.seen += 1
        if self.seen <= self.skip or (0 <= self.times <= self.fired):
            return False
        self.fired += 1
        return True


@dataclass(frozen=True)
class TlsFiles:
    certificate: Path
    key: Path


def make_self_signed_certificate(directory: Path) -> TlsFiles:
    """A certificate for 127.0.0.1/localhost that is its own CA, made with the openssl command."""
    files = TlsFiles(directory / "cert.pem", directory / "key.pem")
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(files.key), "-out", str(files.certificate), "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return files


class FakeServer:
    def __init__(self, tls: TlsFiles | None = None) -> None:
        self.tls = tls
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None

    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    def error(self, status: int, message: str) -> Response:
        """An error answer in the service's own format."""
        raise NotImplementedError

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeServer:
        server = _Server(("127.0.0.1", 0), _handler_for(self))
        if self.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.tls.certificate, self.tls.key)
            # The handshake happens in the request thread, so a client refusing the certificate stalls nothing.
            server.socket = context.wrap_socket(
                server.socket, server_side=True, do_handshake_on_connect=False
            )
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the server first"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ faults and request log

    def inject(self, kind: str, **options: object) -> Fault:
        fault = Fault(kind, **options)  # type: ignore[arg-type]
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def writes(self) -> list[tuple[str, str]]:
        """Every request that could change state (anything but GET), login aside."""
        with self.lock:
            return [
                (method, path)
                for method, path in self.requests
                if method != "GET" and "auth/login" not in path
            ]

    def _fault_for(self, request: Request, decoded_path: str) -> Fault | None:
        with self.lock:
            self.requests.append((request.method, decoded_path))
            return next((fault for fault in self.faults if fault.hits(request, decoded_path)), None)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: object, client_address: object) -> None:
        """Resets and hangs break connections on purpose; tracebacks for them would only be noise."""


def _handler_for(fake: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the fake keeps its own request log."""

        def do_GET(self) -> None:
            self._serve()

        do_POST = do_DELETE = do_PUT = do_GET

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            url = urlsplit(self.path)
            request = Request(
                self.command, url.path, parse_qs(url.query, keep_blank_values=True), self.headers, body
            )
            fault = fake._fault_for(request, unquote(url.path))
            if fault is not None and fault.kind == "reset":
                return self._reset()
            if fault is not None and fault.kind == "hang":
                time.sleep(fault.seconds)
            if fault is not None and fault.kind == "run" and fault.action is not None:
                fault.action()
            if fault is not None and fault.kind == "status":
                response = fake.error(fault.status, "injected fault")
                if fault.retry_after is not None:
                    response.headers.append(("Retry-After", fault.retry_after))
            else:
                with fake.lock:
                    response = fake.handle(request)
            if fault is not None and fault.kind == "reset-after":
                return self._reset()
            self._send(response)

        def _send(self, response: Response) -> None:
            try:
                self.send_response(response.status)
                self.send_header("Content-Type", response.content_type)
                self.send_header("Content-Length", str(len(response.body)))
                self.send_header("Connection", "close")
                for name, value in response.headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(response.body)
            except OSError:
                pass  # the client gave up waiting (hang fault)
            self.close_connection = True

        def _reset(self) -> None:
            # SO_LINGER 0 makes close() send a RST: the client sees "connection reset by peer".
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True

    return Handler
