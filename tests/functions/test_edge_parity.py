"""``serve`` and the deployed ingest function answer the same bytes, good requests and bad.

Both run the engine's one edge (:mod:`kfp_triggers.app.edge`): ``serve`` under its own server, the
function under functions-framework's gunicorn, started as a real process. Each raw request of the
table goes to both over a socket, and the status, content type and body must be equal. Requests a
server refuses before our code runs are not in the table: gunicorn answers a malformed request
line or a Content-Length that is not a number (``-1`` included) with its own HTML 400, where
``serve`` answers JSON (see the README's Security section).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from kfp_triggers.app.runtime import Settings
from kfp_triggers.app.serve import Server, start
from tests.chain.test_serve_hostile import Reply
from tests.conftest import EXAMPLES
from tests.functions.ff_process import example_settings, running_function

EXAMPLE = EXAMPLES / "github-push"
LIMIT = 64 * 1024
PUSH = (EXAMPLE / "requests" / "push.http").read_bytes()
HEAD, _, BODY = PUSH.partition(b"\r\n\r\n")
LINES = [ln for ln in HEAD.split(b"\r\n")[1:] if not ln.lower().startswith((b"content-length", b"host"))]


def request(
    target: str = "/", body: bytes = BODY, *, length: bytes | None = None, headers: list[bytes] | None = None
) -> bytes:
    lines = [b"POST " + target.encode() + b" HTTP/1.1", b"Host: hooks.example.com", *(headers or LINES)]
    lines.append(b"Content-Length: " + (str(len(body)).encode() if length is None else length))
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


CASES = {
    "a signed push": request(),
    "the listener by name": request("/github-push"),
    "the listener by namespace and name": request("/default/github-push"),
    "no such listener": request("/nobody"),
    "a body that is not JSON": request(body=b"{not json"),
    "a JSON array": request(body=b"[1, 2]"),
    "a body over the limit": request(body=b"{" + b" " * LIMIT + b"}"),
    "liveness": b"GET /live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "a CloudEvent in binary mode": request(
        body=b'{"ref": "refs/heads/main"}',
        headers=[
            b"Content-Type: application/json",
            b"Ce-Specversion: 1.0",
            b"Ce-Id: ce-1",
            b"Ce-Source: /tests",
            b"Ce-Type: dev.example.push",
        ],
    ),
}


@pytest.fixture(scope="module")
def serve_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    tmp = tmp_path_factory.mktemp("serve")
    settings = Settings(
        config=str(EXAMPLE),
        secrets_dir=str(EXAMPLE / "secrets"),
        store=f"sqlite:///{tmp}/state.db",
        max_body_bytes=LIMIT,
    )
    srv: Server = start(settings, {"KFPT_LAUNCHER": "dry-run"}, port=0, tick_s=60)
    threading.Thread(target=srv.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        host, port = srv.httpd.server_address[:2]
        yield str(host), port
    finally:
        srv.httpd.shutdown()
        srv.close()


@pytest.fixture(scope="module")
def function_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    tmp = tmp_path_factory.mktemp("function")
    settings = example_settings(tmp, KFPT_MAX_BODY_BYTES=str(LIMIT))
    with running_function("ingest", "ingest_webhook", settings, tmp) as (port, _log):
        yield "127.0.0.1", port


def exchange(address: tuple[str, int], raw: bytes) -> Reply:
    with socket.create_connection(address, timeout=30) as sock:
        sock.sendall(raw)
        return Reply(sock)


@pytest.mark.parametrize("case", list(CASES))
def test_serve_and_the_function_answer_alike(
    case: str, serve_address: tuple[str, int], function_address: tuple[str, int]
) -> None:
    local, deployed = exchange(serve_address, CASES[case]), exchange(function_address, CASES[case])
    assert (local.status, local.headers.get("content-type"), local.body) == (
        deployed.status,
        deployed.headers.get("content-type"),
        deployed.body,
    )
    assert local.status < 500, local.body
