"""Go's ``net/textproto`` header-name rule, which every header lookup in Tekton goes through."""

from __future__ import annotations

from functools import lru_cache

# RFC 7230 token characters: the bytes Go accepts in a header field name.
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


@lru_cache(maxsize=1024)
def canonical_header_key(name: str) -> str:
    """Return ``name`` canonicalised as Go's ``textproto.CanonicalMIMEHeaderKey`` does.

    The first letter and every letter after a hyphen are upper-cased, the rest lower-cased
    (``x-github-event`` -> ``X-Github-Event``). A name holding a byte that is not a valid token
    character (a space, say, or non-ASCII) is returned unchanged, exactly like Go.
    """
    if not name or any(c not in _TOKEN_CHARS for c in name):
        return name
    out: list[str] = []
    upper = True
    for ch in name:
        if upper and "a" <= ch <= "z":
            out.append(ch.upper())
        elif not upper and "A" <= ch <= "Z":
            out.append(ch.lower())
        else:
            out.append(ch)
        upper = ch == "-"
    return "".join(out)
