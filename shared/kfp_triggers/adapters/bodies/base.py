"""Where large request bodies are kept while their events travel without them (the claim check).

A body is stored under its SHA-256 and nothing else: the messages between the stages carry only the
digest and the size, and the store's location is the deployment's own setting, so a message
reaching an internal stage can name no path, bucket or URL of its own choosing. Whatever comes
back is hashed again before it is used: a body that does not match its digest is refused.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Protocol

from kfp_triggers.errors import KfptError
from kfp_triggers.wire.eventdata import is_digest

__all__ = ["BodyMismatchError", "BodyMissingError", "BodyStore", "BodyStoreConfigError", "BodyStoreError",
           "checked", "digest_of", "is_digest"]  # fmt: skip


class BodyStoreError(KfptError):
    """The body store failed for now (unreachable, overloaded, a transient refusal): retry."""

    retryable = True


class BodyMissingError(KfptError):
    """No body is stored under a digest (expired, never written, or a forged reference)."""


class BodyMismatchError(KfptError):
    """What the store returned for a digest does not hash to it."""


class BodyStoreConfigError(KfptError):
    """The body store setting cannot be used."""


def digest_of(body: bytes) -> str:
    """The SHA-256 of ``body``, lowercase hex."""
    return hashlib.sha256(body).hexdigest()


def checked(digest: str, body: bytes) -> bytes:
    """``body`` when it hashes to ``digest``.

    Raises:
        BodyMismatchError: it does not.
    """
    if digest_of(body) != digest:
        raise BodyMismatchError(f"the body stored under {digest[:12]}... does not match its digest")
    return body


class BodyStore(Protocol):
    """Keeps bodies by digest; writing the same body twice is harmless."""

    def put(self, digest: str, body: bytes) -> None:
        """Store ``body`` (whose SHA-256 is ``digest``).

        Raises:
            BodyStoreError: the store could not take it now.
        """
        ...

    def get(self, digest: str) -> bytes:
        """The body stored under ``digest``, checked against it.

        Raises:
            BodyMissingError: nothing is stored under it.
            BodyMismatchError: what is stored does not hash to it.
            BodyStoreError: the store could not answer now.
        """
        ...

    def purge(self, before: datetime) -> int:
        """Forget bodies stored before ``before`` where the store itself does not expire them."""
        ...

    def describe(self) -> str:
        """Where the bodies are, for messages (``file:///...``, ``gs://bucket/prefix``)."""
        ...
