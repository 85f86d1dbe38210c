"""Publish on Google Cloud Pub/Sub (or its emulator), and set up topics for local runs and tests.

Events go out in structured mode (see :mod:`kfp_triggers.wire.events`). google-cloud-pubsub is
imported only when a client is first needed: importing it costs about half a second of cold
start, which a stage on another transport must not pay.

Settings come from an environment mapping: ``KFPT_PUBSUB_PROJECT`` (else
``GOOGLE_CLOUD_PROJECT``) names the project of bare topic names, and ``PUBSUB_EMULATOR_HOST``
points the clients at the emulator (insecure channel, no credentials).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from kfp_triggers.adapters.transports.base import (
    MAX_PUBLISH_BYTES,
    MessageTooLargeError,
    TransportConfigError,
    TransportError,
    publish_request_size,
)
from kfp_triggers.wire.events import CloudEvent, to_pubsub_message
from kfp_triggers.wire.eventtypes import DEFAULT_TOPIC_PREFIX, check_topic_prefix, dead_letter_topic, prefixed

log = logging.getLogger(__name__)


def project_from_env(environ: Mapping[str, str]) -> str:
    """The Pub/Sub project: ``KFPT_PUBSUB_PROJECT``, else ``GOOGLE_CLOUD_PROJECT``.

    Raises:
        TransportConfigError: neither is set.
    """
    project = environ.get("KFPT_PUBSUB_PROJECT") or environ.get("GOOGLE_CLOUD_PROJECT")
    if not project:
        raise TransportConfigError("set KFPT_PUBSUB_PROJECT (or GOOGLE_CLOUD_PROJECT) to publish on Pub/Sub")
    return project


def topic_path(project: str, topic: str) -> str:
    """``projects/<project>/topics/<topic>``; a full path is returned unchanged."""
    return topic if topic.startswith("projects/") else f"projects/{project}/topics/{topic}"


def topic_prefix_from_env(environ: Mapping[str, str]) -> str:
    """``KFPT_TOPIC_PREFIX`` (default ``kfpt``), checked.

    Raises:
        TransportConfigError: the prefix cannot start a topic name.
    """
    raw = (environ.get("KFPT_TOPIC_PREFIX") or DEFAULT_TOPIC_PREFIX).strip()
    try:
        return check_topic_prefix(raw)
    except ValueError as exc:
        raise TransportConfigError(f"KFPT_TOPIC_PREFIX: {exc}") from None


def subscription_path(project: str, subscription: str) -> str:
    """``projects/<project>/subscriptions/<subscription>``; a full path is returned unchanged."""
    if subscription.startswith("projects/"):
        return subscription
    return f"projects/{project}/subscriptions/{subscription}"


def _client_kwargs(environ: Mapping[str, str] | None, kind: str) -> dict[str, Any]:
    """Client arguments that reach the emulator even when it is named only in ``environ``."""
    host = (os.environ if environ is None else environ).get("PUBSUB_EMULATOR_HOST")
    if not host or os.environ.get("PUBSUB_EMULATOR_HOST") == host:
        return {}  # the client library reads os.environ itself
    import grpc  # type: ignore[import-untyped]

    if kind == "publisher":
        from google.pubsub_v1.services.publisher.transports.grpc import PublisherGrpcTransport

        return {"transport": PublisherGrpcTransport(channel=grpc.insecure_channel(host))}
    from google.pubsub_v1.services.subscriber.transports.grpc import SubscriberGrpcTransport

    return {"transport": SubscriberGrpcTransport(channel=grpc.insecure_channel(host))}


def publisher_client(environ: Mapping[str, str] | None = None, **kwargs: Any) -> Any:
    """A ``google.cloud.pubsub_v1.PublisherClient`` honouring ``PUBSUB_EMULATOR_HOST`` in ``environ``."""
    from google.cloud import pubsub_v1

    return pubsub_v1.PublisherClient(**kwargs, **_client_kwargs(environ, "publisher"))


def subscriber_client(environ: Mapping[str, str] | None = None) -> Any:
    """A ``google.cloud.pubsub_v1.SubscriberClient`` honouring ``PUBSUB_EMULATOR_HOST`` in ``environ``."""
    from google.cloud import pubsub_v1

    return pubsub_v1.SubscriberClient(**_client_kwargs(environ, "subscriber"))


class PubSubPublisher:
    """Publishes events on Pub/Sub topics and waits for the server's acknowledgement."""

    def __init__(
        self,
        project: str | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        max_latency: float = 0.001,
        topic_prefix: str | None = None,
    ) -> None:
        """Create a publisher; the client itself is created on the first publish.

        Args:
            project: the project of bare topic names; defaults to the environment's.
            environ: settings (defaults to ``os.environ``).
            topic_prefix: this deployment's topic prefix (default ``KFPT_TOPIC_PREFIX``, else
                ``kfpt``): the chain's topics are published as ``<prefix>-events``, ...
            timeout: seconds to wait for the server to acknowledge one publish.
            max_latency: how long the client may hold a message to batch it with others.

        Raises:
            TransportConfigError: no project given or configured.
        """
        env = os.environ if environ is None else environ
        self.project = project or project_from_env(env)
        self.topic_prefix = topic_prefix_from_env(env) if topic_prefix is None else topic_prefix
        self.emulator_host = env.get("PUBSUB_EMULATOR_HOST") or None
        self._environ = {"PUBSUB_EMULATOR_HOST": self.emulator_host} if self.emulator_host else {}
        self.timeout = timeout
        self.max_latency = max_latency
        self._client: Any = None
        self._lock = threading.Lock()

    def _publisher(self) -> Any:
        with self._lock:
            if self._client is None:
                from google.cloud import pubsub_v1

                batch = pubsub_v1.types.BatchSettings(max_latency=self.max_latency)
                self._client = publisher_client(self._environ, batch_settings=batch)
            return self._client

    def publish(self, topic: str, event: CloudEvent) -> str:
        """Publish ``event`` on ``topic`` (a name or a full path); returns the server's message id.

        A time-out does not prove the message was lost: it may still be delivered. Retrying is
        safe because message ids are deterministic per hop, so the consumer sees a redelivery.

        Raises:
            TransportError: the server did not accept the message within the time-out.
            MessageTooLargeError: the encoded event exceeds Pub/Sub's message size limit.
        """
        data, attributes = to_pubsub_message(event)
        path = topic_path(self.project, prefixed(topic, self.topic_prefix))
        size = publish_request_size(path, data, attributes)
        if size > MAX_PUBLISH_BYTES:
            raise MessageTooLargeError.for_event(event["id"], size)
        try:
            future = self._publisher().publish(path, data, **attributes)
            message_id = future.result(timeout=self.timeout)
        except Exception as exc:  # google.api_core errors, grpc errors, futures.TimeoutError
            if type(exc).__name__ == "MessageTooLargeError":  # the client's own, stricter count
                raise MessageTooLargeError.for_event(event["id"], size) from exc
            raise TransportError(f"Pub/Sub did not accept event {event['id']!r} on {path}: {exc}") from exc
        return str(message_id)

    def close(self) -> None:
        """Flush pending messages and release the client."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.stop()


def ensure_topology(
    project: str,
    topics: Iterable[str],
    push_endpoints: Mapping[str, str] | None = None,
    max_delivery_attempts: int = 5,
    *,
    min_backoff_seconds: float = 1.0,
    max_backoff_seconds: float = 10.0,
    ack_deadline_seconds: int = 10,
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Create topics, their dead-letter topics and subscriptions, for local runs and tests.

    For each topic ``t``: topics ``t`` and ``t-dead-letter``; subscription ``t-sub`` (a push
    subscription when ``push_endpoints`` names an endpoint for ``t``, else pull) with a
    dead-letter policy (``max_delivery_attempts``, 5 to 100 on Pub/Sub) and an exponential retry
    policy; and a pull subscription ``t-dead-letter-sub`` so dead letters are kept (a message on
    a topic without subscriptions is dropped). Existing resources are left as they are.
    Production topology is declared in Terraform, not here.

    Returns:
        ``{subscription name: full subscription path}`` for every subscription.

    Raises:
        TransportError: the Pub/Sub API failed.
    """
    from google.api_core import exceptions as gexc
    from google.cloud import pubsub_v1
    from google.protobuf import duration_pb2

    endpoints = dict(push_endpoints or {})
    created: dict[str, str] = {}

    def seconds(value: float) -> duration_pb2.Duration:
        whole = int(value)
        return duration_pb2.Duration(seconds=whole, nanos=round((value - whole) * 1e9))

    publisher = publisher_client(environ)
    subscriber = subscriber_client(environ)
    try:
        for topic in topics:
            dlq = dead_letter_topic(topic)
            for name in (topic, dlq):
                with contextlib.suppress(gexc.AlreadyExists):
                    publisher.create_topic(name=topic_path(project, name))
            specs: list[tuple[str, str, dict[str, Any]]] = [
                (
                    f"{topic}-sub",
                    topic,
                    {
                        "dead_letter_policy": pubsub_v1.types.DeadLetterPolicy(
                            dead_letter_topic=topic_path(project, dlq),
                            max_delivery_attempts=max_delivery_attempts,
                        ),
                        "retry_policy": pubsub_v1.types.RetryPolicy(
                            minimum_backoff=seconds(min_backoff_seconds),
                            maximum_backoff=seconds(max_backoff_seconds),
                        ),
                    },
                ),
                (f"{dlq}-sub", dlq, {}),
            ]
            for sub_name, sub_topic, policy in specs:
                request: dict[str, Any] = {
                    "name": subscription_path(project, sub_name),
                    "topic": topic_path(project, sub_topic),
                    "ack_deadline_seconds": ack_deadline_seconds,
                    **policy,
                }
                if sub_topic == topic and topic in endpoints:
                    request["push_config"] = pubsub_v1.types.PushConfig(push_endpoint=endpoints[topic])
                with contextlib.suppress(gexc.AlreadyExists):
                    subscriber.create_subscription(request=request)
                created[sub_name] = request["name"]
    except gexc.GoogleAPICallError as exc:
        raise TransportError(f"could not set up Pub/Sub topology in {project}: {exc}") from exc
    finally:
        subscriber.close()
        publisher.stop()
    log.info("Pub/Sub topology ready in %s: %s", project, ", ".join(created))
    return created
