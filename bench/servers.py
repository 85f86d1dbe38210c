"""Functions under test, the requests sent to them, and functions-framework servers that serve them.

Every function is served by the same command, ``functions-framework --target T --source S
--signature-type K --host 127.0.0.1 --port P``, with functions-framework's default server settings
(gunicorn, one worker, ``4 x cpu`` threads): only the function differs between a measurement and its
baseline. Each server runs in its own process group, so stopping it stops gunicorn's worker too.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from bench.common import ROOT, child_env, free_port

if TYPE_CHECKING:
    from kfp_triggers.wire.events import CloudEvent, HttpRequestData

EXAMPLE = ROOT / "examples" / "github-push"
PUSH_REQUEST = EXAMPLE / "requests" / "push.http"
FUNCTIONS_FRAMEWORK = str(Path(sys.executable).with_name("functions-framework"))
# Request headers that belong to one connection and are rewritten for each server.
_HOP_HEADERS = frozenset({"host", "content-length", "connection", "transfer-encoding"})


@dataclass(frozen=True)
class Function:
    """A function as functions-framework loads it, and the status its sample request gets."""

    name: str
    source: Path
    target: str
    signature: str
    expect_status: int


FUNCTIONS = {
    "hello": Function("hello", ROOT / "bench" / "hello" / "main.py", "hello", "http", 200),
    "hello-body": Function("hello-body", ROOT / "bench" / "hello" / "main.py", "hello_body", "http", 200),
    "ingest": Function("ingest", ROOT / "functions" / "ingest" / "main.py", "ingest_webhook", "http", 202),
    "intercept": Function(
        "intercept", ROOT / "functions" / "intercept" / "main.py", "intercept_event", "cloudevent", 200
    ),
    "render": Function("render", ROOT / "functions" / "render" / "main.py", "render_run", "cloudevent", 200),
}


@functools.cache
def deployed_config() -> Path:
    """The example listener as a bundle ships it: its YAML and the compiled form stages load.

    Made once per process in a directory removed at exit (the compiled file is never written into
    examples/, which ``make run`` reads as YAML).
    """
    from kfp_triggers.app.validation import load
    from kfp_triggers.config.compiled import write_compiled

    top = Path(tempfile.mkdtemp(prefix="kfpt-bench-config-"))
    atexit.register(shutil.rmtree, top, ignore_errors=True)
    shutil.copytree(EXAMPLE, top / EXAMPLE.name, ignore=shutil.ignore_patterns("secrets"))
    shutil.copytree(EXAMPLE.parent / "pipelines", top / "pipelines")
    write_compiled(load([str(top / EXAMPLE.name)]), top / EXAMPLE.name)
    return top / EXAMPLE.name


def function_env(state_dir: Path) -> dict[str, str]:
    """``KFPT_*`` settings for every server: the example listener as deployed, in-process hand-off,
    no real launch."""
    return {
        "KFPT_CONFIG": str(deployed_config()),
        "KFPT_SECRETS_DIR": str(EXAMPLE / "secrets"),
        "KFPT_TRANSPORT": "memory",
        "KFPT_STORE": f"sqlite:///{state_dir / 'state.db'}",
        "KFPT_LAUNCHER": "dry-run",
        "KFPT_LOCAL_OUTPUT_ROOT": str(state_dir / "runs"),
        "KFPT_BODY_STORE": f"file://{state_dir / 'bodies'}",
    }


def pubsub_env(emulator_host: str, project: str) -> dict[str, str]:
    """Settings that put a server's hand-off on the Pub/Sub emulator instead of the in-process bus."""
    return {"KFPT_TRANSPORT": "pubsub", "PUBSUB_EMULATOR_HOST": emulator_host, "KFPT_PUBSUB_PROJECT": project}


