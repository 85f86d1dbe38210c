"""Loading compiled pipelines and converting run parameters to the types the pipeline declares."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.adapters.launchers.base import LaunchRejected, ParameterError, RunSpec
from kfp_triggers.adapters.launchers.params import (
    PipelineDoc,
    coerce_parameters,
    coerce_value,
    load_pipeline,
    load_pipeline_file,
    pipeline_from_mapping,
)

ROOT = Path(__file__).resolve().parents[2]
TRAIN = ROOT / "examples" / "pipelines" / "train.yaml"


def ir(params: dict[str, Any], name: str = "p") -> dict[str, Any]:
    """A minimal PipelineSpec with these root input parameter declarations."""
    return {
        "pipelineInfo": {"name": name},
        "root": {"dag": {"tasks": {}}, "inputDefinitions": {"parameters": params}},
        "schemaVersion": "2.1.0",
    }


ALL_TYPES = PipelineDoc(
    ir(
        {
            "s": {"parameterType": "STRING"},
            "i": {"parameterType": "NUMBER_INTEGER"},
            "f": {"parameterType": "NUMBER_DOUBLE"},
            "b": {"parameterType": "BOOLEAN"},
            "l": {"parameterType": "LIST"},
            "d": {"parameterType": "STRUCT"},
            "opt": {"parameterType": "STRING", "defaultValue": "x", "isOptional": True},
        }
    )
)


def test_train_pipeline_declares_its_inputs() -> None:
    doc = load_pipeline_file(TRAIN)
    decls = doc.parameters()
    assert doc.name == "train"
    assert {n: (d.type, d.required) for n, d in decls.items()} == {
        "repo": ("STRING", True),
        "commit_sha": ("STRING", True),
        "epochs": ("NUMBER_INTEGER", False),
        "learning_rate": ("NUMBER_DOUBLE", False),
        "event_id": ("STRING", False),
        "listener": ("STRING", False),
        "trigger": ("STRING", False),
    }
    assert doc.platform_spec == {}
    assert doc.as_kfp_pipeline_spec() is doc.pipeline_spec


def test_strings_become_declared_types() -> None:
    got = coerce_parameters(
        ALL_TYPES,
        {"s": "abc", "i": "3", "f": "0.5", "b": "true", "l": '["a", 1]', "d": '{"k": [1, 2]}'},
    )
    assert got == {"s": "abc", "i": 3, "f": 0.5, "b": True, "l": ["a", 1], "d": {"k": [1, 2]}}
    assert type(got["i"]) is int
    assert type(got["f"]) is float


def test_typed_values_pass_and_defaults_are_not_added() -> None:
    got = coerce_parameters(ALL_TYPES, {"s": 7, "i": 3.0, "f": 2, "b": False, "l": [1], "d": {}})
    assert got == {"s": "7", "i": 3, "f": 2.0, "b": False, "l": [1], "d": {}}
    assert "opt" not in got


@pytest.mark.parametrize(
    ("ptype", "raw", "want"),
    [
        ("NUMBER_INTEGER", "3.0", 3),
        ("NUMBER_INTEGER", " -12 ", -12),
        ("NUMBER_INTEGER", "1e3", 1000),
        ("NUMBER_DOUBLE", "3", 3.0),
        ("NUMBER_DOUBLE", "-1.5e-3", -0.0015),
        ("BOOLEAN", "False", False),
        ("BOOLEAN", "TRUE", True),
        ("STRING", True, "true"),
        ("STRING", ["a"], '["a"]'),
        ("STRING", "", ""),
        ("LIST", "[]", []),
        ("STRUCT", '{"a": null}', {"a": None}),
        ("PARAMETER_TYPE_ENUM_UNSPECIFIED", "as is", "as is"),
    ],
)
def test_coerce_value(ptype: str, raw: Any, want: Any) -> None:
    got = coerce_value("p", ptype, raw)
    assert got == want
    assert type(got) is type(want)


@pytest.mark.parametrize(
    ("ptype", "raw", "why"),
    [
        ("NUMBER_INTEGER", "3.5", "expected an integer"),
        ("NUMBER_INTEGER", "three", "expected an integer"),
        ("NUMBER_INTEGER", True, "expected an integer"),
        ("NUMBER_INTEGER", "inf", "expected an integer"),
        ("NUMBER_DOUBLE", "nan", "expected a finite number"),
        ("NUMBER_DOUBLE", "", "expected a finite number"),
        ("BOOLEAN", "yes", "expected true or false"),
        ("BOOLEAN", 1, "expected true or false"),
        ("LIST", '{"a": 1}', "expected a JSON array"),
        ("LIST", "[1,", "not valid JSON"),
        ("STRUCT", "[1]", "expected a JSON object"),
        ("STRING", None, "expected text"),
    ],
)
def test_bad_values_name_the_parameter(ptype: str, raw: Any, why: str) -> None:
    with pytest.raises(ParameterError) as info:
        coerce_value("epochs", ptype, raw)
    assert info.value.param == "epochs"
    assert f"parameter 'epochs' ({ptype}): {why}" in str(info.value)
    assert isinstance(info.value, LaunchRejected)


def test_unknown_parameter_is_an_error_listing_the_known_ones() -> None:
    doc = load_pipeline_file(TRAIN)
    with pytest.raises(ParameterError) as info:
        coerce_parameters(doc, {"repo": "a/b", "commit_sha": "c", "epoch": "3"})
    assert info.value.param == "epoch"
    assert "unknown parameter 'epoch'" in str(info.value)
    assert "commit_sha, epochs, event_id, learning_rate, listener, repo, trigger" in str(info.value)


def test_missing_required_parameters_are_listed() -> None:
    doc = load_pipeline_file(TRAIN)
    with pytest.raises(ParameterError) as info:
        coerce_parameters(doc, {"epochs": "2"})
    assert "missing required parameter(s) commit_sha, repo" in str(info.value)


def test_every_problem_is_reported_at_once() -> None:
    doc = load_pipeline_file(TRAIN)
    with pytest.raises(ParameterError) as info:
        coerce_parameters(doc, {"repo": "r", "commit_sha": "c", "epochs": "x", "learning_rate": "y"})
    message = str(info.value)
    assert "'epochs' (NUMBER_INTEGER)" in message
    assert "'learning_rate' (NUMBER_DOUBLE)" in message


def test_legacy_schema_type_field() -> None:
    doc = PipelineDoc(ir({"n": {"type": "INT"}, "x": {"type": "DOUBLE"}, "s": {"type": "STRING"}}))
    assert coerce_parameters(doc, {"n": "4", "x": "1", "s": "t"}) == {"n": 4, "x": 1.0, "s": "t"}


def test_multi_document_package_keeps_the_platform_spec(tmp_path: Path) -> None:
    package = tmp_path / "p.yaml"
    package.write_text(
        "# PIPELINE DEFINITION\npipelineInfo: {name: two}\nroot: {dag: {tasks: {}}}\n"
        "---\nplatforms:\n  kubernetes: {deploymentSpec: {executors: {}}}\n"
    )
    doc = load_pipeline_file(package)
    assert doc.name == "two"
    assert doc.platform_spec == {"platforms": {"kubernetes": {"deploymentSpec": {"executors": {}}}}}
    body = doc.as_kfp_pipeline_spec()
    assert set(body) == {"pipeline_spec", "platform_spec"}
    assert body["pipeline_spec"]["pipelineInfo"] == {"name": "two"}


def test_json_package_and_pipelinejob_wrapper(tmp_path: Path) -> None:
    package = tmp_path / "job.json"
    package.write_text('{"displayName": "j", "pipelineSpec": {"pipelineInfo": {"name": "w"}, "root": {}}}')
    assert load_pipeline_file(package).name == "w"


@pytest.mark.parametrize(
    "text",
    ["[1, 2]", "pipelineInfo: {name: x}\n", "a: [unclosed\n", ""],
    ids=["list", "no-root", "bad", "empty"],
)
def test_files_that_are_not_pipelines_are_rejected(tmp_path: Path, text: str) -> None:
    package = tmp_path / "x.yaml"
    package.write_text(text)
    with pytest.raises(LaunchRejected, match=r"x\.yaml"):
        load_pipeline_file(package)


def test_missing_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(LaunchRejected, match="cannot read pipeline package"):
        load_pipeline_file(tmp_path / "nope.yaml")


def test_inline_forms() -> None:
    plain = ir({"a": {"parameterType": "STRING"}}, name="inline")
    assert pipeline_from_mapping(plain).name == "inline"
    wrapped = pipeline_from_mapping({"pipeline_spec": plain, "platform_spec": {"platforms": {}}})
    assert wrapped.pipeline_spec == plain
    assert wrapped.platform_spec == {"platforms": {}}
    with pytest.raises(LaunchRejected, match="not a compiled KFP pipeline"):
        pipeline_from_mapping({"hello": "world"})


def test_load_pipeline_follows_the_spec_source() -> None:
    base = {"apiVersion": "pipelines.kubeflow.org/v2beta1", "kind": "Run"}
    packaged = RunSpec.from_resource({**base, "spec": {"display_name": "d", "pipeline_package": str(TRAIN)}})
    inline = RunSpec.from_resource({**base, "spec": {"display_name": "d", "pipeline_spec": ir({}, "z")}})
    stored = RunSpec.from_resource(
        {**base, "spec": {"display_name": "d", "pipeline_version_reference": {"pipeline_id": "p1"}}}
    )
    loaded = load_pipeline(packaged)
    assert loaded is not None
    assert loaded.name == "train"
    loaded_inline = load_pipeline(inline)
    assert loaded_inline is not None
    assert loaded_inline.name == "z"
    assert load_pipeline(stored) is None


def test_launcher_modules_import_no_heavy_sdk() -> None:
    """Launch and status stages must not pay kfp's or Google's import cost unless a backend needs it."""
    import subprocess
    import sys

    # Some namespace packages (google.cloud) are set up by .pth files at start-up: compare before/after.
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import kfp_triggers.adapters.launchers.base, kfp_triggers.adapters.launchers.params\n"
        "import kfp_triggers.adapters.launchers.local, kfp_triggers.adapters.launchers.local_runner\n"
        "import kfp_triggers.adapters.launchers.kfp_rest, kfp_triggers.adapters.launchers.vertex\n"
        "import kfp_triggers.adapters.launchers.dry_run, kfp_triggers.adapters.launchers.factory\n"
        "new = set(sys.modules) - before\n"
        "print(sorted(m for m in new if m.split('.')[0] in ('kfp', 'google', 'kfp_server_api')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
