"""Write one deployable source directory per stage, as Google's Python functions builder wants it.

Cloud Run functions upload only the source directory: ``main.py`` and ``requirements.txt`` at its
root, and local packages shipped inside it (a parent directory or a symlink is not deployed). So
each stage gets a directory of its own::

    <out>/<stage>/main.py            copied from functions/<stage>/main.py
    <out>/<stage>/requirements.txt   copied from functions/<stage>/requirements.txt (pins only)
    <out>/<stage>/kfp_triggers/      the engine, copied from shared/kfp_triggers (no caches)
    <out>/<stage>/config/            the listener configuration (KFPT_CONFIG=config)
    <out>/<stage>/<other files>      files the configuration names, e.g. a compiled pipeline
    <out>/<stage>/MANIFEST.sha256    sha256 of every file above, ``sha256sum -c`` format

and ``<out>/MANIFEST.sha256`` covers all of them. The configuration is loaded and checked with the
engine first, so a broken listener is never bundled. Only the YAML files the engine reads are
copied, plus the files their templates reference by relative path (``spec.pipeline_package``), at
the same relative place, so the path still resolves inside the bundle. Secrets are never copied:
nothing under a directory called ``secrets`` and no Kubernetes ``Secret`` document.

The output is reproducible: the same inputs give byte-identical trees (sorted walk, fixed file
modes and modification times), so a Terraform archive of a bundle changes only when its content
does. Run it as ``.venv/bin/python infra/bundle.py [--out DIR] [--config PATH]``; it prints a JSON
summary and exits 1 with ``{"error": ...}`` on a problem.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent

#: Stage name -> the function's entry point in functions/<stage>/main.py.
STAGES: Mapping[str, str] = {
    "ingest": "ingest_webhook",
    "intercept": "intercept_event",
    "render": "render_run",
    "launch": "launch_run",
    "status": "collect_status",
}

ENGINE_PACKAGE = "kfp_triggers"
CONFIG_DIR = "config"
MANIFEST = "MANIFEST.sha256"
#: Names at a bundle's root that configuration files may not take.
RESERVED = frozenset({"main.py", "requirements.txt", ENGINE_PACKAGE, MANIFEST})
#: A directory of this name holds secrets (the <secretName>/<key> layout); never copied.
SECRETS_DIR_NAME = "secrets"
#: 1980-01-01T00:00:00Z, the earliest time a zip archive can record.
FIXED_MTIME = 315532800
FILE_MODE = 0o644
DIR_MODE = 0o755


class BundleError(Exception):
    """The bundle cannot be written as asked; the message says why."""


@dataclass(frozen=True)
class ConfigFiles:
    """The configuration to ship: ``{path inside the bundle: source file}``, and what was left out."""

    files: Mapping[PurePosixPath, Path]
    skipped: tuple[str, ...]


def _engine() -> Any:
    """Import the engine from this checkout (shared/), whatever else is installed."""
    shared = str(ROOT / "shared")
    if shared not in sys.path:
        sys.path.insert(0, shared)
    from kfp_triggers import validation

    return validation


def _is_secret_path(path: PurePosixPath) -> bool:
    return SECRETS_DIR_NAME in path.parts[:-1]


def _secret_documents(path: Path) -> tuple[int, int]:
    """(documents, Kubernetes Secret documents) in a YAML file; unparsable files count as no Secret."""
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8-sig")) if d is not None]
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return 0, 0
    secrets = sum(1 for d in docs if isinstance(d, dict) and d.get("kind") == "Secret")
    return len(docs), secrets


def _pipeline_packages(config: Any) -> Iterator[tuple[str, str]]:
    """(template file dir, relative package path) for every static ``pipeline_package`` in the config."""
    templates = list(config.templates.values())
    for listener in config.listeners.values():
        templates.extend(t.template for t in config.triggers_for(listener))
        for group in config.groups_for(listener):
            templates.extend(t.template for t in group.triggers)
    for template in templates:
        for resource in template.resourcetemplates:
            spec = resource.get("spec") if isinstance(resource, dict) else None
            if not isinstance(spec, dict):
                continue
            for key in ("pipeline_package", "pipelinePackage"):
                value = spec.get(key)
                if isinstance(value, str) and value and "$(" not in value:
                    yield template.file_dir, value


def collect_config(config_path: Path) -> ConfigFiles:
    """Load and check the configuration, and list the files a bundle must carry for it.

    Raises:
        BundleError: the configuration has errors, holds a Secret beside other documents, or names
            a file that is missing, lies under a ``secrets`` directory, or would land outside the
            bundle or on one of its reserved names.
    """
    validation = _engine()
    from kfp_triggers.errors import ConfigError

    if not config_path.exists():
        raise BundleError(f"configuration {config_path} does not exist")
    try:
        config = validation.load([config_path])
    except ConfigError as exc:
        errors = "; ".join(str(p) for p in exc.problems if p.severity == "error")
        raise BundleError(f"the configuration {config_path} has errors: {errors or exc}") from exc
    base = (config_path if config_path.is_dir() else config_path.parent).resolve()
    files: dict[PurePosixPath, Path] = {}
    skipped: list[str] = []
    for file in config.files:
        rel = PurePosixPath(Path(file).resolve().relative_to(base).as_posix())
        if _is_secret_path(rel):
            skipped.append(f"{rel}: under a '{SECRETS_DIR_NAME}' directory")
            continue
        docs, secrets = _secret_documents(Path(file))
        if secrets and secrets == docs:
            skipped.append(f"{rel}: holds only Kubernetes Secrets")
            continue
        if secrets:
            raise BundleError(
                f"{file} holds a Kubernetes Secret beside other documents; move it to its own file"
            )
        files[PurePosixPath(CONFIG_DIR) / rel] = Path(file).resolve()
    for file_dir, package in sorted(set(_pipeline_packages(config))):
        source = (Path(file_dir) / package).resolve()
        if not source.is_file():
            raise BundleError(f"pipeline_package {package!r} (from {file_dir}) not found: {source}")
        dir_rel = Path(file_dir).resolve().relative_to(base).as_posix()
        dest = PurePosixPath(os.path.normpath(PurePosixPath(CONFIG_DIR) / dir_rel / package))
        if dest.is_absolute() or dest.parts[0] == ".." or str(dest) == ".":
            raise BundleError(
                f"pipeline_package {package!r} (from {file_dir}) lies outside the bundle; keep compiled "
                "pipelines in the configuration directory or at most one level above it"
            )
        if dest.parts[0] in RESERVED or _is_secret_path(dest):
            raise BundleError(f"pipeline_package {package!r} would be bundled as {dest}, a reserved path")
        files[dest] = source
    return ConfigFiles(files, tuple(skipped))


def _engine_files(package_dir: Path) -> Iterator[tuple[PurePosixPath, Path]]:
    """The engine package's files, sorted, without caches, compiled files or hidden entries."""
    for dirpath, dirnames, filenames in os.walk(package_dir):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
        for name in sorted(filenames):
            # Prebuilt CEL parser tables differ from build to build (lark numbers states by
            # object identity), so they are made at image build time, never bundled.
            if name.startswith(".") or name.endswith((".pyc", ".pyo", ".cache")):
                continue
            path = Path(dirpath) / name
            yield PurePosixPath(ENGINE_PACKAGE) / path.relative_to(package_dir).as_posix(), path


