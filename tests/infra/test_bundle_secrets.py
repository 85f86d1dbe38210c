"""infra/bundle.py ships only what it recognises: Tekton Triggers documents and compiled pipelines.

Every test hides the same token somewhere a configuration directory may hold it and checks that no
byte of it reaches a bundle, its summary or an error message. The bundles are written by the
script's own functions into a temporary directory.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import EXAMPLES
from tests.infra.test_bundle import EXAMPLE, load_bundle_module, same_but_blanked

TOKEN = "tok-9f8e7d6c5b4a-never-shipped"
SECRET = f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: github-webhook\nstringData:\n  secret: {TOKEN}\n"
BINDING = (
    "apiVersion: triggers.tekton.dev/v1beta1\nkind: TriggerBinding\nmetadata:\n  name: extra\n"
    "spec:\n  params:\n    - name: who\n      value: $(body.pusher.name)\n"
)


@pytest.fixture(scope="module")
def module() -> ModuleType:
    return load_bundle_module()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The example listener in a directory of its own, its pipeline one level above."""
    top = tmp_path / "project" / "listener"
    top.mkdir(parents=True)
    shutil.copy(EXAMPLE / "listener.yaml", top / "listener.yaml")
    shutil.copytree(EXAMPLES / "pipelines", tmp_path / "project" / "pipelines")
    return top


def shipped(module: ModuleType, config: Path, out: Path) -> tuple[dict[str, bytes], dict[str, Any]]:
    """Bundle the intercept stage; every file written (bundle and manifests) and the summary."""
    summary = module.bundle(out, config, ["intercept"])
    files = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    return files, summary


def assert_no_token(files: dict[str, bytes], summary: dict[str, Any]) -> None:
    assert not [path for path, data in files.items() if TOKEN.encode() in data]
    assert TOKEN not in json.dumps(summary)


def refused(module: ModuleType, config: Path, out: Path) -> str:
    with pytest.raises(module.BundleError) as info:
        module.bundle(out, config, ["intercept"])
    assert not out.exists() or not any(out.iterdir())
    message = str(info.value)
    assert TOKEN not in message
    return message


def test_a_list_of_secrets_is_left_out(module: ModuleType, config: Path, tmp_path: Path) -> None:
    items = "".join("  - " + SECRET.replace("\n", "\n    ").rstrip() + "\n" for _ in range(2))
    (config / "secrets-list.yaml").write_text(
        f"apiVersion: v1\nkind: List\nitems:\n{items}", encoding="utf-8"
    )
    files, summary = shipped(module, config, tmp_path / "out")
    assert_no_token(files, summary)
    assert "intercept/config/secrets-list.yaml" not in files
    assert "secrets-list.yaml: no Tekton Triggers document" in summary["skipped"]


def test_a_list_keeps_its_triggers_items_only(module: ModuleType, config: Path, tmp_path: Path) -> None:
    binding = "  - " + BINDING.replace("\n", "\n    ").rstrip() + "\n"
    secret = "  - " + SECRET.replace("\n", "\n    ").rstrip() + "\n"
    flow = "{apiVersion: v1, kind: Secret, metadata: {name: s}, stringData: {secret: " + TOKEN + "}}"
    (config / "mixed-list.yaml").write_text(
        f"apiVersion: v1\nkind: List\nitems:\n{secret}{binding}{secret}"
        f"---\napiVersion: v1\nkind: List\nitems: [{flow}, {{apiVersion: triggers.tekton.dev/v1beta1, "
        "kind: TriggerBinding, metadata: {name: flow}, spec: {params: []}}]\n",
        encoding="utf-8",
    )
    files, summary = shipped(module, config, tmp_path / "out")
    assert_no_token(files, summary)
    kept = files["intercept/config/mixed-list.yaml"]
    assert b"name: extra" in kept and b"name: flow" in kept
    assert same_but_blanked(kept, (config / "mixed-list.yaml").read_bytes())
    assert "mixed-list.yaml: 3 document(s) or List item(s) that are not Tekton Triggers" in summary["skipped"]


@pytest.mark.parametrize(
    "tagged",
    [
        "--- !k8s\n" + SECRET,  # a custom tag on the document
        SECRET.replace("kind: Secret", "kind: !k8s Secret"),  # on the kind
        SECRET.replace("stringData:", "stringData: !!map"),  # a standard tag inside
        "--- !!map\n" + SECRET,
    ],
)
def test_a_tagged_secret_is_left_out(module: ModuleType, config: Path, tmp_path: Path, tagged: str) -> None:
    (config / "tagged.yaml").write_text(tagged, encoding="utf-8")
    listener = (config / "listener.yaml").read_text(encoding="utf-8")
    (config / "listener.yaml").write_text(listener + "---\n" + tagged.removeprefix("---"), encoding="utf-8")
    files, summary = shipped(module, config, tmp_path / "out")
    assert_no_token(files, summary)
    assert "intercept/config/tagged.yaml" not in files
    assert b"kind: EventListener" in files["intercept/config/listener.yaml"]


