"""LocalLauncher runs real pipelines offline with kfp.local, each in its own runner subprocess.

The pipelines are written and compiled here (components with ``install_kfp_package=False`` and an
explicit ``base_image``, so nothing is installed at run time); every test drives the compiled YAML
through the launcher exactly as a rendered ``Run`` resource would.
"""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from kfp import compiler, dsl
from kfp.dsl import Dataset, Input, Output

from kfp_triggers.adapters.launchers import LaunchRejected, LaunchRequest, RunSpec, RunState
from kfp_triggers.adapters.launchers._runrecord import write_json
from kfp_triggers.adapters.launchers.base import ParameterError
from kfp_triggers.adapters.launchers.local import LocalLauncher

IMAGE = "python:3.11"
Packages = dict[str, Path]
WAIT_S = 120  # a guard against hanging, not an assertion about speed


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def write_note(text: str, note: Output[Dataset]) -> int:
    with open(note.path, "w") as f:
        f.write(text)
    return len(text)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def shout(note: Input[Dataset], times: int) -> str:
    with open(note.path) as f:
        return f.read().upper() * times


@dsl.pipeline(name="notes")
def notes(text: str, times: int = 1) -> str:
    written = write_note(text=text)
    return shout(note=written.outputs["note"], times=times).output


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def explode(reason: str) -> str:
    raise ValueError(f"boom: {reason}")


@dsl.pipeline(name="exploding")
def exploding(reason: str = "testing") -> str:
    return explode(reason=reason).output


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def describe(
    text: str, count: int, ratio: float, flag: bool, items: list, mapping: dict, report: Output[Dataset]
) -> None:
    import json

    values = {"text": text, "count": count, "ratio": ratio, "flag": flag, "items": items, "mapping": mapping}
    with open(report.path, "w") as fh:
        json.dump({k: [type(v).__name__, v] for k, v in values.items()}, fh)


@dsl.pipeline(name="typed")
def typed(text: str, count: int, ratio: float, flag: bool, items: list, mapping: dict) -> None:
    describe(text=text, count=count, ratio=ratio, flag=flag, items=items, mapping=mapping)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def kill_runner() -> None:
    import os
    import signal

    # The runner leads its own session (it started with start_new_session), so its pid is our
    # process group id; the task itself runs under a shell, a child of the runner.
    os.kill(os.getpgid(0), signal.SIGKILL)


