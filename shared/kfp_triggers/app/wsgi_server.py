"""A threaded HTTP/1.1 server for one WSGI application, bounded in threads, time and bytes.

``serve`` hosts the ingest edge (:mod:`kfp_triggers.app.edge`) with it. Whatever a client sends, what
it can make the server hold is bounded:

* threads: at most ``max_connections`` connections are served at once; one more is answered 503
  and closed at once, without a thread;
* time: a connection waits ``idle_timeout_s`` for each request, the request line and headers must
  then arrive within ``header_timeout_s`` and the body within ``body_timeout_s``, however slowly
  the bytes trickle in (the deadlines bound the whole read, not each ``recv``); each answer is
  written within ``write_timeout_s``;
* bytes: gunicorn's limits, which the deployed function runs under: a request line of 4094 bytes
  (414), 100 header fields of 8190 bytes each (431). The body is only read by the application,
  through a stream that never goes past the declared length or the end of a chunked body.

A request the server cannot frame (a malformed request line, a header line without a name, a
``Content-Length`` that is not a number, both ``Content-Length`` and ``Transfer-Encoding``, bad
chunking) is answered with a 4xx status and a JSON ``{"error": ...}`` body, and the connection is
closed. As under gunicorn, header names holding ``_`` are left out of the environ (they would be
read as the ``-`` spelling) and repeated headers arrive joined with ``,``.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import re
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote_to_bytes

log = logging.getLogger(__name__)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class ServerLimits:
    """What one client may make the server hold; see the module docstring."""

    max_connections: int = 64
    idle_timeout_s: float = 5.0
    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0
    write_timeout_s: float = 30.0
    request_line_bytes: int = 4094
    header_fields: int = 100
    header_field_bytes: int = 8190

    def __post_init__(self) -> None:
        if self.max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        for name in ("idle_timeout_s", "header_timeout_s", "body_timeout_s", "write_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be a positive number of seconds")


class WsgiServer(socketserver.TCPServer):
    """Serves ``app`` on ``address``, one thread per open connection, at most ``max_connections``."""

    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: WsgiApp, limits: ServerLimits | None = None) -> None:
        self.app = app
        self.limits = limits or ServerLimits()
        self._slots = threading.BoundedSemaphore(self.limits.max_connections)
        super().__init__(address, socketserver.BaseRequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve the connection on a thread of its own, or answer 503 when all slots are taken."""
        if not self._slots.acquire(blocking=False):
            log.warning(
                "connection from %s refused: %s are open", client_address[0], self.limits.max_connections
            )
            _send_quietly(
                request, _error_answer(503, "the server is busy; retry later", {"Retry-After": "1"})
            )
            self.shutdown_request(request)
            return
        thread = threading.Thread(
            target=self._serve_connection, args=(request, client_address), name="kfpt-http", daemon=True
        )
        thread.start()

    def _serve_connection(self, sock: socket.socket, client_address: Any) -> None:
        try:
            _Connection(sock, client_address, self).serve()
        except Exception:
            log.exception("connection from %s failed", client_address[0])
        finally:
            self.shutdown_request(sock)
            self._slots.release()


class _RefusedError(Exception):
    """The request cannot be served: answer ``status`` with ``message`` and close."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class MalformedBodyError(ValueError):
    """The chunked body does not follow HTTP/1.1's chunked coding."""


