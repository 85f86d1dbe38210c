"""Publish on Pub/Sub through its REST API, so a stage's first hand-off does not import gRPC.

google-cloud-pubsub brings gRPC, protobuf and about 450 modules into the process on its first
publish: a quarter of a second and more that every cold stage would pay before it can answer. A
stage only ever publishes one message at a time and waits for the server's acknowledgement, which
is one ``POST .../topics/<topic>:publish`` on the engine's pooled HTTP client, with a token from
the metadata server (or Application Default Credentials), none for the emulator. The message is
the same as :class:`~kfp_triggers.adapters.transports.pubsub.PubSubPublisher` publishes (the event
in structured mode, its attributes), so subscribers cannot tell them apart. The gRPC client stays
what ``serve`` pulls with and what tests create topics with.

A publish may be sent again when its connection broke before an answer: the message id of each
hop is deterministic, so a consumer recognises the copy.
"""

from __future__ import annotations

import base64
import json

from kfp_triggers.adapters.gcp_token import (
    BearerTokens,
    CredentialsError,
    CredentialsUnavailableError,
)
from kfp_triggers.adapters.http import HttpClient, NoAnswerError, default_client
from kfp_triggers.adapters.transports.base import (
    MAX_PUBLISH_BYTES,
    MessageTooLargeError,
    TransportConfigError,
    TransportError,
    publish_request_size,
)
from kfp_triggers.adapters.transports.pubsub import topic_path
from kfp_triggers.wire.events import CloudEvent, to_pubsub_message
from kfp_triggers.wire.eventtypes import prefixed

PRODUCTION_ROOT = "https://pubsub.googleapis.com/v1"
PUBSUB_SCOPE = "https://www.googleapis.com/auth/pubsub"
_MAX_ERROR_TEXT = 300


class PubSubRestPublisher:
    """Publishes events on Pub/Sub topics over REST and waits for the server's message id."""

    def __init__(
        self,
        project: str,
        *,
        topic_prefix: str,
        emulator_host: str | None = None,
        timeout: float = 30.0,
        http: HttpClient | None = None,
        tokens: BearerTokens | None = None,
    ) -> None:
        """``emulator_host`` (``PUBSUB_EMULATOR_HOST``) points at the emulator, which needs no token."""
        if not project:
            raise TransportConfigError(
                "set KFPT_PUBSUB_PROJECT (or GOOGLE_CLOUD_PROJECT) to publish on Pub/Sub"
            )
        self.project = project
        self.topic_prefix = topic_prefix
        self.root = f"http://{emulator_host}/v1" if emulator_host else PRODUCTION_ROOT
        self.timeout = timeout
        self._http = http or default_client()
        self._tokens = tokens or BearerTokens(PUBSUB_SCOPE, fixed="" if emulator_host else None)

    def publish(self, topic: str, event: CloudEvent) -> str:
        """Publish ``event`` on ``topic`` (a name or a full path); returns the server's message id.

        Raises:
            TransportError: no answer, or the server refused the message (a missing topic, a
                permission, an overload): publishing again may succeed.
            MessageTooLargeError: the encoded event exceeds Pub/Sub's limit; it never will.
        """
        data, attributes = to_pubsub_message(event)
        path = topic_path(self.project, prefixed(topic, self.topic_prefix))
        size = publish_request_size(path, data, attributes)
        if size > MAX_PUBLISH_BYTES:
            raise MessageTooLargeError.for_event(event["id"], size)
        message = {"data": base64.b64encode(data).decode("ascii"), "attributes": attributes}
        body = json.dumps({"messages": [message]}).encode()
        return self._post(f"{self.root}/{path}:publish", body, event["id"], path, size)

    def _post(
        self, url: str, body: bytes, event_id: str, path: str, size: int, *, retried: bool = False
    ) -> str:
        what = f"event {event_id!r} on {path}"
        headers = {"Content-Type": "application/json"}
        try:
            token = self._tokens.get()
        except CredentialsUnavailableError as exc:
            raise TransportError(f"Pub/Sub credentials for {what}: {exc}") from exc
        except CredentialsError as exc:
            raise TransportConfigError(f"Pub/Sub credentials: {exc}") from exc
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            answer = self._http.request(
                "POST", url, headers=headers, body=body, timeout_s=self.timeout, idempotent=True
            )
        except NoAnswerError as exc:
            raise TransportError(f"Pub/Sub did not answer for {what}: {exc.reason}") from exc
        if answer.ok:
            try:
                ids = json.loads(answer.body).get("messageIds") or []
            except (ValueError, AttributeError):
                ids = []
            if ids:
                return str(ids[0])
            raise TransportError(f"Pub/Sub answered {what} without a message id")
        if answer.status == 401 and not retried and token:
            self._tokens.forget()
            return self._post(url, body, event_id, path, size, retried=True)
        detail = answer.body[:_MAX_ERROR_TEXT].decode("utf-8", "replace").strip()
        if answer.status == 413:
            raise MessageTooLargeError.for_event(event_id, size)
        raise TransportError(f"Pub/Sub refused {what}: HTTP {answer.status} {detail}")

    def close(self) -> None:
        """Nothing to flush: every publish waits for its answer."""
