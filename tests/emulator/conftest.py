"""The real Pub/Sub emulator, started once per test session.

The emulator ships with the Google Cloud CLI (``<sdk root>/platform/pubsub-emulator``) and needs
Java. It is started through ``gcloud beta emulators pubsub start`` with ``CLOUDSDK_CONFIG`` and
``--data-dir`` in a temporary directory, so nothing is written to the home directory. When it is
not installed the tests are skipped, except under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from tests.emulator.support import PROJECT, free_port, stop_emulator

STARTUP_LIMIT_S = 60.0


def _sdk_root(gcloud: str, env: dict[str, str]) -> Path | None:
    """The SDK root: next to the real gcloud script, else as ``gcloud info`` reports it."""
    guess = Path(os.path.realpath(gcloud)).parent.parent
    if (guess / "platform" / "pubsub-emulator").is_dir():
        return guess
    out = subprocess.run(
        [gcloud, "info", "--format=value(installation.sdk_root)"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    return Path(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else None


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the Pub/Sub emulator is required under CI=true: {reason}")
    pytest.skip(f"Pub/Sub emulator not available: {reason}")


@pytest.fixture(scope="session")
def pubsub_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start the emulator on a free port; yields its ``host:port`` (for ``PUBSUB_EMULATOR_HOST``)."""
    try:
        has_client = importlib.util.find_spec("google.cloud.pubsub_v1") is not None
    except ModuleNotFoundError:
        has_client = False
    if not has_client:
        _unavailable("google-cloud-pubsub is not installed (pip install -e '.[gcp]')")
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        _unavailable("gcloud is not on PATH (install google-cloud-cli)")
    if shutil.which("java") is None:
        _unavailable("no Java runtime on PATH")
    base = tmp_path_factory.mktemp("pubsub-emulator")
    env = {**os.environ, "CLOUDSDK_CONFIG": str(base / "gcloud-config"), "CLOUDSDK_CORE_DISABLE_PROMPTS": "1"}
    env.pop("PUBSUB_EMULATOR_HOST", None)
    root = _sdk_root(gcloud, env)
    if root is None or not (root / "platform/pubsub-emulator/bin/cloud-pubsub-emulator").exists():
        _unavailable(f"no platform/pubsub-emulator under the Cloud SDK root {root}")
    data_dir = base / "data"
    data_dir.mkdir()
    host = f"127.0.0.1:{free_port()}"
    log_path = base / "emulator.log"
    command = [gcloud, "beta", "emulators", "pubsub", "start", f"--host-port={host}", f"--project={PROJECT}"]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*command, f"--data-dir={data_dir}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=base,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + STARTUP_LIMIT_S
        while b"Server started" not in log_path.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                output = log_path.read_text(errors="replace")[-2000:]
                pytest.fail(f"the Pub/Sub emulator did not start (exit {proc.returncode}):\n{output}")
            time.sleep(0.05)
        yield host
    finally:
        stop_emulator(proc)


@pytest.fixture(scope="session")
def emulator_env(pubsub_emulator: str) -> dict[str, str]:
    """Settings that point our Pub/Sub code at the emulator (``os.environ`` is left alone)."""
    return {"PUBSUB_EMULATOR_HOST": pubsub_emulator, "KFPT_PUBSUB_PROJECT": PROJECT}
