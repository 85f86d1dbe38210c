"""TriggerTemplate rendering as Tekton's ResolveResources does it (byte-level substitution)."""

from __future__ import annotations

from typing import Any

import pytest

from kfp_triggers.errors import TemplateError
from kfp_triggers.tekton.bindings import event_data, resolve_params
from kfp_triggers.tekton.templates import (
    param_references,
    render_resources,
    unbound_references,
    undeclared_references,
)


def pipeline_run(spec: dict[str, Any], **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "tekton.dev/v1", "kind": "PipelineRun", "metadata": dict(meta), "spec": spec}


def render_one(spec: dict[str, Any], params: dict[str, str], **kwargs: Any) -> dict[str, Any]:
    (obj,) = render_resources([pipeline_run(spec, name="run")], params, uid="UID", **kwargs)
    return obj


@pytest.mark.parametrize(
    ("template_value", "params", "want"),
    [
        ("$(tt.params.a)", {"a": "va"}, "va"),
        ("x-$(tt.params.a)-$(tt.params.a)-y", {"a": "va"}, "x-va-va-y"),
        ("$(tt.params.a)/$(tt.params.b)", {"a": "1", "b": "2"}, "1/2"),
        # event text reaching a template has its "$(" escaped to "$$(" for Tekton Pipelines
        ("$(tt.params.a)", {"a": "$(tasks.build.results.sha)"}, "$$(tasks.build.results.sha)"),
        # values are inserted verbatim: JSON escapes in them are decoded by the JSON parser
        ("$(tt.params.a)", {"a": r"line1\nline2 \u003cb\u003e"}, "line1\nline2 <b>"),
        # a param with no value leaves its reference verbatim
        ("$(tt.params.unbound)", {"a": "va"}, "$(tt.params.unbound)"),
        # the old $(params.x) syntax is no longer substituted
        ("$(params.a)", {"a": "va"}, "$(params.a)"),
        # a bound param is substituted whether or not the template declares it
        ("$(tt.params.undeclared)", {"undeclared": "yes"}, "yes"),
        ("$(uid)", {}, "UID"),
        ("pre-$(uid)-$(uid)", {}, "pre-UID-UID"),
    ],
)
def test_substitution(template_value: str, params: dict[str, str], want: str) -> None:
    assert render_one({"v": template_value}, params)["spec"]["v"] == want


def test_keys_and_non_string_values_are_kept() -> None:
    obj = render_one({"$(tt.params.k)": [1, 2.5, True, None], "n": 2**62}, {"k": "key"})
    assert obj["spec"] == {"key": [1, 2.5, True, None], "n": 2**62}


def test_uid_is_substituted_after_params_so_an_event_uid_reference_is_mangled() -> None:
    # "$(uid)" in a value first becomes "$$(uid)", whose inner "$(uid)" then takes the id.
    assert render_one({"v": "$(tt.params.a)"}, {"a": "id=$(uid)"})["spec"]["v"] == "id=$UID"


def test_one_uid_for_all_resourcetemplates_of_a_call() -> None:
    templates = [pipeline_run({"v": "$(uid)"}, name=f"r{i}-$(uid)") for i in range(3)]
    first = render_resources(templates, {}, uid="U1")
    assert [o["metadata"]["name"] for o in first] == ["r0-U1", "r1-U1", "r2-U1"]
    assert {o["spec"]["v"] for o in first} == {"U1"}
    second = render_resources(templates, {}, uid="U2")
    assert second[0]["spec"]["v"] == "U2"
    assert templates[0]["spec"]["v"] == "$(uid)"  # the input is not modified


def test_binding_values_land_safely_inside_json_strings() -> None:
    event = event_data(b'{"msg": "He said \\"hi\\"\\n<ok> & $(x)"}', {}, None, "e")
    params = resolve_params([("m", "$(body.msg)")], event, {})
    assert render_one({"v": "$(tt.params.m)"}, params)["spec"]["v"] == 'He said "hi"\n<ok> & $$(x)'


def test_old_escape_quotes_escapes_double_quotes() -> None:
    value = 'say "hi"'
    with pytest.raises(TemplateError):
        render_one({"v": "$(tt.params.a)"}, {"a": value})
    assert render_one({"v": "$(tt.params.a)"}, {"a": value}, old_escape_quotes=True)["spec"]["v"] == value


def test_object_param_needs_old_escape_quotes_inside_a_yaml_string() -> None:
    # A YAML-authored template always has the reference inside a JSON string, so a raw object
    # value breaks the JSON unless its quotes are escaped.
    event = event_data(b'{"o": {"b": "c", "a": 1}}', {}, None, "e")
    params = resolve_params([("o", "$(body.o)")], event, {})
    assert params == {"o": '{"a":1,"b":"c"}'}
    with pytest.raises(TemplateError, match="not valid JSON"):
        render_one({"v": "$(tt.params.o)"}, params)
    got = render_one({"v": "$(tt.params.o)"}, params, old_escape_quotes=True)
    assert got["spec"]["v"] == '{"a":1,"b":"c"}'


