"""The pipeline side of lineage: the triggering-event component, compiled, run and recorded.

A pipeline records the webhook event that started it as an artifact its steps take as input, so
ML Metadata links event -> task -> model. Checked here: the compiled IR (what KFP and Vertex AI
execute), a real kfp.local run of a small pipeline, and the example through the whole chain, where
the event artifact ends up on the run's record and ``kfp-triggers lineage`` shows it.

No ``from __future__ import annotations``: kfp reads the components' annotations as types.
"""

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from kfp import compiler, dsl
from kfp.dsl import Artifact, Input

from kfp_triggers.adapters.launchers import LaunchRequest, RunSpec, RunState
from kfp_triggers.adapters.launchers.local import LocalLauncher
from kfp_triggers.pipeline.lineage import (
    EVENT_KEYS,
    SOURCE,
    triggering_event,
    triggering_event_component,
)
from tests.chain.serving import example_run
from tests.conftest import EXAMPLES, ROOT, run_cli

IDENTITY = {
    "event_id": "ev-42",
    "listener": "github-push",
    "trigger": "train-on-main",
    "repository": "acme/models",
    "commit_sha": "9f3c2b1",
}
RECORDED = {
    "eventID": "ev-42",
    "listener": "github-push",
    "trigger": "train-on-main",
    "repository": "acme/models",
    "commitSha": "9f3c2b1",
    "source": SOURCE,
}


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def consume(event: Input[Artifact]) -> str:
    """What a downstream step sees of the event: the file's event id and the metadata's trigger."""
    import json

    with open(event.path) as f:
        recorded = json.load(f)
    return f"{recorded['eventID']}/{event.metadata['trigger']}"


@dsl.pipeline(name="audited")
def audited(event_id: str, listener: str, trigger: str, repository: str, commit_sha: str) -> str:
    """The event, then one step that takes it."""
    event = triggering_event(
        event_id=event_id, listener=listener, trigger=trigger, repository=repository, commit_sha=commit_sha
    )
    return consume(event=event.outputs["event"]).output


def compile_ir(pipeline: Any, path: Path) -> dict[str, Any]:
    """``pipeline`` compiled to ``path``, read back as the IR dictionary."""
    compiler.Compiler().compile(pipeline, str(path))
    ir: dict[str, Any] = yaml.safe_load(path.read_text())
    return ir


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audited") / "audited.yaml"
    compile_ir(audited, path)
    return path


def test_the_component_outputs_a_system_artifact_and_installs_nothing(package: Path) -> None:
    ir = yaml.safe_load(package.read_text())
    component = ir["components"]["comp-triggering-event"]
    assert component["outputDefinitions"]["artifacts"]["event"]["artifactType"] == {
        "schemaTitle": "system.Artifact",
        "schemaVersion": "0.0.1",
    }
    assert sorted(component["inputDefinitions"]["parameters"]) == sorted(IDENTITY)
    container = ir["deploymentSpec"]["executors"][component["executorLabel"]]["container"]
    assert container["image"] == "python:3.11"
    command = " ".join(container["command"])
    assert "pip install" not in command
    assert container["args"][-2:] == ["--function_to_execute", "triggering_event"]
    # The body is shipped as source, and it must run where our package is not installed.
    assert "def triggering_event(" in command and "kfp_triggers" not in command


def test_a_step_taking_the_event_is_wired_to_its_output(package: Path) -> None:
    tasks = yaml.safe_load(package.read_text())["root"]["dag"]["tasks"]
    assert tasks["consume"]["inputs"]["artifacts"]["event"] == {
        "taskOutputArtifact": {"outputArtifactKey": "event", "producerTask": "triggering-event"}
    }
    assert tasks["consume"]["dependentTasks"] == ["triggering-event"]
    assert tasks["triggering-event"]["inputs"]["parameters"]["event_id"] == {
        "componentInputParameter": "event_id"
    }


def test_a_cluster_image_or_a_kfp_install_can_be_chosen() -> None:
    spec = triggering_event_component(base_image="registry.example/ml:1", install_kfp_package=True)
    container = spec.component_spec.implementation.container
    assert container.image == "registry.example/ml:1"
    assert "pip install" in " ".join(container.command) and "'kfp==" in " ".join(container.command)
    assert spec.name == "triggering-event"


