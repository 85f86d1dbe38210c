"""Helpers for running the five stage functions as real functions-framework servers on Pub/Sub.

Each stage runs in its own ``functions-framework`` process (gunicorn, one worker, four threads),
configured only through ``KFPT_*`` environment variables, exactly as it would be deployed. The
emulator pushes each stage's input topic into it (endpoint ``/projects/<p>/topics/<t>``, which
functions-framework turns into a ``messagePublished`` CloudEvent), and a test watches topics through
pull subscriptions of its own.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.adapters.transports.pubsub import (
    publisher_client,
    subscriber_client,
    subscription_path,
    topic_path,
)
from kfp_triggers.wire import events as ev
from kfp_triggers.wire.eventtypes import HOPS
from tests.emulator.support import free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "github-push"

#: Entry point of each stage's function.
ENTRY_POINTS: dict[str, str] = {
    "ingest": "ingest_webhook",
    "intercept": "intercept_event",
    "render": "render_run",
    "launch": "launch_run",
    "status": "collect_status",
}

#: The topic pushed into each CloudEvent stage, from the chain's own hop table.
INPUT_TOPICS: dict[str, str] = {hop.consumer: hop.topic for hop in HOPS if hop.consumer in ENTRY_POINTS}

#: Variables of the test runner's environment that must not leak into a function's settings.
_OWN_PREFIXES = ("KFPT_", "PUBSUB_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT")


def unique_project(prefix: str) -> str:
    """A Pub/Sub project id used by one test only, so tests never see each other's messages."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_until(what: str, probe: Callable[[], bool], limit_s: float, every_s: float = 0.1) -> float:
    """Poll ``probe`` until it holds; fail the test after ``limit_s``. Returns the seconds waited."""
    start = time.monotonic()
    while not probe():
        if time.monotonic() - start > limit_s:
            pytest.fail(f"gave up after {limit_s:g} s waiting for {what}")
        time.sleep(every_s)
    return time.monotonic() - start


@dataclass
class FunctionServer:
    """One stage served by a functions-framework process on 127.0.0.1."""

    stage: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def push_endpoint(self, project: str, topic: str) -> str:
        """The push endpoint that makes functions-framework see a ``messagePublished`` event of ``topic``."""
        return f"{self.url}/{topic_path(project, topic)}"

    def log(self) -> str:
        """Everything the process wrote so far (gunicorn, Flask and our own log records)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def answers(self) -> bool:
        """True once the server answers HTTP (ingest: ``GET /live`` is 200 ``ok``)."""
        if self.proc.poll() is not None:
            pytest.fail(
                f"the {self.stage} function exited with {self.proc.returncode}:\n{self.log()[-3000:]}"
            )
        path = "/live" if self.stage == "ingest" else "/"
        try:
            with urllib.request.urlopen(self.url + path, timeout=2) as resp:
                return self.stage != "ingest" or (resp.status, resp.read()) == (200, b"ok")
        except urllib.error.HTTPError:
            return self.stage != "ingest"  # a CloudEvent function refuses a GET, but it is serving
        except OSError:
            return False

    def terminate(self) -> None:
        """Ask the server to stop (SIGTERM: gunicorn's graceful shutdown)."""
        if self.proc.poll() is None:
            self.proc.terminate()

    def stop(self, grace_s: float = 10.0) -> None:
        """Terminate the server; kill its process group if it has not exited within ``grace_s``."""
        self.terminate()
        try:
            self.proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)  # its own process group: gunicorn and its worker
            self.proc.wait(10)


def stop_all(servers: Iterable[FunctionServer]) -> None:
    """Stop servers together: all are asked to terminate first, then each is waited for (or killed)."""
    servers = list(servers)
    for server in servers:
        server.terminate()
    for server in servers:
        server.stop()


def function_env(settings: Mapping[str, str]) -> dict[str, str]:
    """The runner's environment without our own settings, plus ``settings`` and the server shape."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OWN_PREFIXES)}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update({"WORKERS": "1", "THREADS": "4", "PYTHONUNBUFFERED": "1"})
    env.update(settings)
    return env


def start_function(
    stage: str,
    settings: Mapping[str, str],
    workdir: Path,
    *,
    target: str | None = None,
    source: Path | None = None,
) -> FunctionServer:
    """Start ``functions/<stage>/main.py`` under functions-framework on a free port (not yet waited for).

    ``target`` and ``source`` start another function in the stage's place (a baseline's).
    """
    port = free_port()
    command = [
        str(Path(sys.executable).with_name("functions-framework")),
        "--target",
        target or ENTRY_POINTS[stage],
        "--source",
        str(source or ROOT / "functions" / stage / "main.py"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    log_path = workdir / f"{stage}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=function_env(settings),
            cwd=workdir,
            start_new_session=True,
        )
    return FunctionServer(stage, port, proc, log_path)


class Observer:
    """A pull subscription of the test's own on one topic: every message it pulls is acknowledged."""

    def __init__(self, environ: Mapping[str, str], path: str) -> None:
        """Watch the existing subscription ``path`` (a full subscription path)."""
        self.client: Any = subscriber_client(environ)
        self.path = path
        self.messages: list[Any] = []

    @classmethod
    def create(cls, environ: Mapping[str, str], project: str, topic: str) -> Observer:
        """Create the pull subscription ``<topic>-observer`` on ``topic`` and watch it."""
        observer = cls(environ, subscription_path(project, f"{topic}-observer"))
        observer.client.create_subscription(
            request={"name": observer.path, "topic": topic_path(project, topic), "ack_deadline_seconds": 10}
        )
        return observer

    def drain(self) -> list[Any]:
        """Pull what is ready now (possibly nothing), acknowledge it, and keep it in ``messages``.

        ``return_immediately`` is deprecated for production use (it can miss messages), which is
        harmless here: callers poll until what they expect has arrived.
        """
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            response = self.client.pull(
                subscription=self.path, max_messages=50, return_immediately=True, timeout=10
            )
        received = [m.message for m in response.received_messages]
        if response.received_messages:
            self.client.acknowledge(
                subscription=self.path, ack_ids=[m.ack_id for m in response.received_messages]
            )
        self.messages.extend(received)
        return received

    def events(self) -> list[ev.CloudEvent]:
        """Every message pulled so far, decoded as our CloudEvents."""
        return [ev.from_pubsub_message(m.data, dict(m.attributes)) for m in self.messages]

    def close(self) -> None:
        """Release the client."""
        self.client.close()


class Ticker:
    """Publishes ``status.tick`` events on the status stage's input topic, as a scheduler would."""

    def __init__(self, environ: Mapping[str, str], project: str, topic: str) -> None:
        """Publish on ``topic`` of ``project``."""
        self.client: Any = publisher_client(environ)
        self.path = topic_path(project, topic)
        self.sent = 0
        self._last = 0.0

    def tick(self) -> None:
        """Publish one tick and wait for the emulator to accept it."""
        at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        event = ev.event_for(
            ev.StatusTick(tick_at=at), source="//kfp-triggers/test-scheduler", traceparent=None
        )
        data, attributes = ev.to_pubsub_message(event)
        self.client.publish(self.path, data, **attributes).result(timeout=10)
        self.sent += 1
        self._last = time.monotonic()

    def tick_every(self, seconds: float) -> None:
        """Tick when the last tick is at least ``seconds`` old."""
        if time.monotonic() - self._last >= seconds:
            self.tick()

    def close(self) -> None:
        """Flush and release the client."""
        self.client.stop()