def test_raw_newline_in_a_static_value_is_a_clear_error() -> None:
    # Static binding values and defaults are not JSON-escaped (Tekton's long-standing bug).
    with pytest.raises(TemplateError) as info:
        render_one({"v": "$(tt.params.script)"}, {"script": "line1\nline2"})
    message = str(info.value)
    assert "resourcetemplates[0] (PipelineRun run)" in message
    assert "not valid JSON after substituting params" in message
    assert "raw newline" in message
    # Go's decoder message, and the text around the offending byte
    assert "params: invalid character '\\n' in string literal, near '" in message
    assert "line1\\nline2" in message


def test_error_names_the_failing_resourcetemplate() -> None:
    templates = [
        pipeline_run({"v": "ok"}, name="a"),
        pipeline_run({"v": "$(tt.params.x)"}, generateName="b-"),
    ]
    with pytest.raises(TemplateError, match=r"resourcetemplates\[1\] \(PipelineRun b-\)"):
        render_resources(templates, {"x": 'a"b'}, uid="U")


@pytest.mark.parametrize(
    ("template", "params", "message"),
    [
        ({"kind": "$(tt.params.k)"}, {"k": ""}, "has no kind"),
        ({"apiVersion": "v1"}, {}, "has no kind"),
        ({"kind": "X", "v": "$(tt.params.n)"}, {"n": 'x", "kind": 5, "y": "'}, "has no kind"),
        ({"kind": "X", "bad": {1, 2}}, {}, "cannot be written as JSON"),
        ({"kind": "X", "nan": float("nan")}, {}, "cannot be written as JSON"),
    ],
)
def test_invalid_results(template: dict[str, Any], params: dict[str, str], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        render_resources([template], params, uid="U")


def test_params_are_substituted_even_into_keys_and_can_inject_json() -> None:
    # Substitution is textual: a value may close the string and add fields (Tekton does the same).
    obj = render_one({"v": "$(tt.params.p)"}, {"p": 'a", "extra": "b'})
    assert obj["spec"] == {"v": "a", "extra": "b"}


LABELS = {"triggers.tekton.dev/eventlistener": "el", "triggers.tekton.dev/triggers-eventid": "e1"}


def test_labels_merge_over_template_labels() -> None:
    template = pipeline_run({}, name="r", labels={"app": "x", "triggers.tekton.dev/eventlistener": "mine"})
    (obj,) = render_resources([template], {}, uid="U", labels=LABELS)
    assert obj["metadata"]["labels"] == {
        "app": "x",
        "triggers.tekton.dev/eventlistener": "el",
        "triggers.tekton.dev/triggers-eventid": "e1",
    }
    assert obj["metadata"]["name"] == "r"


@pytest.mark.parametrize("metadata", ["absent", None, {}])
def test_labels_create_metadata(metadata: Any) -> None:
    template: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap"}
    if metadata != "absent":
        template["metadata"] = metadata
    (obj,) = render_resources([template], {}, uid="U", labels=LABELS)
    assert obj["metadata"] == {"labels": LABELS}


def test_without_labels_metadata_is_untouched() -> None:
    (obj,) = render_resources([{"kind": "ConfigMap"}], {}, uid="U")
    assert obj == {"kind": "ConfigMap"}


@pytest.mark.parametrize(
    "metadata",
    [{"labels": {"n": 1}}, {"labels": None}, {"labels": ["a"]}, "text"],
)
def test_malformed_labels_are_errors(metadata: Any) -> None:
    with pytest.raises(TemplateError, match="metadata"):
        render_resources([{"kind": "X", "metadata": metadata}], {}, uid="U", labels=LABELS)


TEMPLATES = [
    pipeline_run({"a": "$(tt.params.one)", "b": "$(tt.params.two) $(tt.params.one)"}),
    pipeline_run(
        {
            "c": "$(tt.params.dotted.name-x)",
            "d": "$(tt.params.1bad) $(tt.params.) $(params.old) $(tt.params.sp ace)",
            "e": "$(ttXparamsYloose)",  # Tekton's pattern leaves its dots unescaped
        }
    ),
]


def test_param_references_follow_tektons_pattern() -> None:
    assert param_references(TEMPLATES) == ["one", "two", "dotted.name-x", "loose"]


def test_undeclared_and_unbound_references() -> None:
    assert undeclared_references(TEMPLATES, {"one", "two", "dotted.name-x", "loose"}) == []
    assert undeclared_references(TEMPLATES, {"one"}) == ["two", "dotted.name-x", "loose"]
    assert unbound_references(TEMPLATES, {"two", "loose"}) == ["one", "dotted.name-x"]
