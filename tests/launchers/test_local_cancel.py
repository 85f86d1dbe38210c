"""Cancelling local runs: a real kfp.local run of a sleeping pipeline, its process tree, its record.

The runs are real (a runner subprocess, kfp.local's task shell and interpreter); the records of
finished, queued or foreign runs are written by hand where only the record matters.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kfp_triggers.adapters.launchers import LaunchRejected, LaunchRequest, RunSpec, RunState
from kfp_triggers.adapters.launchers._runrecord import write_json
from kfp_triggers.adapters.launchers.local import LocalLauncher
from kfp_triggers.adapters.launchers.local_runner import run as run_runner
from tests.launchers.sleepy import WAIT_S, compile_all, group_pids, resource, wait_for_task, wait_until_gone

pytestmark = pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="reads processes from /proc")


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return compile_all(tmp_path_factory.mktemp("pipelines"))


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[LocalLauncher]:
    with LocalLauncher(tmp_path / "runs", max_workers=1, cancel_grace_s=5.0) as it:
        yield it


def launch(launcher: LocalLauncher, package: Path, key: str, marker: Path) -> str:
    spec = RunSpec.from_resource(resource(package, key, marker=str(marker), seconds="60"))
    return launcher.launch(LaunchRequest(spec, key, event_id="ev-1")).run_id


def record(launcher: LocalLauncher, run_id: str) -> dict[str, object]:
    data = json.loads((launcher.output_root / run_id / "run.json").read_text())
    assert isinstance(data, dict)
    return data


def test_cancel_stops_the_whole_process_tree_and_the_state_stays_canceled(
    launcher: LocalLauncher, packages: dict[str, Path], tmp_path: Path
) -> None:
    marker = tmp_path / "task.pid"
    run_id = launch(launcher, packages["napping"], "nap", marker)
    run_dir = launcher.output_root / run_id
    task_pid, pgid = wait_for_task(run_dir, marker)
    pids = group_pids(pgid)
    # The runner leads the group; kfp.local's task shell and the task's interpreter are in it.
    assert {pgid, task_pid} <= pids
    assert len(pids) >= 3

    status = launcher.cancel(run_id)

    assert status.state is RunState.CANCELED
    assert wait_until_gone(pids) == set()
    # The thread that waited for the runner saw it killed, and left CANCELED alone.
    final = launcher.wait(run_id, WAIT_S)
    assert final.state is RunState.CANCELED
    assert final.error is None
    assert final.finished_at is not None
    stored = record(launcher, run_id)
    assert stored["state"] == "CANCELED"
    assert stored["exit_code"] == -15  # SIGTERM was enough for this task
    assert stored["canceled_at"] == stored["finished_at"]

    again = launcher.cancel(run_id)
    assert again.state is RunState.CANCELED
    assert record(launcher, run_id) == stored  # a second cancel writes nothing


def test_a_task_ignoring_sigterm_is_killed_after_the_grace_period(
    packages: dict[str, Path], tmp_path: Path
) -> None:
    marker = tmp_path / "task.pid"
    with LocalLauncher(tmp_path / "runs", cancel_grace_s=0.5) as launcher:
        run_id = launch(launcher, packages["stubborn"], "stubborn", marker)
        task_pid, pgid = wait_for_task(launcher.output_root / run_id, marker)
        pids = group_pids(pgid)
        assert launcher.cancel(run_id).state is RunState.CANCELED
        assert wait_until_gone(pids, timeout_s=1.0) == set()  # cancel returned once they were gone
        assert task_pid not in group_pids(pgid)
        assert launcher.wait(run_id, WAIT_S).state is RunState.CANCELED


def test_another_process_cancels_a_run_this_one_launched(
    launcher: LocalLauncher, packages: dict[str, Path], tmp_path: Path
) -> None:
    marker = tmp_path / "task.pid"
    run_id = launch(launcher, packages["napping"], "cross", marker)
    _, pgid = wait_for_task(launcher.output_root / run_id, marker)
    pids = group_pids(pgid)
    other = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from kfp_triggers.adapters.launchers.local import LocalLauncher as L; "
            "print(L(sys.argv[1]).cancel(sys.argv[2]).state)",
            str(launcher.output_root),
            run_id,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=WAIT_S,
    )
    assert other.stdout.strip() == "CANCELED"
    assert wait_until_gone(pids) == set()
    assert launcher.wait(run_id, WAIT_S).state is RunState.CANCELED


def test_a_queued_run_that_is_cancelled_never_starts(
    launcher: LocalLauncher, packages: dict[str, Path], tmp_path: Path
) -> None:
    first = launch(launcher, packages["napping"], "busy", tmp_path / "first.pid")
    wait_for_task(launcher.output_root / first, tmp_path / "first.pid")
    queued = launch(launcher, packages["napping"], "queued", tmp_path / "queued.pid")  # one worker: waits
    assert launcher.get_state(queued).state is RunState.PENDING

    assert launcher.cancel(queued).state is RunState.CANCELED
    assert launcher.cancel(first).state is RunState.CANCELED
    assert launcher.wait(queued, WAIT_S).state is RunState.CANCELED
    assert "runner_pid" not in record(launcher, queued)
    assert not (tmp_path / "queued.pid").exists()


def _write(root: Path, run_id: str, **fields: object) -> Path:
    run_dir = root / run_id
    run_dir.mkdir(parents=True)
    write_json(run_dir / "run.json", {"run_id": run_id, "host": os.uname().nodename, **fields})
    return run_dir


@pytest.mark.parametrize("state", ["SUCCEEDED", "FAILED", "SKIPPED", "CANCELED"])
def test_a_finished_run_keeps_its_state(tmp_path: Path, state: str) -> None:
    run_dir = _write(tmp_path, "r1", state=state, finished_at="2026-11-24T10:00:00.000Z")
    before = (run_dir / "run.json").read_text()
    status = LocalLauncher(tmp_path).cancel("r1")
    assert status.state is RunState(state)
    assert (run_dir / "run.json").read_text() == before


def test_a_run_cancelled_by_another_process_before_it_started_is_not_started(tmp_path: Path) -> None:
    """The launching process's worker (and the runner, had it started) see CANCELED and stop."""
    run_dir = _write(tmp_path, "r2", state="PENDING", launcher_pid=os.getpid())
    (run_dir / "request.json").write_text('{"arguments": {}, "pipeline_name": "p"}')
    launcher = LocalLauncher(tmp_path)
    assert launcher.cancel("r2").state is RunState.CANCELED
    launcher._execute(run_dir)  # the worker thread of the process that launched it
    assert run_runner(run_dir) == 0  # a runner started anyway does nothing
    stored = json.loads((run_dir / "run.json").read_text())
    assert stored["state"] == "CANCELED"
    assert "runner_pid" not in stored
    assert "started_at" not in stored
    assert not (run_dir / "runner.log").exists()


