"""The push relay delivers a pull subscription as Cloud Pub/Sub push does, more than two at a time.

A local HTTP endpoint answers 204 or 500 as each message's ``answer`` attribute says (and can be
slow); the relay reads a pull subscription on the emulator that has a dead-letter policy. What
must hold: each message the endpoint took arrives once, in the push body shape, and is acked; each
one it refused comes back (nacked, redelivered with a growing ``deliveryAttempt``); and a slow
endpoint sees more than the emulator's own two pushes in flight.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from kfp_triggers.adapters.transports.pubsub import (
    publisher_client,
    subscriber_client,
    subscription_path,
    topic_path,
)
from tests.emulator.chain_support import unique_project
from tests.emulator.push_relay import PushRelay

pytestmark = pytest.mark.emulator

PUSH_PATH = "/projects/p/topics/t"
TIMES = ("publishTime", "publish_time")


class Endpoint:
    """What the endpoint received, and how many requests it had open at once."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.requests: list[dict[str, Any]] = []
        self.open = 0
        self.peak = 0
        self.lock = threading.Lock()

    def bodies(self, answer: str) -> list[dict[str, Any]]:
        with self.lock:
            bodies = [r["body"] for r in self.requests]
        return [b for b in bodies if b["message"]["attributes"]["answer"] == answer]


@contextmanager
def serving(delay_s: float = 0.0) -> Iterator[tuple[str, Endpoint]]:
    """An HTTP/1.1 endpoint on 127.0.0.1: 204 for ``answer=ok``, 500 otherwise, after ``delay_s``."""
    seen = Endpoint(delay_s)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            with seen.lock:
                seen.open += 1
                seen.peak = max(seen.peak, seen.open)
            try:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                body = json.loads(raw)
                with seen.lock:
                    seen.requests.append(
                        {"path": self.path, "type": self.headers["Content-Type"], "body": body}
                    )
                time.sleep(seen.delay_s)
                ok = body["message"]["attributes"].get("answer") == "ok"
            finally:
                with seen.lock:
                    seen.open -= 1
            self.send_response(204 if ok else 500)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{PUSH_PATH}", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def subscription(pubsub_emulator: str) -> Iterator[tuple[dict[str, str], str, Callable[..., None]]]:
    """A topic with a pull subscription (dead-letter policy, 5 attempts); yields environ, path, publish."""
    from google.cloud import pubsub_v1

    environ = {"PUBSUB_EMULATOR_HOST": pubsub_emulator}
    project = unique_project("kfpt-relay")
    publisher, subscriber = publisher_client(environ), subscriber_client(environ)
    topic, dead = topic_path(project, "work"), topic_path(project, "work-dead-letter")
    for name in (topic, dead):
        publisher.create_topic(name=name)
    path = subscription_path(project, "work-sub")
    subscriber.create_subscription(
        request={
            "name": path,
            "topic": topic,
            "ack_deadline_seconds": 10,
            "dead_letter_policy": pubsub_v1.types.DeadLetterPolicy(
                dead_letter_topic=dead, max_delivery_attempts=5
            ),
        }
    )

    def publish(data: bytes, **attributes: str) -> None:
        publisher.publish(topic, data, **attributes).result(timeout=10)

    try:
        yield environ, path, publish
    finally:
        subscriber.close()
        publisher.stop()


def _wait(what: str, probe: Callable[[], bool], limit_s: float = 8.0) -> None:
    deadline = time.monotonic() + limit_s
    while not probe():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def test_relay_pushes_the_push_body_acks_2xx_and_nacks_errors(
    subscription: tuple[dict[str, str], str, Callable[..., None]],
) -> None:
    environ, path, publish = subscription
    with serving() as (url, seen):
        relay = PushRelay(path, url, environ, in_flight=4, timeout_s=5).start()
        try:
            for i in range(6):
                publish(f"ok {i}".encode(), answer="ok", index=str(i))
            for i in range(2):
                publish(f"fail {i}".encode(), answer="fail", index=str(i))
            _wait("every accepted push", lambda: len(seen.bodies("ok")) >= 6)
            _wait("refused pushes to come back", lambda: len(seen.bodies("fail")) >= 4)
            time.sleep(0.3)  # a second delivery of an acked message would show up about now
        finally:
            relay.stop()

    accepted = seen.bodies("ok")
    assert sorted(b["message"]["attributes"]["index"] for b in accepted) == [str(i) for i in range(6)]
    for body in accepted:
        message = body["message"]
        assert set(body) == {"message", "subscription", "deliveryAttempt"}
        assert body["subscription"] == path
        assert body["deliveryAttempt"] == 1
        assert set(message) == {"attributes", "data", "messageId", "message_id", *TIMES}
        assert base64.b64decode(message["data"]) == f"ok {message['attributes']['index']}".encode()
        assert message["attributes"] == {"answer": "ok", "index": message["attributes"]["index"]}
        assert message["messageId"] == message["message_id"] and message["messageId"]
        assert message["publishTime"] == message["publish_time"] and message["publishTime"].endswith("Z")
    assert all(r["path"] == PUSH_PATH and r["type"] == "application/json" for r in seen.requests)
    assert relay.stats.acked == 6, relay.stats

    refused = seen.bodies("fail")
    attempts: dict[str, list[int]] = {}
    for body in refused:
        attempts.setdefault(body["message"]["messageId"], []).append(body["deliveryAttempt"])
    assert len(attempts) == 2 and all(len(a) >= 2 for a in attempts.values()), attempts
    assert all(a == sorted(a) and a[-1] > a[0] for a in attempts.values()), attempts
    assert relay.stats.nacked == len(refused) and relay.stats.failed == 0, relay.stats


def test_relay_keeps_more_than_two_pushes_in_flight(
    subscription: tuple[dict[str, str], str, Callable[..., None]],
) -> None:
    environ, path, publish = subscription
    with serving(delay_s=0.4) as (url, seen):
        relay = PushRelay(path, url, environ, in_flight=8, timeout_s=5).start()
        try:
            for i in range(16):
                publish(b"slow", answer="ok", index=str(i))
            _wait("every slow push", lambda: relay.stats.acked >= 16)
        finally:
            relay.stop()
    assert seen.peak > 2, f"at most {seen.peak} pushes in flight"
    assert relay.stats.peak_in_flight <= 8
    assert len(seen.requests) == 16