class _DeadlineReader(io.RawIOBase):
    """A socket's bytes, read only until ``deadline`` (``time.monotonic()``) however they trickle in."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self._sock = sock
        self.deadline = math.inf

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the read deadline has passed")
        self._sock.settimeout(remaining)
        return self._sock.recv_into(buffer)


_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VERSION = re.compile(rb"HTTP/(\d)\.(\d)")
_TARGET_BAD = re.compile(rb"[\x00-\x20\x7f]")
_VALUE_BAD = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
_CHUNK_LINE_BYTES = 4096


@dataclass
class _Head:
    method: str
    target: str
    version: str
    fields: list[tuple[str, str]]


class _Connection:
    """One client connection: requests read, handed to the app and answered until it closes."""

    def __init__(self, sock: socket.socket, client_address: Any, server: WsgiServer) -> None:
        self.sock = sock
        self.client = client_address
        self.server = server
        self.limits = server.limits
        self.raw = _DeadlineReader(sock)
        self.rfile = io.BufferedReader(self.raw, 64 * 1024)

    def serve(self) -> None:
        while self._one_request():
            pass

    def _one_request(self) -> bool:
        """Read, run and answer one request; True when the connection may carry another."""
        self.raw.deadline = time.monotonic() + self.limits.idle_timeout_s
        try:
            if not self.rfile.peek(1):
                return False  # the client closed the connection
        except (TimeoutError, ConnectionError):
            return False  # idle too long: close without an answer, as Go's server does
        self.raw.deadline = time.monotonic() + self.limits.header_timeout_s
        try:
            head = self._read_head()
            environ, body = self._environ(head)
        except _RefusedError as exc:
            log.info("%s: request refused with %s: %s", self.client[0], exc.status, exc.message)
            self._send(_error_answer(exc.status, exc.message), close=True)
            return False
        except TimeoutError:
            self._send(_error_answer(408, "the request headers did not arrive in time"), close=True)
            return False
        except ConnectionError:
            return False
        self.raw.deadline = time.monotonic() + self.limits.body_timeout_s
        status, headers, payload = self._run(environ)
        keep = self._keep_alive(head) and body.complete
        if head.method == "HEAD":
            payload = b""
        self._send(_Answer(status, list(headers), payload), close=not keep)
        log.info(
            '%s "%s %s" %s %s',
            self.client[0],
            head.method,
            head.target[:200],
            status.split()[0],
            len(payload),
        )
        return keep

    # --- reading --------------------------------------------------------------------------------

    def _line(self, limit: int, status: int, what: str) -> bytes:
        """One line of at most ``limit`` bytes without its line ending."""
        line = self.rfile.readline(limit + 2)
        if not line.endswith(b"\n"):
            if len(line) >= limit + 2:
                raise _RefusedError(status, f"{what} is longer than {limit} bytes")
            raise ConnectionError("the connection closed inside the request headers")
        line = line[:-1]
        return line[:-1] if line.endswith(b"\r") else line

    def _read_head(self) -> _Head:
        limits = self.limits
        line = self._line(limits.request_line_bytes, 414, "the request line")
        if not line:  # one empty line before a request is allowed (RFC 9112, section 2.2)
            line = self._line(limits.request_line_bytes, 414, "the request line")
        parts = line.split(b" ")
        if len(parts) != 3:
            raise _RefusedError(400, f"malformed request line {_shown(line)}")
        method, target, version = parts
        if not _TOKEN.fullmatch(method):
            raise _RefusedError(400, f"malformed request method {_shown(method)}")
        if not target or _TARGET_BAD.search(target):
            raise _RefusedError(400, f"malformed request target {_shown(target)}")
        match = _VERSION.fullmatch(version)
        if not match:
            raise _RefusedError(400, f"malformed HTTP version {_shown(version)}")
        if match.group(1) != b"1":
            raise _RefusedError(505, f"HTTP version {_shown(version)} is not supported; send HTTP/1.1")
        fields: list[tuple[str, str]] = []
        while True:
            field = self._line(limits.header_field_bytes, 431, "a header field")
            if not field:
                break
            if len(fields) >= limits.header_fields:
                raise _RefusedError(431, f"more than {limits.header_fields} header fields")
            if field[:1] in (b" ", b"\t"):
                raise _RefusedError(400, "obsolete header line folding is not accepted")
            name, colon, value = field.partition(b":")
            if not colon or not _TOKEN.fullmatch(name):
                raise _RefusedError(400, f"malformed header field name {_shown(name)}")
            value = value.strip(b" \t")
            if _VALUE_BAD.search(value):
                raise _RefusedError(400, f"control character in the value of header {_shown(name)}")
            fields.append((name.decode("latin-1"), value.decode("latin-1")))
        return _Head(method.decode("ascii"), target.decode("latin-1"), version.decode("ascii"), fields)

    def _environ(self, head: _Head) -> tuple[dict[str, Any], _Body]:
        """The WSGI environ of ``head``, and the body stream it carries."""
        server_host, server_port = self.server.server_address[:2]
        path, _, query = head.target.partition("?")
        if "://" in path:  # absolute form: the path starts after the authority
            path = "/" + path.split("://", 1)[1].partition("/")[2]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": head.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query,
            "RAW_URI": head.target,
            "REQUEST_URI": head.target,
            "SERVER_NAME": str(server_host),
            "SERVER_PORT": str(server_port),
            "SERVER_PROTOCOL": head.version,
            "REMOTE_ADDR": str(self.client[0]),
            "REMOTE_PORT": str(self.client[1]),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.errors": _LogStream(),
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
        }
        lengths: list[str] = []
        codings: list[str] = []
        expect = ""
        for name, value in head.fields:
            lower = name.lower()
            if lower == "content-length":
                lengths.extend(v.strip() for v in value.split(","))
            elif lower == "transfer-encoding":
                codings.extend(v.strip(" \t").lower() for v in value.split(","))
            elif lower == "expect":
                expect = value.lower()
            if "_" in name:
                continue
            key = name.upper().replace("-", "_")
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                key = "HTTP_" + key
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        body = self._body(head, lengths, codings)
        if body.length is not None:
            environ["CONTENT_LENGTH"] = str(body.length)
        else:
            environ.pop("CONTENT_LENGTH", None)
        if expect == "100-continue" and head.version == "HTTP/1.1":
            body.before_first_read = lambda: self._send_raw(b"HTTP/1.1 100 Continue\r\n\r\n")
        environ["wsgi.input"] = body
        return environ, body

    def _body(self, head: _Head, lengths: list[str], codings: list[str]) -> _Body:
        if codings:
            if codings != ["chunked"]:
                raise _RefusedError(501, "only the chunked Transfer-Encoding is supported")
            if head.version != "HTTP/1.1":
                raise _RefusedError(400, "a chunked body needs HTTP/1.1")
            if lengths:
                raise _RefusedError(400, "a request cannot carry both Content-Length and Transfer-Encoding")
            return _Body(self.rfile, None, self.limits)
        if not lengths:
            return _Body(self.rfile, 0, self.limits)
        if len(set(lengths)) != 1 or not all(v.isascii() and v.isdigit() for v in lengths):
            raise _RefusedError(
                400, f"Content-Length {_shown(', '.join(lengths).encode())} is not a number of bytes"
            )
        return _Body(self.rfile, int(lengths[0]), self.limits)

    # --- running and answering --------------------------------------------------------------------

    def _run(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        """Call the app; its status, headers and whole body (500 when it fails)."""
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started[:] = [status, headers]
            return lambda data: None  # write() is not supported: the body is the returned iterable

        try:
            result = self.server.app(environ, start_response)
            try:
                payload = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            if not started:
                raise RuntimeError("the application did not call start_response")
            status, headers = started
            return status, headers, payload
        except Exception:
            log.exception("the application failed on %s %s", environ["REQUEST_METHOD"], environ["RAW_URI"])
            answer = _error_answer(500, "internal error")
            return answer.status, answer.headers, answer.body

    def _keep_alive(self, head: _Head) -> bool:
        tokens = {
            t.strip().lower() for n, v in head.fields if n.lower() == "connection" for t in v.split(",")
        }
        if head.version == "HTTP/1.0":
            return "keep-alive" in tokens
        return "close" not in tokens

    def _send(self, answer: _Answer, *, close: bool) -> None:
        self._send_raw(answer.encode(close=close))

    def _send_raw(self, data: bytes) -> None:
        with contextlib.suppress(OSError):
            self.sock.settimeout(self.limits.write_timeout_s)
            self.sock.sendall(data)


class _Body:
    """``wsgi.input``: the request body, never read past its length or its last chunk.

    ``complete`` tells whether the whole body was read: only then may the connection carry another
    request. ``length`` is None for a chunked body.
    """

    def __init__(self, rfile: io.BufferedReader[Any], length: int | None, limits: ServerLimits) -> None:
        self._rfile = rfile
        self.length = length
        self._limits = limits
        self._left = length or 0  # bytes left in the body, or in the current chunk
        self._done = length == 0
        self.before_first_read: Callable[[], None] | None = None

    @property
    def complete(self) -> bool:
        return self._done

    def read(self, size: int = -1) -> bytes:
        if self._done:
            return b""
        if self.before_first_read is not None:
            self.before_first_read()
            self.before_first_read = None
        wanted = math.inf if size is None or size < 0 else size
        chunks: list[bytes] = []
        while wanted > 0 and not self._done:
            if self.length is None and self._left == 0:
                self._next_chunk()
                continue
            data = self._rfile.read(int(min(wanted, self._left, 1 << 20)))
            if not data:
                if self.length is None:
                    raise MalformedBodyError("the body ends inside a chunk")
                break  # the client closed early: the reader sees a short body
            chunks.append(data)
            self._left -= len(data)
            wanted -= len(data)
            if self._left == 0:
                if self.length is None:
                    if self._rfile.read(2) != b"\r\n":
                        raise MalformedBodyError("a chunk does not end with CRLF")
                else:
                    self._done = True
        return b"".join(chunks)

    def readline(self, size: int = -1) -> bytes:
        """WSGI asks for it; the edge never reads lines, so this reads byte by byte."""
        out = bytearray()
        while size < 0 or len(out) < size:
            byte = self.read(1)
            if not byte:
                break
            out += byte
            if byte == b"\n":
                break
        return bytes(out)

    def readlines(self, hint: int = -1) -> list[bytes]:
        return list(iter(self.readline, b""))

    def __iter__(self) -> Any:
        return iter(self.readline, b"")

    def _next_chunk(self) -> None:
        line = self._rfile.readline(_CHUNK_LINE_BYTES)
        if not line.endswith(b"\n"):
            raise MalformedBodyError("a chunk size line is cut short or too long")
        size = line.rstrip(b"\r\n").split(b";", 1)[0]
        if not _HEX.fullmatch(size):
            raise MalformedBodyError(f"malformed chunk size {_shown(size)}")
        self._left = int(size, 16)
        if self._left == 0:
            self._skip_trailers()
            self._done = True

    def _skip_trailers(self) -> None:
        for _ in range(self._limits.header_fields + 1):
            line = self._rfile.readline(self._limits.header_field_bytes + 2)
            if not line.endswith(b"\n"):
                raise MalformedBodyError("a trailer line is cut short or too long")
            if line in (b"\r\n", b"\n"):
                return
        raise MalformedBodyError("too many trailer fields")


@dataclass(frozen=True)
class _Answer:
    status: str
    headers: list[tuple[str, str]]
    body: bytes

    def encode(self, *, close: bool) -> bytes:
        lines = [f"HTTP/1.1 {self.status}"]
        for name, value in self.headers:
            if name.lower() in ("content-length", "connection", "transfer-encoding"):
                continue
            if any(c in name + value for c in "\r\n\0"):
                raise ValueError(f"header {name!r} holds a line break")
            lines.append(f"{name}: {value}")
        lines.append(f"Content-Length: {len(self.body)}")
        if close:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


def _error_answer(status: int, message: str, extra: dict[str, str] | None = None) -> _Answer:
    body = json.dumps({"error": message}).encode() + b"\n"
    headers = [("Content-Type", "application/json"), *(extra or {}).items()]
    return _Answer(f"{status} {HTTPStatus(status).phrase}", headers, body)


def _send_quietly(sock: socket.socket, answer: _Answer) -> None:
    with contextlib.suppress(OSError):
        sock.settimeout(1.0)
        sock.sendall(answer.encode(close=True))


def _shown(raw: bytes) -> str:
    """A bounded, printable rendering of client bytes for an error message."""
    text = raw[:80].decode("latin-1")
    return repr(text + ("…" if len(raw) > 80 else ""))


class _LogStream:
    """``wsgi.errors``: what the application writes there goes to the log."""

    def write(self, text: str) -> None:
        if text.strip():
            log.warning("%s", text.rstrip())

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass
