"""The ingest edge as one WSGI callable: the deployed function and ``serve`` run this same code.

:func:`answer` turns a WSGI environ into the ingest stage's answer: it reads the body within the
size limit, gives the request URL and the headers as Go's server hands them to a Tekton
EventListener (the URL as ``URL.String()`` of the target), and calls the stage. :func:`wsgi_app`
wraps it as a WSGI application for ``serve``'s server; the ingest function hands Flask's environ to
:func:`answer` directly. Neither imports Flask or a server, so a behaviour seen locally is the one
deployed.

The body is never read past the limit, whatever the server: a ``Content-Length`` that is not a
plain decimal number is refused with 400 (``-1`` is not "no limit"), one over the limit with 413
before a byte is read, and a body without a length (chunked) is read up to one byte past the limit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from kfp_triggers.app.runtime import built_context, handle_http, max_body_bytes
from kfp_triggers.golang.url import URLError, request_url
from kfp_triggers.metrics import EVENTS_RECEIVED
from kfp_triggers.stages import StageContext
from kfp_triggers.stages.ingest import HttpAnswer
from kfp_triggers.tekton.headers import headers_from_wsgi
from kfp_triggers.tekton.request import RawRequest

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_READ_SIZE = 1024 * 1024
"""Bytes asked of the server per read: a 20 MB body in 20 reads, not 320 (measured: 1 MB bodies
answered about a quarter sooner than with 64 KiB reads)."""


def answer(environ: Mapping[str, Any], ctx: StageContext | None = None) -> HttpAnswer:
    """The ingest stage's answer to the request ``environ`` describes.

    ``ctx`` is the chain to run (``serve`` builds its own); without it the process's context is
    used, as in the deployed function.
    """
    limit = ctx.max_body_bytes if ctx is not None else max_body_bytes()
    body = read_body(environ, limit)
    if isinstance(body, HttpAnswer):
        _count_refusal(ctx, body)
        return body
    try:
        # Tekton hands on Go's URL.String() of the target (`/a|b` reads `/a%7Cb`).
        url = request_url(request_target(environ))
    except URLError as exc:  # Go's server answers 400 before the listener sees the request
        refused = _error(400, f"the request target is not a valid URL: {exc}")
        _count_refusal(ctx, refused)
        return refused
    request = RawRequest(str(environ.get("REQUEST_METHOD") or "GET"), url, headers_from_wsgi(environ), body)
    return handle_http(request, ctx)


def _count_refusal(ctx: StageContext | None, answer: HttpAnswer) -> None:
    """Count a request refused before any listener was addressed (``listener`` label empty)."""
    counted = ctx or built_context()
    if counted is not None:
        counted.metrics.count(EVENTS_RECEIVED, "", str(answer.status))


def wsgi_app(ctx: StageContext | None = None) -> WsgiApp:
    """A WSGI application answering every request with :func:`answer`."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        reply = answer(environ, ctx)
        headers = [*reply.headers.items(), ("Content-Length", str(len(reply.body)))]
        start_response(status_line(reply.status), headers)
        return [reply.body]

    return app


def status_line(status: int) -> str:
    """``202 Accepted``: the WSGI status string for a code."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Status {status}"


def read_body(environ: Mapping[str, Any], limit: int) -> bytes | HttpAnswer:
    """The request body, or the 400/413 answer when it cannot or must not be read.

    With a ``Content-Length`` exactly that many bytes are read; without one the body is read to its
    end only when the server says the input ends there (``wsgi.input_terminated``, set for chunked
    bodies by gunicorn and by ``serve``), else it is empty, as WSGI leaves reading past the length
    undefined.
    """
    declared = str(environ.get("CONTENT_LENGTH") or "").strip()
    stream = environ.get("wsgi.input")
    if declared:
        if not declared.isascii() or not declared.isdigit():
            return _error(400, f"Content-Length {declared[:40]!r} is not a number of bytes")
        length = int(declared)
        if length > limit:
            return _error(413, f"request body is {length} bytes; the limit is {limit}")
        if length == 0 or stream is None:
            return b""
        return _read(stream, length, exact=True)
    if stream is None or not environ.get("wsgi.input_terminated"):
        return b""
    body = _read(stream, limit + 1, exact=False)
    if isinstance(body, bytes) and len(body) > limit:
        return _error(413, f"request body is over the limit of {limit} bytes")
    return body


def _read(stream: Any, size: int, *, exact: bool) -> bytes | HttpAnswer:
    """Up to ``size`` bytes from ``stream``; with ``exact``, fewer is a 400 (the body ended early)."""
    chunks: list[bytes] = []
    got = 0
    try:
        while got < size:
            chunk = stream.read(min(_READ_SIZE, size - got))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
    except TimeoutError:
        return _error(408, "the request body did not arrive in time")
    except Exception as exc:  # servers raise their own error types for a malformed chunked body
        log.warning("request body unreadable: %s", exc)
        return _error(400, "the request body is malformed or incomplete")
    if exact and got < size:
        return _error(400, f"the request body ended after {got} of {size} bytes")
    return b"".join(chunks)


def request_target(environ: Mapping[str, Any]) -> str:
    """The request target as sent (``/hooks?x=1``), percent-escapes kept.

    Go's ``URL.String()`` keeps them, and Tekton hands it on as CEL's ``requestURL``. gunicorn and
    ``serve`` give it as ``RAW_URI``, other servers as ``REQUEST_URI``; failing both it is rebuilt
    from the decoded path.
    """
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return str(raw)
    path = quote(str(environ.get("PATH_INFO") or "/"), safe="/;=,:@!$&'()*+~", encoding="latin-1")
    query = str(environ.get("QUERY_STRING") or "")
    return f"{path}?{query}" if query else path


def _error(status: int, message: str) -> HttpAnswer:
    return HttpAnswer.json(status, {"error": message})
