"""URL parsing and printing as Go's ``net/url`` does it.

Two of Tekton's values come from it: CEL's ``parseURL`` is ``url.Parse`` (the fields Tekton's
``urlToMap`` exposes: lower-cased scheme, host with port, unescaped path and fragment, raw query,
decoded query values, user info) and ``requestURL`` / ``context.event_url`` is the server's
``URL.String()`` of the request target, read with ``url.ParseRequestURI`` (:func:`request_url`).

Go works on bytes, so this module does too: percent-escapes may decode to bytes that are not
UTF-8, which are kept (see :func:`~kfp_triggers.golang.fmt.go_string`). Host names follow Go's
rules (escapes only for non-ASCII bytes, ``%25`` introducing an IPv6 zone) and errors carry Go's
text, e.g. ``parse "%zz": invalid URL escape "%zz"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kfp_triggers.golang.fmt import go_bytes, go_string, quote

_HEX = b"0123456789abcdefABCDEF"
_ALNUM = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_HOST_ALLOWED = frozenset(b"!$&'()*+,;=:[]<>\"")
_RESERVED = frozenset(b"$&+,/:;=?@")
_ENCODED_OK = frozenset(b"!$&'()*+,;=:@[]%")
_SCHEME_CHARS = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
_USERINFO = frozenset("-._:~!$&'()*+,;=%@abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")

__all__ = [
    "GoURL",
    "URLError",
    "parse",
    "parse_query",
    "parse_request_uri",
    "request_url",
    "to_map",
    "unescape",
]


class URLError(ValueError):
    """Go's ``*url.Error`` text: ``parse "<url>": <reason>``."""


@dataclass
class GoURL:
    """The fields of Go's ``url.URL`` (text fields hold Go strings: see the module docstring)."""

    scheme: str = ""
    opaque: str = ""
    user: tuple[str, str] | None = None
    password_set: bool = False
    host: str = ""
    path: str = ""
    raw_path: str = ""
    omit_host: bool = False
    force_query: bool = False
    raw_query: str = ""
    fragment: str = ""
    raw_fragment: str = ""
    query: dict[str, list[str]] = field(default_factory=dict)

    def escaped_path(self) -> str:
        """``URL.EscapedPath``: the raw path when it is a valid spelling of the path."""
        if self.raw_path and _valid_encoded(self.raw_path, "path"):
            try:
                if unescape(self.raw_path, "path") == self.path:
                    return self.raw_path
            except ValueError:
                pass
        return "*" if self.path == "*" else _escape(self.path, "path")

    def escaped_fragment(self) -> str:
        """``URL.EscapedFragment``: the raw fragment when it is a valid spelling of the fragment."""
        if self.raw_fragment and _valid_encoded(self.raw_fragment, "fragment"):
            try:
                if unescape(self.raw_fragment, "fragment") == self.fragment:
                    return self.raw_fragment
            except ValueError:
                pass
        return _escape(self.fragment, "fragment")

    def string(self) -> str:
        """``URL.String``: the URL reassembled, each part escaped as Go escapes it."""
        out = f"{self.scheme}:" if self.scheme else ""
        if self.opaque:
            out += self.opaque
        else:
            if (self.scheme or self.host or self.user is not None) and not (
                self.omit_host and not self.host and self.user is None
            ):
                if self.host or self.path or self.user is not None:
                    out += "//"
                if self.user is not None:
                    out += _escape(self.user[0], "user")
                    if self.password_set:
                        out += ":" + _escape(self.user[1], "user")
                    out += "@"
                out += _escape(self.host, "host")
            path = self.escaped_path()
            if path and path[0] != "/" and self.host:
                out += "/"
            if not out and ":" in path.split("/", 1)[0]:
                out += "./"
            out += path
        if self.force_query or self.raw_query:
            out += "?" + self.raw_query
        if self.fragment:
            out += "#" + self.escaped_fragment()
        return out


def _should_escape(c: int, mode: str) -> bool:
    """Go's ``shouldEscape`` for one byte; ``mode`` is path, user, query, fragment, host or zone."""
    if c in _ALNUM:
        return False
    if mode in ("host", "zone") and c in _HOST_ALLOWED:
        return False
    if c in b"-_.~":
        return False
    if c in _RESERVED:
        if mode == "path":
            return c == ord("?")
        if mode == "user":
            return c in b"@/?:"
        if mode == "query":
            return True
        if mode == "fragment":
            return False
    return not (mode == "fragment" and c in b"!()*")


def _escape(text: str, mode: str) -> str:
    out = []
    for c in go_bytes(text):
        if not _should_escape(c, mode):
            out.append(chr(c))
        elif c == 0x20 and mode == "query":
            out.append("+")
        else:
            out.append(f"%{c:02X}")
    return "".join(out)


def _valid_encoded(text: str, mode: str) -> bool:
    return all(c in _ENCODED_OK or not _should_escape(c, mode) for c in go_bytes(text))


