"""Compiled pipelines (KFP IR) and run parameters converted to the types the pipeline declares.

Templates substitute text, so parameter values usually arrive as strings (``"3"``, ``"true"``,
``'["a"]'``). KFP validates parameter types when the run starts, far from the event that caused
it; converting here against ``root.inputDefinitions.parameters`` turns a wrong value into an
immediate, permanent launch error that names the parameter.
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kfp_triggers.adapters.launchers.base import LaunchRejected, ParameterError, RunSpec

try:
    _Loader: type[Any] = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

# IR schema 2.0.0 declared ``type`` (PrimitiveType) instead of ``parameterType``.
_LEGACY_TYPES = {"INT": "NUMBER_INTEGER", "DOUBLE": "NUMBER_DOUBLE", "STRING": "STRING"}


@dataclass(frozen=True)
class ParamDecl:
    """One root input parameter of a pipeline."""

    name: str
    type: str
    required: bool


@dataclass(frozen=True)
class PipelineDoc:
    """A compiled pipeline: the PipelineSpec and the (possibly empty) PlatformSpec that follows it."""

    pipeline_spec: dict[str, Any]
    platform_spec: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """``pipelineInfo.name``, or an empty string."""
        info = self.pipeline_spec.get("pipelineInfo")
        return str(info.get("name") or "") if isinstance(info, dict) else ""

    def parameters(self) -> dict[str, ParamDecl]:
        """The root input parameters by name."""
        root = self.pipeline_spec.get("root") or {}
        inputs = root.get("inputDefinitions") or {}
        params = inputs.get("parameters") or {}
        out: dict[str, ParamDecl] = {}
        for pname, decl in params.items():
            d = decl if isinstance(decl, dict) else {}
            ptype = str(d.get("parameterType") or _LEGACY_TYPES.get(str(d.get("type")), "") or "")
            out[pname] = ParamDecl(pname, ptype, not ("defaultValue" in d or d.get("isOptional")))
        return out

    def as_kfp_pipeline_spec(self) -> dict[str, Any]:
        """The value of a KFP ``Run.pipeline_spec``: the IR, wrapped with the PlatformSpec when there is one.

        This is the shape kfp.Client submits (``_PipelineDoc.to_dict``).
        """
        if not self.platform_spec:
            return self.pipeline_spec
        return {"pipeline_spec": self.pipeline_spec, "platform_spec": self.platform_spec}


def _check(doc: PipelineDoc, where: str) -> PipelineDoc:
    if not isinstance(doc.pipeline_spec.get("root"), dict):
        raise LaunchRejected(f"{where} is not a compiled KFP pipeline (no 'root' in its PipelineSpec)")
    return doc


def pipeline_from_mapping(data: Mapping[str, Any], where: str = "spec.pipeline_spec") -> PipelineDoc:
    """A pipeline given inline: the IR itself, ``{pipeline_spec, platform_spec}``, or a PipelineJob.

    Raises:
        LaunchRejected: the mapping is not a compiled pipeline.
    """
    if isinstance(data.get("pipeline_spec"), dict):
        platform = data.get("platform_spec")
        return _check(PipelineDoc(dict(data["pipeline_spec"]), dict(platform or {})), where)
    if isinstance(data.get("pipelineSpec"), dict):  # a PipelineJob (Vertex) wrapper
        return _check(PipelineDoc(dict(data["pipelineSpec"])), where)
    return _check(PipelineDoc(dict(data)), where)


def load_pipeline_file(path: str | Path) -> PipelineDoc:
    """Read a compiled pipeline (YAML or JSON; a multi-document YAML is PipelineSpec then PlatformSpec).

    A file is parsed once while it stays the same (path, size, modification time, inode): a
    launch stage reads the same package for every run. The returned document is shared: read it,
    never change it.

    Raises:
        LaunchRejected: the file cannot be read or is not a compiled pipeline.
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        raise LaunchRejected(f"cannot read pipeline package {path}: {exc}") from exc
    return _parsed_pipeline_file(os.fspath(path), st.st_size, st.st_mtime_ns, st.st_ino)


