"""KFP Run templates checked against the compiled pipeline IR they name."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from kfp_triggers.config import load_config

IR = """
# PIPELINE DEFINITION
# Name: train
components:
  comp-train:
    executorLabel: exec-train
pipelineInfo:
  name: train
root:
  dag:
    tasks: {}
  inputDefinitions:
    parameters:
      commit_sha:
        parameterType: STRING
      epochs:
        defaultValue: 3.0
        parameterType: NUMBER_INTEGER
      note:
        isOptional: true
        parameterType: STRING
schemaVersion: 2.1.0
sdkVersion: kfp-2.17.0
---
platforms:
  kubernetes:
    deploymentSpec: {executors: {}}
"""


def template(spec: str) -> str:
    return (
        "apiVersion: triggers.tekton.dev/v1beta1\nkind: TriggerTemplate\nmetadata: {name: t}\nspec:\n"
        "  params: [{name: sha}, {name: p}]\n  resourcetemplates:\n"
        "    - apiVersion: pipelines.kubeflow.org/v2beta1\n      kind: Run\n      spec:\n"
        + textwrap.indent(textwrap.dedent(spec).strip("\n"), " " * 8)
        + "\n"
    )


def setup(tmp_path: Path, spec: str) -> Path:
    (tmp_path / "config" / "pipelines").mkdir(parents=True)
    (tmp_path / "config" / "pipelines" / "train.yaml").write_text(IR.lstrip("\n"))
    path = tmp_path / "config" / "listener.yaml"
    path.write_text(template(spec))
    return path


def line(path: Path, needle: str) -> int:
    return next(i for i, text in enumerate(path.read_text().splitlines(), 1) if needle in text)


def warnings(path: Path) -> list[tuple[int, str]]:
    return [(w.line, w.message) for w in load_config([path]).warnings]


def test_parameters_matching_the_pipeline_give_no_warning(tmp_path: Path) -> None:
    path = setup(
        tmp_path,
        """
        pipeline_package: pipelines/train.yaml
        runtime_config:
          parameters: {commit_sha: $(tt.params.sha), epochs: 5}
        """,
    )
    assert warnings(path) == []


def test_unknown_and_missing_parameters_are_warned_at_their_lines(tmp_path: Path) -> None:
    path = setup(
        tmp_path,
        """
        pipeline_package: pipelines/train.yaml
        runtime_config:
          parameters:
            epochs: 5
            comit_sha: $(tt.params.sha)
        """,
    )
    found = warnings(path)
    assert [ln for ln, _ in found] == [line(path, "parameters:"), line(path, "comit_sha")]
    assert "pipeline 'train' requires input(s) commit_sha" in found[0][1]
    assert (
        "'comit_sha' is not an input of pipeline 'train' (its inputs: commit_sha, epochs, note)"
        in found[1][1]
    )


def test_required_inputs_without_runtime_config_are_warned_at_the_package(tmp_path: Path) -> None:
    path = setup(tmp_path, "pipeline_package: pipelines/train.yaml")
    assert warnings(path) == [
        (
            line(path, "pipeline_package"),
            "spec.resourcetemplates[0]: pipeline 'train' requires input(s) commit_sha "
            "that runtime_config.parameters does not give",
        )
    ]


def test_missing_package_is_a_warning_relative_to_the_yaml_file(tmp_path: Path) -> None:
    path = setup(tmp_path, "pipeline_package: pipelines/absent.yaml")
    ((at, message),) = warnings(path)
    assert at == line(path, "pipeline_package")
    assert "pipeline package 'pipelines/absent.yaml' not found" in message
    assert str(tmp_path / "config" / "pipelines" / "absent.yaml") in message


def test_templated_package_is_not_checked(tmp_path: Path) -> None:
    path = setup(tmp_path, "pipeline_package: $(tt.params.p)\nruntime_config: {parameters: {x: 1}}")
    # Only the warning that the sender chooses the package: the package itself is not read.
    assert [m for _l, m in warnings(path) if "a value the sender of an event can choose" not in m] == []


def test_pipeline_job_json_is_understood(tmp_path: Path) -> None:
    path = setup(tmp_path, "pipeline_package: pipelines/job.json\nruntime_config: {parameters: {b: 1}}")
    job = {
        "displayName": "x",
        "pipelineSpec": {
            "pipelineInfo": {"name": "job"},
            "root": {
                "inputDefinitions": {
                    "parameters": {"a": {"parameterType": "STRING"}, "b": {"parameterType": "STRING"}}
                }
            },
        },
    }
    (tmp_path / "config" / "pipelines" / "job.json").write_text(json.dumps(job))
    ((_at, message),) = warnings(path)
    assert "pipeline 'job' requires input(s) a" in message


@pytest.mark.parametrize("content", ["just: a mapping\n", "- a\n- list\n", "a: [\n"])
def test_unreadable_package_is_a_warning(tmp_path: Path, content: str) -> None:
    path = setup(tmp_path, "pipeline_package: pipelines/odd.yaml")
    (tmp_path / "config" / "pipelines" / "odd.yaml").write_text(content)
    ((at, message),) = warnings(path)
    assert at == line(path, "pipeline_package")
    assert "cannot read pipeline package 'pipelines/odd.yaml'" in message