def test_a_local_run_writes_the_event_file_and_metadata(package: Path, tmp_path: Path) -> None:
    resource = {
        "apiVersion": "pipelines.kubeflow.org/v2beta1",
        "kind": "Run",
        "metadata": {"generateName": "audited-"},
        "spec": {
            "display_name": "audited",
            "pipeline_package": package.name,
            "runtime_config": {"parameters": IDENTITY},
        },
    }
    with LocalLauncher(tmp_path / "runs", max_workers=1) as launcher:
        launched = launcher.launch(LaunchRequest(RunSpec.from_resource(resource, package.parent), "k"))
        status = launcher.wait(launched.run_id, 120)
    assert status.state is RunState.SUCCEEDED, status.error
    [event] = [o for o in status.outputs if (o.task, o.name) == ("triggering-event", "event")]
    assert event.uri is not None and json.loads(Path(event.uri).read_text()) == RECORDED
    assert dict(event.metadata) == RECORDED
    assert list(RECORDED) == list(EVENT_KEYS)
    # The downstream step read both the file and the metadata it was handed.
    [answer] = [o for o in status.outputs if (o.task, o.name) == ("consume", "Output")]
    assert answer.value == "ev-42/train-on-main"


def test_the_compiled_example_is_current_and_trains_on_the_event(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("example_train", EXAMPLES / "pipelines" / "train.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fresh = compile_ir(module.train_pipeline, tmp_path / "train.yaml")
    shipped = yaml.safe_load((EXAMPLES / "pipelines" / "train.yaml").read_text())
    assert fresh == shipped, "recompile: .venv/bin/python examples/pipelines/train.py"
    train = shipped["root"]["dag"]["tasks"]["train"]
    assert train["inputs"]["artifacts"]["event"]["taskOutputArtifact"]["producerTask"] == "triggering-event"
    model = shipped["components"]["comp-train"]["outputDefinitions"]["artifacts"]["model"]
    assert model["artifactType"]["schemaTitle"] == "system.Model"
    for name in ("event_id", "listener", "trigger"):
        assert shipped["root"]["inputDefinitions"]["parameters"][name]["isOptional"] is True


def test_the_package_loads_no_kfp_and_the_engine_never_imports_it() -> None:
    probe = "import sys, kfp_triggers.pipeline; print('kfp' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "False"
    engine = ROOT / "shared" / "kfp_triggers"
    importers = []
    for path in engine.rglob("*.py"):
        if path.is_relative_to(engine / "pipeline"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            importers += [path.name for n in names if n.startswith("kfp_triggers.pipeline")]
    assert importers == []


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A signed push through the served example, to the finished run and its recorded outputs."""
    store, event_id, run = example_run(tmp_path_factory.mktemp("chain"))
    return {"store": store, "event_id": event_id, "run": run}


def test_the_run_record_holds_the_event_artifact(chain: dict[str, Any]) -> None:
    run, event_id = chain["run"], chain["event_id"]
    assert run.state == "SUCCEEDED"
    outputs = {(o["task"], o["name"]): o for o in run.details["outputs"]}
    event = outputs[("triggering-event", "event")]
    github = run.details["origin"]["github"]
    expected = {
        "eventID": event_id,
        "listener": "github-push",
        "trigger": "train-on-main",
        "repository": f"{github['owner']}/{github['repo']}",
        "commitSha": github["sha"],
        "source": "kfp-triggers",
    }
    assert event["metadata"] == expected
    assert json.loads(Path(event["uri"]).read_text()) == expected
    # The model came from a step that took the event: its metadata names the same event.
    assert outputs[("train", "model")]["metadata"]["eventID"] == event_id


def test_lineage_shows_the_event_artifact_and_leads_back_from_it(chain: dict[str, Any]) -> None:
    uri = next(o["uri"] for o in chain["run"].details["outputs"] if o["name"] == "event")
    result = run_cli(["lineage", chain["event_id"], "--store", chain["store"], "--output", "json"])
    assert result.code == 0, result.stderr
    [found] = result.json()["chains"]
    artifact = next(a for a in found["artifacts"] if a["name"] == "event")
    assert (artifact["task"], artifact["uri"]) == ("triggering-event", uri)
    back = run_cli(["lineage", uri, "--store", chain["store"], "--output", "json"]).json()
    assert back["foundAs"] == "artifact"
    assert [c["event"]["eventID"] for c in back["chains"]] == [chain["event_id"]]
    text = run_cli(["lineage", chain["event_id"], "--store", chain["store"]]).stdout
    assert f"artifact triggering-event/event: {uri}" in text.splitlines()