def check_requirements(path: Path) -> None:
    """Every requirement line must pin one exact version (``name==version``).

    Raises:
        BundleError: a line is not an exact pin.
    """
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if line and ("==" not in line or any(op in line for op in (">", "<", "~", "!", "*", ";", " @ "))):
            raise BundleError(f"{path}:{number}: not an exact pin (name==version): {raw.strip()!r}")


def stage_sources(stage: str, config: ConfigFiles) -> dict[PurePosixPath, Path]:
    """Every file of one stage's bundle: ``{path inside the bundle: source file}``.

    Raises:
        BundleError: the stage's main.py lacks its entry point, or its requirements are not pinned.
    """
    function_dir = ROOT / "functions" / stage
    main = function_dir / "main.py"
    requirements = function_dir / "requirements.txt"
    for needed in (main, requirements):
        if not needed.is_file():
            raise BundleError(f"{needed} is missing")
    if f"def {STAGES[stage]}(" not in main.read_text(encoding="utf-8"):
        raise BundleError(f"{main} does not define the entry point {STAGES[stage]}")
    check_requirements(requirements)
    sources: dict[PurePosixPath, Path] = {
        PurePosixPath("main.py"): main,
        PurePosixPath("requirements.txt"): requirements,
    }
    sources.update(_engine_files(ROOT / "shared" / ENGINE_PACKAGE))
    sources.update(config.files)
    return sources