def unescape(text: str, mode: str) -> str:
    """Go's percent-decoding; ``mode`` as for escaping (``query`` also reads ``+`` as a space).

    Raises:
        ValueError: Go's ``invalid URL escape "%zz"`` or ``invalid character " " in host name``.
    """
    raw = go_bytes(text)
    out = bytearray()
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        if c == 0x25:  # %
            if i + 2 >= n or raw[i + 1] not in _HEX or raw[i + 2] not in _HEX:
                raise ValueError(f"invalid URL escape {quote(go_string(raw[i : i + 3]))}")
            escape = raw[i : i + 3]
            value = int(escape[1:], 16)
            if mode == "host" and value < 0x80 and escape != b"%25":
                raise ValueError(f"invalid URL escape {quote(go_string(escape))}")
            if mode == "zone" and escape != b"%25" and value != 0x20 and _should_escape(value, "host"):
                raise ValueError(f"invalid URL escape {quote(go_string(escape))}")
            out.append(value)
            i += 3
            continue
        if mode in ("host", "zone") and c < 0x80 and _should_escape(c, mode):
            raise ValueError(f"invalid character {quote(chr(c))} in host name")
        out.append(0x20 if c == 0x2B and mode == "query" else c)
        i += 1
    return go_string(bytes(out))


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
    rest, hash_sign, frag = raw_url.partition("#")
    try:
        u = _parse(rest, via_request=False)
    except ValueError as exc:
        raise URLError(f"parse {quote(rest)}: {exc}") from None
    if hash_sign:
        try:
            u.fragment = unescape(frag, "fragment")
        except ValueError as exc:
            raise URLError(f"parse {quote(raw_url)}: {exc}") from None
        u.raw_fragment = "" if _escape(u.fragment, "fragment") == frag else frag
    return u


def parse_request_uri(raw_url: str) -> GoURL:
    """Parse like ``url.ParseRequestURI``: an absolute URL or path, no fragment (``#`` is text)."""
    try:
        return _parse(raw_url, via_request=True)
    except ValueError as exc:
        raise URLError(f"parse {quote(raw_url)}: {exc}") from None


def request_url(target: str) -> str:
    """What Go's HTTP server gives as ``request.URL.String()`` for a request target.

    That is Tekton's ``context.event_url`` and CEL's ``requestURL``: the target re-escaped by
    Go's rules (``/a|b`` becomes ``/a%7Cb``, valid escapes such as ``%2F`` stay as sent).

    Raises:
        URLError: Go's server refuses the target (it answers 400 Bad Request).
    """
    return parse_request_uri(target).string()


def _parse(raw_url: str, *, via_request: bool) -> GoURL:
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw_url):
        raise ValueError("net/url: invalid control character in URL")
    if not raw_url and via_request:
        raise ValueError("empty url")
    u = GoURL()
    if raw_url == "*":
        u.path = "*"
        return u
    rest = raw_url
    m = _SCHEME_CHARS.match(rest)
    if m and rest[m.end() : m.end() + 1] == ":":
        u.scheme = m.group(0).lower()
        rest = rest[m.end() + 1 :]
    elif rest.startswith(":"):
        raise ValueError("missing protocol scheme")
    if rest.endswith("?") and rest.count("?") == 1:
        u.force_query = True
        rest = rest[:-1]
    else:
        rest, _, u.raw_query = rest.partition("?")
    u.query = parse_query(u.raw_query)
    if not rest.startswith("/"):
        if u.scheme:
            u.opaque = rest  # a rootless URL such as mailto:x is opaque
            return u
        if via_request:
            raise ValueError("invalid URI for request")
        if ":" in rest.split("/", 1)[0]:
            raise ValueError("first path segment in URL cannot contain colon")
    if (u.scheme or (not via_request and not rest.startswith("///"))) and rest.startswith("//"):
        authority, slash, tail = rest[2:].partition("/")
        rest = slash + tail
        _authority(u, authority)
    elif u.scheme and rest.startswith("/"):
        u.omit_host = True
    u.path = unescape(rest, "path")
    u.raw_path = "" if _escape(u.path, "path") == rest else rest
    return u


def _authority(u: GoURL, authority: str) -> None:
    at = authority.rfind("@")
    u.host = _host(authority[at + 1 :])
    if at < 0:
        return
    userinfo = authority[:at]
    if any(ch not in _USERINFO for ch in userinfo):
        raise ValueError("net/url: invalid userinfo")
    name, colon, password = userinfo.partition(":")
    u.user = (unescape(name, "user"), unescape(password, "user") if colon else "")
    u.password_set = bool(colon)


def _valid_port(port: str) -> bool:
    return not port or (port[0] == ":" and all("0" <= c <= "9" for c in port[1:]))


def _host(host: str) -> str:
    if host.startswith("["):
        end = host.rfind("]")
        if end < 0:
            raise ValueError("missing ']' in host")
        port = host[end + 1 :]
        if not _valid_port(port):
            raise ValueError(f"invalid port {quote(port)} after host")
        zone = host.find("%25", 0, end)
        if zone >= 0:
            return (
                unescape(host[:zone], "host")
                + unescape(host[zone:end], "zone")
                + unescape(host[end:], "host")
            )
    else:
        colon = host.rfind(":")
        if colon >= 0 and not _valid_port(host[colon:]):
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
