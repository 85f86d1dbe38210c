"""Transports: the in-process bus's Pub/Sub-like delivery, the HTTP sink on a real server, the factory."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.adapters.transports import (
    Publisher,
    TransportConfigError,
    TransportError,
    publisher_from_env,
)
from kfp_triggers.adapters.transports.base import MAX_PUBLISH_BYTES, MessageTooLargeError
from kfp_triggers.adapters.transports.http import HttpSinkPublisher
from kfp_triggers.adapters.transports.memory import MemoryBus
from kfp_triggers.adapters.transports.pubsub import (
    subscription_path,
    topic_path,
    topic_prefix_from_env,
)
from kfp_triggers.adapters.transports.pubsub_rest import PubSubRestPublisher
from kfp_triggers.wire import events as ev
from kfp_triggers.wire.eventdata import ObjectRef, RunCreated, RunState
from kfp_triggers.wire.eventtypes import RUN_CREATED, prefixed

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def created(n: int = 1) -> ev.CloudEvent:
    payload = RunCreated(f"d-{n}", f"key-{n}", f"run-{n}", "local", "PENDING", None)
    return ev.event_for(payload, source="//kfp-triggers/launch", traceparent=PARENT)


class Flaky:
    """A handler that fails its first ``failures`` calls, then records what it gets."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0
        self.received: list[ev.CloudEvent] = []

    def __call__(self, event: ev.CloudEvent) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError(f"boom {self.calls}")
        self.received.append(event)


# --- memory bus -----------------------------------------------------------------------------------


def test_memory_bus_delivers_a_copy_of_the_event_and_records_the_message() -> None:
    bus = MemoryBus()
    handler = Flaky(0)
    bus.subscribe("kfpt-runs", handler)
    event = created()
    message_id = bus.publish("kfpt-runs", event)
    assert handler.received == [event]
    assert handler.received[0] is not event
    assert [m.message_id for m in bus.messages("kfpt-runs")] == [message_id]
    assert bus.events("kfpt-runs") == [event]
    assert json.loads(bus.published[0].data)["type"] == RUN_CREATED
    assert bus.published[0].attributes == {"content-type": ev.CLOUDEVENTS_JSON}


def test_memory_bus_keeps_only_the_latest_messages_but_delivers_all() -> None:
    bus = MemoryBus(record_limit=3)
    handler = Flaky(0)
    bus.subscribe("kfpt-runs", handler)
    ids = [bus.publish("kfpt-runs", created(n)) for n in range(5)]
    assert len(handler.received) == 5
    assert [m.message_id for m in bus.published] == ids[2:]


def test_memory_bus_refuses_what_pub_sub_would_refuse() -> None:
    bus = MemoryBus()
    handler = Flaky(0)
    bus.subscribe("kfpt-runs", handler)
    event = created()
    event.data = {"blob": "x" * (MAX_PUBLISH_BYTES - 200)}  # under the limit alone, over it encoded
    with pytest.raises(MessageTooLargeError, match=r"over its limit of 10000000 bytes") as info:
        bus.publish("kfpt-runs", event)
    assert info.value.retryable is False
    assert not bus.published and not handler.received
    event.data = {"blob": "x" * (MAX_PUBLISH_BYTES - 1000)}
    bus.publish("kfpt-runs", event)
    assert len(handler.received) == 1


def test_memory_bus_is_a_publisher() -> None:
    assert isinstance(MemoryBus(), Publisher)


def test_memory_bus_retries_a_failing_handler_until_it_succeeds() -> None:
    bus = MemoryBus(max_delivery_attempts=5)
    handler = Flaky(2)
    bus.subscribe("kfpt-runs", handler)
    bus.publish("kfpt-runs", created())
    assert handler.calls == 3
    assert len(handler.received) == 1
    assert [f.attempt for f in bus.failures] == [1, 2]
    assert bus.dead_letters("kfpt-runs") == []


def test_memory_bus_dead_letters_after_max_attempts() -> None:
    bus = MemoryBus(max_delivery_attempts=5)
    handler = Flaky(100)
    dead: list[ev.CloudEvent] = []
    sub = bus.subscribe("kfpt-runs", handler)
    bus.subscribe("kfpt-runs-dead-letter", dead.append)
    event = created()
    bus.publish("kfpt-runs", event)
    assert handler.calls == 5
    assert [f.attempt for f in bus.failures] == [1, 2, 3, 4, 5]
    assert "boom 5" in bus.failures[-1].error
    letters = bus.dead_letters("kfpt-runs")
    assert len(letters) == 1
    assert letters[0].attributes["CloudPubSubDeadLetterSourceDeliveryCount"] == "5"
    assert letters[0].attributes["CloudPubSubDeadLetterSourceSubscription"] == sub
    assert letters[0].event == event
    assert dead == [event]


