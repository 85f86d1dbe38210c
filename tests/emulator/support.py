"""Helpers shared by the emulator tests and their fixtures."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from pathlib import Path

PROJECT = "kfpt-emulator-test"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (an emulator's JVM sits under the gcloud wrapper), from /proc."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            for child in (int(p) for p in task.read_text().split()):
                found.extend([child, *_descendants(child)])
    return found


def stop_emulator(proc: subprocess.Popen[bytes]) -> None:
    """Stop an emulator's JVM; the scripts above it then exit and reap each other, and we reap the wrapper.

    Killing the wrapper first would leave the JVM running (and its scripts unreaped).
    """
    below = _descendants(proc.pid)
    leaves = [pid for pid in below if not _descendants(pid)]
    for pid in leaves:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    for pid in below:  # anything that ignored SIGTERM
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
