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

and ``<out>/image-requirements.txt`` pins what the Knative image installs beside the five stages'
requirements (the Prometheus client: the Knative Services answer a scrape, while the functions log
their metrics and do without it). ``<out>/MANIFEST.sha256`` covers all of them. The configuration
is loaded and checked with the engine first, so a broken listener is never bundled.

A bundle carries only what it positively recognises, never "everything but what looks secret":

* from each configuration file, the Tekton Triggers documents (``triggers.tekton.dev``), and from a
  ``v1 List`` its Tekton Triggers items. Everything else is blanked out where it stood: Secrets,
  kustomizations, other objects, comments, directives. Lines and columns do not move, so a
  bundled file still reports problems at the source's line. The result must compose into exactly
  the kept documents, and the engine must read the same objects from it, or bundling stops;
* each file a template names by a fixed ``spec.pipeline_package``, if it is a compiled KFP
  pipeline (a PipelineSpec, optionally followed by a PlatformSpec, or a PipelineJob), filtered
  the same way, at the same relative place so the path still resolves inside the bundle.

Nothing under a directory called ``secrets`` is read at all.

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
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
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
#: The requirements the Knative image (infra/knative/Dockerfile) adds to the stages' own, at the
#: bundles' root. ``prometheus_client`` writes the scrape a Service answers on KFPT_METRICS_PORT; it
#: is imported on the first scrape, never at start, and the functions (KFPT_METRICS=log) never
#: import it, so their requirements leave it out. Pinned like them, inside pyproject.toml's
#: ``metrics`` extra (tests/infra checks both).
IMAGE_REQUIREMENTS = "image-requirements.txt"
IMAGE_PINS = ("prometheus-client==0.26.0",)
#: A directory of this name holds secrets (the <secretName>/<key> layout); never copied.
SECRETS_DIR_NAME = "secrets"
#: 1980-01-01T00:00:00Z, the earliest time a zip archive can record.
FIXED_MTIME = 315532800
FILE_MODE = 0o644
DIR_MODE = 0o755
#: The API group whose documents a configuration file contributes to a bundle.
TRIGGERS_GROUP = "triggers.tekton.dev"
#: Tokens that separate documents: kept wherever they are, so the documents stay apart.
_SEPARATORS = (yaml.DocumentStartToken, yaml.DocumentEndToken)
_LINE_BREAK = re.compile("(\r\n|[\r\n\x85\u2028\u2029])")


class BundleError(Exception):
    """The bundle cannot be written as asked; the message says why."""


@dataclass(frozen=True)
class ConfigFiles:
    """The configuration to ship: ``{path inside the bundle: content}``, and what was left out."""

    files: Mapping[PurePosixPath, bytes]
    skipped: tuple[str, ...]


@dataclass(frozen=True)
class Filtered:
    """A YAML file reduced to the documents (and List items) recognised, and how many were dropped."""

    text: str
    kept: int
    dropped: int


def _engine() -> Any:
    """Import the engine from this checkout (shared/), whatever else is installed."""
    shared = str(ROOT / "shared")
    if shared not in sys.path:
        sys.path.insert(0, shared)
    from kfp_triggers.app import validation

    return validation


def _is_secret_path(path: PurePosixPath) -> bool:
    return SECRETS_DIR_NAME in path.parts[:-1]


def _scalars(node: yaml.MappingNode, key: str) -> list[str]:
    """The values of every ``key`` entry of a mapping node (a duplicated key gives several)."""
    return [
        v.value if isinstance(v, yaml.ScalarNode) else ""
        for k, v in node.value
        if isinstance(k, yaml.ScalarNode) and k.value == key
    ]


def _triggers_parts(node: yaml.Node) -> list[yaml.Node] | None:
    """What to drop from a document for it to hold only Tekton Triggers objects; ``None``: all of it.

    A ``triggers.tekton.dev`` object is kept whole; a ``v1 List`` keeps its Tekton Triggers items
    (the engine reads them) and drops the rest. An object whose apiVersion or kind is missing,
    duplicated or merged in from elsewhere is not recognised.
    """
    if not isinstance(node, yaml.MappingNode) or _scalars(node, "<<"):
        return None
    api, kind = _scalars(node, "apiVersion"), _scalars(node, "kind")
    if len(api) != 1 or len(kind) != 1:
        return None
    if api[0].rpartition("/")[0] == TRIGGERS_GROUP:
        return []
    items = [v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == "items"]
    if (api[0], kind[0]) != ("v1", "List") or len(items) != 1 or not isinstance(items[0], yaml.SequenceNode):
        return None
    dropped: list[yaml.Node] = []
    kept = 0
    for item in items[0].value:
        inner = _triggers_parts(item)
        if inner is None:
            dropped.append(item)
        else:
            dropped.extend(inner)
            kept += 1
    return dropped if kept else None


