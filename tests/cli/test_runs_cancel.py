"""``kfp-triggers runs cancel RUN_ID [--store URL]``: cancel a stored run on its own backend, idempotently.

The local case is end to end: this process launches a real kfp.local run of a sleeping pipeline and
records it in an SQLite store, as ``serve`` would, and the installed console script, another
process, cancels it. The KFP case runs the command in process against the contract tests' fake
KFP API server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.adapters.launchers import LaunchRequest, RunSpec, RunState
from kfp_triggers.adapters.launchers.dry_run import DryRunLauncher
from kfp_triggers.adapters.launchers.local import LocalLauncher
from kfp_triggers.adapters.store import store_from_url
from kfp_triggers.adapters.store.base import RunRecord, Store
from kfp_triggers.app.cli import main
from tests.conftest import ROOT, CliResult
from tests.launchers.contract_server import running
from tests.launchers.sleepy import WAIT_S, compile_all, group_pids, resource, wait_for_task, wait_until_gone
from tests.launchers.test_kfp_rest_contract import API, TOKEN, FakeKfp

TRAIN = ROOT / "examples" / "pipelines" / "train.yaml"


@pytest.fixture(autouse=True)
def no_kfpt_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the settings a test sets: the environment running the tests may carry its own."""
    for name in list(os.environ):
        if name.startswith("KFPT_"):
            monkeypatch.delenv(name)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = store_from_url(f"sqlite:///{tmp_path}/state.db")
    yield opened
    opened.close()


def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/state.db"


def record(store: Store, run_id: str, backend: str, state: str) -> None:
    """A run as the launch stage records it."""
    at = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    store.upsert_run(RunRecord(run_id, "ev-1", "github-push", "train-on-main", backend, state, at, at))


def cli_process(args: list[str], env: dict[str, str]) -> CliResult:
    """The installed console script in a process of its own, with exactly these KFPT_* settings."""
    exe = Path(sys.executable).with_name("kfp-triggers")
    base = {k: v for k, v in os.environ.items() if not k.startswith("KFPT_")}
    proc = subprocess.run(
        [str(exe), *args], capture_output=True, cwd=ROOT, env={**base, **env}, check=False, timeout=120
    )
    return CliResult(proc.returncode, proc.stdout.decode(), proc.stderr.decode())


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    """The command run in this process: exit status and the JSON printed."""
    code = main(args)
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="reads processes from /proc")
def test_cancel_a_local_run_from_another_process_twice(
    tmp_path: Path, store: Store, tmp_path_factory: pytest.TempPathFactory
) -> None:
    package = compile_all(tmp_path_factory.mktemp("pipelines"))["napping"]
    marker = tmp_path / "task.pid"
    root = tmp_path / "runs"
    with LocalLauncher(root) as launcher:
        spec = RunSpec.from_resource(resource(package, "nap", marker=str(marker), seconds="60"))
        run_id = launcher.launch(LaunchRequest(spec, "key-1", event_id="ev-1")).run_id
        record(store, run_id, "local", "PENDING")
        _, pgid = wait_for_task(root / run_id, marker)
        store.record_state(run_id, "RUNNING", datetime.now(UTC))  # what the status stage saw
        pids = group_pids(pgid)
        args = ["runs", "cancel", run_id, "--store", store_url(tmp_path)]
        env = {"KFPT_LOCAL_OUTPUT_ROOT": str(root)}

        first = cli_process(args, env)

        assert first.code == 0, first.stdout + first.stderr
        assert first.json() == {
            "runID": run_id,
            "backend": "local",
            "state": "CANCELED",
            "previousState": "RUNNING",
            "recorded": "CANCELING",
            "changed": True,
        }
        assert wait_until_gone(pids) == set()
        assert launcher.wait(run_id, WAIT_S).state is RunState.CANCELED
        stored = store.get_run(run_id)
        # The end is the status stage's to record (it frees the slot, tells GitHub, publishes it).
        assert stored is not None and stored.state == "CANCELING"

        second = cli_process(args, env)
        assert second.code == 0, second.stdout + second.stderr
        assert second.json() == {
            "runID": run_id,
            "backend": "local",
            "state": "CANCELED",
            "previousState": "CANCELING",
            "recorded": "CANCELING",
            "changed": False,
        }


