"""A stage function under a real functions-framework process (gunicorn), as Cloud Run starts it."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT
from tests.emulator.support import free_port

EXAMPLE = EXAMPLES / "github-push"


def example_settings(state_dir: Path, **extra: str) -> dict[str, str]:
    """``KFPT_*`` settings for the example listener on the in-process transport, state under ``state_dir``."""
    return {
        "KFPT_CONFIG": str(EXAMPLE),
        "KFPT_SECRETS_DIR": str(EXAMPLE / "secrets"),
        "KFPT_TRANSPORT": "memory",
        "KFPT_STORE": f"sqlite:///{state_dir / 'state.db'}",
        **extra,
    }


@contextmanager
def running_function(
    stage: str, target: str, settings: Mapping[str, str], workdir: Path, *, signature: str | None = None
) -> Iterator[tuple[int, Path]]:
    """Start ``functions/<stage>/main.py:<target>`` on a free port; yields the port and its log file.

    The environment is this process's without any ``KFPT_*`` setting, plus ``settings``.
    """
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KFPT_")}
    env.update(settings)
    command = [
        str(Path(sys.executable).with_name("functions-framework")),
        "--target", target, "--source", str(ROOT / "functions" / stage / "main.py"),
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    if signature is not None:
        command += ["--signature-type", signature]
    log = workdir / f"{stage}.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(command, cwd=workdir, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"functions-framework did not start: {log.read_text()}")
            time.sleep(0.05)
        yield port, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # a worker still blocked on a request
            proc.kill()
            proc.wait(timeout=10)
