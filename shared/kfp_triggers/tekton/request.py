"""The incoming HTTP request as the engine sees it, and the raw HTTP/1.1 file format.

A :class:`RawRequest` keeps the body bytes exactly as received (signatures are computed over them)
and the headers as canonical, list-valued Go-style maps. ``url`` is the request target as Go's
server exposes it in ``request.URL.String()`` (path and query, e.g. ``/hooks?x=1``, re-escaped by
Go's rules: :func:`~kfp_triggers.golang.url.request_url`), which Tekton passes to interceptors as
``context.event_url`` and to CEL as ``requestURL``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kfp_triggers.errors import InvalidRequestError
from kfp_triggers.golang.fmt import go_string
from kfp_triggers.golang.url import URLError, request_url
from kfp_triggers.tekton.headers import Headers, first, header_text, headers_from_pairs


@dataclass(frozen=True)
class RawRequest:
    """One HTTP request: method, request target, canonical headers and exact body bytes."""

    method: str = "POST"
    url: str = "/"
    headers: Headers = field(default_factory=dict)
    body: bytes = b""

    def header_map(self) -> Headers:
        """A copy of the headers that the caller may modify."""
        return {k: list(v) for k, v in self.headers.items()}

    def header(self, name: str) -> str:
        """First value of a header (name matched canonically), ``""`` when absent."""
        return first(self.headers, name)


def parse_http_request(data: bytes, *, source: str = "<request>") -> RawRequest:
    """Parse a raw HTTP/1.1 request: request line, headers, a blank line, then the body.

    Lines may end in CRLF or LF. The body is everything after the blank line (de-chunked with
    ``Transfer-Encoding: chunked``). As in Tekton's ``triggerrun``, ``binding-eval`` and ``cel-eval``
    tools, a ``Content-Length`` header is not trusted: hand-edited request files often carry a stale one.

    Raises:
        InvalidRequestError: the request line, a header line or the body framing is malformed.
    """
    head, sep, rest = _split_head(data)
    if not sep:
        raise InvalidRequestError(f"{source}: no blank line ends the request headers")
    lines = head.decode("latin-1").split("\n")
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in lines]
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        raise InvalidRequestError(f"{source}: empty request")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise InvalidRequestError(f"{source}:1: malformed request line {lines[0]!r}")
    method, raw_target, _version = parts
    target = go_string(raw_target.encode("latin-1"))  # the target's bytes, as Go reads them
    pairs: list[tuple[str, str]] = []
    for number, line in enumerate(lines[1:], start=2):
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise InvalidRequestError(f"{source}:{number}: malformed header line {line!r}")
        pairs.append((name, header_text(value.strip(" \t"))))
    headers = headers_from_pairs(pairs)
    body = _read_body(headers, rest, source)
    return RawRequest(method=method, url=_request_url(target, source), headers=headers, body=body)


def read_http_request(path: str | Path) -> RawRequest:
    """Read and parse a raw HTTP/1.1 request file."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InvalidRequestError(f"cannot read request file {p}: {exc.strerror}") from exc
    return parse_http_request(data, source=str(p))


def _split_head(data: bytes) -> tuple[bytes, bool, bytes]:
    crlf = data.find(b"\r\n\r\n")
    lf = data.find(b"\n\n")
    if crlf != -1 and (lf == -1 or crlf < lf):
        return data[:crlf], True, data[crlf + 4 :]
    if lf != -1:
        return data[:lf], True, data[lf + 2 :]
    return data, False, b""


def _request_url(target: str, source: str) -> str:
    """Go's server-side ``URL.String()`` of a request target (``/a|b`` reads ``/a%7Cb``).

    An absolute-form target (``http://h/p?q``) stays absolute, as in Go.
    """
    try:
        return request_url(target)
    except URLError as exc:
        raise InvalidRequestError(f"{source}:1: request target refused: {exc}") from exc


def _read_body(headers: Headers, rest: bytes, source: str) -> bytes:
    if "chunked" in first(headers, "Transfer-Encoding").lower():
        return _dechunk(rest, source)
    return rest


def _dechunk(data: bytes, source: str) -> bytes:
    out = bytearray()
    pos = 0
    while True:
        eol = data.find(b"\n", pos)
        if eol == -1:
            raise InvalidRequestError(f"{source}: truncated chunked body")
        size_text = data[pos:eol].strip().split(b";", 1)[0]
        try:
            size = int(size_text, 16)
        except ValueError as exc:
            raise InvalidRequestError(f"{source}: bad chunk size {size_text!r}") from exc
        pos = eol + 1
        if size == 0:
            return bytes(out)
        if pos + size > len(data):
            raise InvalidRequestError(f"{source}: truncated chunked body")
        out += data[pos : pos + size]
        pos += size
        if data[pos : pos + 2] == b"\r\n":
            pos += 2
        elif data[pos : pos + 1] == b"\n":
            pos += 1
