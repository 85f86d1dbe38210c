"""Our Pub/Sub transport on the real emulator: round trip, dead letters, push into functions-framework."""

from __future__ import annotations

import base64
import json
import signal
import socket
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.adapters.transports import TransportError
from kfp_triggers.adapters.transports.base import MAX_PUBLISH_BYTES, MessageTooLargeError
from kfp_triggers.adapters.transports.pubsub import (
    PubSubPublisher,
    ensure_topology,
    subscriber_client,
    topic_path,
)
from kfp_triggers.adapters.transports.pubsub_rest import PubSubRestPublisher
from kfp_triggers.wire import events as ev
from kfp_triggers.wire.eventdata import EventReceived, HttpRequestData, ObjectRef
from tests.emulator.support import PROJECT, free_port

pytestmark = pytest.mark.emulator

WAIT_LIMIT_S = 30.0
HERE = Path(__file__).resolve().parent


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def received(event_id: str) -> ev.CloudEvent:
    request = HttpRequestData("POST", "/", {"X-Github-Event": ["push"]}, b'{"ref": "refs/heads/main"}')
    payload = EventReceived(event_id, ObjectRef("ci", "listener"), request, "2026-01-01T00:00:00Z")
    return ev.event_for(payload, source="//kfp-triggers/ingest", traceparent=None)


