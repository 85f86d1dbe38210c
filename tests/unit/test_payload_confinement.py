"""Values from an event never choose a pipeline outside the configuration, nor malformed identities.

A TriggerTemplate may take ``pipeline_package``, ``service_account``, ``pipeline_root`` or the
experiment from ``$(tt.params...)``, so whoever sends the event picks them. The configuration is
loaded from real files, rendered by the engine's renderer and parsed as the launch stage parses it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.adapters.launchers import LaunchRejected, RunSpec
from kfp_triggers.adapters.launchers._runspec import parse_run
from kfp_triggers.adapters.launchers.base import InvalidRunSpec
from kfp_triggers.config import Template, check_config
from kfp_triggers.config.pipelines import package_roots
from kfp_triggers.tekton.templates import render_resources

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TRAIN = EXAMPLES / "pipelines" / "train.yaml"

LISTENER = """\
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata:
  name: run-any
spec:
  params:
    - name: pipeline
    - name: account
      default: pipeline-runner
    - name: root
      default: gs://bucket/root
    - name: experiment
      default: ci
  resourcetemplates:
    - apiVersion: pipelines.kubeflow.org/v2beta1
      kind: Run
      metadata:
        generateName: run-
      spec:
        display_name: run $(tt.params.pipeline)
        pipeline_package: pipelines/$(tt.params.pipeline).yaml
        service_account: $(tt.params.account)
        experiment_name: $(tt.params.experiment)
        runtime_config:
          pipeline_root: $(tt.params.root)
          parameters:
            repo: acme/repo
            commit_sha: abc
---
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata:
  name: run-path
spec:
  params:
    - name: path
  resourcetemplates:
    - apiVersion: pipelines.kubeflow.org/v2beta1
      kind: Run
      metadata:
        generateName: run-
      spec:
        pipeline_package: $(tt.params.path)
        runtime_config:
          parameters: {repo: acme/repo, commit_sha: abc}