def _pipeline_parts(node: yaml.Node, first: bool) -> list[yaml.Node] | None:
    """``[]`` for a document of a compiled KFP pipeline file, ``None`` for anything else.

    The first document is a PipelineSpec (``pipelineInfo``, ``root``, ``schemaVersion``) or a
    PipelineJob holding one in ``pipelineSpec``; later ones are PlatformSpecs (``platforms``).
    """
    if not isinstance(node, yaml.MappingNode):
        return None
    keys = {k.value for k, _v in node.value if isinstance(k, yaml.ScalarNode)}
    if not first:
        return [] if keys == {"platforms"} else None
    spec = next((v for k, v in node.value if getattr(k, "value", None) == "pipelineSpec"), None)
    if isinstance(spec, yaml.MappingNode):
        keys = {k.value for k, _v in spec.value if isinstance(k, yaml.ScalarNode)}
    return [] if {"pipelineInfo", "root", "schemaVersion"} <= keys else None


def _shape(node: yaml.Node, dropped: set[int]) -> Any:
    """A comparable picture of a composed node (tags resolved, values as written), minus ``dropped``."""
    if isinstance(node, yaml.ScalarNode):
        return (node.tag, node.value)
    if isinstance(node, yaml.SequenceNode):
        return (node.tag, [_shape(i, dropped) for i in node.value if id(i) not in dropped])
    return (node.tag, [(_shape(k, dropped), _shape(v, dropped)) for k, v in node.value])