@dsl.pipeline(name="crashing")
def crashing() -> None:
    kill_runner()


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The test pipelines, compiled once."""
    out = tmp_path_factory.mktemp("pipelines")
    paths = {}
    for func in (notes, exploding, typed, crashing):
        paths[func.name] = out / f"{func.name}.yaml"
        compiler.Compiler().compile(func, str(paths[func.name]))
    return paths


@pytest.fixture
def launcher(tmp_path: Path) -> Any:
    with LocalLauncher(tmp_path / "runs", max_workers=2) as it:
        yield it


def request(package: Path, key: str, **params: Any) -> LaunchRequest:
    resource = {
        "apiVersion": "pipelines.kubeflow.org/v2beta1",
        "kind": "Run",
        "metadata": {"generateName": "t-", "labels": {"triggers.tekton.dev/eventid": "ev-1"}},
        "spec": {
            "display_name": f"test {key}",
            "pipeline_package": package.name,
            "runtime_config": {"parameters": params},
        },
    }
    return LaunchRequest(RunSpec.from_resource(resource, package.parent), key, event_id="ev-1")


def test_success_reaches_succeeded_with_outputs_on_disk(
    launcher: LocalLauncher, packages: dict[str, Path]
) -> None:
    launched = launcher.launch(request(packages["notes"], "ok", text="hi there", times="2"))
    assert launched.backend == "local"
    assert launched.state is RunState.PENDING
    assert launched.existing is False
    status = launcher.wait(launched.run_id, WAIT_S)
    assert status.state is RunState.SUCCEEDED, status.error
    assert status.error is None
    assert status.finished_at is not None
    assert status.details["outputs"] == {"Output": "HI THEREHI THERE"}
    outputs_dir = Path(status.details["outputs_dir"])
    assert outputs_dir.parent == launcher.output_root / launched.run_id
    assert (outputs_dir / "write-note" / "note").read_text() == "hi there"
    assert (outputs_dir / "shout" / "executor_output.json").is_file()
    record = json.loads((launcher.output_root / launched.run_id / "run.json").read_text())
    assert record["parameters"] == {"text": "hi there", "times": 2}
    assert record["labels"] == {"triggers.tekton.dev/eventid": "ev-1"}
    assert record["exit_code"] == 0
    # Any other process can read the state from disk.
    reader = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from kfp_triggers.adapters.launchers.local import LocalLauncher as L; "
            "print(L(sys.argv[1]).get_state(sys.argv[2]).state)",
            str(launcher.output_root),
            launched.run_id,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert reader.stdout.strip() == "SUCCEEDED"


def test_failing_component_gives_failed_with_the_reason(
    launcher: LocalLauncher, packages: dict[str, Path]
) -> None:
    launched = launcher.launch(request(packages["exploding"], "fail"))
    status = launcher.wait(launched.run_id, WAIT_S)
    assert status.state is RunState.FAILED
    assert status.error is not None
    assert "Pipeline 'exploding' finished with status FAILURE" in status.error
    assert "explode" in status.error
    assert "\x1b[" not in status.error  # kfp.local's colours are removed
    assert "boom: testing" in (launcher.output_root / launched.run_id / "runner.log").read_text()


def test_parameters_of_every_type_arrive_typed(launcher: LocalLauncher, packages: Packages) -> None:
    launched = launcher.launch(
        request(
            packages["typed"],
            "types",
            text="text",
            count="3.0",
            ratio="0.25",
            flag="false",
            items='["a", 2, {"x": "y"}]',
            mapping='{"k": [1, 2], "n": {"m": true}}',
        )
    )
    status = launcher.wait(launched.run_id, WAIT_S)
    assert status.state is RunState.SUCCEEDED, status.error
    (report,) = Path(status.details["outputs_dir"]).glob("describe/report")
    assert json.loads(report.read_text()) == {
        "text": ["str", "text"],
        "count": ["int", 3],
        "ratio": ["float", 0.25],
        "flag": ["bool", False],
        "items": ["list", ["a", 2, {"x": "y"}]],
        "mapping": ["dict", {"k": [1, 2], "n": {"m": True}}],
    }


def test_same_key_returns_the_same_run(launcher: LocalLauncher, packages: Packages) -> None:
    req = request(packages["notes"], "again", text="x")
    results: list[Any] = []

    def launch() -> None:
        results.append(launcher.launch(req))

    threads = [threading.Thread(target=launch) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run_ids = {r.run_id for r in results}
    assert len(run_ids) == 1
    assert sorted(r.existing for r in results) == [False] + [True] * 5
    (run_id,) = run_ids
    assert launcher.wait(run_id, WAIT_S).state is RunState.SUCCEEDED
    relaunch = launcher.launch(req)
    assert (relaunch.run_id, relaunch.existing, relaunch.state) == (run_id, True, RunState.SUCCEEDED)
    # A new launcher over the same directory (a restarted process) still knows the key.
    with LocalLauncher(launcher.output_root) as other:
        assert other.launch(req).run_id == run_id
    run_dirs = [p for p in launcher.output_root.iterdir() if not p.name.startswith(".")]
    assert [p.name for p in run_dirs] == [run_id]


def test_a_crashed_runner_is_recorded_failed(launcher: LocalLauncher, packages: Packages) -> None:
    launched = launcher.launch(request(packages["crashing"], "crash"))
    status = launcher.wait(launched.run_id, WAIT_S)
    assert status.state is RunState.FAILED
    assert status.error == "the runner exited with status -9 without a result (see runner.log)"
    assert status.details["exit_code"] == -9


def test_bad_parameters_are_rejected_before_anything_runs(
    launcher: LocalLauncher, packages: dict[str, Path]
) -> None:
    with pytest.raises(ParameterError, match="parameter 'times' \\(NUMBER_INTEGER\\): expected an integer"):
        launcher.launch(request(packages["notes"], "bad", text="x", times="many"))
    with pytest.raises(ParameterError, match="unknown parameter 'colour'"):
        launcher.launch(request(packages["notes"], "bad2", text="x", colour="red"))
    assert not launcher.output_root.exists() or not any(
        p for p in launcher.output_root.iterdir() if not p.name.startswith(".")
    )


def test_stored_pipelines_cannot_run_locally(launcher: LocalLauncher) -> None:
    spec = RunSpec.from_resource(
        {
            "apiVersion": "pipelines.kubeflow.org/v2beta1",
            "kind": "Run",
            "spec": {"display_name": "d", "pipeline_version_reference": {"pipeline_id": "p"}},
        }
    )
    with pytest.raises(LaunchRejected, match="needs a KFP server"):
        launcher.launch(LaunchRequest(spec, "ref"))


def test_unknown_run_ids_are_rejected(launcher: LocalLauncher) -> None:
    with pytest.raises(LaunchRejected, match="no local run"):
        launcher.get_state("00000000-0000-0000-0000-000000000000")
    with pytest.raises(LaunchRejected, match="not a local run id"):
        launcher.get_state("../etc")


def test_a_run_whose_process_died_reads_as_failed(tmp_path: Path) -> None:
    """A RUNNING record whose runner process no longer exists (the machine's launcher was killed)."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    run_dir = tmp_path / "runs" / "r1"
    run_dir.mkdir(parents=True)
    write_json(
        run_dir / "run.json",
        {"run_id": "r1", "state": "RUNNING", "runner_pid": gone.pid, "host": os.uname().nodename},
    )
    launcher = LocalLauncher(tmp_path / "runs")
    status = launcher.get_state("r1")
    assert status.state is RunState.FAILED
    assert status.error == "the runner process exited without a result"
    assert json.loads((run_dir / "run.json").read_text())["state"] == "FAILED"


def test_the_example_pipeline_runs_though_a_step_shares_its_name(launcher: LocalLauncher) -> None:
    """The project's train.yaml: pipeline 'train' has a step 'train', which kfp 2.17 alone would load."""
    package = Path(__file__).resolve().parents[2] / "examples" / "pipelines" / "train.yaml"
    launched = launcher.launch(
        request(package, "example", repo="acme/repo", commit_sha="abc1234", epochs="3")
    )
    status = launcher.wait(launched.run_id, WAIT_S)
    assert status.state is RunState.SUCCEEDED, status.error
    assert status.details["pipeline_name"] == "train"
    outputs_dir = Path(status.details["outputs_dir"])
    assert (outputs_dir / "prepare" / "config").read_text() == "repo=acme/repo\ncommit=abc1234\n"
    assert status.details["outputs"] == {
        "Output": round(len("repo=acme/repo\ncommit=abc1234\n") * 3 * 0.01, 6)
    }
