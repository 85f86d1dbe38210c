"""Tekton's handling of ``application/x-www-form-urlencoded`` bodies.

Before running a trigger's interceptors, Tekton parses the body with Go's ``url.ParseQuery``; when
the ``Content-Type`` is exactly ``application/x-www-form-urlencoded`` and the form has more than one
key, the body is replaced, for the whole chain and for the bindings, by the JSON object
``{"key": ["value", ...]}`` (keys sorted, Go's JSON escaping). A one-key form, such as GitHub's
``payload=...``, keeps its raw body.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def parse_query(text: str) -> dict[str, list[str]]:
    """Parse a query string as Go's ``url.ParseQuery`` does, dropping the pairs it rejects.

    Pairs are split on ``&`` only; a pair containing ``;`` is rejected (Go 1.17+), as is one with
    a malformed percent escape; empty pairs are skipped; ``+`` decodes to a space.
    """
    out: dict[str, list[str]] = {}
    for pair in text.split("&"):
        if not pair or ";" in pair:
            continue
        key, _, value = pair.partition("=")
        k = _unescape(key)
        v = _unescape(value)
        if k is None or v is None:
            continue
        out.setdefault(k, []).append(v)
    return out


def _unescape(text: str) -> str | None:
    """Go's ``QueryUnescape``: ``+`` is a space, ``%XX`` must be two hex digits, else an error."""
    i = 0
    while True:
        i = text.find("%", i)
        if i == -1:
            break
        hexpart = text[i + 1 : i + 3]
        if len(hexpart) != 2 or any(c not in "0123456789abcdefABCDEF" for c in hexpart):
            return None
        i += 3
    raw = unquote_to_bytes(text.replace("+", " "))
    return raw.decode("utf-8", errors="replace")


def form_as_json_body(content_type: str, body: bytes) -> dict[str, list[str]] | None:
    """Return the form to substitute for ``body``, or None when Tekton would keep the raw body."""
    if content_type != FORM_CONTENT_TYPE:
        return None
    form = parse_query(body.decode("utf-8", errors="replace"))
    return form if len(form) > 1 else None
