"""HTTP header names and values the way Go's net/http sees them.

Tekton runs on Go, so every header lookup there goes through ``textproto.CanonicalMIMEHeaderKey``
and header maps are ``map[string][]string``. We keep the same shape: canonical names mapping to
the list of values in arrival order.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from functools import lru_cache
from typing import Any

from kfp_triggers.golang.textproto import canonical_header_key

Headers = dict[str, list[str]]


def headers_from_pairs(pairs: Iterable[tuple[str, str]]) -> Headers:
    """Build a canonical, list-valued header map from (name, value) pairs, keeping arrival order."""
    headers: Headers = {}
    for name, value in pairs:
        headers.setdefault(canonical_header_key(name), []).append(value)
    return headers


def header_text(value: str) -> str:
    """A header value a server decoded as Latin-1, read as Go reads header bytes: UTF-8.

    Python's HTTP servers (WSGI, ``http.server``) hand over header values as Latin-1 text, one
    character per byte. Go keeps the bytes, and everything downstream (CEL strings, the JSON sent
    to interceptors, the token and signature comparisons) reads them as UTF-8, each invalid byte
    becoming U+FFFD. ASCII values, nearly all of them, are returned as they are. Apply it once,
    where a server hands the value over: on text already read it would misread every non-ASCII
    character below U+0100.
    """
    if value.isascii():
        return value
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:
        return value  # already text beyond Latin-1: not a byte-per-character value
    from kfp_triggers.golang.fmt import decode_utf8

    return decode_utf8(raw)


_WSGI_UNPREFIXED = ("CONTENT_TYPE", "CONTENT_LENGTH")
# Go's HTTP server moves Host to Request.Host and drops Transfer-Encoding once it has de-chunked
# the body, so a Tekton EventListener's header map (CEL's ``header``, bindings' ``$(header)``,
# interceptors) never holds them.
SERVER_CONSUMED = frozenset({"Host", "Transfer-Encoding"})
# Their WSGI keys, plus the HTTP_ copies of the two headers WSGI keeps unprefixed.
_WSGI_CONSUMED = frozenset(
    "HTTP_" + name.upper().replace("-", "_") for name in SERVER_CONSUMED | {"Content-Type", "Content-Length"}
)


def headers_from_wsgi(environ: Mapping[str, Any]) -> Headers:
    """Build the header map straight from a WSGI environ, in the server's order.

    WSGI servers keep a header as ``HTTP_<NAME>`` with ``-`` turned into ``_`` (values of
    repeated headers already joined with ``,``), and Content-Type / Content-Length unprefixed.
    Host and Transfer-Encoding are left out, as Go's server leaves them out.
    This reads the same pairs as werkzeug's ``request.headers`` at a fraction of the cost, which
    matters on a path that runs once per webhook.
    """
    headers: Headers = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            if key in _WSGI_CONSUMED:
                continue  # see SERVER_CONSUMED; Content-Type/-Length come unprefixed
            name = _wsgi_header_name(key[5:])
        elif key in _WSGI_UNPREFIXED and value:
            name = _wsgi_header_name(key)
        else:
            continue
        headers.setdefault(name, []).append(header_text(str(value)))
    return headers


@lru_cache(maxsize=1024)
def _wsgi_header_name(key: str) -> str:
    return canonical_header_key(key.replace("_", "-"))


# Headers that carry a credential itself (GitLab's webhook token is the shared secret, unlike a
# signature): shown to people or sent to other receivers with their values replaced.
CREDENTIAL_HEADERS = frozenset({"Authorization", "Proxy-Authorization", "Cookie", "X-Gitlab-Token"})
REDACTED = "[redacted]"


def without_credentials(
    headers: Mapping[str, Iterable[str]], credentials: Collection[str] = CREDENTIAL_HEADERS
) -> Headers:
    """A copy of ``headers`` whose credential values (names in ``credentials``) read ``[redacted]``."""
    out: Headers = {}
    for name, values in headers.items():
        copied = list(values)
        out[name] = [REDACTED] * len(copied) if canonical_header_key(name) in credentials else copied
    return out


def canonicalise(headers: Mapping[str, Iterable[str] | str]) -> Headers:
    """Canonicalise the names of an existing header map; values may be a string or a list."""
    out: Headers = {}
    for name, values in headers.items():
        vals = [values] if isinstance(values, str) else list(values)
        out.setdefault(canonical_header_key(name), []).extend(vals)
    return out


def first(headers: Mapping[str, list[str]], name: str) -> str:
    """Return the first value of ``name`` (canonicalised), or ``""``, like ``http.Header.Get``."""
    values = headers.get(name) or headers.get(canonical_header_key(name))
    return values[0] if values else ""
