"""Run outputs read from each backend's published shape, defensively and bounded.

Vertex AI and KFP cannot run here: the documents below follow their published REST references
(``PipelineJob.jobDetail.taskDetails[].outputs`` of ``ArtifactList``; KFP v2beta1
``run_details.task_details[].outputs`` of ``ArtifactList{artifact_ids}``).
"""

from __future__ import annotations

import json
from pathlib import Path

from kfp_triggers.adapters.launchers.outputs import MAX_OUTPUTS, kfp_outputs, local_outputs, vertex_outputs

MODEL_ID = "projects/1/locations/us-central1/metadataStores/default/artifacts/42"


def test_vertex_task_outputs_become_artifacts_with_uri_type_and_id() -> None:
    job = {
        "state": "PIPELINE_STATE_SUCCEEDED",
        "jobDetail": {
            "taskDetails": [
                {"taskName": "train-pipeline", "outputs": {}},
                {
                    "taskName": "train",
                    "outputs": {
                        "model": {
                            "artifacts": [
                                {
                                    "name": MODEL_ID,
                                    "uri": "gs://bucket/root/train/model",
                                    "schemaTitle": "system.Model",
                                    "metadata": {"framework": "sklearn"},
                                }
                            ]
                        },
                        "broken": "not an artifact list",
                    },
                },
            ]
        },
    }
    [model] = vertex_outputs(job)
    assert model.to_json() == {
        "task": "train",
        "name": "model",
        "uri": "gs://bucket/root/train/model",
        "type": "system.Model",
        "artifactId": MODEL_ID,
        "metadata": {"framework": "sklearn"},
    }


def test_kfp_task_outputs_are_mlmd_artifact_ids() -> None:
    run = {
        "run_details": {
            "task_details": [
                {"display_name": "train", "outputs": {"model": {"artifact_ids": ["17", 18, True, None]}}},
                {"task_id": "t-2", "outputs": None},
                "garbage",
            ]
        }
    }
    outputs = [o.to_json() for o in kfp_outputs(run)]
    assert outputs == [
        {"task": "train", "name": "model", "artifactId": "17"},
        {"task": "train", "name": "model", "artifactId": "18"},
    ]
    assert kfp_outputs({"run_details": "nope"}) == ()


def test_local_outputs_read_each_tasks_executor_output_and_are_bounded(tmp_path: Path) -> None:
    (tmp_path / "prepare").mkdir()
    (tmp_path / "prepare" / "executor_output.json").write_text(
        json.dumps(
            {
                "parameterValues": {"Output": "c0ffee1"},
                "artifacts": {
                    "config": {"artifacts": [{"name": "config", "uri": "/x/config", "metadata": {}}]}
                },
            }
        )
    )
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "executor_output.json").write_text("{not json")
    (tmp_path / "wide").mkdir()
    many = {f"p{i}": i for i in range(MAX_OUTPUTS * 2)}
    (tmp_path / "wide" / "executor_output.json").write_text(json.dumps({"parameterValues": many}))
    outputs = local_outputs(str(tmp_path))
    assert len(outputs) == MAX_OUTPUTS
    assert outputs[0].to_json() == {"task": "prepare", "name": "config", "uri": "/x/config"}
    assert outputs[1].to_json() == {"task": "prepare", "name": "Output", "value": "c0ffee1"}
    assert local_outputs(None) == () and local_outputs(str(tmp_path / "missing")) == ()