def test_each_subscription_retries_independently() -> None:
    bus = MemoryBus(max_delivery_attempts=3)
    good, bad = Flaky(0), Flaky(100)
    bus.subscribe("kfpt-runs", good, name="good")
    bus.subscribe("kfpt-runs", bad, name="bad")
    bus.publish("kfpt-runs", created())
    assert good.calls == 1 and bad.calls == 3
    assert {f.subscription for f in bus.failures} == {"bad"}
    assert len(bus.dead_letters("kfpt-runs")) == 1


def test_messages_go_only_to_subscribers_of_their_topic() -> None:
    bus = MemoryBus()
    runs, states = Flaky(0), Flaky(0)
    bus.subscribe("kfpt-runs", runs)
    bus.subscribe("kfpt-run-states", states)
    bus.publish("kfpt-runs", created())
    assert len(runs.received) == 1 and states.received == []


def test_synchronous_bus_runs_a_chain_inside_the_first_publish() -> None:
    bus = MemoryBus()
    states: list[ev.CloudEvent] = []

    def status(event: ev.CloudEvent) -> None:
        run = ev.read_data(event)
        assert isinstance(run, RunCreated)
        follow = RunState(
            run.event_id,
            run.run_id,
            run.backend,
            "RUNNING",
            run.state,
            None,
            ObjectRef("n", "t"),
            ObjectRef("n", "l"),
        )
        bus.publish(
            "kfpt-run-states",
            ev.event_for(follow, source="//kfp-triggers/status", traceparent=ev.traceparent_of(event)),
        )

    bus.subscribe("kfpt-runs", status)
    bus.subscribe("kfpt-run-states", states.append)
    bus.publish("kfpt-runs", created())
    assert len(states) == 1
    assert ev.origin_event_id(states[0]) == "d-1"


def test_queued_bus_delivers_on_drain_and_requeues_failures_behind_other_messages() -> None:
    bus = MemoryBus(synchronous=False, max_delivery_attempts=2)
    order: list[str] = []

    def handler(event: ev.CloudEvent) -> None:
        order.append(event["id"])
        if event["id"] == "d-1/key-1" and order.count("d-1/key-1") == 1:
            raise RuntimeError("first try fails")

    bus.subscribe("kfpt-runs", handler)
    bus.publish("kfpt-runs", created(1))
    bus.publish("kfpt-runs", created(2))
    assert order == [] and bus.pending == 2
    assert bus.drain() == 3
    assert order == ["d-1/key-1", "d-2/key-2", "d-1/key-1"]
    assert bus.pending == 0 and bus.dead_letters("kfpt-runs") == []


def test_queued_bus_dead_letters_after_max_attempts() -> None:
    bus = MemoryBus(synchronous=False, max_delivery_attempts=3)
    handler = Flaky(100)
    bus.subscribe("kfpt-runs", handler)
    bus.publish("kfpt-runs", created())
    bus.drain()
    assert handler.calls == 3
    assert len(bus.dead_letters("kfpt-runs")) == 1


def test_background_worker_delivers_queued_messages() -> None:
    bus = MemoryBus(synchronous=False)
    got = threading.Event()
    received: list[ev.CloudEvent] = []

    def handler(event: ev.CloudEvent) -> None:
        received.append(event)
        got.set()

    bus.subscribe("kfpt-runs", handler)
    bus.start()
    try:
        bus.publish("kfpt-runs", created())
        assert got.wait(10)
    finally:
        bus.stop()
    assert [e["id"] for e in received] == ["d-1/key-1"]
    assert bus.pending == 0


def test_publishing_unserialisable_data_fails_at_publish_time() -> None:
    bus = MemoryBus()
    event = created()
    event.data = {"when": object()}
    with pytest.raises(TypeError):
        bus.publish("kfpt-runs", event)
    assert not bus.published


def test_memory_bus_rejects_zero_attempts() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        MemoryBus(max_delivery_attempts=0)


# --- HTTP sink ------------------------------------------------------------------------------------


@dataclass
class Sink:
    """A real local HTTP server that records requests and answers with ``status``."""

    url: str
    status: int = 202
    reply: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    block: bool = False


