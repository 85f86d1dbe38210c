"""The dry-run launcher, and choosing a launcher from ``KFPT_*`` settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.adapters.launchers import LaunchRejected, LaunchRequest, RunSpec, RunState
from kfp_triggers.adapters.launchers.base import ParameterError
from kfp_triggers.adapters.launchers.dry_run import DryRunLauncher
from kfp_triggers.adapters.launchers.factory import launcher_from_env, token_file_reader
from kfp_triggers.adapters.launchers.kfp_rest import KfpRestLauncher
from kfp_triggers.adapters.launchers.local import LocalLauncher
from kfp_triggers.adapters.launchers.vertex import VertexLauncher
from kfp_triggers.errors import ConfigError

TRAIN = Path(__file__).resolve().parents[2] / "examples" / "pipelines" / "train.yaml"


def request(key: str, **spec: Any) -> LaunchRequest:
    body = {
        "display_name": "train",
        "pipeline_package": str(TRAIN),
        "experiment_name": "ci",
        "runtime_config": {"parameters": {"repo": "r", "commit_sha": "c", "epochs": "4"}},
        **spec,
    }
    resource = {
        "apiVersion": "pipelines.kubeflow.org/v2beta1",
        "kind": "Run",
        "metadata": {"labels": {"triggers.tekton.dev/trigger": "t"}},
        "spec": {k: v for k, v in body.items() if v is not None},
    }
    return LaunchRequest(RunSpec.from_resource(resource), key, event_id="ev")


def test_dry_run_records_once_per_key(tmp_path: Path) -> None:
    record_file = tmp_path / "sub" / "dry.jsonl"
    launcher = DryRunLauncher(record_file)
    first = launcher.launch(request("k1"))
    again = launcher.launch(request("k1"))
    assert (first.backend, first.state, first.existing) == ("dry-run", RunState.SKIPPED, False)
    assert (again.run_id, again.existing) == (first.run_id, True)
    (record,) = launcher.launched
    assert record["parameters"] == {"repo": "r", "commit_sha": "c", "epochs": 4}
    assert record["pipeline"] == {"package": str(TRAIN)}
    assert record["labels"] == {"triggers.tekton.dev/trigger": "t"}
    lines = record_file.read_text().splitlines()
    assert [json.loads(line)["run_id"] for line in lines] == [first.run_id]
    status = launcher.get_state(first.run_id)
    assert status.state is RunState.SKIPPED
    assert status.details["dry_run"] is True
    assert status.details["experiment_name"] == "ci"


def test_dry_run_file_carries_keys_across_instances(tmp_path: Path) -> None:
    record_file = tmp_path / "dry.jsonl"
    first = DryRunLauncher(record_file).launch(request("k1"))
    with open(record_file, "a") as fh:
        fh.write('{"cut short')  # a line a crash left behind
    later = DryRunLauncher(record_file)
    assert later.launch(request("k1")).existing is True
    assert later.get_state(first.run_id).state is RunState.SKIPPED
    assert len(later.launched) == 1


def test_dry_run_checks_like_a_real_launch() -> None:
    launcher = DryRunLauncher()
    with pytest.raises(ParameterError, match="'epochs'"):
        launcher.launch(
            request("bad", runtime_config={"parameters": {"repo": "r", "commit_sha": "c", "epochs": "x"}})
        )
    assert launcher.launched == []
    stored = launcher.launch(
        request(
            "ref",
            pipeline_package=None,
            pipeline_version_reference={"pipeline_id": "p", "pipeline_version_id": "v"},
        )
    )
    assert launcher.get_state(stored.run_id).details["pipeline"] == {
        "pipeline_id": "p",
        "pipeline_version_id": "v",
    }
    with pytest.raises(LaunchRejected, match="no dry run"):
        launcher.get_state("nope")


def test_default_is_the_local_launcher(tmp_path: Path) -> None:
    launcher = launcher_from_env({}, tmp_path / "runs")
    assert isinstance(launcher, LocalLauncher)
    assert launcher.output_root == (tmp_path / "runs").resolve()
    assert launcher.max_workers == 2
    tuned = launcher_from_env(
        {"KFPT_LOCAL_MAX_WORKERS": "4", "KFPT_LOCAL_OUTPUT_ROOT": str(tmp_path / "o")}, "x"
    )
    assert isinstance(tuned, LocalLauncher)
    assert (tuned.max_workers, tuned.output_root) == (4, (tmp_path / "o").resolve())


def test_kfp_launcher_settings(tmp_path: Path) -> None:
    env = {
        "KFPT_LAUNCHER": "kfp",
        "KFPT_KFP_HOST": "https://kfp.example.com/pipeline/",
        "KFPT_KFP_TOKEN": "tok",
        "KFPT_KFP_NAMESPACE": "team-a",
        "KFPT_KFP_TIMEOUT_S": "2.5",
        "KFPT_KFP_UI_HOST": "https://ui.example.com",
    }
    launcher = launcher_from_env(env, tmp_path)
    assert isinstance(launcher, KfpRestLauncher)
    assert (launcher.host, launcher.namespace, launcher.timeout_s) == (
        "https://kfp.example.com/pipeline",
        "team-a",
        2.5,
    )
    assert launcher.run_url("r1") == "https://ui.example.com/#/runs/details/r1"


def test_token_files_are_read_per_call(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("first\n")
    read = token_file_reader(token)
    assert read() == "first"
    token.write_text("rotated")
    assert read() == "rotated"
    env = {"KFPT_LAUNCHER": "kfp", "KFPT_KFP_HOST": "http://h", "KFPT_KFP_TOKEN_FILE": str(token)}
    assert isinstance(launcher_from_env(env, tmp_path), KfpRestLauncher)


def test_vertex_launcher_settings(tmp_path: Path) -> None:
    env = {
        "KFPT_LAUNCHER": "VERTEX",
        "KFPT_VERTEX_PROJECT": "p",
        "KFPT_VERTEX_LOCATION": "us-central1",
        "KFPT_VERTEX_PIPELINE_ROOT": "gs://b/r",
        "KFPT_VERTEX_SERVICE_ACCOUNT": "sa@p.iam.gserviceaccount.com",
    }
    launcher = launcher_from_env(env, tmp_path)
    assert isinstance(launcher, VertexLauncher)
    assert launcher.base_url == "https://us-central1-aiplatform.googleapis.com/v1"
    assert (launcher.parent, launcher.pipeline_root) == ("projects/p/locations/us-central1", "gs://b/r")


def test_dry_run_settings(tmp_path: Path) -> None:
    launcher = launcher_from_env({"KFPT_LAUNCHER": "dry-run"}, tmp_path)
    assert isinstance(launcher, DryRunLauncher)
    assert launcher.path == tmp_path / "dry-run.jsonl"


@pytest.mark.parametrize(
    ("env", "messages"),
    [
        ({"KFPT_LAUNCHER": "argo"}, ["KFPT_LAUNCHER must be one of local, kfp, vertex, dry-run, got 'argo'"]),
        ({"KFPT_LAUNCHER": "kfp"}, ["KFPT_KFP_HOST is required when KFPT_LAUNCHER=kfp"]),
        (
            {"KFPT_LAUNCHER": "kfp", "KFPT_KFP_HOST": "kfp:8888"},
            ["KFPT_KFP_HOST must be an http(s) URL, got 'kfp:8888'"],
        ),
        (
            {"KFPT_LAUNCHER": "vertex", "KFPT_VERTEX_TIMEOUT_S": "soon"},
            [
                "KFPT_VERTEX_PROJECT is required when KFPT_LAUNCHER=vertex",
                "KFPT_VERTEX_LOCATION is required when KFPT_LAUNCHER=vertex",
                "KFPT_VERTEX_TIMEOUT_S must be a number of at least 0.001, got 'soon'",
            ],
        ),
        ({"KFPT_LOCAL_MAX_WORKERS": "0"}, ["KFPT_LOCAL_MAX_WORKERS must be a number of at least 1, got '0'"]),
        (
            {
                "KFPT_LAUNCHER": "kfp",
                "KFPT_KFP_HOST": "http://h",
                "KFPT_KFP_TOKEN_FILE": "/nonexistent/token",
            },
            ["KFPT_KFP_TOKEN_FILE names /nonexistent/token, which cannot be read"],
        ),
    ],
)
def test_bad_settings_list_every_problem(tmp_path: Path, env: dict[str, str], messages: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        launcher_from_env(env, tmp_path)
    assert [p.message for p in info.value.problems] == messages


def test_both_token_settings_are_an_error_that_shows_no_token(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("from-file")
    env = {
        "KFPT_LAUNCHER": "kfp",
        "KFPT_KFP_HOST": "http://h",
        "KFPT_KFP_TOKEN": "inline-secret",
        "KFPT_KFP_TOKEN_FILE": str(token),
    }
    with pytest.raises(ConfigError, match="give KFPT_KFP_TOKEN or KFPT_KFP_TOKEN_FILE, not both") as info:
        launcher_from_env(env, tmp_path)
    assert "inline-secret" not in str(info.value)
    assert "from-file" not in str(info.value)


def test_dry_run_cancel_is_recorded_once_and_reads_canceled(tmp_path: Path) -> None:
    record_file = tmp_path / "dry.jsonl"
    launcher = DryRunLauncher(record_file)
    launched = launcher.launch(request("k1"))
    status = launcher.cancel(launched.run_id)
    assert (status.state, status.raw_state) == (RunState.CANCELED, "CANCELED")
    assert status.finished_at == status.details["canceled_at"]
    again = launcher.cancel(launched.run_id)
    assert again.state is RunState.CANCELED
    assert again.finished_at == status.finished_at
    lines = [json.loads(line) for line in record_file.read_text().splitlines()]
    assert lines[1] == {"run_id": launched.run_id, "canceled_at": status.finished_at}
    assert len(lines) == 2  # the second cancel recorded nothing
    assert len(launcher.launched) == 1  # a cancellation is not a launch
    relaunch = launcher.launch(request("k1"))
    assert (relaunch.run_id, relaunch.existing, relaunch.state) == (launched.run_id, True, RunState.CANCELED)


def test_dry_run_cancel_is_seen_by_other_processes(tmp_path: Path) -> None:
    record_file = tmp_path / "dry.jsonl"
    serving = DryRunLauncher(record_file)
    launched = serving.launch(request("k1"))
    assert serving.get_state(launched.run_id).state is RunState.SKIPPED
    DryRunLauncher(record_file).cancel(launched.run_id)  # say, the command line
    assert serving.get_state(launched.run_id).state is RunState.CANCELED
    found = serving.find("k1")
    assert found is not None
    assert found.state is RunState.CANCELED


def test_dry_run_cancel_of_an_unknown_run_is_rejected(tmp_path: Path) -> None:
    launcher = DryRunLauncher(tmp_path / "dry.jsonl")
    with pytest.raises(LaunchRejected, match="no dry run nope"):
        launcher.cancel("nope")
    assert not (tmp_path / "dry.jsonl").exists()
    in_memory = DryRunLauncher()
    run_id = in_memory.launch(request("k2")).run_id
    assert in_memory.cancel(run_id).state is RunState.CANCELED


def test_a_backend_can_be_chosen_over_kfpt_launcher(tmp_path: Path) -> None:
    env = {"KFPT_LAUNCHER": "dry-run", "KFPT_KFP_HOST": "http://kfp:8888"}
    assert isinstance(launcher_from_env(env, tmp_path, backend="kfp"), KfpRestLauncher)
    assert isinstance(launcher_from_env(env, tmp_path, backend="local"), LocalLauncher)
    with pytest.raises(ConfigError) as info:
        launcher_from_env(env, tmp_path, backend="argo")
    assert [p.message for p in info.value.problems] == [
        "no launcher for backend 'argo'; known: local, kfp, vertex, dry-run"
    ]
    with pytest.raises(ConfigError, match="KFPT_VERTEX_PROJECT is required"):
        launcher_from_env(env, tmp_path, backend="vertex")
