"""Webhook HMAC signatures checked the way go-github's ``ValidateSignature`` checks them.

Tekton's GitHub and Bitbucket interceptors both call go-github v31's ``ValidateSignature``: the
header value is ``<alg>=<hex>``, the prefix alone chooses the hash (``sha1``, ``sha256`` or
``sha512``, whatever the header is called), the HMAC is taken over the exact body bytes with the
secret as key, and the comparison is constant-time. Error texts are go-github's.

One check is ours: an empty or blank secret verifies nothing (anyone can compute an HMAC keyed by
it), so it is refused whatever the signature, where go-github would accept a matching one.

Another addition is rotation: a stored secret may hold several keys, one per line, so a webhook's
secret can be changed at the sender while deliveries signed with the old one are still accepted
(:func:`secret_candidates`). Every candidate is checked, in constant time, whichever matches.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from kfp_triggers.golang.fmt import hex_decode, quote

_HASHES: dict[str, Callable[..., Any]] = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha512": hashlib.sha512,
}


class SignatureError(ValueError):
    """The signature is malformed or does not match; the message is go-github's."""


def secret_candidates(secret: bytes) -> tuple[bytes, ...]:
    """The keys a stored secret stands for: the value as stored, then each non-blank line of it.

    The whole value comes first because Tekton uses it byte for byte; the lines make a secret
    rotatable (old and new key, one per line) and let a file that ends in a newline (as ``echo``
    writes it) match the key a sender was given without one. ``\r\n`` line ends count as ``\n``.
    """
    lines = (line.removesuffix(b"\r") for line in secret.split(b"\n"))
    return tuple(dict.fromkeys([secret, *(line for line in lines if line.strip())]))


def matches_any(given: bytes, candidates: tuple[bytes, ...]) -> bool:
    """Whether ``given`` equals one of ``candidates``, comparing every one in constant time."""
    found = False
    for candidate in candidates:
        found |= hmac.compare_digest(given, candidate)
    return found


def validate_signature(signature: str, payload: bytes, secret: bytes) -> None:
    """Check ``signature`` (``<alg>=<hex>``) against the HMAC of ``payload`` keyed by ``secret``.

    ``secret`` may hold several keys (see :func:`secret_candidates`); one matching is enough.

    Raises:
        SignatureError: ``missing signature``, ``error parsing signature "<v>"``,
            ``unknown hash type prefix: "<p>"``, ``error decoding signature "<v>": <hex error>``
            or ``payload signature check failed``; ``no secret to check the signature with``
            when ``secret`` is empty or blank.
    """
    if not secret.strip():
        raise SignatureError("no secret to check the signature with")
    if not signature:
        raise SignatureError("missing signature")
    prefix, sep, hex_mac = signature.partition("=")
    if not sep:
        raise SignatureError(f"error parsing signature {quote(signature)}")
    digest = _HASHES.get(prefix)
    if digest is None:
        raise SignatureError(f"unknown hash type prefix: {quote(prefix)}")
    try:
        given = hex_decode(hex_mac)
    except ValueError as exc:
        raise SignatureError(f"error decoding signature {quote(signature)}: {exc}") from None
    expected = tuple(hmac.new(key, payload, digest).digest() for key in secret_candidates(secret))
    if not matches_any(given, expected):
        raise SignatureError("payload signature check failed")


def sign(payload: bytes, secret: bytes, alg: str = "sha256") -> str:
    """Return the ``<alg>=<hex>`` header value a sender would compute (for tools and tests)."""
    return f"{alg}=" + hmac.new(secret, payload, _HASHES[alg]).hexdigest()