@pytest.fixture
def sink() -> Iterator[Sink]:
    state = Sink(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            state.requests.append(
                (self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            if state.block:
                state.release.wait(10)
                self.close_connection = True
                return  # the client gave up long ago; answering would only hit a closed socket
            self.send_response(state.status)
            for name, value in state.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(state.reply)))
            self.end_headers()
            self.wfile.write(state.reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_http_sink_posts_a_binary_mode_cloudevent(sink: Sink) -> None:
    event = created()
    publisher = HttpSinkPublisher(sink.url + "broker", headers={"Authorization": "Bearer t"})
    assert publisher.publish("kfpt-runs", event) == "d-1/key-1"
    [(method, path, headers, body)] = sink.requests
    assert (method, path) == ("POST", "/broker")
    assert headers["ce-specversion"] == "1.0"
    assert headers["ce-id"] == "d-1/key-1"
    assert headers["ce-type"] == RUN_CREATED
    assert headers["ce-source"] == "//kfp-triggers/launch"
    assert headers["ce-kfpteventid"] == "d-1"
    assert headers["ce-traceparent"] == event["traceparent"]
    assert headers["content-type"] == "application/json"
    assert headers["authorization"] == "Bearer t"
    assert json.loads(body) == event.data
    assert ev.from_http_request(headers, body) == event
    assert isinstance(publisher, Publisher)


def test_http_sink_sends_the_mounted_oidc_token_read_at_each_publish(sink: Sink, tmp_path: Path) -> None:
    """A Broker that authenticates senders (Knative Eventing's OIDC) learns which stage posts."""
    token = tmp_path / "token"
    token.write_text("tok-1\n")
    publisher = HttpSinkPublisher(sink.url, token_file=token)
    publisher.publish("t", created())
    token.write_text("tok-2")  # rotated by the kubelet
    publisher.publish("t", created())
    assert [h["authorization"] for _m, _p, h, _b in sink.requests] == ["Bearer tok-1", "Bearer tok-2"]
    token.write_text("")
    with pytest.raises(TransportError, match="empty"):
        publisher.publish("t", created())
    token.unlink()
    with pytest.raises(TransportError) as missing:
        publisher.publish("t", created())
    assert "tok-2" not in str(missing.value)


@pytest.mark.parametrize(("status", "reply"), [(500, b"broker down"), (404, b""), (400, b"bad event")])
def test_http_sink_non_2xx_is_a_transport_error(sink: Sink, status: int, reply: bytes) -> None:
    sink.status, sink.reply = status, reply
    with pytest.raises(TransportError, match=f"HTTP {status}") as info:
        HttpSinkPublisher(sink.url).publish("t", created())
    assert info.value.retryable
    if reply:
        assert reply.decode() in str(info.value)


def test_http_sink_413_is_a_message_too_large_for_good(sink: Sink) -> None:
    sink.status, sink.reply = 413, b"request entity too large"
    with pytest.raises(MessageTooLargeError, match="HTTP 413: request entity too large") as info:
        HttpSinkPublisher(sink.url).publish("t", created())
    assert not info.value.retryable


def test_http_sink_does_not_follow_redirects(sink: Sink) -> None:
    sink.status, sink.headers = 307, {"Location": "/elsewhere"}
    with pytest.raises(TransportError, match="HTTP 307"):
        HttpSinkPublisher(sink.url).publish("t", created())
    assert [r[1] for r in sink.requests] == ["/"]


def test_http_sink_time_out_is_a_transport_error(sink: Sink) -> None:
    sink.block = True
    with pytest.raises(TransportError, match="unreachable"):
        HttpSinkPublisher(sink.url, timeout=0.2).publish("t", created())


def test_http_sink_connection_refused_is_a_transport_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TransportError, match="unreachable"):
        HttpSinkPublisher(f"http://127.0.0.1:{port}/", timeout=2).publish("t", created())


@pytest.mark.parametrize("url", ["", "ftp://x/", "localhost:8080", "http://"])
def test_http_sink_needs_an_http_url(url: str) -> None:
    with pytest.raises(TransportConfigError, match="http"):
        HttpSinkPublisher(url)


# --- factory --------------------------------------------------------------------------------------


def test_factory_defaults_to_the_memory_bus() -> None:
    assert isinstance(publisher_from_env({}), MemoryBus)
    assert isinstance(publisher_from_env({"KFPT_TRANSPORT": "memory"}), MemoryBus)


def test_factory_http_prefers_kfpt_sink_url_over_k_sink() -> None:
    publisher = publisher_from_env({"KFPT_TRANSPORT": "http", "K_SINK": "http://broker/"})
    assert isinstance(publisher, HttpSinkPublisher) and publisher.url == "http://broker/"
    env = {
        "KFPT_TRANSPORT": "http",
        "K_SINK": "http://broker/",
        "KFPT_SINK_URL": "http://other/",
        "KFPT_PUBLISH_TIMEOUT": "2.5",
    }
    publisher = publisher_from_env(env)
    assert isinstance(publisher, HttpSinkPublisher)
    assert (publisher.url, publisher.timeout) == ("http://other/", 2.5)


def test_factory_pubsub_reads_project_and_emulator() -> None:
    publisher = publisher_from_env(
        {
            "KFPT_TRANSPORT": "pubsub",
            "GOOGLE_CLOUD_PROJECT": "g",
            "KFPT_PUBSUB_PROJECT": "k",
            "PUBSUB_EMULATOR_HOST": "h:1",
        }
    )
    # The stages publish over REST: no gRPC client on a cold stage's first hand-off.
    assert isinstance(publisher, PubSubRestPublisher)
    assert (publisher.project, publisher.root) == ("k", "http://h:1/v1")
    fallback = publisher_from_env({"KFPT_TRANSPORT": "pubsub", "GOOGLE_CLOUD_PROJECT": "g"})
    assert isinstance(fallback, PubSubRestPublisher) and fallback.project == "g"
    assert (fallback.topic_prefix, fallback.root) == ("kfpt", "https://pubsub.googleapis.com/v1")
    staging = publisher_from_env(
        {"KFPT_TRANSPORT": "pubsub", "GOOGLE_CLOUD_PROJECT": "g", "KFPT_TOPIC_PREFIX": "stg"}
    )
    assert isinstance(staging, PubSubRestPublisher) and staging.topic_prefix == "stg"


@pytest.mark.parametrize(
    ("topic", "prefix", "physical"),
    [
        ("kfpt-events", "kfpt", "kfpt-events"),
        ("kfpt-events", "staging", "staging-events"),
        ("kfpt-run-states", "team-a", "team-a-run-states"),
        ("kfpt-events-dead-letter", "stg", "stg-events-dead-letter"),
        ("projects/p/topics/kfpt-events", "stg", "projects/p/topics/kfpt-events"),  # a full path: as given
        ("audit", "stg", "audit"),  # not one of the chain's topics
    ],
)
def test_a_deployment_prefix_renames_the_chains_topics(topic: str, prefix: str, physical: str) -> None:
    assert prefixed(topic, prefix) == physical


@pytest.mark.parametrize("prefix", ["", "Stg", "1st", "with_underscore", "x" * 16, "a b"])
def test_a_topic_prefix_must_start_a_topic_name(prefix: str) -> None:
    with pytest.raises(TransportConfigError, match="KFPT_TOPIC_PREFIX: topic prefix"):
        topic_prefix_from_env({"KFPT_TOPIC_PREFIX": prefix} if prefix else {"KFPT_TOPIC_PREFIX": " "})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KFPT_TRANSPORT": "kafka"}, "must be one of memory, pubsub, http; got 'kafka'"),
        ({"KFPT_TRANSPORT": "http"}, "needs KFPT_SINK_URL or K_SINK"),
        ({"KFPT_TRANSPORT": "pubsub"}, "KFPT_PUBSUB_PROJECT"),
        (
            {"KFPT_TRANSPORT": "http", "K_SINK": "http://b/", "KFPT_PUBLISH_TIMEOUT": "soon"},
            "positive number",
        ),
        ({"KFPT_TRANSPORT": "http", "K_SINK": "http://b/", "KFPT_PUBLISH_TIMEOUT": "-1"}, "positive number"),
    ],
)
def test_factory_rejects_bad_settings(env: dict[str, str], message: str) -> None:
    with pytest.raises(TransportConfigError, match=message):
        publisher_from_env(env)


def test_pubsub_paths() -> None:
    assert topic_path("p", "kfpt-runs") == "projects/p/topics/kfpt-runs"
    assert topic_path("p", "projects/q/topics/x") == "projects/q/topics/x"
    assert subscription_path("p", "s") == "projects/p/subscriptions/s"


def test_choosing_pubsub_does_not_import_google_cloud_until_publishing() -> None:
    code = (
        "import sys\n"
        "from kfp_triggers.adapters.transports import publisher_from_env\n"
        "p = publisher_from_env({'KFPT_TRANSPORT': 'pubsub', 'GOOGLE_CLOUD_PROJECT': 'p'})\n"
        "import kfp_triggers.wire.events\n"
        "heavy = ('google.cloud.pubsub', 'google.api_core', 'grpc')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
