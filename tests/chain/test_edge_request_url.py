"""The request URL the stages see is Go's ``URL.String()`` of the target, as Tekton hands it on.

Through ``serve`` (the same edge the ingest function runs): the path is re-escaped by Go's rules,
the query kept as sent, and a target Go's server refuses is answered 400 before any listener.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from kfp_triggers.app.serve import Server, wait_for
from kfp_triggers.wire.events import EventReceived, from_pubsub_message, read_data
from tests.chain.serving import serving


def _raw(server: Server, target: str, body: bytes = b"{}") -> bytes:
    url = urlsplit(server.url)
    head = f"POST {target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    head += f"Content-Length: {len(body)}\r\n"
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(head.encode() + b"X-GitHub-Delivery: url-1\r\n\r\n" + body)
        return sock.recv(65536)


def _received_urls(server: Server) -> list[str]:
    urls = []
    for message in list(server.ctx.publisher.published):
        event = from_pubsub_message(message.data, dict(message.attributes), message_id=message.message_id)
        data = read_data(event)
        if isinstance(data, EventReceived):
            urls.append(data.request.url)
    return urls


def test_the_path_is_escaped_as_go_does_and_a_bad_target_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with serving(tmp_path, {"KFPT_LAUNCHER": "dry-run"}) as server:
        answer = _raw(server, "/github-push/a|b?x=a|b")
        assert answer.startswith(b"HTTP/1.1 202"), answer
        assert wait_for(lambda: bool(_received_urls(server)), 10)
        assert _received_urls(server) == ["/github-push/a%7Cb?x=a|b"]
        refused = _raw(server, "/%zz")
        assert refused.startswith(b"HTTP/1.1 400"), refused
        body = refused.split(b"\r\n\r\n", 1)[1]
        assert "the request target is not a valid URL" in json.loads(body)["error"]
