"""The real Firestore emulator, started once per test session.

It ships with the Google Cloud CLI and needs Java. It is started through ``gcloud beta emulators
firestore start`` with ``CLOUDSDK_CONFIG`` in a temporary directory (nothing is written to the home
directory) and is ready once ``GET /`` answers. When gcloud, Java or the emulator component is
missing the tests are skipped, except under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import NoReturn

import pytest

from tests.emulator.support import free_port, stop_emulator

STARTUP_LIMIT_S = 90.0


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the Firestore emulator is required under CI=true: {reason}")
    pytest.skip(f"Firestore emulator not available: {reason}")


def _answers(host: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{host}/", timeout=1) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


@pytest.fixture(scope="session")
def firestore_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start the emulator on a free port; yields its ``host:port`` (for ``FIRESTORE_EMULATOR_HOST``)."""
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        _unavailable("gcloud is not on PATH (install google-cloud-cli)")
    if shutil.which("java") is None:
        _unavailable("no Java runtime on PATH")
    base = tmp_path_factory.mktemp("firestore-emulator")
    env = {**os.environ, "CLOUDSDK_CONFIG": str(base / "gcloud-config"), "CLOUDSDK_CORE_DISABLE_PROMPTS": "1"}
    env.pop("FIRESTORE_EMULATOR_HOST", None)
    host = f"127.0.0.1:{free_port()}"
    log_path = base / "emulator.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [gcloud, "beta", "emulators", "firestore", "start", f"--host-port={host}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=base,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + STARTUP_LIMIT_S
        while not _answers(host):
            if proc.poll() is not None:
                output = log_path.read_text(errors="replace")[-2000:]
                _unavailable(f"the emulator exited with {proc.returncode}:\n{output}")
            if time.monotonic() > deadline:
                output = log_path.read_text(errors="replace")[-2000:]
                pytest.fail(f"the Firestore emulator did not answer within {STARTUP_LIMIT_S} s:\n{output}")
            time.sleep(0.05)
        yield host
    finally:
        stop_emulator(proc)