@dataclass(frozen=True)
class HttpRequest:
    """One request as headers and body; :meth:`wire` frames it for a given server."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def wire(self, port: int) -> bytes:
        """The exact bytes of this request over HTTP/1.1 keep-alive to ``127.0.0.1:port``."""
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
        lines += [f"{k}: {v}" for k, v in self.headers if k.lower() not in _HOP_HEADERS]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


def push_request() -> HttpRequest:
    """The signed sample GitHub push of the example listener, headers and body as recorded."""
    from kfp_triggers.tekton.request import read_http_request

    raw = read_http_request(PUSH_REQUEST)
    headers = tuple((name, ", ".join(values)) for name, values in raw.headers.items())
    return HttpRequest(raw.method, raw.url, headers, raw.body)


def _binary_event_request(event: CloudEvent) -> HttpRequest:
    from kfp_triggers.wire.events import to_http_binary

    headers, body = to_http_binary(event)
    return HttpRequest("POST", "/", tuple(headers.items()), body)


def _push_data() -> HttpRequestData:
    """The sample push as the stages carry a request."""
    from kfp_triggers.tekton.headers import headers_from_pairs
    from kfp_triggers.wire.events import HttpRequestData

    push = push_request()
    return HttpRequestData(push.method, push.path, headers_from_pairs(push.headers), push.body)


def received_event_request(event_id: str = "bench-0001") -> HttpRequest:
    """An ``event.received`` CloudEvent in binary mode carrying the sample push (intercept's input)."""
    from datetime import UTC, datetime

    from kfp_triggers.wire.events import EventReceived, ObjectRef, event_for

    received = EventReceived(
        event_id=event_id,
        listener=ObjectRef("default", "github-push"),
        request=_push_data(),
        received_at=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    )
    return _binary_event_request(event_for(received, source="bench/ingest", traceparent=None))


def matched_event_request(event_id: str = "bench-0001") -> HttpRequest:
    """A binary-mode ``trigger.matched`` CloudEvent for the example's main-branch trigger (render's input)."""
    from kfp_triggers.wire.events import ObjectRef, TriggerMatched, event_for

    matched = TriggerMatched(
        event_id=event_id,
        listener=ObjectRef("default", "github-push"),
        trigger=ObjectRef("default", "train-on-main"),
        group=None,
        request=_push_data(),
        extensions={"short_sha": "c0ffee1"},
        decisions=[],
    )
    return _binary_event_request(event_for(matched, source="bench/intercept", traceparent=None))


def first_request(name: str) -> HttpRequest:
    """The first request a cold-start measurement sends to function ``name``."""
    if name == "intercept":
        return received_event_request()
    if name == "render":
        return matched_event_request()
    return push_request()


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    """Read one HTTP/1.1 response (Content-Length, chunked or until close); return status and body."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed before the response headers")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    fields = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    if "content-length" in fields:
        size = int(fields["content-length"])
        while len(rest) < size:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        return status, rest[:size]
    while True:
        if fields.get("transfer-encoding", "").lower() == "chunked" and rest.endswith(b"0\r\n\r\n"):
            return status, rest
        chunk = sock.recv(65536)
        if not chunk:
            return status, rest
        rest += chunk


class Server:
    """A functions-framework server for one function, in its own process group and state directory."""

    def __init__(
        self, function: Function, port: int | None = None, settings: Mapping[str, str] | None = None
    ) -> None:
        """Serve ``function``; ``settings`` override :func:`function_env` (another transport, say)."""
        self.function = function
        self.port = port or free_port()
        self.settings = dict(settings or {})
        self._state = tempfile.TemporaryDirectory(prefix=f"kfpt-bench-{function.name}-")
        self.log_path = Path(self._state.name) / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def command(self) -> list[str]:
        """The functions-framework command line (default server settings, loopback only)."""
        f = self.function
        return [FUNCTIONS_FRAMEWORK, "--target", f.target, "--source", str(f.source),
                "--signature-type", f.signature, "--host", "127.0.0.1", "--port", str(self.port)]  # fmt: skip

    def start(self) -> None:
        """Start the process; :attr:`started_at` is the ``perf_counter`` just before it was spawned."""
        env = child_env({**function_env(Path(self._state.name)), **self.settings})
        with self.log_path.open("wb") as log:
            self.started_at = time.perf_counter()
            self.proc = subprocess.Popen(
                self.command(), cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
            )

    def connect(self, timeout: float = 30.0) -> socket.socket:
        """Connect as soon as the server listens (polling every 2 ms); raise if it dies or times out."""
        deadline = time.perf_counter() + timeout
        while True:
            try:
                return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
            except (ConnectionRefusedError, ConnectionResetError):
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"{self.function.name} server exited: {self.log_tail()}") from None
                if time.perf_counter() > deadline:
                    raise TimeoutError(f"{self.function.name} server did not listen in {timeout} s") from None
                time.sleep(0.002)

    def send(self, request: HttpRequest, timeout: float = 30.0) -> tuple[int, float]:
        """Send ``request`` on a new connection; return the status and the ``perf_counter`` of the answer."""
        with self.connect(timeout) as sock:
            sock.sendall(request.wire(self.port))
            status, _ = read_response(sock)
            return status, time.perf_counter()

    def log_tail(self) -> str:
        """The last lines the server has written to its log (stdout and stderr)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-10:])

    def stop(self) -> None:
        """Stop the server's process group (TERM, then KILL after 5 s) and remove its state directory."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
            except ProcessLookupError:
                pass
        self._state.cleanup()

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