def wait_for(what: str, probe: Callable[[], bool]) -> None:
    """Poll ``probe`` until it holds; the limit only guards against a hang."""
    deadline = time.monotonic() + WAIT_LIMIT_S
    while not probe():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def pull(subscriber: Any, subscription: str) -> list[Any]:
    """One unary pull that answers at once, even when nothing is ready.

    ``return_immediately`` is deprecated for production use (it can miss messages), which is
    harmless here: every caller polls until what it expects has arrived.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        response = subscriber.pull(
            subscription=subscription, max_messages=10, return_immediately=True, timeout=10
        )
    return list(response.received_messages)


Publisher = PubSubPublisher | PubSubRestPublisher


@pytest.fixture(params=["grpc", "rest"])
def make_publisher(request: pytest.FixtureRequest, emulator_env: dict[str, str]) -> Callable[[], Publisher]:
    """The gRPC client's publisher (serve's pulls, tests' topology) and the stages' REST publisher."""
    if request.param == "grpc":
        return lambda: PubSubPublisher(environ=emulator_env, timeout=10)
    host = emulator_env["PUBSUB_EMULATOR_HOST"]
    return lambda: PubSubRestPublisher(PROJECT, topic_prefix="kfpt", emulator_host=host, timeout=10)


def test_publish_then_pull_back_the_exact_structured_event(
    emulator_env: dict[str, str], make_publisher: Callable[[], Publisher]
) -> None:
    topic = unique("kfpt-events")
    subscriptions = ensure_topology(PROJECT, [topic], environ=emulator_env)
    assert set(subscriptions) == {f"{topic}-sub", f"{topic}-dead-letter-sub"}
    event = received("d-roundtrip")
    publisher = make_publisher()
    try:
        message_id = publisher.publish(topic, event)
    finally:
        publisher.close()
    assert message_id

    subscriber = subscriber_client(emulator_env)
    got: list[Any] = []

    def pulled() -> bool:
        got.extend(pull(subscriber, subscriptions[f"{topic}-sub"]))
        return bool(got)

    try:
        wait_for("the published message", pulled)
        [message] = got
        subscriber.acknowledge(subscription=subscriptions[f"{topic}-sub"], ack_ids=[message.ack_id])
    finally:
        subscriber.close()
    assert message.message.message_id == message_id
    attributes = dict(message.message.attributes)
    assert attributes == {"content-type": ev.CLOUDEVENTS_JSON}
    assert ev.from_pubsub_message(message.message.data, attributes) == event
    envelope = {
        "message": {
            "data": base64.b64encode(message.message.data).decode(),
            "attributes": attributes,
            "messageId": message_id,
        },
        "subscription": subscriptions[f"{topic}-sub"],
    }
    assert ev.decode_stage_input(envelope) == event


def test_publishing_to_a_missing_topic_is_a_transport_error(make_publisher: Callable[[], Publisher]) -> None:
    publisher = make_publisher()
    try:
        with pytest.raises(TransportError, match="no-such-topic") as info:
            publisher.publish(unique("no-such-topic"), received("d-missing"))
    finally:
        publisher.close()
    assert info.value.retryable


def test_a_prefixed_deployment_publishes_on_its_own_topics(emulator_env: dict[str, str]) -> None:
    prefix = "p" + uuid.uuid4().hex[:8]
    subscriptions = ensure_topology(PROJECT, [f"{prefix}-events"], environ=emulator_env)
    publisher = PubSubPublisher(environ={**emulator_env, "KFPT_TOPIC_PREFIX": prefix}, timeout=10)
    try:
        publisher.publish("kfpt-events", received("d-prefixed"))  # the stages name the logical topic
    finally:
        publisher.close()
    subscriber = subscriber_client(emulator_env)
    got: list[Any] = []

    def pulled() -> bool:
        got.extend(pull(subscriber, subscriptions[f"{prefix}-events-sub"]))
        return bool(got)

    try:
        wait_for("the message on the prefixed topic", pulled)
    finally:
        subscriber.close()
    assert ev.from_pubsub_message(got[0].message.data, dict(got[0].message.attributes))["id"] == "d-prefixed"


def test_the_size_limit_is_pub_subs(emulator_env: dict[str, str]) -> None:
    """Just under our bound the emulator takes the message; just over it we refuse, for good."""
    topic = unique("kfpt-big")
    ensure_topology(PROJECT, [topic], environ=emulator_env)
    publisher = PubSubPublisher(environ=emulator_env, timeout=30)
    try:
        event = received("d-big")
        event.data = {"blob": "x" * (MAX_PUBLISH_BYTES - 1000)}
        assert publisher.publish(topic, event)
        event.data = {"blob": "x" * MAX_PUBLISH_BYTES}
        with pytest.raises(MessageTooLargeError, match="over its limit") as info:
            publisher.publish(topic, event)
        assert not info.value.retryable
    finally:
        publisher.close()


def test_ensure_topology_is_idempotent_and_dead_letters_after_max_attempts(
    emulator_env: dict[str, str],
) -> None:
    topic = unique("kfpt-launch")
    options: dict[str, Any] = {
        "min_backoff_seconds": 0.0,
        "max_backoff_seconds": 0.1,
        "environ": emulator_env,
    }
    subscriptions = ensure_topology(PROJECT, [topic], max_delivery_attempts=5, **options)
    assert ensure_topology(PROJECT, [topic], max_delivery_attempts=5, **options) == subscriptions
    event = received("d-dead")
    publisher = PubSubPublisher(environ=emulator_env, timeout=10)
    try:
        publisher.publish(topic, event)
    finally:
        publisher.close()

    subscriber = subscriber_client(emulator_env)
    attempts: list[int] = []
    dead: list[Any] = []
    main, dlq = subscriptions[f"{topic}-sub"], subscriptions[f"{topic}-dead-letter-sub"]

    def nack_until_dead_lettered() -> bool:
        for message in pull(subscriber, main):
            attempts.append(message.delivery_attempt)
            subscriber.modify_ack_deadline(
                subscription=main, ack_ids=[message.ack_id], ack_deadline_seconds=0
            )
        dead.extend(pull(subscriber, dlq))
        return bool(dead)

    try:
        wait_for("the dead-lettered message", nack_until_dead_lettered)
        subscriber.acknowledge(subscription=dlq, ack_ids=[m.ack_id for m in dead])
    finally:
        subscriber.close()
    assert attempts == [1, 2, 3, 4, 5]
    [letter] = dead
    assert letter.message.attributes["CloudPubSubDeadLetterSourceDeliveryCount"] == "5"
    assert ev.from_pubsub_message(letter.message.data, dict(letter.message.attributes)) == event


@pytest.fixture
def recorder(tmp_path: Path, emulator_env: dict[str, str]) -> Iterator[tuple[str, Path]]:
    """functions-framework serving ``recorder_function.record``; yields (base URL, record file)."""
    port = free_port()
    record_file = tmp_path / "records.jsonl"
    command = [
        str(Path(sys.executable).with_name("functions-framework")),
        "--target=record",
        f"--source={HERE / 'recorder_function.py'}",
        "--host=127.0.0.1",
        f"--port={port}",
    ]
    env = {
        "PATH": str(Path(sys.executable).parent),
        "RECORD_FILE": str(record_file),
        "WORKERS": "1",
        "THREADS": "4",
    }
    with (tmp_path / "ff.log").open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)

    def listening() -> bool:
        assert proc.poll() is None, (tmp_path / "ff.log").read_text()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return False
        return True

    try:
        wait_for("functions-framework to listen", listening)
        yield f"http://127.0.0.1:{port}", record_file
    finally:
        proc.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
        proc.wait(15)


def test_push_subscription_delivers_into_a_functions_framework_cloudevent_function(
    emulator_env: dict[str, str], recorder: tuple[str, Path]
) -> None:
    base_url, record_file = recorder
    topic = unique("kfpt-matched")
    endpoint = f"{base_url}/{topic_path(PROJECT, topic)}"
    ensure_topology(
        PROJECT,
        [topic],
        push_endpoints={topic: endpoint},
        max_delivery_attempts=5,
        min_backoff_seconds=0.0,
        max_backoff_seconds=1.0,
        environ=emulator_env,
    )
    plain, flaky = received("d-push"), received("fail-once-push")
    publisher = PubSubPublisher(environ=emulator_env, timeout=10)
    try:
        publisher.publish(topic, plain)
        publisher.publish(topic, flaky)
    finally:
        publisher.close()

    def records() -> list[dict[str, Any]]:
        text = record_file.read_text() if record_file.exists() else ""
        return [json.loads(line) for line in text.splitlines()]

    wait_for(
        "both events, the flaky one twice",
        lambda: sorted(r["id"] for r in records()) == ["d-push", "fail-once-push", "fail-once-push"],
    )
    by_id: dict[str, list[dict[str, Any]]] = {}
    for line in records():
        by_id.setdefault(line["id"], []).append(line)
    assert [r["delivery"] for r in by_id["fail-once-push"]] == [1, 2]
    assert (
        ev.from_pubsub_message(by_id["d-push"][0]["event"].encode(), {"content-type": ev.CLOUDEVENTS_JSON})
        == plain
    )
    for line in by_id["fail-once-push"]:
        assert ev.from_pubsub_message(line["event"].encode(), {"content-type": ev.CLOUDEVENTS_JSON}) == flaky
    for line in records():
        assert line["outerType"] == ev.PUBSUB_MESSAGE_PUBLISHED
        assert line["outerSource"] == f"//pubsub.googleapis.com/projects/{PROJECT}/topics/{topic}"
