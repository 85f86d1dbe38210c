"""Secrets laid out as files: ``<secrets dir>/<secretName>/<key>``.

That is the layout Kubernetes and Cloud Run use when a secret is mounted as a volume, so the same
configuration works locally, in tests and when deployed. Values are returned byte-exact (a
trailing newline in the file is part of the secret, as it would be in a Kubernetes Secret).

A secret that authenticates senders (a webhook's HMAC key or shared token) is read with
:func:`verification_secret`, which refuses an empty or blank value: anyone can compute an HMAC
keyed by nothing, so such a secret would make every request authentic.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol

from kfp_triggers.errors import SecretError

_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


class SecretStore(Protocol):
    """Reads one key of one named secret."""

    def get(self, secret_name: str, key: str) -> bytes:
        """Return the secret value; raise :class:`SecretError` when it cannot be read."""
        ...


class FileSecrets:
    """A :class:`SecretStore` over a directory of ``<secretName>/<key>`` files."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def get(self, secret_name: str, key: str) -> bytes:
        """Read ``<root>/<secret_name>/<key>``; names are checked so no path escapes the root."""
        for part, what in ((secret_name, "secret name"), (key, "secret key")):
            if not _NAME.match(part):
                raise SecretError(f"invalid {what} {part!r}")
        path = self.root / secret_name / key
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise SecretError(f'secrets "{secret_name}" key "{key}" not found') from None
        except OSError as exc:
            raise SecretError(f'secrets "{secret_name}" key "{key}" unreadable: {exc.strerror}') from None


class NoSecrets:
    """A :class:`SecretStore` that has no secrets at all."""

    def get(self, secret_name: str, key: str) -> bytes:
        """Always fail: no secrets directory is configured."""
        raise SecretError(f'secrets "{secret_name}" not found (no secrets directory configured)')


def verification_secret(store: SecretStore, secret_name: str, key: str) -> bytes:
    """Read a secret that authenticates senders; an empty or whitespace-only value is an error.

    Raises:
        SecretError: the secret cannot be read, or holds nothing a sender would have to know.
            The message names the secret, never its value.
    """
    value = store.get(secret_name, key)
    if not value.strip():
        raise SecretError(f'secrets "{secret_name}" key "{key}" is empty')
    return value
