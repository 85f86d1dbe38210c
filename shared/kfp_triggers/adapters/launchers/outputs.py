"""What a finished run produced, read from each backend's own record of it.

A run's outputs link it forward in the lineage (commit -> event -> run -> artifacts): the status
stage records them on the run when it ends. Each backend reports them in its own shape:

* kfp.local writes ``executor_output.json`` in each task's directory under the run's output
  directory: ``artifacts`` (name -> ``{artifacts: [{uri, metadata}]}``) and ``parameterValues``;
* Vertex AI's ``PipelineJob.jobDetail.taskDetails[].outputs`` maps an output name to
  ``{artifacts: [{uri, schemaTitle, metadata, name}]}`` (an ML Metadata artifact resource);
* KFP's v2beta1 ``run_details.task_details[].outputs`` maps an output name to
  ``{artifact_ids: [...]}``: ML Metadata ids (the URIs stay in MLMD, which the REST API does not
  serve), recorded as they are.

Everything here is data from the backend: it is read defensively (wrong types are skipped) and
bounded (:data:`MAX_OUTPUTS`), never trusted to name anything the engine then opens.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_OUTPUTS = 200
"""Outputs kept per run (a huge parallel-for must not make one run record unbounded)."""


@dataclass(frozen=True)
class RunOutput:
    """One output of one task: an artifact (``uri``, ``artifact_type``, or an MLMD ``artifact_id``)
    or a parameter (``value``)."""

    task: str
    name: str
    uri: str | None = None
    artifact_type: str | None = None
    artifact_id: str | None = None
    value: Any = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The run record's shape; absent fields are left out."""
        out: dict[str, Any] = {"task": self.task, "name": self.name}
        for key, value in (
            ("uri", self.uri),
            ("type", self.artifact_type),
            ("artifactId", self.artifact_id),
            ("value", self.value),
        ):
            if value is not None:
                out[key] = value
        if self.metadata:
            out["metadata"] = dict(self.metadata)
        return out


def _bounded(outputs: Iterable[RunOutput]) -> tuple[RunOutput, ...]:
    kept: list[RunOutput] = []
    for output in outputs:
        if len(kept) == MAX_OUTPUTS:
            break
        kept.append(output)
    return tuple(kept)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _metadata(value: object) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def local_outputs(outputs_dir: str | None) -> tuple[RunOutput, ...]:
    """The outputs kfp.local wrote for each task under ``outputs_dir`` (empty when none can be read)."""
    if not outputs_dir:
        return ()
    root = Path(outputs_dir)

    def read() -> Iterable[RunOutput]:
        for path in sorted(root.glob("*/executor_output.json")):
            try:
                document = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if not isinstance(document, Mapping):
                continue
            task = path.parent.name
            artifacts = document.get("artifacts")
            for name, listed in artifacts.items() if isinstance(artifacts, Mapping) else ():
                found = listed.get("artifacts") if isinstance(listed, Mapping) else None
                for artifact in found if isinstance(found, list) else []:
                    if isinstance(artifact, Mapping) and _text(artifact.get("uri")):
                        metadata = _metadata(artifact.get("metadata"))
                        yield RunOutput(task, str(name), uri=str(artifact["uri"]), metadata=metadata)
            parameters = document.get("parameterValues")
            for name, value in parameters.items() if isinstance(parameters, Mapping) else ():
                yield RunOutput(task, str(name), value=value)

    return _bounded(read())


def vertex_outputs(job: Mapping[str, Any]) -> tuple[RunOutput, ...]:
    """The output artifacts of a Vertex AI PipelineJob's tasks."""
    detail = job.get("jobDetail")
    tasks = detail.get("taskDetails") if isinstance(detail, Mapping) else None

    def read() -> Iterable[RunOutput]:
        for task in tasks if isinstance(tasks, list) else []:
            if not isinstance(task, Mapping):
                continue
            outputs = task.get("outputs")
            for name, listed in outputs.items() if isinstance(outputs, Mapping) else ():
                artifacts = listed.get("artifacts") if isinstance(listed, Mapping) else None
                for artifact in artifacts if isinstance(artifacts, list) else []:
                    if not isinstance(artifact, Mapping):
                        continue
                    yield RunOutput(
                        str(task.get("taskName") or ""),
                        str(name),
                        uri=_text(artifact.get("uri")),
                        artifact_type=_text(artifact.get("schemaTitle")),
                        artifact_id=_text(artifact.get("name")),
                        metadata=_metadata(artifact.get("metadata")),
                    )

    return _bounded(read())


def kfp_outputs(run: Mapping[str, Any]) -> tuple[RunOutput, ...]:
    """The output artifact ids of a KFP v2beta1 run's tasks."""
    details = run.get("run_details")
    tasks = details.get("task_details") if isinstance(details, Mapping) else None

    def read() -> Iterable[RunOutput]:
        for task in tasks if isinstance(tasks, list) else []:
            if not isinstance(task, Mapping):
                continue
            outputs = task.get("outputs")
            name_of_task = str(task.get("display_name") or task.get("task_id") or "")
            for name, listed in outputs.items() if isinstance(outputs, Mapping) else ():
                ids = listed.get("artifact_ids") if isinstance(listed, Mapping) else None
                for artifact_id in ids if isinstance(ids, list) else []:
                    if isinstance(artifact_id, str | int) and not isinstance(artifact_id, bool):
                        yield RunOutput(name_of_task, str(name), artifact_id=str(artifact_id))

    return _bounded(read())