def test_kustomize_secret_generators_are_left_out(module: ModuleType, config: Path, tmp_path: Path) -> None:
    (config / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - listener.yaml\n"
        f"secretGenerator:\n  - name: github-webhook\n    literals:\n      - secret={TOKEN}\n",
        encoding="utf-8",
    )
    files, summary = shipped(module, config, tmp_path / "out")
    assert_no_token(files, summary)
    assert "intercept/config/kustomization.yaml" not in files


def test_comments_never_ship(module: ModuleType, config: Path, tmp_path: Path) -> None:
    listener = (config / "listener.yaml").read_text(encoding="utf-8")
    commented = "".join(f"# {line}\n" for line in SECRET.splitlines())
    (config / "listener.yaml").write_text(
        commented + listener.replace("spec:", f"spec:  # token {TOKEN}", 1) + f"# {TOKEN}\n", encoding="utf-8"
    )
    files, summary = shipped(module, config, tmp_path / "out")
    assert_no_token(files, summary)
    assert same_but_blanked(files["intercept/config/listener.yaml"], (config / "listener.yaml").read_bytes())


def with_package(config: Path, package: str) -> None:
    text = (config / "listener.yaml").read_text(encoding="utf-8")
    (config / "listener.yaml").write_text(text.replace("../pipelines/train.yaml", package), encoding="utf-8")


@pytest.mark.parametrize(
    ("package", "write"),
    [
        (
            "../terraform.tfvars",
            lambda p: p.write_text(f'project = "p"\ntoken = "{TOKEN}"\n', encoding="utf-8"),
        ),
        ("../secret.yaml", lambda p: p.write_text(SECRET, encoding="utf-8")),
        ("../notes.json", lambda p: p.write_text(json.dumps({"token": TOKEN}), encoding="utf-8")),
        ("../binary.yaml", lambda p: p.write_bytes(b"\xff\xfe" + TOKEN.encode())),
        (
            "../pipelines/smuggled.yaml",  # a real pipeline with a Secret as its second document
            lambda p: p.write_text((EXAMPLES / "pipelines" / "train.yaml").read_text() + "---\n" + SECRET),
        ),
    ],
)
def test_a_package_that_is_not_a_compiled_pipeline_is_refused(
    module: ModuleType, config: Path, tmp_path: Path, package: str, write: Callable[[Path], Any]
) -> None:
    write(config / package)
    with_package(config, package)
    message = refused(module, config, tmp_path / "out")
    assert f"pipeline_package {package!r}" in message
    assert "is not a compiled KFP pipeline" in message


def test_a_compiled_pipeline_ships_without_its_comments(
    module: ModuleType, config: Path, tmp_path: Path
) -> None:
    source = config.parent / "pipelines" / "train.yaml"
    source.write_text(f"# {TOKEN}\n" + source.read_text(encoding="utf-8"), encoding="utf-8")
    files, summary = shipped(module, config, tmp_path / "out")
    assert_no_token(files, summary)
    assert b"pipelineInfo:" in files["intercept/pipelines/train.yaml"]


def test_a_package_chosen_per_event_is_reported_not_bundled(
    module: ModuleType, config: Path, tmp_path: Path
) -> None:
    text = (config / "listener.yaml").read_text(encoding="utf-8")
    (config / "listener.yaml").write_text(
        text.replace("../pipelines/train.yaml", "../pipelines/$(tt.params.short_sha).yaml"), encoding="utf-8"
    )
    files, summary = shipped(module, config, tmp_path / "out")
    assert not [p for p in files if p.startswith("intercept/pipelines/")]
    assert any("chosen per event, not bundled" in line for line in summary["skipped"])


def test_kept_content_that_needs_what_is_dropped_is_refused(
    module: ModuleType, config: Path, tmp_path: Path
) -> None:
    # A binding in a List aliases a value anchored in a Secret item of the same List.
    (config / "aliased.yaml").write_text(
        "apiVersion: v1\nkind: List\nitems:\n"
        f"  - {{apiVersion: v1, kind: Secret, metadata: {{name: s}}, stringData: {{secret: &t {TOKEN}}}}}\n"
        "  - apiVersion: triggers.tekton.dev/v1beta1\n    kind: TriggerBinding\n    metadata: {name: a}\n"
        "    spec:\n      params:\n        - {name: t, value: *t}\n",
        encoding="utf-8",
    )
    message = refused(module, config, tmp_path / "out")
    assert "aliased.yaml: the documents to ship cannot be cut out of this file" in message


def test_the_shipped_configuration_reports_problems_at_the_source_lines(
    module: ModuleType, config: Path, tmp_path: Path
) -> None:
    (config / "listener.yaml").write_text(
        SECRET + "---\n" + (config / "listener.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    collected = module.collect_config(config)
    shipped_text = collected.files[module.PurePosixPath("config/listener.yaml")].decode()
    source_lines = (config / "listener.yaml").read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(shipped_text.splitlines()):
        if line.strip():
            assert source_lines[number].startswith(line.rstrip()), number