def test_a_run_on_another_machine_is_refused(tmp_path: Path) -> None:
    run_dir = _write(tmp_path, "r3", state="RUNNING", runner_pid=os.getpid(), runner_pgid=os.getpgid(0))
    stored = json.loads((run_dir / "run.json").read_text())
    stored["host"] = "another-machine"
    write_json(run_dir / "run.json", stored)
    with pytest.raises(LaunchRejected, match="executes on another-machine: cancel it there"):
        LocalLauncher(tmp_path).cancel("r3")
    assert json.loads((run_dir / "run.json").read_text())["state"] == "RUNNING"


def test_a_recycled_pid_is_not_signalled(tmp_path: Path) -> None:
    """The record names a live process group that is not this run's runner: record, do not kill."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True)
    try:
        _write(tmp_path, "r4", state="RUNNING", runner_pid=sleeper.pid, runner_pgid=sleeper.pid)
        assert LocalLauncher(tmp_path).cancel("r4").state is RunState.CANCELED
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()


def test_unknown_runs_are_rejected(tmp_path: Path) -> None:
    launcher = LocalLauncher(tmp_path)
    with pytest.raises(LaunchRejected, match="no local run"):
        launcher.cancel("00000000-0000-0000-0000-000000000000")
    with pytest.raises(LaunchRejected, match="not a local run id"):
        launcher.cancel("../etc")