def test_an_unknown_run_id_is_an_error(
    tmp_path: Path, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = cli(["runs", "cancel", "nope", "--store", store_url(tmp_path)], capsys)
    assert code == 1
    assert out == {"error": "no run 'nope' in the store"}


def test_a_kfp_run_is_cancelled_on_its_own_backend(
    tmp_path: Path, store: Store, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeKfp()
    with running(fake) as server:
        run = fake.add_run(display_name="train", state="RUNNING")
        record(store, run["run_id"], "kfp", "RUNNING")
        monkeypatch.setenv(
            "KFPT_LAUNCHER", "local"
        )  # today's launches go elsewhere: the run's backend counts
        monkeypatch.setenv("KFPT_KFP_HOST", server.base_url)
        monkeypatch.setenv("KFPT_KFP_TOKEN", TOKEN)
        args = ["runs", "cancel", run["run_id"], "--store", store_url(tmp_path)]

        assert cli(args, capsys) == (
            0,
            {
                "runID": run["run_id"],
                "backend": "kfp",
                "state": "CANCELING",
                "previousState": "RUNNING",
                "recorded": "CANCELING",
                "changed": True,
            },
        )
        assert cli(args, capsys)[1] == {
            "runID": run["run_id"],
            "backend": "kfp",
            "state": "CANCELING",
            "previousState": "CANCELING",
            "recorded": "CANCELING",
            "changed": False,
        }
        fake.runs[run["run_id"]]["state"] = "CANCELED"
        assert cli(args, capsys)[1] == {
            "runID": run["run_id"],
            "backend": "kfp",
            "state": "CANCELED",
            "previousState": "CANCELING",
            "recorded": "CANCELING",
            "changed": False,
        }
        assert server.targets().count(f"POST {API}/runs/{run['run_id']}:terminate") == 1
        assert server.violations == []
    stored = store.get_run(run["run_id"])
    assert stored is not None
    assert stored.state == "CANCELING"


def test_a_backend_refusal_is_an_error_and_changes_nothing(
    tmp_path: Path, store: Store, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeKfp()
    with running(fake) as server:
        record(store, "gone", "kfp", "RUNNING")  # deleted on the server since
        monkeypatch.setenv("KFPT_KFP_HOST", server.base_url)
        monkeypatch.setenv("KFPT_KFP_TOKEN", TOKEN)
        code, out = cli(["runs", "cancel", "gone", "--store", store_url(tmp_path)], capsys)
        assert code == 1
        assert out == {"error": f"GET {API}/runs/gone: HTTP 404 Not Found: Run gone not found"}
        server.fail("GET", f"{API}/runs/.*", 503)
        record(store, "flaky", "kfp", "RUNNING")
        code, out = cli(["runs", "cancel", "flaky", "--store", store_url(tmp_path)], capsys)
        assert code == 1
        assert out["error"].startswith(f"GET {API}/runs/flaky: HTTP 503")
    stored = store.get_run("gone")
    assert stored is not None
    assert stored.state == "RUNNING"


def test_settings_the_runs_backend_needs_are_reported(
    tmp_path: Path, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    record(store, "r-1", "vertex", "RUNNING")
    code, out = cli(["runs", "cancel", "r-1", "--store", store_url(tmp_path)], capsys)
    assert code == 1
    assert [p["message"] for p in out["problems"]] == [
        "KFPT_VERTEX_PROJECT is required when KFPT_LAUNCHER=vertex",
        "KFPT_VERTEX_LOCATION is required when KFPT_LAUNCHER=vertex",
    ]


def test_a_dry_run_is_recorded_as_cancelled(
    tmp_path: Path, store: Store, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "runs"
    resource_ = {
        "apiVersion": "pipelines.kubeflow.org/v2beta1",
        "kind": "Run",
        "spec": {
            "display_name": "train",
            "pipeline_package": str(TRAIN),
            "runtime_config": {"parameters": {"repo": "r", "commit_sha": "c"}},
        },
    }
    launched = DryRunLauncher(root / "dry-run.jsonl").launch(
        LaunchRequest(RunSpec.from_resource(resource_), "key-1")
    )
    record(store, launched.run_id, "dry-run", "SKIPPED")
    monkeypatch.setenv("KFPT_LOCAL_OUTPUT_ROOT", str(root))
    args = ["runs", "cancel", launched.run_id, "--store", store_url(tmp_path)]
    # A dry run has ended (SKIPPED) as far as the store knows: the backend records the cancel,
    # the store keeps what it holds.
    assert cli(args, capsys)[1] == {
        "runID": launched.run_id,
        "backend": "dry-run",
        "state": "CANCELED",
        "previousState": "SKIPPED",
        "recorded": "SKIPPED",
        "changed": False,
    }
    assert cli(args, capsys)[1]["changed"] is False
