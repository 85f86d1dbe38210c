"""A configuration compiled once, so a stage starts without the YAML parser or the parsers of Tekton's kinds.

``make bundle`` checks the Tekton YAML in full (CEL and ``$()`` expressions included) and writes
:data:`COMPILED_NAME` beside it: the loaded configuration (objects, resolved triggers, warnings)
as JSON. A stage whose ``KFPT_CONFIG`` directory holds that file loads it instead of parsing the
YAML, but only when it was compiled from exactly the files there (the configuration's content
version, computed from the files' bytes) by an engine whose configuration models are the same
(:func:`models_fingerprint`); otherwise the YAML is loaded as usual. JSON, not pickle: loading
builds only the configuration's own record types, never anything a file names.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

from kfp_triggers.config import models
from kfp_triggers.config.configuration import Configuration
from kfp_triggers.config.files import ContentVersion, discover_files
from kfp_triggers.errors import Problem

COMPILED_NAME = ".kfpt-compiled.json"
"""The file name of a compiled configuration in a configuration directory (hidden: never read as YAML)."""

FORMAT = 1

_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in vars(models).values()
    if isinstance(cls, type) and dataclasses.is_dataclass(cls) and cls.__module__ == models.__name__
}
_TYPES["Problem"] = Problem


def models_fingerprint() -> str:
    """A digest of the record types' names and fields: a compiled file from other models is not used."""
    shape = sorted((name, [f.name for f in dataclasses.fields(cls)]) for name, cls in _TYPES.items())
    return hashlib.sha256(json.dumps(shape).encode()).hexdigest()


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = type(value).__name__
        if _TYPES.get(name) is not type(value):
            raise TypeError(f"{name} is not a configuration record type")
        fields = {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"$t": name, "$f": fields}
    if isinstance(value, (dict, MappingProxyType)):
        if all(isinstance(k, str) for k in value):
            return {"$d": {k: _encode(v) for k, v in value.items()}}
        return {"$m": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"$u": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"cannot compile a {type(value).__name__}")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "$t" in value:
        return _TYPES[value["$t"]](**{k: _decode(v) for k, v in value["$f"].items()})
    if "$d" in value:
        return {k: _decode(v) for k, v in value["$d"].items()}
    if "$m" in value:
        return {_hashable(_decode(k)): _decode(v) for k, v in value["$m"]}
    if "$u" in value:
        return tuple(_decode(v) for v in value["$u"])
    raise ValueError(f"unknown compiled value {sorted(value)}")


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def dumps(config: Configuration) -> str:
    """The compiled form of ``config`` (JSON text)."""
    root = Path(config.origin)
    data = {
        "format": FORMAT,
        "models": models_fingerprint(),
        "version": config.version,
        "origin": config.origin,
        "files": [str(f.relative_to(root)) if f.is_relative_to(root) else str(f) for f in config.files],
        "warnings": _encode(config.warnings),
        "objects": _encode(config.objects),
        "resolved": _encode(config.resolved),
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def write_compiled(config: Configuration, directory: Path) -> Path:
    """Write ``config``'s compiled form into ``directory`` (the configuration's own directory)."""
    target = directory / COMPILED_NAME
    target.write_text(dumps(config), encoding="utf-8")
    return target


def load_compiled(paths: Sequence[str | Path]) -> Configuration | None:
    """The compiled configuration of ``paths`` when there is a current one, else ``None``.

    Only a single configuration directory is looked into. The file is used when its models
    fingerprint matches this engine's and the content version of the YAML files there now is
    the one it was compiled from; anything else (missing, stale, unreadable) gives ``None``, and
    the caller loads the YAML.
    """
    if len(paths) != 1 or not Path(paths[0]).is_dir():
        return None
    directory = Path(paths[0])
    try:
        data = json.loads((directory / COMPILED_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (
        not isinstance(data, dict)
        or data.get("format") != FORMAT
        or data.get("models") != models_fingerprint()
    ):
        return None
    files = sorted(discover_files([directory], []), key=str)
    version = ContentVersion()
    try:
        for path in files:
            version.add(path.read_bytes())
    except OSError:
        return None
    if version.hexdigest() != data.get("version"):
        return None
    try:
        objects = _decode(data["objects"])
        resolved: Mapping[Any, Any] = _decode(data["resolved"])
        warnings = _decode(data["warnings"])
    except (KeyError, TypeError, ValueError):
        return None
    return Configuration(
        objects,
        resolved=resolved,
        warnings=warnings,
        version=version.hexdigest(),
        files=files,
        origin=str(directory),
    )
