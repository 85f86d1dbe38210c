"""Messages between the stages, signed by the stage that sent them and checked by the one receiving.

A stage's input topic or Service is meant to be reachable only by the stage before it: on Google
Cloud, IAM sees to that; on Knative, EventPolicies guard the Broker but not the Services behind it,
so any pod reaching the cluster-local gateway could post a ``run.requested`` or a
``trigger.matched`` of its own (with a forged origin, and so a commit status on any repository).
With a message key (``KFPT_MESSAGE_KEY_SECRET``, the same secret mounted on every stage), each
stage signs what it publishes and refuses what it did not get from a stage holding the key,
whatever the transport.

The signature is the CloudEvent extension ``kfptsig``: ``v1=`` and the hex HMAC-SHA256, under the
key, of the event's type, id, eventID extension and its data written as canonical JSON (sorted
keys, no spaces), so the same event signed once verifies after any transport's re-encoding.
Status ticks are not signed: anyone may ask the status stage to poll, which changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from kfp_triggers.errors import KfptError
from kfp_triggers.wire.events import EVENT_ID_EXTENSION, CloudEvent
from kfp_triggers.wire.eventtypes import STATUS_TICK

SIGNATURE_EXTENSION = "kfptsig"
_VERSION = "v1="
UNSIGNED_TYPES = frozenset({STATUS_TICK})


class UnauthenticMessageError(KfptError):
    """A message lacks a valid signature of the deployment's message key: it is dropped for good."""


def sign(event: CloudEvent, key: bytes) -> CloudEvent:
    """Add the ``kfptsig`` extension to ``event`` (in place) and return it."""
    event[SIGNATURE_EXTENSION] = _VERSION + _mac(event, key)
    return event


def verify(event: CloudEvent, key: bytes) -> None:
    """Check ``event``'s signature under ``key``.

    Raises:
        UnauthenticMessageError: unsigned, signed with another key, or changed after signing.
    """
    if event["type"] in UNSIGNED_TYPES:
        return
    given = event.get(SIGNATURE_EXTENSION)
    if not isinstance(given, str) or not given.startswith(_VERSION):
        raise UnauthenticMessageError(f"message {event['id']!r} ({event['type']}) is not signed")
    if not hmac.compare_digest(given[len(_VERSION) :], _mac(event, key)):
        raise UnauthenticMessageError(
            f"message {event['id']!r} ({event['type']}) is not signed with this deployment's message key"
        )


def _mac(event: CloudEvent, key: bytes) -> str:
    head = f"{event['type']}\n{event['id']}\n{event.get(EVENT_ID_EXTENSION) or ''}\n".encode()
    return hmac.new(key, head + _canonical(event.data), hashlib.sha256).hexdigest()


def _canonical(data: Any) -> bytes:
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
