"""URL parsing as Go's ``net/url.Parse`` does it, for Tekton's ``parseURL`` CEL function.

Only what ``parseURL`` exposes is produced: scheme (lower-cased), host (with port), the unescaped
path and fragment, the raw query, the decoded query values, and user info. Errors carry Go's text,
e.g. ``parse "%zz": invalid URL escape "%zz"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kfp_triggers.golang.fmt import quote

_HEX = "0123456789abcdefABCDEF"
_SCHEME_CHARS = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
_PORT = re.compile(r":[0-9]*\Z")


class URLError(ValueError):
    """Go's ``*url.Error`` text: ``parse "<url>": <reason>``."""


@dataclass
class GoURL:
    scheme: str = ""
    user: tuple[str, str] | None = None
    host: str = ""
    path: str = ""
    raw_query: str = ""
    fragment: str = ""
    query: dict[str, list[str]] = field(default_factory=dict)


def unescape(text: str, mode: str) -> str:
    """Percent-decode; ``mode`` is ``path``, ``fragment``, ``query`` (``+`` is a space) or ``user``."""
    raw = text.encode("utf-8", "surrogatepass")
    out = bytearray()
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == 0x25:
            chunk = raw[i : i + 3]
            if len(chunk) < 3 or chr(chunk[1]) not in _HEX or chr(chunk[2]) not in _HEX:
                bad = chunk.decode("utf-8", "replace")
                raise ValueError(f"invalid URL escape {quote(bad)}")
            out.append(int(chunk[1:3], 16))
            i += 3
            continue
        out.append(0x20 if c == 0x2B and mode == "query" else c)
        i += 1
    return out.decode("utf-8", "replace")


def parse_query(raw: str) -> dict[str, list[str]]:
    """``url.ParseQuery``, keeping the pairs that decode (as ``URL.Query()`` does)."""
    values: dict[str, list[str]] = {}
    for pair in raw.split("&"):
        if not pair or ";" in pair:
            continue
        key, _, value = pair.partition("=")
        try:
            k, v = unescape(key, "query"), unescape(value, "query")
        except ValueError:
            continue
        values.setdefault(k, []).append(v)
    return values


def parse(raw_url: str) -> GoURL:
    """Parse like ``url.Parse``; raise :class:`URLError` with Go's message."""
    try:
        return _parse(raw_url)
    except ValueError as exc:
        raise URLError(f"parse {quote(raw_url)}: {exc}") from None


def _parse(raw_url: str) -> GoURL:
    rest, _, frag = raw_url.partition("#")
    u = GoURL()
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in rest):
        raise ValueError("net/url: invalid control character in URL")
    if rest == "*":
        u.path = "*"
        return u
    m = _SCHEME_CHARS.match(rest)
    if m and rest[m.end() : m.end() + 1] == ":":
        u.scheme = m.group(0).lower()
        rest = rest[m.end() + 1 :]
    elif rest.startswith(":"):
        raise ValueError("missing protocol scheme")
    if rest.endswith("?") and rest.count("?") == 1:
        rest = rest[:-1]
    else:
        rest, _, u.raw_query = rest.partition("?")
    if not rest.startswith("/"):
        if u.scheme:
            u.query = parse_query(u.raw_query)
            u.fragment = unescape(frag, "fragment")
            return u  # opaque URL such as mailto:x
        segment = rest.split("/", 1)[0]
        if ":" in segment:
            raise ValueError("first path segment in URL cannot contain colon")
    if (u.scheme or not rest.startswith("///")) and rest.startswith("//"):
        authority, slash, tail = rest[2:].partition("/")
        rest = slash + tail
        _authority(u, authority)
    u.path = unescape(rest, "path")
    u.fragment = unescape(frag, "fragment")
    u.query = parse_query(u.raw_query)
    return u


def _authority(u: GoURL, authority: str) -> None:
    at = authority.rfind("@")
    host = authority[at + 1 :] if at >= 0 else authority
    u.host = _host(host)
    if at < 0:
        return
    userinfo = authority[:at]
    allowed = set("-._:~!$&'()*+,;=%@") | set(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    )
    if any(ch not in allowed for ch in userinfo):
        raise ValueError("net/url: invalid userinfo")
    name, colon, password = userinfo.partition(":")
    u.user = (unescape(name, "user"), unescape(password, "user") if colon else "")


def _host(host: str) -> str:
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            raise ValueError("missing ']' in host")
        port = host[end + 1 :]
        if port and not _PORT.match(port):
            raise ValueError(f"invalid port {quote(port)} after host")
        return unescape(host, "host")
    colon = host.rfind(":")
    if colon >= 0 and not _PORT.match(host[colon:]):
        raise ValueError(f"invalid port {quote(host[colon:])} after host")
    return unescape(host, "host")


def to_map(u: GoURL) -> dict[str, object]:
    """The map ``parseURL`` returns (keys as in Tekton's ``urlToMap``)."""
    result: dict[str, object] = {
        "scheme": u.scheme,
        "host": u.host,
        "path": u.path,
        "rawQuery": u.raw_query,
        "fragment": u.fragment,
        "queryStrings": {k: list(v) for k, v in u.query.items()},
        "query": {k: ",".join(v) for k, v in u.query.items()},
    }
    if u.user is not None:
        result["auth"] = {"username": u.user[0], "password": u.user[1]}
    return result
