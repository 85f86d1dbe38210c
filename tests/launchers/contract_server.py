"""A real HTTP server on 127.0.0.1 that plays a published REST API for contract tests.

A KFP API server needs Kubernetes and Vertex AI needs Google Cloud, so neither can run here. Tests
instead start this server (``ThreadingHTTPServer``, port 0) with an *app*: a fake of the service
that keeps state in memory and checks every request against the published API (paths, methods,
query parameters, body fields, auth header). A request breaking the contract is answered 400 and
recorded in ``violations``, which the fixtures assert to be empty. Tests can also make the next
matching requests fail with a status, or stall until the client times out.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ContractViolation(Exception):  # noqa: N818 - reads as what it is
    """The client sent something the published API does not allow."""


@dataclass
class Seen:
    """One request as received."""

    method: str
    path: str
    raw_query: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: Any

    @property
    def target(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class Fault:
    """Answer the next ``times`` requests matching ``method`` and ``path`` (a regex) this way."""

    method: str
    path: str
    status: int = 503
    body: dict[str, Any] = field(default_factory=lambda: {"error": "injected", "message": "injected"})
    headers: dict[str, str] = field(default_factory=dict)
    stall: bool = False  # do the work, then hold the answer until the client gives up
    times: int = 1


App = Callable[[Seen], tuple[int, dict[str, Any]]]


class ContractServer:
    """The running server: ``base_url``, every request ``seen``, ``violations``, and fault injection."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.seen: list[Seen] = []
        self.violations: list[str] = []
        self.faults: list[Fault] = []
        self.release = threading.Event()
        self._lock = threading.Lock()
        self.base_url = ""

    def fail(
        self, method: str, path: str, status: int, body: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        """Make the next matching request answer ``status``."""
        self.faults.append(
            Fault(method, path, status, body or {"error": "injected", "message": "injected"}, **kw)
        )

    def stall(self, method: str, path: str, times: int = 1) -> None:
        """Make the next matching request be processed but answered only after the client timed out."""
        self.faults.append(Fault(method, path, stall=True, times=times))

    def targets(self) -> list[str]:
        """``METHOD path`` of every request, in order."""
        return [s.target for s in self.seen]

    def _fault_for(self, seen: Seen) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.method == seen.method and re.fullmatch(fault.path, seen.path):
                    fault.times -= 1
                    return fault
        return None

    def handle(self, seen: Seen) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            self.seen.append(seen)
        fault = self._fault_for(seen)
        if fault is not None and not fault.stall:
            return fault.status, fault.body, fault.headers
        try:
            status, body = self.app(seen)
        except ContractViolation as exc:
            with self._lock:
                self.violations.append(f"{seen.target}: {exc}")
            status, body = 400, {"error": f"contract violation: {exc}", "code": 3, "message": str(exc)}
        if fault is not None:  # stalled: the work is done, the answer comes too late
            self.release.wait(10)
        return status, body, {}


def _handler(server: ContractServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle's algorithm on, a kept-alive client
        # waits about 40 ms for the second. Go's net/http (the real KFP API) turns it off too.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body: Any = None
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw
            seen = Seen(
                self.command,
                urllib.parse.unquote(parts.path),
                parts.query,
                urllib.parse.parse_qs(parts.query, keep_blank_values=True),
                {k.lower(): v for k, v in self.headers.items()},
                body,
            )
            status, answer, headers = server.handle(seen)
            data = json.dumps(answer).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up (a stalled answer)

        do_GET = do_POST = do_DELETE = do_PATCH = _serve  # noqa: N815 - http.server's naming

    return Handler


@contextmanager
def running(app: App) -> Iterator[ContractServer]:
    """Start a server for ``app`` on 127.0.0.1 (a free port) and stop it afterwards."""
    server = ContractServer(app)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    httpd.daemon_threads = True
    server.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def require_keys(
    what: str, value: Any, allowed: set[str], required: frozenset[str] | set[str] = frozenset()
) -> dict[str, Any]:
    """Check that ``value`` is an object with only ``allowed`` and all ``required`` keys."""
    if not isinstance(value, dict):
        raise ContractViolation(f"{what} must be a JSON object, got {type(value).__name__}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ContractViolation(f"{what} has fields the API does not define: {unknown}")
    missing = sorted(required - set(value))
    if missing:
        raise ContractViolation(f"{what} lacks required fields {missing}")
    return value


def require_query(seen: Seen, allowed: set[str]) -> None:
    """Check that only ``allowed`` query parameters are used, each once."""
    unknown = sorted(set(seen.query) - allowed)
    if unknown:
        raise ContractViolation(f"query parameters the API does not define: {unknown}")
    repeated = sorted(k for k, v in seen.query.items() if len(v) > 1)
    if repeated:
        raise ContractViolation(f"query parameters given more than once: {repeated}")


def require_bearer(seen: Seen, token: str | None) -> None:
    """Check the ``Authorization: Bearer`` header when a token is expected (and its absence otherwise)."""
    got = seen.headers.get("authorization")
    if token is None:
        if got is not None:
            raise ContractViolation("an Authorization header was sent though no token is configured")
        return
    if got != f"Bearer {token}":
        raise ContractViolation("missing or wrong 'Authorization: Bearer <token>' header")


def require_json_body(seen: Seen) -> None:
    """Check that a request with a body declares it as JSON."""
    if seen.body is not None and not seen.headers.get("content-type", "").startswith("application/json"):
        raise ContractViolation("a request body must be sent as application/json")
