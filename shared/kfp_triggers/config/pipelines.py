"""Checking a KFP ``Run`` resource template against its compiled pipeline.

A template may render ``kind: Run`` (``pipelines.kubeflow.org/v2beta1``) with ``spec.pipeline_package``,
a compiled pipeline (KFP IR YAML or JSON; a multi-document YAML whose first document is the
PipelineSpec and the second a PlatformSpec; or a PipelineJob JSON holding ``pipelineSpec``), with a
path relative to the YAML file that declares the template. Problems found here are warnings: the
package may be built later, and the launcher has the last word. Warned about: a missing or unreadable
package, ``runtime_config.parameters`` keys the pipeline does not declare in
``root.inputDefinitions.parameters``, and required pipeline inputs (no ``defaultValue``, not
``isOptional``) that are not given.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kfp_triggers.config.fields import Ctx
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