"""


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """A configuration file with its pipelines beside it, and a compiled pipeline elsewhere on disk."""
    config = tmp_path / "config"
    (config / "pipelines").mkdir(parents=True)
    (config / "listener.yaml").write_text(LISTENER, encoding="utf-8")
    (config / "pipelines" / "train.yaml").write_bytes(TRAIN.read_bytes())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "x.yaml").write_bytes(TRAIN.read_bytes())
    return {"config": config, "file": config / "listener.yaml", "elsewhere": elsewhere / "x.yaml"}


def template_of(layout: dict[str, Path], name: str) -> Template:
    config, problems = check_config([layout["file"]])
    assert config is not None, problems
    return config.templates[("default", name)]


def launch_parse(layout: dict[str, Path], template_name: str = "run-any", **params: str) -> RunSpec:
    """Render a template with ``params`` and parse the Run as the launch stage does."""
    template = template_of(layout, template_name)
    defaults = {p.name: p.default for p in template.params if p.default is not None}
    (resource,) = render_resources(template.resourcetemplates, {**defaults, **params}, uid="u1")
    root = layout["config"]  # the configuration root: the directory of the file given
    return parse_run(resource, Path(template.file_dir), package_roots(template, root))


def refusal(layout: dict[str, Path], template_name: str = "run-any", **params: str) -> str:
    with pytest.raises(InvalidRunSpec) as info:
        launch_parse(layout, template_name, **params)
    assert isinstance(info.value, LaunchRejected)  # journalled, never retried
    return str(info.value)


def test_a_package_in_the_named_directory_is_launched(layout: dict[str, Path]) -> None:
    spec = launch_parse(layout, pipeline="train")
    assert spec.pipeline_package == (layout["config"] / "pipelines" / "train.yaml").resolve()


@pytest.mark.parametrize(
    "chosen",
    [
        "../../elsewhere/x",
        "../../../" + "../" * 8 + "tmp/x",
        "x/../../../elsewhere/x",
    ],
)
def test_a_relative_escape_is_refused(layout: dict[str, Path], chosen: str) -> None:
    message = refusal(layout, pipeline=chosen)
    assert "resolves outside the configuration root" in message
    assert "a package must lie in the configuration's own tree" in message


def test_an_absolute_path_is_refused(layout: dict[str, Path]) -> None:
    message = refusal(layout, "run-path", path=str(layout["elsewhere"]))
    assert "resolves outside the configuration root" in message
    inside = layout["config"] / "pipelines" / "train.yaml"
    spec = launch_parse(layout, "run-path", path=str(inside))  # absolute, but inside: launched
    assert spec.pipeline_package == inside.resolve()


def test_a_symlink_out_of_the_tree_is_refused(layout: dict[str, Path]) -> None:
    link = layout["config"] / "pipelines" / "linked.yaml"
    os.symlink(layout["elsewhere"], link)
    assert "resolves outside the configuration root" in refusal(layout, pipeline="linked")
    # A symlinked directory is followed as well.
    os.symlink(layout["elsewhere"].parent, layout["config"] / "pipelines" / "out")
    assert "resolves outside the configuration root" in refusal(layout, pipeline="out/x")


@pytest.mark.parametrize(
    "chosen", ["..%2F..%2Felsewhere%2Fx", "%2e%2e/%2e%2e/elsewhere/x", "..%252F..%252Fx"]
)
def test_encoded_separators_are_names_not_paths(layout: dict[str, Path], chosen: str) -> None:
    assert "not found" in refusal(layout, pipeline=chosen)


# JSON escapes in a param value become the characters themselves once the Run is rendered.
@pytest.mark.parametrize("chosen", ["train\\u0000", "tra\\nin", "train\\u001b[2J"])
def test_control_characters_in_a_package_are_refused(layout: dict[str, Path], chosen: str) -> None:
    message = refusal(layout, pipeline=chosen)
    assert "spec.pipeline_package" in message and "contains control characters" in message


def test_a_refusal_does_not_tell_whether_a_file_exists_outside(layout: dict[str, Path]) -> None:
    existing = refusal(layout, pipeline="../../elsewhere/x")
    missing = refusal(layout, pipeline="../../elsewhere/y")
    assert existing.replace("/x", "/?") == missing.replace("/y", "/?")
    assert str(layout["elsewhere"].parent) not in existing


def test_roots_are_the_configuration_root_and_the_directories_a_template_names(tmp_path: Path) -> None:
    def roots_for(*packages: str) -> tuple[Path, ...]:
        resources = tuple({"spec": {"pipeline_package": p}} for p in packages)
        template = Template("t", "", (), resources, file_dir=str(tmp_path / "cfg" / "sub"))
        return package_roots(template, tmp_path / "cfg")

    sub = tmp_path / "cfg" / "sub"
    assert roots_for("../../shared/train.yaml") == (tmp_path / "cfg", sub / "../../shared")
    assert roots_for("pipelines/$(tt.params.p).yaml") == (tmp_path / "cfg", sub / "pipelines")
    assert roots_for("$(tt.params.path)", "p-$(tt.params.x)/a.yaml") == (tmp_path / "cfg", sub)


# --- the other fields an event can fill --------------------------------------------------------


def resource(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "apiVersion": "pipelines.kubeflow.org/v2beta1",
        "kind": "Run",
        "metadata": {"generateName": "train-"},
        "spec": {"display_name": "train", "pipeline_package": str(TRAIN)},
    }
    base["spec"].update(spec)
    return base


def problems_of(**spec: Any) -> list[str]:
    with pytest.raises(InvalidRunSpec) as info:
        RunSpec.from_resource(resource(**spec))
    return info.value.problems


@pytest.mark.parametrize(
    "account",
    [
        "Pipeline-Runner",
        "runner; rm -rf /",
        "runner\n",
        "-runner",
        "a" * 254,
        "runner@",
        "../../kube-system/default",
        "system:serviceaccount:kube-system:default",
    ],
)
def test_malformed_service_accounts_are_refused(account: str) -> None:
    (problem,) = problems_of(service_account=account)
    assert problem.startswith("spec.service_account ")
    assert "neither a Kubernetes service account name" in problem
    assert "\n" not in problem


@pytest.mark.parametrize(
    "account",
    [
        "pipeline-runner",
        "default-editor",
        "runner.team-a",
        "kfp-runner@my-project.iam.gserviceaccount.com",
        "123456789-compute@developer.gserviceaccount.com",
    ],
)
def test_service_account_names_and_emails_are_accepted(account: str) -> None:
    assert RunSpec.from_resource(resource(service_account=account)).service_account == account


@pytest.mark.parametrize(
    ("root", "reason"),
    [
        ("/var/lib/kfp", "not a URI of an accepted scheme"),
        ("file:///etc", "not a URI of an accepted scheme"),
        ("https://attacker.example/drop", "not a URI of an accepted scheme"),
        ("GS://bucket/root", "not a URI of an accepted scheme"),
        ("gs://", "no valid bucket name"),
        ("gs://Bucket/root", "no valid bucket name"),
        ("gs://bucket/../other-bucket", "'.' or '..' path segment"),
        ("gs://bucket/a b", "blanks, control characters"),
        ("s3://bucket/root\n", "blanks, control characters"),
        ("minio://bucket/root?x=1", "blanks, control characters"),
    ],
)
def test_malformed_pipeline_roots_are_refused(root: str, reason: str) -> None:
    (problem,) = problems_of(runtime_config={"pipeline_root": root})
    assert problem.startswith("spec.runtime_config.pipeline_root ")
    assert reason in problem


@pytest.mark.parametrize(
    "root", ["gs://bucket/root", "s3://my-bucket/a/b", "minio://mlpipeline/v2/artifacts"]
)
def test_object_store_pipeline_roots_are_accepted(root: str) -> None:
    spec = RunSpec.from_resource(resource(runtime_config={"pipelineRoot": root}))
    assert spec.pipeline_root == root


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("display_name", "train\nFAKE LOG LINE", "contains control characters"),
        ("display_name", "train\x1b[31m", "contains control characters"),
        ("display_name", "   ", "is blank"),
        ("experiment_name", "ci\r\nother", "contains control characters"),
        ("experiment_name", "\t", "contains control characters"),
        ("experiment_id", "../experiments/x", "is not an experiment id"),
        ("experiment_id", "e1 OR 1=1", "is not an experiment id"),
    ],
)
def test_malformed_names_are_refused(field: str, value: str, reason: str) -> None:
    (problem,) = problems_of(**{field: value})
    assert problem.startswith(f"spec.{field} ")
    assert reason in problem
    assert "\n" not in problem and "\x1b" not in problem


def test_names_of_printable_text_are_accepted() -> None:
    spec = RunSpec.from_resource(resource(display_name="train acme/repo@abc — 1", experiment_name="ci/main"))
    assert (spec.display_name, spec.experiment_name) == ("train acme/repo@abc — 1", "ci/main")
    spec = RunSpec.from_resource(resource(experiment_id="5a1d3c2e-0f4b-4b8e-9d1a-2f3c4d5e6f70"))
    assert spec.experiment_id == "5a1d3c2e-0f4b-4b8e-9d1a-2f3c4d5e6f70"


# --- validate warns where a sender chooses -----------------------------------------------------


def test_validate_warns_where_a_sender_chooses_what_runs(layout: dict[str, Path]) -> None:
    _config, problems = check_config([layout["file"]])
    lines = LISTENER.splitlines()
    warned = {
        (p.file, p.line): p.message for p in problems if p.severity == "warning" and "sender" in p.message
    }

    def line_of(text: str, nth: int = 0) -> int:
        return [i for i, line in enumerate(lines, 1) if text in line][nth]

    file = str(layout["file"])
    expected = {
        line_of("pipeline_package:"): ("spec.pipeline_package", "pipeline", "which compiled pipeline runs"),
        line_of("pipeline_package:", 1): ("spec.pipeline_package", "path", "which compiled pipeline runs"),
        line_of("service_account:"): ("spec.service_account", "account", "the identity the run executes as"),
        line_of("experiment_name:"): ("spec.experiment_name", "experiment", "the experiment"),
        line_of("pipeline_root:"): ("spec.runtime_config.pipeline_root", "root", "writes its artifacts"),
    }
    assert set(warned) == {(file, line) for line in expected}
    for line, (field, param, risk) in expected.items():
        message = warned[(file, line)]
        assert f"{field} takes $(tt.params.{param})" in message
        assert risk in message
    assert not [p for p in problems if p.severity == "error"]


def test_validate_is_quiet_about_fixed_values_and_camel_case_is_checked(tmp_path: Path) -> None:
    fixed = tmp_path / "fixed.yaml"
    fixed.write_text(
        LISTENER.replace("pipelines/$(tt.params.pipeline).yaml", str(TRAIN))
        .replace("$(tt.params.account)", "pipeline-runner")
        .replace("$(tt.params.experiment)", "ci")
        .replace("$(tt.params.root)", "gs://bucket/root")
        .replace("$(tt.params.path)", str(TRAIN)),
        encoding="utf-8",
    )
    _config, problems = check_config([fixed])
    assert not [p for p in problems if "sender" in p.message]
    camel = tmp_path / "camel.yaml"
    camel.write_text(
        LISTENER.replace("service_account:", "serviceAccount:")
        .replace("experiment_name:", "experimentId:")
        .replace("runtime_config:", "runtimeConfig:")
        .replace("pipeline_root:", "pipelineRoot:"),
        encoding="utf-8",
    )
    _config, problems = check_config([camel])
    shown = [p.message for p in problems if "sender" in p.message]
    assert any("spec.serviceAccount takes $(tt.params.account)" in m for m in shown)
    assert any("spec.experimentId takes $(tt.params.experiment)" in m for m in shown)
    assert any("spec.runtime_config.pipelineRoot takes $(tt.params.root)" in m for m in shown)