@functools.lru_cache(maxsize=32)
def _parsed_pipeline_file(path: str, size: int, mtime_ns: int, inode: int) -> PipelineDoc:
    """Parse ``path``; the other arguments only key the cache on the file's identity."""
    del size, mtime_ns, inode
    try:
        with open(path, encoding="utf-8") as fh:
            docs = [d for d in yaml.load_all(fh, Loader=_Loader) if d is not None]
    except (OSError, yaml.YAMLError) as exc:
        raise LaunchRejected(f"cannot read pipeline package {path}: {exc}") from exc
    if not docs or not all(isinstance(d, dict) for d in docs):
        raise LaunchRejected(f"pipeline package {path} is not a compiled KFP pipeline")
    first = pipeline_from_mapping(docs[0], f"pipeline package {path}")
    platform: dict[str, Any] = dict(first.platform_spec)
    for extra in docs[1:]:
        platform.update(extra)
    return PipelineDoc(first.pipeline_spec, platform)


def load_pipeline(spec: RunSpec) -> PipelineDoc | None:
    """The compiled pipeline a spec names, or None for a pipeline stored on a KFP server.

    Raises:
        LaunchRejected: the package cannot be read or is not a compiled pipeline.
    """
    if spec.pipeline_package is not None:
        return load_pipeline_file(spec.pipeline_package)
    if spec.pipeline_spec is not None:
        return pipeline_from_mapping(spec.pipeline_spec)
    return None


def coerce_parameters(doc: PipelineDoc, values: Mapping[str, Any]) -> dict[str, Any]:
    """Convert every value to its declared type; unknown and missing required parameters are errors.

    Parameters left out keep the pipeline's defaults (they are not added here).

    Raises:
        ParameterError: naming every parameter in error (``param`` is the first of them).
    """
    decls = doc.parameters()
    problems: list[str] = []
    first: str | None = None
    out: dict[str, Any] = {}
    for pname, value in values.items():
        decl = decls.get(pname)
        if decl is None:
            known = ", ".join(sorted(decls)) or "none"
            problems.append(f"unknown parameter {pname!r} (pipeline {doc.name!r} declares: {known})")
            first = first or pname
            continue
        try:
            out[pname] = coerce_value(pname, decl.type, value)
        except ParameterError as exc:
            problems.append(str(exc))
            first = first or pname
    missing = sorted(d.name for d in decls.values() if d.required and d.name not in values)
    if missing:
        problems.append(f"missing required parameter(s) {', '.join(missing)} of pipeline {doc.name!r}")
        first = first or missing[0]
    if problems:
        raise ParameterError("; ".join(problems), param=first)
    return out


def coerce_value(name: str, ptype: str, value: Any) -> Any:
    """Convert one value to IR type ``ptype`` (STRING, NUMBER_INTEGER, NUMBER_DOUBLE, BOOLEAN, LIST, STRUCT).

    Strings are parsed (``"3"`` and ``"3.0"`` are the integer 3; ``"true"``/``"false"``; LIST and
    STRUCT as JSON text); values that already have the right type pass. An unknown or empty type
    leaves the value as it is.

    Raises:
        ParameterError: the value does not fit the type.
    """

    original = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."

    def bad(why: str) -> ParameterError:
        return ParameterError(f"parameter {name!r} ({ptype}): {why}, got {original}", param=name)

    if ptype == "STRING":
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        if isinstance(value, list | dict):
            return json.dumps(value)
        raise bad("expected text")
    if ptype == "NUMBER_INTEGER":
        number = _number(value)
        if number is None or not math.isfinite(number) or number != int(number):
            raise bad("expected an integer")
        return int(number)
    if ptype == "NUMBER_DOUBLE":
        number = _number(value)
        if number is None or not math.isfinite(number):
            raise bad("expected a finite number")
        return float(number)
    if ptype == "BOOLEAN":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise bad("expected true or false")
    if ptype in ("LIST", "STRUCT"):
        want: type[Any] = list if ptype == "LIST" else dict
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise bad(f"not valid JSON ({exc.args[0] if exc.args else exc})") from exc
        if not isinstance(value, want):
            raise bad(f"expected a JSON {'array' if want is list else 'object'}")
        return value
    return value


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            return float(text)
        except ValueError:
            return None
    return None
