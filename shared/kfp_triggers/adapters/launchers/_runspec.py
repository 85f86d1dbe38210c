"""Parsing a rendered ``Run`` resource into a :class:`~kfp_triggers.adapters.launchers.base.RunSpec`.

Every problem is collected before raising, so one error lists all of them. The fields an event can
fill and that choose what runs, as whom and where (``pipeline_package``, ``service_account``,
``pipeline_root``, the experiment and the display name) are checked by :mod:`._run_values`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kfp_triggers.adapters.launchers._run_values import (
    experiment_id_problem,
    one_line_problem,
    pipeline_root_problem,
    resolve_package,
    service_account_problem,
)
from kfp_triggers.adapters.launchers.base import InvalidRunSpec, RunSpec, VersionReference

API_VERSION = "pipelines.kubeflow.org/v2beta1"
KIND = "Run"

_FIELDS = {
    "display_name": "displayName",
    "description": "description",
    "pipeline_package": "pipelinePackage",
    "pipeline_spec": "pipelineSpec",
    "pipeline_version_reference": "pipelineVersionReference",
    "pipeline_version_id": "pipelineVersionId",
    "experiment_name": "experimentName",
    "experiment_id": "experimentId",
    "runtime_config": "runtimeConfig",
    "service_account": "serviceAccount",
}
_SOURCES = ("pipeline_package", "pipeline_spec", "pipeline_version_reference")


def parse_run(resource: Mapping[str, Any], base_dir: Path, roots: Sequence[Path] | None = None) -> RunSpec:
    """See :meth:`RunSpec.from_resource`.

    ``roots``: the directories a ``pipeline_package`` may resolve into (symlinks followed), as
    :func:`kfp_triggers.config.pipelines.package_roots` gives them for a template; ``None`` leaves
    the package unconfined (a path given by hand, as the CLI and tests do).
    """
    problems: list[str] = []
    if not isinstance(resource, Mapping):
        raise InvalidRunSpec([f"expected a mapping, got {type(resource).__name__}"])
    if resource.get("kind") != KIND:
        problems.append(f"kind is {resource.get('kind')!r}, a launcher can only start kind {KIND!r}")
    if resource.get("apiVersion") != API_VERSION:
        problems.append(f"apiVersion is {resource.get('apiVersion')!r}, expected {API_VERSION!r}")
    meta = resource.get("metadata") or {}
    if not isinstance(meta, Mapping):
        problems.append("metadata must be a mapping")
        meta = {}
    labels = meta.get("labels") or {}
    if not isinstance(labels, Mapping) or not all(isinstance(v, str) for v in labels.values()):
        problems.append("metadata.labels must map names to strings")
        labels = {}
    spec_raw = resource.get("spec")
    if not isinstance(spec_raw, Mapping):
        raise InvalidRunSpec([*problems, "spec is missing or not a mapping"])

    spec: dict[str, Any] = {}
    camel_to_snake = {v: k for k, v in _FIELDS.items()}
    for key, value in spec_raw.items():
        snake = key if key in _FIELDS else camel_to_snake.get(key)
        if snake is None:
            problems.append(f"spec.{key} is not a Run field (known: {', '.join(sorted(_FIELDS))})")
        elif snake in spec:
            problems.append(f"spec.{snake} is given twice (as {snake} and {_FIELDS[snake]})")
        else:
            spec[snake] = value
    if "pipeline_version_id" in spec:
        problems.append("spec.pipeline_version_id is deprecated: use pipeline_version_reference")

    def text(key: str) -> str | None:
        value = spec.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            problems.append(f"spec.{key} must be a string, got {type(value).__name__}")
            return None
        return value

    sources = [s for s in _SOURCES if spec.get(s) not in (None, "", {})]
    if not sources:
        problems.append("no pipeline source: give one of " + ", ".join(f"spec.{s}" for s in _SOURCES))
    elif len(sources) > 1:
        given = ", ".join(f"spec.{s}" for s in sources)
        problems.append(f"several pipeline sources: give only one of {given}")

    package: Path | None = None
    pkg_text = text("pipeline_package")
    if pkg_text is not None:
        package, problem = resolve_package(pkg_text, base_dir, roots)
        if problem:
            problems.append(problem)
    inline = spec.get("pipeline_spec")
    if inline is not None and not isinstance(inline, Mapping):
        problems.append("spec.pipeline_spec must be the compiled pipeline as a mapping")
        inline = None
    reference = _version_reference(spec.get("pipeline_version_reference"), problems)

    experiment_name, experiment_id = text("experiment_name"), text("experiment_id")
    if experiment_name and experiment_id:
        problems.append("give spec.experiment_name or spec.experiment_id, not both")

    parameters, pipeline_root = _runtime_config(spec.get("runtime_config"), problems)
    name = meta.get("name") if isinstance(meta.get("name"), str) else None
    generate_name = meta.get("generateName") if isinstance(meta.get("generateName"), str) else None
    display_name = text("display_name") or name or (generate_name or "").rstrip("-.")
    if not display_name:
        problems.append("spec.display_name is required (or metadata.name / metadata.generateName)")
    service_account = text("service_account")
    description = text("description") or ""
    found = [
        display_name and one_line_problem("display_name", display_name),
        experiment_name and one_line_problem("experiment_name", experiment_name),
        experiment_id and experiment_id_problem(experiment_id),
        service_account and service_account_problem(service_account),
        pipeline_root and pipeline_root_problem(pipeline_root),
    ]
    problems.extend(problem for problem in found if problem)
    if problems:
        raise InvalidRunSpec(problems)
    return RunSpec(
        display_name=display_name,
        description=description,
        pipeline_package=package,
        pipeline_spec=inline,
        pipeline_version_reference=reference,
        experiment_name=experiment_name,
        experiment_id=experiment_id,
        parameters=parameters,
        pipeline_root=pipeline_root,
        service_account=service_account,
        name=name,
        generate_name=generate_name,
        labels=dict(labels),
    )


def _version_reference(raw: Any, problems: list[str]) -> VersionReference | None:
    if raw in (None, "", {}):
        return None
    if not isinstance(raw, Mapping):
        problems.append("spec.pipeline_version_reference must map pipeline_id (and pipeline_version_id)")
        return None
    pid = raw.get("pipeline_id", raw.get("pipelineId"))
    vid = raw.get("pipeline_version_id", raw.get("pipelineVersionId"))
    if not isinstance(pid, str) or not pid:
        problems.append("spec.pipeline_version_reference.pipeline_id is required")
        return None
    if vid is not None and not isinstance(vid, str):
        problems.append("spec.pipeline_version_reference.pipeline_version_id must be a string")
        return None
    return VersionReference(pid, vid or None)


def _runtime_config(raw: Any, problems: list[str]) -> tuple[dict[str, Any], str | None]:
    if raw is None:
        return {}, None
    if not isinstance(raw, Mapping):
        problems.append("spec.runtime_config must be a mapping")
        return {}, None
    unknown = sorted(set(raw) - {"parameters", "pipeline_root", "pipelineRoot"})
    if unknown:
        problems.append(f"spec.runtime_config has unknown field(s) {', '.join(unknown)}")
    params = raw.get("parameters") or {}
    if isinstance(params, str):  # a whole object substituted as JSON text
        try:
            params = json.loads(params)
        except ValueError:
            params = None
    if not isinstance(params, Mapping):
        problems.append("spec.runtime_config.parameters must be a mapping of name to value")
        params = {}
    root = raw.get("pipeline_root", raw.get("pipelineRoot"))
    if root is not None and not isinstance(root, str):
        problems.append("spec.runtime_config.pipeline_root must be a string")
        root = None
    return dict(params), root or None
