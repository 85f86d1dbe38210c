"""Pipelines that sleep, for cancel tests, and helpers to look at the processes a local run started.

A task writes its own pid to ``marker`` before it sleeps, so a test knows when the run's process
tree is complete (runner -> task shell -> task interpreter) before it cancels the run. ``stubborn``
ignores SIGTERM, so only SIGKILL stops it.
"""

import json
import time
from pathlib import Path
from typing import Any

from kfp import compiler, dsl

IMAGE = "python:3.11"
WAIT_S = 60.0  # a guard against hanging, not an assertion about speed


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def nap(marker: str, seconds: int) -> None:
    import os
    import time

    with open(marker, "w") as fh:
        fh.write(str(os.getpid()))
    time.sleep(seconds)


@dsl.pipeline(name="napping")
def napping(marker: str, seconds: int = 60) -> None:
    nap(marker=marker, seconds=seconds)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def nap_through_sigterm(marker: str, seconds: int) -> None:
    import os
    import signal
    import time

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with open(marker, "w") as fh:
        fh.write(str(os.getpid()))
    time.sleep(seconds)


@dsl.pipeline(name="stubborn")
def stubborn(marker: str, seconds: int = 60) -> None:
    nap_through_sigterm(marker=marker, seconds=seconds)


def compile_all(out: Path) -> dict[str, Path]:
    """``napping`` and ``stubborn`` compiled into ``out``, by pipeline name."""
    paths = {}
    for func in (napping, stubborn):
        paths[func.name] = out / f"{func.name}.yaml"
        compiler.Compiler().compile(func, str(paths[func.name]))
    return paths


def resource(package: Path, name: str, **params: Any) -> dict[str, Any]:
    """A rendered ``Run`` resource for ``package``."""
    return {
        "apiVersion": "pipelines.kubeflow.org/v2beta1",
        "kind": "Run",
        "metadata": {},
        "spec": {
            "display_name": name,
            "pipeline_package": str(package),
            "runtime_config": {"parameters": params},
        },
    }


def _stat(pid: int) -> list[str] | None:
    """``/proc/<pid>/stat`` after the command name: state, ppid, pgrp, ...; None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (a zombie has stopped; it awaits reaping)."""
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def group_pids(pgid: int) -> set[int]:
    """The live processes of a process group."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
                found.add(int(entry.name))
    return found


def wait_for_task(run_dir: Path, marker: Path, timeout_s: float = WAIT_S) -> tuple[int, int]:
    """Wait until the task is sleeping; its pid and the runner's process group (from ``run.json``)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if marker.is_file() and marker.read_text().strip():
            record = json.loads((run_dir / "run.json").read_text())
            return int(marker.read_text()), int(record["runner_pgid"])
        record = json.loads((run_dir / "run.json").read_text())
        if record["state"] not in ("PENDING", "RUNNING"):
            raise AssertionError(f"the run ended before its task slept: {record}")
        time.sleep(0.05)
    raise AssertionError(f"no task started within {timeout_s} s; see {run_dir / 'runner.log'}")


def wait_until_gone(pids: set[int], timeout_s: float = 5.0) -> set[int]:
    """The pids still alive after up to ``timeout_s`` (empty when all are gone)."""
    deadline = time.monotonic() + timeout_s
    left = {p for p in pids if alive(p)}
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = {p for p in left if alive(p)}
    return left
