"""The Pub/Sub and Firestore emulators for a script (the chaos benchmark), outside pytest's fixtures.

They start as the test fixtures start them: ``gcloud beta emulators <name> start`` on a free port,
with ``CLOUDSDK_CONFIG`` (and Pub/Sub's ``--data-dir``) in a scratch directory so nothing is written
to the home directory, and stop through :func:`tests.emulator.support.stop_emulator`. A missing
gcloud, Java runtime or emulator component is reported as :class:`EmulatorUnavailableError`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.emulator.support import PROJECT, free_port, stop_emulator

STARTUP_LIMIT_S = 90.0


class EmulatorUnavailableError(RuntimeError):
    """An emulator cannot be started here."""


@dataclass(frozen=True)
class EmulatorHosts:
    """``host:port`` of each running emulator (Firestore: ``None`` when not started).

    The pids are those of the ``gcloud`` commands that started them (``None``: started elsewhere,
    as by the test fixtures); each emulator's JVM runs below its command, so the benchmark can
    read the CPU an emulator spent from the process tree under that pid.
    """

    pubsub: str
    firestore: str | None
    pubsub_pid: int | None = None
    firestore_pid: int | None = None


def _firestore_answers(host: str) -> Callable[[Path], bool]:
    def answers(_: Path) -> bool:
        try:
            with urllib.request.urlopen(f"http://{host}/", timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    return answers


def _pubsub_started(log_path: Path) -> bool:
    return b"Server started" in log_path.read_bytes()


@contextmanager
def _emulator(
    name: str, base: Path, flags: list[str], ready: Callable[[Path], bool], host: str
) -> Iterator[tuple[str, int]]:
    """Run ``gcloud beta emulators <name> start`` with ``flags``; yields ``host`` and its pid when ready."""
    gcloud = shutil.which("gcloud")
    if gcloud is None or shutil.which("java") is None:
        raise EmulatorUnavailableError(f"the {name} emulator needs gcloud and a Java runtime on PATH")
    base.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CLOUDSDK_CONFIG": str(base / "gcloud-config"), "CLOUDSDK_CORE_DISABLE_PROMPTS": "1"}
    env.pop(f"{name.upper()}_EMULATOR_HOST", None)
    log_path = base / "emulator.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [gcloud, "beta", "emulators", name, "start", f"--host-port={host}", *flags],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=base,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + STARTUP_LIMIT_S
        while not ready(log_path):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise EmulatorUnavailableError(f"the {name} emulator did not start:\n{tail}")
            time.sleep(0.05)
        yield host, proc.pid
    finally:
        stop_emulator(proc)


@contextmanager
def running_emulators(base: Path, firestore: bool) -> Iterator[EmulatorHosts]:
    """Start the Pub/Sub emulator, and the Firestore one when ``firestore``; stop both afterwards."""
    with ExitStack() as stack:
        pubsub_host = f"127.0.0.1:{free_port()}"
        data = base / "pubsub" / "data"
        data.mkdir(parents=True, exist_ok=True)
        flags = [f"--project={PROJECT}", f"--data-dir={data}"]
        pubsub, pubsub_pid = stack.enter_context(
            _emulator("pubsub", base / "pubsub", flags, _pubsub_started, pubsub_host)
        )
        firestore_host, firestore_pid = None, None
        if firestore:
            host = f"127.0.0.1:{free_port()}"
            firestore_host, firestore_pid = stack.enter_context(
                _emulator("firestore", base / "firestore", [], _firestore_answers(host), host)
            )
        yield EmulatorHosts(pubsub, firestore_host, pubsub_pid, firestore_pid)
