"""The publishing port every transport implements, and its errors."""

from __future__ import annotations

from http import HTTPStatus
from typing import Protocol, runtime_checkable

from kfp_triggers.errors import KfptError
from kfp_triggers.events import CloudEvent


class TransportError(KfptError):
    """The transport did not acknowledge the message; publishing again may succeed.

    Ingest answers 503 so the sender retries; a CloudEvent stage raises, so the platform
    redelivers its input.
    """

    retryable = True
    http_status = HTTPStatus.SERVICE_UNAVAILABLE


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
        """
        ...
