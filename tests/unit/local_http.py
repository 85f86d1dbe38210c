"""A real HTTP server on 127.0.0.1 for contract tests: it records every request and replays canned replies.

Services such as GitHub or a Tekton ClusterInterceptor cannot run here, so tests start this server
in-process, point the client at it, and assert on the exact method, path, query, headers and body
the client sent, as the published API of the real service specifies them.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Recorded:
    """One request the server received."""

    method: str
    target: str  # path and query, as sent
    headers: dict[str, str]  # lower-cased names; the last value of a repeated header
    body: bytes
    header_lines: tuple[tuple[str, str], ...] = ()  # every header line, in order, as sent


@dataclass
class Reply:
    """What to answer: status, body and extra headers; ``delay_s`` sleeps first (for timeouts)."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class LocalServer:
    """Routes are keyed by ``"METHOD target"``; unknown routes answer 599 so tests notice."""

    base_url: str
    routes: dict[str, Reply]
    requests: list[Recorded]

    def targets(self) -> list[str]:
        """``"METHOD target"`` of every request, in arrival order."""
        return [f"{r.method} {r.target}" for r in self.requests]


@contextmanager
def local_server(
    routes: dict[str, Reply] | None = None, tls: ssl.SSLContext | None = None
) -> Iterator[LocalServer]:
    """Run a recording server (HTTPS when ``tls`` is given) for the duration of the ``with`` block."""
    state = LocalServer(base_url="", routes=dict(routes or {}), requests=[])
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            lines = tuple(self.headers.items())
            state.requests.append(Recorded(self.command, self.path, headers, body, lines))
            reply = state.routes.get(f"{self.command} {self.path}", Reply(599, b"no such route"))
            if reply.delay_s:
                stop.wait(reply.delay_s)
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        do_GET = do_POST = _serve  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:
            return

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            return  # a client that gave up (timeout tests) is expected, not a failure

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    scheme = "https" if tls is not None else "http"
    state.base_url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
