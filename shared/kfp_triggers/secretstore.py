"""Secrets laid out as files: ``<secrets dir>/<secretName>/<key>``.

That is the layout Kubernetes and Cloud Run use when a secret is mounted as a volume, so the same
configuration works locally, in tests and when deployed. Values are returned byte-exact (a
trailing newline in the file is part of the secret, as it would be in a Kubernetes Secret).

A secret that authenticates senders (a webhook's HMAC key or shared token) is read with
:func:`verification_secret`, which refuses an empty or blank value: anyone can compute an HMAC
keyed by nothing, so such a secret would make every request authentic.

A missing secret and a missing key raise the errors Tekton's secret getter reports:
:class:`SecretNotFoundError` reads ``secrets "name" not found`` (the Kubernetes API's text) and
:class:`SecretKeyNotFoundError` reads ``cannot find key key in secret namespace/name`` once the
trigger's namespace is known (:meth:`SecretKeyNotFoundError.in_namespace`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol

from kfp_triggers.errors import SecretError

_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


class SecretNotFoundError(SecretError):
    """No secret of that name: ``secrets "<name>" not found``, as the Kubernetes API answers."""

    def __init__(self, secret_name: str) -> None:
        super().__init__(f'secrets "{secret_name}" not found')
        self.secret_name = secret_name


class SecretKeyNotFoundError(SecretError):
    """The secret exists without the key: Tekton's ``cannot find <key> key in secret <ns>/<name>``."""

    def __init__(self, secret_name: str, key: str, namespace: str = "") -> None:
        super().__init__(f"cannot find {key} key in secret {namespace}/{secret_name}")
        self.secret_name = secret_name
        self.key = key

    def in_namespace(self, namespace: str) -> SecretKeyNotFoundError:
        """The same error with the trigger's namespace in the text, as Tekton writes it."""
        return SecretKeyNotFoundError(self.secret_name, self.key, namespace)


def secret_message(exc: SecretError, namespace: str) -> str:
    """The text Tekton's secret getter gives for ``exc`` in a trigger of ``namespace``."""
    if isinstance(exc, SecretKeyNotFoundError):
        return str(exc.in_namespace(namespace))
    return str(exc)


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
            if not path.parent.is_dir():
                raise SecretNotFoundError(secret_name) from None
            raise SecretKeyNotFoundError(secret_name, key) from None
        except OSError as exc:
            raise SecretError(f'secrets "{secret_name}" key "{key}" unreadable: {exc.strerror}') from None


class NoSecrets:
    """A :class:`SecretStore` that has no secrets at all."""

    def get(self, secret_name: str, key: str) -> bytes:
        """Always fail, as a namespace without the secret does: no secrets directory is configured."""
        raise SecretNotFoundError(secret_name)


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
