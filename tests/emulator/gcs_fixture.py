"""A real GCS emulator (the ``gcp-storage-emulator`` package), started once per test session.

When it is missing the tests skip, except under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.emulator.support import free_port, stop_emulator

BUCKET = "kfpt-bodies"


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[str]:
    """The emulator on a free port with the bucket created; yields its URL (``STORAGE_EMULATOR_HOST``)."""
    command = shutil.which("gcp-storage-emulator", path=str(Path(sys.executable).parent)) or shutil.which(
        "gcp-storage-emulator"
    )
    if command is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("gcp-storage-emulator is required under CI=true (pip install -e '.[dev]')")
        pytest.skip("gcp-storage-emulator is not installed")
    port = free_port()
    proc = subprocess.Popen(
        [
            command,
            "start",
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
            "--default-bucket",
            BUCKET,
            "-q",
            "-M",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/storage/v1/b/{BUCKET}", timeout=2):
                break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                stop_emulator(proc)
                pytest.fail("the GCS emulator did not start")
            time.sleep(0.1)
    yield url
    stop_emulator(proc)