def _write(dest: Path, data: bytes) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    os.chmod(dest, FILE_MODE)
    os.utime(dest, (FIXED_MTIME, FIXED_MTIME))


def _fix_dirs(top: Path) -> None:
    for dirpath, _dirnames, _filenames in os.walk(top, topdown=False):
        os.chmod(dirpath, DIR_MODE)
        os.utime(dirpath, (FIXED_MTIME, FIXED_MTIME))


def manifest_text(entries: Iterable[tuple[str, bytes]]) -> str:
    """``sha256sum`` lines (``<hex>  <path>``) for ``(path, content)`` pairs, sorted by path."""
    return "".join(f"{hashlib.sha256(data).hexdigest()}  {path}\n" for path, data in sorted(entries))


def write_stage(out: Path, stage: str, sources: Mapping[PurePosixPath, Path]) -> dict[str, bytes]:
    """Replace ``out/<stage>`` with the bundle; return ``{path: content}`` of every file written."""
    target = out / stage
    if target.exists():
        shutil.rmtree(target)
    written: dict[str, bytes] = {}
    for rel in sorted(sources):
        data = sources[rel].read_bytes()
        _write(target / rel, data)
        written[str(rel)] = data
    manifest = manifest_text(written.items()).encode("utf-8")
    _write(target / MANIFEST, manifest)
    written[MANIFEST] = manifest
    _fix_dirs(target)
    return written


def bundle(out: Path, config_path: Path, stages: Iterable[str] = tuple(STAGES)) -> dict[str, Any]:
    """Write every stage's bundle under ``out`` and the overall manifest; return a summary.

    Raises:
        BundleError: the configuration, a stage's sources or an argument is unusable.
    """
    chosen = list(dict.fromkeys(stages))
    unknown = [s for s in chosen if s not in STAGES]
    if unknown:
        raise BundleError(f"unknown stage(s) {', '.join(unknown)}; stages are {', '.join(STAGES)}")
    config = collect_config(config_path)
    plans = {stage: stage_sources(stage, config) for stage in chosen}
    out.mkdir(parents=True, exist_ok=True)
    overall: list[tuple[str, bytes]] = []
    summary: dict[str, Any] = {}
    for stage, sources in plans.items():
        written = write_stage(out, stage, sources)
        overall.extend((f"{stage}/{path}", data) for path, data in written.items())
        summary[stage] = {
            "entryPoint": STAGES[stage],
            "files": len(written),
            "manifestSha256": hashlib.sha256(written[MANIFEST]).hexdigest(),
        }
    top = manifest_text(overall).encode("utf-8")
    _write(out / MANIFEST, top)
    return {
        "out": str(out),
        "config": str(config_path),
        "manifestSha256": hashlib.sha256(top).hexdigest(),
        "stages": summary,
        "skipped": list(config.skipped),
    }


def main(argv: list[str] | None = None) -> int:
    """Command line: bundle every stage (or those named) and print a JSON summary."""
    parser = argparse.ArgumentParser(description="Write one deployable source directory per stage.")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "functions", help="output directory")
    parser.add_argument(
        "--config",
        type=Path,
        default=ROOT / "examples" / "github-push",
        help="listener configuration: a YAML file or a directory (default: examples/github-push)",
    )
    parser.add_argument("--stage", action="append", choices=list(STAGES), help="only this stage (repeatable)")
    args = parser.parse_args(argv)
    try:
        result = bundle(args.out, args.config, args.stage or tuple(STAGES))
    except (BundleError, OSError) as exc:
        print(json.dumps({"error": str(exc)}))
        return 1
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
