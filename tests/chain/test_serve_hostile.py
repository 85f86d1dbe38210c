"""``serve`` against hostile clients: raw sockets on 127.0.0.1, the real server and chain.

Whatever a client sends, it gets a status line and a JSON error (never a silent close where an
answer is due, never an HTML page), and it cannot make the server hold a body past the limit, a
thread past the timeouts, or more threads than the connection limit.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.app.runtime import Settings
from kfp_triggers.app.serve import Server, start, wait_for
from kfp_triggers.app.wsgi_server import ServerLimits
from tests.conftest import EXAMPLES

EXAMPLE = EXAMPLES / "github-push"
PUSH = EXAMPLE / "requests" / "push.http"
LIMIT = 1024 * 1024
# Long enough that nothing times out by accident on a loaded machine; the timeout tests shorten it.
CLIENT_TIMEOUT_S = 30


@contextmanager
def serving(tmp_path: Path, **limits: Any) -> Iterator[Server]:
    settings = Settings(
        config=str(EXAMPLE),
        secrets_dir=str(EXAMPLE / "secrets"),
        store=f"sqlite:///{tmp_path}/state.db",
        max_body_bytes=LIMIT,
    )
    srv = start(settings, {"KFPT_LAUNCHER": "dry-run"}, port=0, tick_s=60, limits=ServerLimits(**limits))
    threading.Thread(target=srv.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield srv
    finally:
        srv.httpd.shutdown()
        srv.close()


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.chdir(tmp_path)
    with serving(tmp_path) as srv:
        yield srv


def connect(srv: Server) -> socket.socket:
    host, port = srv.httpd.server_address[:2]
    return socket.create_connection((str(host), port), timeout=CLIENT_TIMEOUT_S)


class Reply:
    """One HTTP response read off a socket (or off the stream a previous one was read from)."""

    def __init__(self, sock: socket.socket | None = None, *, stream: Any = None) -> None:
        assert (sock is None) != (stream is None)
        self.stream = stream if sock is None else sock.makefile("rb")
        self.status_line = self.stream.readline().decode("latin-1").rstrip("\r\n")
        self.headers: dict[str, str] = {}
        while line := self.stream.readline().decode("latin-1").rstrip("\r\n"):
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        self.body = self.stream.read(int(self.headers.get("content-length", "0")))

    @property
    def status(self) -> int:
        return int(self.status_line.split()[1])

    def json(self) -> Any:
        assert self.headers.get("content-type") == "application/json", (self.headers, self.body[:200])
        return json.loads(self.body)


def closed(sock: socket.socket) -> bool:
    """True once the server has closed the connection (what is left unread is drained)."""
    while True:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            return True
        if not data:
            return True


def push_parts() -> tuple[list[bytes], bytes]:
    """The example push's header lines without Content-Length, and its body."""
    head, _, body = PUSH.read_bytes().partition(b"\r\n\r\n")
    lines = [ln for ln in head.split(b"\r\n") if not ln.lower().startswith(b"content-length")]
    return lines, body


def exchange(srv: Server, raw: bytes) -> Reply:
    with connect(srv) as sock:
        sock.sendall(raw)
        return Reply(sock)


# --- body framing -----------------------------------------------------------------------------