def _documents(text: str) -> list[yaml.Node]:
    """The non-empty documents of a YAML stream, composed (tags are kept, nothing is constructed)."""
    return [
        node
        for node in yaml.compose_all(text, Loader=yaml.SafeLoader)
        if node is not None and not (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null"))
    ]


def _entry_of(tokens: list[yaml.Token], item: yaml.Node) -> yaml.Token | None:
    """The ``-`` or ``,`` that belongs to a sequence item, so dropping the item drops it too."""
    visible = [t for t in tokens if t.end_mark.index > t.start_mark.index]
    before = [t for t in visible if t.end_mark.index <= item.start_mark.index]
    if before and isinstance(before[-1], (yaml.BlockEntryToken, yaml.FlowEntryToken)):
        return before[-1]
    after = [t for t in visible if t.start_mark.index >= item.end_mark.index]
    return after[0] if after and isinstance(after[0], yaml.FlowEntryToken) else None


def _blank_except(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with every character outside ``spans`` blanked, line breaks kept, line ends trimmed."""
    keep = bytearray(len(text))
    for start, end in spans:
        keep[start:end] = b"\x01" * (end - start)
    out: list[str] = []
    offset = 0
    for part in _LINE_BREAK.split(text):
        if _LINE_BREAK.fullmatch(part):
            out.append(part)
        else:
            line = "".join(c if keep[offset + i] else " " for i, c in enumerate(part))
            last = max((i for i in range(len(part)) if keep[offset + i]), default=-1)
            out.append(line[: last + 1])
        offset += len(part)
    return "".join(out)


def filter_yaml(
    text: str, where: str, parts: Callable[[yaml.Node, bool], list[yaml.Node] | None]
) -> Filtered:
    """Keep the documents ``parts`` recognises (minus the nodes it names), blank out everything else.

    Only YAML tokens of kept content survive (plus document markers), each where it stood, so
    comments, directives and unrecognised documents vanish and line numbers hold.

    Raises:
        BundleError: the file is not YAML, or what is kept cannot stand without what is dropped
            (an alias to a dropped anchor, an item of a flow sequence that cannot be cut out).
    """
    try:
        docs = _documents(text)
        tokens = list(yaml.scan(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError:
        raise BundleError(f"{where} cannot be read as YAML") from None
    spans = [(t.start_mark.index, t.end_mark.index) for t in tokens if isinstance(t, _SEPARATORS)]
    expected: list[Any] = []
    dropped_count = 0
    for index, doc in enumerate(docs):
        dropped = parts(doc, index == 0)
        if dropped is None:
            dropped_count += 1
            continue
        dropped_count += len(dropped)
        cut = [(d.start_mark.index, d.end_mark.index) for d in dropped]
        entries = {id(e) for e in (_entry_of(tokens, d) for d in dropped) if e is not None}
        spans.extend(
            (t.start_mark.index, t.end_mark.index)
            for t in tokens
            if doc.start_mark.index <= t.start_mark.index
            and t.end_mark.index <= doc.end_mark.index
            and id(t) not in entries
            and not any(s <= t.start_mark.index and t.end_mark.index <= e for s, e in cut)
        )
        expected.append(_shape(doc, {id(d) for d in dropped}))
    filtered = _blank_except(text, spans)
    try:
        same = [_shape(d, set()) for d in _documents(filtered)] == expected
    except (yaml.YAMLError, RecursionError):
        same = False
    if not same:
        raise BundleError(
            f"{where}: the documents to ship cannot be cut out of this file; keep Tekton Triggers "
            "objects in files of their own"
        )
    return Filtered(filtered, len(expected), dropped_count)


def _pipeline_packages(config: Any) -> Iterator[tuple[str, str]]:
    """(template file dir, package path) for every ``pipeline_package`` in the config."""
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
                if isinstance(value, str) and value:
                    yield template.file_dir, value


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BundleError(f"{what} is not UTF-8 text") from None


def _same_objects(config: Any, base: Path, files: Mapping[PurePosixPath, bytes]) -> None:
    """The engine must read the same objects, at the same lines, from the filtered files.

    Raises:
        BundleError: an object went missing or moved (a document recognised by the engine but not
            by the filter), or the filtered files do not load.
    """
    validation = _engine()
    from kfp_triggers.errors import ConfigError

    def located(loaded: Any, top: Path) -> dict[Any, str]:
        # Object keys with their "file:line", the file relative to the configuration's top.
        sources: Mapping[Any, str] = loaded._objects.sources
        out: dict[Any, str] = {}
        for key, source in sources.items():
            file, _, line = source.rpartition(":")
            out[key] = f"{Path(file).resolve().relative_to(top).as_posix()}:{line}"
        return out

    with tempfile.TemporaryDirectory(prefix="kfpt-bundle-") as scratch:
        top = Path(scratch).resolve()
        for rel, data in files.items():
            target = top / rel.relative_to(CONFIG_DIR)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        try:
            shipped = located(validation.load([top], check_cel=False, check_bindings=False), top)
        except ConfigError:
            shipped = {}
    if shipped != located(config, base):
        raise BundleError(
            "the filtered configuration does not hold the same Tekton Triggers objects as the source; "
            "keep Tekton Triggers objects in files of their own, without YAML merge keys at the top"
        )


def collect_config(config_path: Path) -> ConfigFiles:
    """Load and check the configuration, and list what a bundle must carry for it.

    Raises:
        BundleError: the configuration has errors, a file cannot be filtered safely, or a
            ``pipeline_package`` is missing, is not a compiled KFP pipeline, lies under a
            ``secrets`` directory, or would land outside the bundle or on a reserved name.
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
    files: dict[PurePosixPath, bytes] = {}
    skipped: list[str] = []
    for file in config.files:
        rel = PurePosixPath(Path(file).resolve().relative_to(base).as_posix())
        if _is_secret_path(rel):
            skipped.append(f"{rel}: under a '{SECRETS_DIR_NAME}' directory")
            continue
        kept = filter_yaml(_read_text(Path(file), str(rel)), str(rel), lambda n, _first: _triggers_parts(n))
        if not kept.kept:
            skipped.append(f"{rel}: no Tekton Triggers document")
            continue
        if kept.dropped:
            skipped.append(f"{rel}: {kept.dropped} document(s) or List item(s) that are not Tekton Triggers")
        files[PurePosixPath(CONFIG_DIR) / rel] = kept.text.encode("utf-8")
    _same_objects(config, base, files)
    for file_dir, package in sorted(set(_pipeline_packages(config))):
        if "$(" in package:
            skipped.append(f"pipeline_package {package!r} (from {file_dir}): chosen per event, not bundled")
            continue
        dest, data = _bundled_package(base, Path(file_dir), package)
        files[dest] = data
    return ConfigFiles(files, tuple(skipped))


def _bundled_package(base: Path, file_dir: Path, package: str) -> tuple[PurePosixPath, bytes]:
    """Where a fixed ``pipeline_package`` lands in the bundle, and its filtered content.

    Raises:
        BundleError: the file is missing, lies outside the bundle or on a reserved path, or is not
            a compiled KFP pipeline (its content is never shown).
    """
    source = (file_dir / package).resolve()
    if not source.is_file():
        raise BundleError(f"pipeline_package {package!r} (from {file_dir}) not found: {source}")
    dir_rel = file_dir.resolve().relative_to(base).as_posix()
    dest = PurePosixPath(os.path.normpath(PurePosixPath(CONFIG_DIR) / dir_rel / package))
    if dest.is_absolute() or dest.parts[0] == ".." or str(dest) == ".":
        raise BundleError(
            f"pipeline_package {package!r} (from {file_dir}) lies outside the bundle; keep compiled "
            "pipelines in the configuration directory or at most one level above it"
        )
    if dest.parts[0] in RESERVED or _is_secret_path(dest):
        raise BundleError(f"pipeline_package {package!r} would be bundled as {dest}, a reserved path")
    not_ir = BundleError(
        f"pipeline_package {package!r} (from {file_dir}) is not a compiled KFP pipeline "
        "(a PipelineSpec with pipelineInfo, root and schemaVersion); not bundled"
    )
    try:
        kept = filter_yaml(_read_text(source, package), package, _pipeline_parts)
    except BundleError:
        raise not_ir from None
    if not kept.kept or kept.dropped:
        raise not_ir
    return dest, kept.text.encode("utf-8")


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


def stage_sources(stage: str, config: ConfigFiles) -> dict[PurePosixPath, Path | bytes]:
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
    sources: dict[PurePosixPath, Path | bytes] = {
        PurePosixPath("main.py"): main,
        PurePosixPath("requirements.txt"): requirements,
    }
    sources.update(_engine_files(ROOT / "shared" / ENGINE_PACKAGE))
    sources.update(config.files)
    return sources


def compiled_config(config: ConfigFiles) -> dict[PurePosixPath, bytes]:
    """The compiled form of the shipped configuration, at ``config/`` beside its YAML.

    It is compiled from the files exactly as they ship, read the way a deployed stage reads them
    (``KFPT_CONFIG=config`` from the bundle's root), with every check ``validate`` makes, so a
    stage that loads it has what loading the YAML would give it (see
    ``kfp_triggers.config.compiled``), without parsing.
    """
    engine = _engine()
    from kfp_triggers.config import compiled
    from kfp_triggers.errors import ConfigError

    with tempfile.TemporaryDirectory(prefix="kfpt-compile-") as scratch:
        root = Path(scratch)
        for rel, data in config.files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        here = Path.cwd()
        os.chdir(root)  # sources read "config/<file>:<line>", as in the deployed stage
        try:
            loaded = engine.load([CONFIG_DIR])
        except ConfigError as exc:
            raise BundleError(f"the shipped configuration does not load: {exc}") from exc
        finally:
            os.chdir(here)
    return {PurePosixPath(CONFIG_DIR) / compiled.COMPILED_NAME: compiled.dumps(loaded).encode("utf-8")}


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


def write_stage(out: Path, stage: str, sources: Mapping[PurePosixPath, Path | bytes]) -> dict[str, bytes]:
    """Replace ``out/<stage>`` with the bundle; return ``{path: content}`` of every file written.

    A source is a file to copy or the content itself (a filtered configuration file).
    """
    target = out / stage
    if target.exists():
        shutil.rmtree(target)
    written: dict[str, bytes] = {}
    for rel in sorted(sources):
        source = sources[rel]
        data = source if isinstance(source, bytes) else source.read_bytes()
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
    config = ConfigFiles({**config.files, **compiled_config(config)}, config.skipped)
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
    image = "".join(
        ["# Installed by infra/knative/Dockerfile beside the stages' requirements (infra/bundle.py).\n"]
        + [f"{pin}\n" for pin in IMAGE_PINS]
    ).encode("utf-8")
    _write(out / IMAGE_REQUIREMENTS, image)
    overall.append((IMAGE_REQUIREMENTS, image))
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
