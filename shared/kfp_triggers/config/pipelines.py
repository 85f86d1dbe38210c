"""Checking a KFP ``Run`` resource template against its compiled pipeline.

A template may render ``kind: Run`` (``pipelines.kubeflow.org/v2beta1``) with ``spec.pipeline_package``,
a compiled pipeline (KFP IR YAML or JSON; a multi-document YAML whose first document is the
PipelineSpec and the second a PlatformSpec; or a PipelineJob JSON holding ``pipelineSpec``), with a
path relative to the YAML file that declares the template. Problems found here are warnings: the
package may be built later, and the launcher has the last word. Warned about: a missing or unreadable
package, ``runtime_config.parameters`` keys the pipeline does not declare in
``root.inputDefinitions.parameters``, and required pipeline inputs (no ``defaultValue``, not
``isOptional``) that are not given.

Fields that choose what runs, as whom or where (``pipeline_package``, ``service_account``,
``runtime_config.pipeline_root``, ``experiment_name``/``experiment_id``) are warned about when they
take a ``$(tt.params...)`` value, which the sender of an event can choose. :func:`package_roots`
gives the directories a rendered ``pipeline_package`` may resolve into at launch.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kfp_triggers.config.fields import Ctx
from kfp_triggers.config.models import Template
from kfp_triggers.config.yamlsource import LMap

try:
    _Loader: type[Any] = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader


@dataclass(frozen=True)
class PipelineInputs:
    """The parameters a compiled pipeline declares: all of them, and the required ones."""

    name: str
    declared: tuple[str, ...]
    required: tuple[str, ...]


def _first(m: LMap, *keys: str) -> str | None:
    """The first of ``keys`` present in ``m`` (KFP's REST API uses snake_case, protobuf JSON camelCase)."""
    return next((k for k in keys if k in m), None)


def check_run(ctx: Ctx, resource: LMap, what: str) -> None:
    """Warn about a Run whose pipeline package is missing or whose parameters do not fit it."""
    spec = resource.get("spec")
    if not isinstance(spec, LMap):
        return
    pkg_key = _first(spec, "pipeline_package", "pipelinePackage")
    if pkg_key is None:
        return
    package = spec[pkg_key]
    if not isinstance(package, str) or "$(" in package or not package:
        return  # filled in at render time: nothing to check now
    line = spec.value_line(pkg_key)
    path = Path(package) if Path(package).is_absolute() else Path(ctx.file_dir) / package
    if not path.is_file():
        ctx.warning(line, f"{what}: pipeline package '{package}' not found (looked for {path})")
        return
    try:
        stat = path.stat()
        inputs = read_pipeline_inputs(str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        ctx.warning(line, f"{what}: cannot read pipeline package '{package}': {exc}")
        return
    rc_key = _first(spec, "runtime_config", "runtimeConfig")
    runtime = spec.get(rc_key) if rc_key else None
    given: LMap | None = None
    given_line = line
    if isinstance(runtime, LMap) and "parameters" in runtime:
        given_line = runtime.key_line("parameters")
        params = runtime["parameters"]
        if not isinstance(params, LMap):
            return  # e.g. a whole object from $(tt.params.x): cannot be checked statically
        given = params
    for key in given or {}:
        if key not in inputs.declared:
            assert given is not None
            known = ", ".join(inputs.declared) or "none"
            ctx.warning(
                given.key_line(key),
                f"{what}: runtime_config.parameters '{key}' is not an input of pipeline "
                f"'{inputs.name}' (its inputs: {known})",
            )
    missing = [p for p in inputs.required if given is None or p not in given]
    if missing:
        ctx.warning(
            given_line,
            f"{what}: pipeline '{inputs.name}' requires input(s) {', '.join(missing)} "
            "that runtime_config.parameters does not give",
        )


#: (spellings of a Run field, what the sender of an event picks when the field takes a param).
_SENDER_CHOSEN = (
    (
        ("pipeline_package", "pipelinePackage"),
        "which compiled pipeline runs (launch refuses a package outside the configuration root and "
        "the directory written before the first $(...))",
    ),
    (("service_account", "serviceAccount"), "the identity the run executes as"),
    (("experiment_name", "experimentName"), "the experiment the run is filed under (created if absent)"),
    (("experiment_id", "experimentId"), "the experiment the run is filed under"),
)
_PIPELINE_ROOT_RISK = "where the run writes its artifacts (any bucket the backend can write to)"


def warn_sender_chosen(ctx: Ctx, resource: LMap, what: str, references: re.Pattern[str]) -> None:
    """Warn about each Run field that chooses what runs, as whom or where and takes a template param.

    ``references`` finds ``$(tt.params.NAME)`` and captures NAME. Warnings, not errors: a param
    bound from a trusted field (or checked by a CEL filter) is a legitimate design.
    """
    spec = resource.get("spec")
    if not isinstance(spec, LMap):
        return
    fields: list[tuple[LMap, str, str, str]] = [
        (spec, key, f"spec.{key}", risk) for keys, risk in _SENDER_CHOSEN for key in keys if key in spec
    ]
    runtime = next((spec[k] for k in ("runtime_config", "runtimeConfig") if k in spec), None)
    if isinstance(runtime, LMap):
        fields.extend(
            (runtime, key, f"spec.runtime_config.{key}", _PIPELINE_ROOT_RISK)
            for key in ("pipeline_root", "pipelineRoot")
            if key in runtime
        )
    for mapping, key, shown, risk in fields:
        value = mapping[key]
        match = references.search(value) if isinstance(value, str) else None
        if match is not None:
            ctx.warning(
                mapping.value_line(key),
                f"{what}: {shown} takes $(tt.params.{match.group(1)}), a value the sender of an event "
                f"can choose: the sender picks {risk}; prefer a fixed value, or limit the param's "
                "values with a CEL filter",
            )


def package_roots(template: Template, config_root: str | os.PathLike[str]) -> tuple[Path, ...]:
    """The directories a rendered ``pipeline_package`` of ``template`` may resolve into.

    The configuration root, and for each ``pipeline_package`` the template writes, the directory
    it names before any ``$(...)``: the package's own directory for a fixed path, ``pipelines``
    for ``pipelines/$(tt.params.name).yaml``, the template's directory for ``$(tt.params.path)``.
    So a value from an event can pick among the packages of a directory the configuration names,
    never a file elsewhere on disk. Relative paths are taken from the template's directory.
    """
    roots = [Path(config_root)]
    for resource in template.resourcetemplates:
        spec = resource.get("spec")
        if not isinstance(spec, dict):
            continue
        for key in ("pipeline_package", "pipelinePackage"):
            value = spec.get(key)
            if isinstance(value, str) and value:
                fixed = value.split("$(", 1)[0] if "$(" in value else value
                roots.append(Path(template.file_dir) / os.path.dirname(fixed))
    return tuple(dict.fromkeys(roots))


@functools.lru_cache(maxsize=64)
def read_pipeline_inputs(path: str, mtime_ns: int, size: int) -> PipelineInputs:
    """Read the root input parameters of a compiled pipeline (cached per file version).

    Raises:
        ValueError: the file is not a compiled KFP pipeline.
        OSError, yaml.YAMLError: the file cannot be read or parsed.
    """
    del mtime_ns, size  # part of the cache key only
    with open(path, encoding="utf-8") as fh:
        docs = [d for d in yaml.load_all(fh, Loader=_Loader) if d is not None]
    if not docs or not isinstance(docs[0], dict):
        raise ValueError("not a compiled pipeline (expected a PipelineSpec mapping)")
    spec = docs[0]
    if isinstance(spec.get("pipelineSpec"), dict):  # a PipelineJob wrapper
        spec = spec["pipelineSpec"]
    root = spec.get("root")
    if not isinstance(root, dict):
        raise ValueError("not a compiled pipeline (no 'root' in the PipelineSpec)")
    info = spec.get("pipelineInfo")
    name = str(info.get("name", "")) if isinstance(info, dict) else ""
    inputs = root.get("inputDefinitions") or {}
    params = (inputs.get("parameters") or {}) if isinstance(inputs, dict) else {}
    if not isinstance(params, dict):
        raise ValueError("root.inputDefinitions.parameters is not a mapping")
    required = tuple(
        key
        for key, decl in params.items()
        if not (isinstance(decl, dict) and ("defaultValue" in decl or decl.get("isOptional")))
    )
    return PipelineInputs(name or Path(path).stem, tuple(params), required)