def test_a_negative_content_length_is_refused_not_read_to_the_end(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n{}")  # and keep it open
        reply = Reply(sock)
        assert reply.status == 400
        assert "Content-Length" in reply.json()["error"]
        assert closed(sock)


def test_a_content_length_that_is_not_a_number_is_refused(server: Server) -> None:
    for value in (b"ten", b"1e3", b"+5", b"5, 6"):
        reply = exchange(server, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " + value + b"\r\n\r\n{}")
        assert reply.status == 400, value
        assert "Content-Length" in reply.json()["error"]


def test_a_huge_content_length_is_refused_before_the_body_is_sent(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 419430400\r\n\r\n{")
        reply = Reply(sock)
        assert reply.status == 413
        assert reply.json()["error"] == f"request body is 419430400 bytes; the limit is {LIMIT}"
        assert closed(sock)  # the unread body is not taken for the next request


def test_a_chunked_push_is_de_chunked_and_accepted(server: Server) -> None:
    lines, body = push_parts()
    pieces = [body[i : i + 1000] for i in range(0, len(body), 1000)]
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces)
    raw = b"\r\n".join([*lines, b"Transfer-Encoding: chunked"]) + b"\r\n\r\n" + chunked + b"0\r\n\r\n"
    reply = exchange(server, raw)
    assert reply.status == 202, reply.body
    assert json.loads(reply.body)["eventID"] == "0b6f5a2e-c9d1-11f0-8a1e-4f2c7a9d3b01"


def test_a_chunked_body_over_the_limit_is_refused(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * 65536
        try:  # the server answers once it has read one byte past the limit, and stops reading
            for _ in range(LIMIT // len(chunk) + 2):
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:
            pass
        reply = Reply(sock)
        assert reply.status == 413
        assert f"limit of {LIMIT} bytes" in reply.json()["error"]


@pytest.mark.parametrize(
    "body",
    [
        b"zz\r\n{}\r\n0\r\n\r\n",  # a chunk size that is not hexadecimal
        b"-2\r\n{}\r\n0\r\n\r\n",  # a negative chunk size
        b"2\r\n{}XX0\r\n\r\n",  # a chunk without its CRLF
        b"2\r\n{",  # the body ends inside a chunk
    ],
)
def test_bad_chunking_is_refused(server: Server, body: bytes) -> None:
    with connect(server) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
        sock.shutdown(socket.SHUT_WR)
        reply = Reply(sock)
        assert reply.status == 400
        assert reply.json() == {"error": "the request body is malformed or incomplete"}


def test_conflicting_or_unknown_framing_is_refused(server: Server) -> None:
    both = b"POST / HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
    reply = exchange(server, both)
    assert reply.status == 400
    assert "both Content-Length and Transfer-Encoding" in reply.json()["error"]
    gzip = exchange(server, b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n")
    assert gzip.status == 501
    assert "chunked" in gzip.json()["error"]


# --- request line and headers -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GET /\r\n\r\n", 400),  # HTTP/0.9 style: no version
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET  / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1 extra\r\n\r\n", 400),
        (b"G(T / HTTP/1.1\r\n\r\n", 400),
        (b"GET /\x01 HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTX/1.1\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\n\r\n", 414),
    ],
)
def test_a_malformed_request_line_gets_a_status_line_and_json(
    server: Server, raw: bytes, status: int
) -> None:
    with connect(server) as sock:
        sock.sendall(raw)
        reply = Reply(sock)
        assert reply.status_line.startswith(f"HTTP/1.1 {status} ")
        assert reply.json()["error"]
        assert closed(sock)


@pytest.mark.parametrize(
    ("header", "status"),
    [
        (b"X-Big: " + b"a" * 65536, 431),
        (b"X-Big: " + b"a" * 8200, 431),
        (b"No colon here", 400),
        (b"Bad Name: x", 400),
        (b" folded: x", 400),
        (b"X-Nul: a\x00b", 400),
    ],
)
def test_an_oversized_or_malformed_header_gets_json(server: Server, header: bytes, status: int) -> None:
    reply = exchange(server, b"GET /live HTTP/1.1\r\nHost: x\r\n" + header + b"\r\n\r\n")
    assert reply.status == status
    assert reply.json()["error"]


def test_too_many_header_fields_get_431(server: Server) -> None:
    fields = b"".join(b"X-F%d: v\r\n" % n for n in range(101))
    reply = exchange(server, b"GET /live HTTP/1.1\r\n" + fields + b"\r\n")
    assert reply.status == 431
    assert "100 header fields" in reply.json()["error"]


# --- time and threads -------------------------------------------------------------------------


def test_an_idle_connection_is_closed_by_the_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with serving(tmp_path, idle_timeout_s=0.3) as srv, connect(srv) as sock:
        assert closed(sock)  # nothing was sent: closed without an answer


def test_headers_trickled_in_slowly_get_408(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with serving(tmp_path, header_timeout_s=0.5) as srv, connect(srv) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\n")
        answered = threading.Event()

        def trickle() -> None:  # a byte at a time, each well within any per-read timeout
            while not answered.wait(0.05):
                try:
                    sock.sendall(b"X")
                except OSError:
                    return

        threading.Thread(target=trickle, daemon=True).start()
        try:
            reply = Reply(sock)
        finally:
            answered.set()
        assert reply.status == 408
        assert "did not arrive in time" in reply.json()["error"]


def test_a_body_trickled_in_slowly_gets_408(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with serving(tmp_path, body_timeout_s=0.5) as srv, connect(srv) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
        reply = Reply(sock)
        assert reply.status == 408
        assert reply.json() == {"error": "the request body did not arrive in time"}


def test_connections_beyond_the_limit_get_503_until_a_slot_frees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with serving(tmp_path, max_connections=2) as srv:
        held = [connect(srv), connect(srv)]
        try:
            busy = exchange(srv, b"GET /live HTTP/1.1\r\n\r\n")
            assert busy.status == 503
            assert busy.headers["retry-after"] == "1"
            assert busy.json() == {"error": "the server is busy; retry later"}
        finally:
            for sock in held:
                sock.close()
        assert wait_for(lambda: _live_status(srv) == 200, 10)


def _live_status(srv: Server) -> int:
    return exchange(srv, b"GET /live HTTP/1.1\r\n\r\n").status


# --- what still works ---------------------------------------------------------------------------


def test_a_kept_alive_connection_carries_several_requests(server: Server) -> None:
    with connect(server) as sock:
        for _ in range(3):
            sock.sendall(b"GET /live HTTP/1.1\r\nHost: x\r\n\r\n")
            reply = Reply(sock)
            assert (reply.status, reply.body) == (200, b"ok")
            assert "connection" not in reply.headers
        sock.sendall(b"GET /live HTTP/1.1\r\nConnection: close\r\n\r\n")
        assert Reply(sock).headers["connection"] == "close"
        assert closed(sock)


def test_expect_100_continue_is_answered_before_the_body_is_read(server: Server) -> None:
    lines, body = push_parts()
    head = b"\r\n".join([*lines, b"Content-Length: %d" % len(body), b"Expect: 100-continue"])
    with connect(server) as sock:
        sock.sendall(head + b"\r\n\r\n")
        interim = Reply(sock)
        assert interim.status_line == "HTTP/1.1 100 Continue"
        sock.sendall(body)
        reply = Reply(stream=interim.stream)
        assert reply.status == 202, reply.body
