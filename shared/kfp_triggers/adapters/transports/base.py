"""The publishing port every transport implements, and its errors."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Protocol, runtime_checkable

from kfp_triggers.errors import KfptError
from kfp_triggers.wire.events import CloudEvent


class TransportError(KfptError):
    """The transport did not acknowledge the message; publishing again may succeed.

    Ingest answers 503 so the sender retries; a CloudEvent stage raises, so the platform
    redelivers its input.
    """

    retryable = True
    http_status = HTTPStatus.SERVICE_UNAVAILABLE


class MessageTooLargeError(KfptError):
    """The event is larger than the transport can carry; publishing it again cannot succeed.

    Ingest answers 413 (the sender sees why, and nothing was handed on); a CloudEvent stage gives
    up on its input with an error log instead of having it redelivered until it is dead-lettered.
    """

    retryable = False
    http_status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE

    @classmethod
    def for_event(cls, event_id: str, size: int) -> MessageTooLargeError:
        """The error for an event of ``size`` bytes once encoded for Pub/Sub."""
        return cls(
            f"event {event_id!r} takes {size} bytes once encoded for Pub/Sub, over its limit of "
            f"{MAX_PUBLISH_BYTES} bytes (the body travels base64-encoded, a third larger)"
        )


# Pub/Sub refuses a publish request over 10 MB (the message data, its attributes and the topic);
# the in-process bus applies the same limit, so a local run fails where the cloud would.
MAX_PUBLISH_BYTES = 10 * 1000 * 1000


def publish_request_size(topic: str, data: bytes, attributes: Mapping[str, str]) -> int:
    """An upper bound of the size of the publish request carrying one message.

    The protobuf framing adds a few bytes per field; counting 16 per attribute and 32 for the
    request is more than it ever takes.
    """
    framing = 32 + 16 * len(attributes)
    names_and_values = sum(len(k.encode()) + len(v.encode()) for k, v in attributes.items())
    return len(topic.encode()) + len(data) + names_and_values + framing


class TransportConfigError(KfptError, ValueError):
    """The transport settings are unusable (unknown transport, no project, no sink URL)."""


@runtime_checkable
class Publisher(Protocol):
    """Hands an event to the next stage."""

    def publish(self, topic: str, event: CloudEvent) -> str:
        """Publish ``event`` on ``topic`` and return the transport's message id.

        Returns only once the transport has durably accepted the message.

        Raises:
            TransportError: the message was not accepted.
            MessageTooLargeError: the message exceeds what the transport carries.
        """
        ...
