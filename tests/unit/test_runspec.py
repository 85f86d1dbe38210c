"""Parsing the rendered ``Run`` resource a TriggerTemplate produces into a checked RunSpec."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.adapters.launchers import LaunchRejected, LaunchRequest, RunSpec
from kfp_triggers.adapters.launchers.base import InvalidRunSpec, VersionReference

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def resource(**spec: Any) -> dict[str, Any]:
    """The resource the example listener renders, with ``spec`` fields replaced (None deletes)."""
    base: dict[str, Any] = {
        "apiVersion": "pipelines.kubeflow.org/v2beta1",
        "kind": "Run",
        "metadata": {
            "generateName": "train-",
            "labels": {"triggers.tekton.dev/eventlistener": "github-push", "app.kubernetes.io/part-of": "x"},
        },
        "spec": {
            "display_name": "train acme/repo@abc1234",
            "description": "pushed by me: fix",
            "pipeline_package": "../pipelines/train.yaml",
            "experiment_name": "ci",
            "runtime_config": {
                "parameters": {"repo": "acme/repo", "commit_sha": "abc1234", "epochs": "3"},
                "pipeline_root": "gs://bucket/root",
            },
            "service_account": "pipeline-runner",
        },
    }
    for key, value in spec.items():
        if value is None:
            base["spec"].pop(key, None)
        else:
            base["spec"][key] = value
    return base


def problems_of(res: dict[str, Any], base_dir: Path = EXAMPLES / "github-push") -> list[str]:
    with pytest.raises(InvalidRunSpec) as info:
        RunSpec.from_resource(res, base_dir)
    assert isinstance(info.value, LaunchRejected)
    return info.value.problems


def test_example_resource_parses() -> None:
    spec = RunSpec.from_resource(resource(), EXAMPLES / "github-push")
    assert spec.display_name == "train acme/repo@abc1234"
    assert spec.description == "pushed by me: fix"
    assert spec.pipeline_package == (EXAMPLES / "pipelines" / "train.yaml").resolve()
    assert spec.pipeline_spec is None
    assert spec.pipeline_version_reference is None
    assert spec.experiment_name == "ci"
    assert spec.experiment_id is None
    assert spec.parameters == {"repo": "acme/repo", "commit_sha": "abc1234", "epochs": "3"}
    assert spec.pipeline_root == "gs://bucket/root"
    assert spec.service_account == "pipeline-runner"
    assert spec.generate_name == "train-"
    assert spec.labels["triggers.tekton.dev/eventlistener"] == "github-push"


def test_relative_package_without_base_dir_uses_the_working_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(EXAMPLES / "pipelines")
    spec = RunSpec.from_resource(resource(pipeline_package="train.yaml"))
    assert spec.pipeline_package == (EXAMPLES / "pipelines" / "train.yaml").resolve()


def test_camel_case_spellings_are_accepted() -> None:
    res = resource(
        display_name=None,
        pipeline_package=None,
        experiment_name=None,
        runtime_config=None,
        service_account=None,
        displayName="camel",
        pipelineVersionReference={"pipelineId": "p1", "pipelineVersionId": "v2"},
        experimentId="e1",
        runtimeConfig={"parameters": {"a": 1}, "pipelineRoot": "minio://x"},
        serviceAccount="sa",
    )
    spec = RunSpec.from_resource(res)
    assert spec.display_name == "camel"
    assert spec.pipeline_version_reference == VersionReference("p1", "v2")
    assert spec.experiment_id == "e1"
    assert spec.parameters == {"a": 1}
    assert spec.pipeline_root == "minio://x"
    assert spec.service_account == "sa"


def test_version_reference_without_version_means_latest() -> None:
    spec = RunSpec.from_resource(
        resource(pipeline_package=None, pipeline_version_reference={"pipeline_id": "p1"})
    )
    assert spec.pipeline_version_reference == VersionReference("p1", None)


def test_parameters_given_as_json_text() -> None:
    spec = RunSpec.from_resource(
        resource(runtime_config={"parameters": '{"repo": "r", "commit_sha": "c"}'}), EXAMPLES / "github-push"
    )
    assert spec.parameters == {"repo": "r", "commit_sha": "c"}
    assert spec.pipeline_root is None


def test_display_name_falls_back_to_metadata() -> None:
    res = resource(display_name=None)
    assert RunSpec.from_resource(res, EXAMPLES / "github-push").display_name == "train"
    res["metadata"]["name"] = "named"
    assert RunSpec.from_resource(res, EXAMPLES / "github-push").display_name == "named"
    del res["metadata"]
    assert "spec.display_name is required (or metadata.name / metadata.generateName)" in problems_of(res)


def test_wrong_kind_and_api_version() -> None:
    res = resource()
    res["kind"] = "PipelineRun"
    res["apiVersion"] = "tekton.dev/v1"
    problems = problems_of(res)
    assert "kind is 'PipelineRun', a launcher can only start kind 'Run'" in problems
    assert "apiVersion is 'tekton.dev/v1', expected 'pipelines.kubeflow.org/v2beta1'" in problems


def test_missing_pipeline_source() -> None:
    problems = problems_of(resource(pipeline_package=None))
    assert problems == [
        "no pipeline source: give one of spec.pipeline_package, spec.pipeline_spec, "
        "spec.pipeline_version_reference"
    ]


def test_several_pipeline_sources() -> None:
    problems = problems_of(resource(pipeline_version_reference={"pipeline_id": "p"}))
    assert problems == [
        "several pipeline sources: give only one of spec.pipeline_package, spec.pipeline_version_reference"
    ]


def test_both_experiment_name_and_id() -> None:
    assert problems_of(resource(experiment_id="e1")) == [
        "give spec.experiment_name or spec.experiment_id, not both"
    ]


def test_package_not_found_names_the_resolved_path(tmp_path: Path) -> None:
    (problem,) = problems_of(resource(), base_dir=tmp_path)
    assert problem.startswith("spec.pipeline_package '../pipelines/train.yaml' not found (looked for ")
    assert str(tmp_path.parent / "pipelines" / "train.yaml") in problem


def test_every_problem_is_reported_together() -> None:
    res = resource(
        experiment_id="e",
        service_account=5,
        runtime_config={"parameters": ["a"], "pipeline_root": 1, "extra": True},
        experiment="typo",
        pipeline_version_id="old",
    )
    res["metadata"]["labels"] = {"a": 1}
    problems = problems_of(res)
    assert "metadata.labels must map names to strings" in problems
    assert any(p.startswith("spec.experiment is not a Run field") for p in problems)
    assert "spec.pipeline_version_id is deprecated: use pipeline_version_reference" in problems
    assert "give spec.experiment_name or spec.experiment_id, not both" in problems
    assert "spec.runtime_config has unknown field(s) extra" in problems
    assert "spec.runtime_config.parameters must be a mapping of name to value" in problems
    assert "spec.runtime_config.pipeline_root must be a string" in problems
    assert "spec.service_account must be a string, got int" in problems
    assert "invalid Run resource: " in str(InvalidRunSpec(problems))


def test_same_field_in_both_spellings() -> None:
    res = resource(displayName="again")
    assert "spec.display_name is given twice (as display_name and displayName)" in problems_of(res)


@pytest.mark.parametrize(
    ("ref", "problem"),
    [
        ("p1", "spec.pipeline_version_reference must map pipeline_id (and pipeline_version_id)"),
        ({"pipeline_version_id": "v"}, "spec.pipeline_version_reference.pipeline_id is required"),
        (
            {"pipeline_id": "p", "pipeline_version_id": 3},
            "spec.pipeline_version_reference.pipeline_version_id must be a string",
        ),
    ],
)
def test_bad_version_reference(ref: Any, problem: str) -> None:
    assert problems_of(resource(pipeline_package=None, pipeline_version_reference=ref)) == [problem]


def test_inline_spec_must_be_a_mapping() -> None:
    assert "spec.pipeline_spec must be the compiled pipeline as a mapping" in problems_of(
        resource(pipeline_package=None, pipeline_spec="text")
    )


@pytest.mark.parametrize("bad", [None, [], "text"])
def test_resource_and_spec_shapes(bad: Any) -> None:
    res = resource()
    res["spec"] = bad
    assert "spec is missing or not a mapping" in problems_of(res)
    with pytest.raises(InvalidRunSpec, match="expected a mapping"):
        RunSpec.from_resource(bad or [])  # type: ignore[arg-type]


def test_parsing_does_not_modify_the_resource() -> None:
    res = resource()
    before = copy.deepcopy(res)
    RunSpec.from_resource(res, EXAMPLES / "github-push")
    assert res == before


def test_launch_request_needs_a_key_and_merges_labels() -> None:
    spec = RunSpec.from_resource(resource(), EXAMPLES / "github-push")
    with pytest.raises(ValueError, match="idempotency_key"):
        LaunchRequest(spec, "")
    req = LaunchRequest(spec, "k", "e", labels={"app.kubernetes.io/part-of": "y", "extra": "1"})
    assert req.all_labels() == {
        "triggers.tekton.dev/eventlistener": "github-push",
        "app.kubernetes.io/part-of": "y",
        "extra": "1",
    }
