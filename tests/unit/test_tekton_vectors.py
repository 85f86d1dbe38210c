"""Tekton v0.37's own test vectors for bindings, templates and CEL's ``truncate``.

Each test names the Tekton test it takes its expected values from. A configuration is loaded from
YAML as a user writes it and the event goes through the same processing the stages use.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.app.validation import hooks
from kfp_triggers.cel import CelEnvironment
from kfp_triggers.config import Configuration, check_config, load_config
from kfp_triggers.config.models import BindingRef
from kfp_triggers.errors import BindingError
from kfp_triggers.interceptors.cel import CelInterceptor
from kfp_triggers.interceptors.resolve import InterceptorFactory
from kfp_triggers.tekton.bindings import event_data, find_expressions, resolve_params
from kfp_triggers.tekton.interceptor_protocol import InterceptorRequest, InterceptorServices, StatusCode
from kfp_triggers.tekton.processing import EventProcessor, TriggerOutcome
from kfp_triggers.tekton.request import RawRequest

from .cel_support import BACKENDS, evaluate

RUN = """
        - apiVersion: pipelines.kubeflow.org/v2beta1
          kind: Run
          metadata: {generateName: "run-"}
          spec:
            displayName: "$(tt.params.foo)"
            pipelineSpec: {pipelineInfo: {name: p}, root: {dag: {tasks: {}}}}
"""
BINDINGS = """
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerBinding
metadata: {name: my-triggerbinding, namespace: ns}
spec:
  params:
  - {name: foo, value: namespaced}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: ClusterTriggerBinding
metadata: {name: my-triggerbinding}
spec:
  params:
  - {name: foo, value: cluster}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: ClusterTriggerBinding
metadata: {name: only-cluster}
spec:
  params:
  - {name: foo, value: cluster}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "triggers.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    _, found = check_config([path], hooks(check_cel=False))
    return [f"{p.severity}: {p.message}" for p in found if p.severity == "error"]


def fire(
    config: Configuration, body: bytes, headers: dict[str, list[str]] | None = None
) -> list[TriggerOutcome]:
    processor = EventProcessor(config, InterceptorFactory(InterceptorServices()))
    request = RawRequest(url="/", headers=headers or {}, body=body)
    return processor.process(config.listener(), request, "evt-1", uid=lambda: "uid-1")


def listener(triggers: str) -> str:
    return f"""
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {{name: el, namespace: ns}}
spec:
  triggers:
{textwrap.indent(textwrap.dedent(triggers).strip(), "  ")}
"""


# --- 1. a binding reference without kind --------------------------------------------------------


def test_a_binding_ref_without_kind_is_a_namespaced_trigger_binding(tmp_path: Path) -> None:
    """pkg/apis/triggers/v1beta1/trigger_defaults_test.go, TestTriggerSetDefaults, "default
    binding kind": ``{ref: binding}`` gets kind TriggerBinding, explicit kinds stay. And
    pkg/template/resource_test.go, Test_ResolveTrigger, "missing kind implies
    namespacedTriggerBinding": the namespaced binding is the one resolved, even when a
    ClusterTriggerBinding has the same name."""
    objects = """
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerBinding
metadata: {name: binding, namespace: ns}
spec: {params: [{name: a, value: "1"}]}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerBinding
metadata: {name: namespace-binding, namespace: ns}
spec: {params: [{name: b, value: "2"}]}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: ClusterTriggerBinding
metadata: {name: cluster-binding}
spec: {params: [{name: c, value: "3"}]}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: Trigger
metadata: {name: t, namespace: ns}
spec:
  bindings:
  - ref: binding
  - {ref: namespace-binding, kind: TriggerBinding}
  - {ref: cluster-binding, kind: ClusterTriggerBinding}
  template:
    spec:
      params: [{name: a}, {name: b}, {name: c}]
      resourcetemplates:
      - {apiVersion: v1, kind: ConfigMap, metadata: {name: cm}, data: {a: "$(tt.params.a)"}}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: el, namespace: ns}
spec:
  triggers: [{triggerRef: t}]
"""
    config = load_config([write(tmp_path, objects)])
    decl = config.objects.triggers[("ns", "t")]
    assert [(b.ref, b.kind) for b in decl.bindings if isinstance(b, BindingRef)] == [
        ("binding", "TriggerBinding"),
        ("namespace-binding", "TriggerBinding"),
        ("cluster-binding", "ClusterTriggerBinding"),
    ]
    (outcome,) = fire(config, b"{}")
    assert outcome.params == {"a": "1", "b": "2", "c": "3"}


def test_a_kindless_ref_resolves_the_namespaced_binding(tmp_path: Path) -> None:
    """resource_test.go, Test_ResolveTrigger, "missing kind implies namespacedTriggerBinding",
    end to end: the param comes from the TriggerBinding; a name only a ClusterTriggerBinding has
    is not found (Test_ResolveTrigger_error, "triggerbinding not found")."""
    trigger = listener(
        f"""
- name: t
  bindings: [{{ref: my-triggerbinding}}]
  template:
    spec:
      params: [{{name: foo}}]
      resourcetemplates:
{textwrap.indent(textwrap.dedent(RUN).strip(), " " * 8)}
"""
    )
    config = load_config([write(tmp_path, BINDINGS + "---" + trigger)])
    (outcome,) = fire(config, b"{}")
    assert outcome.error is None
    assert outcome.params == {"foo": "namespaced"}
    missing = write(
        tmp_path, BINDINGS + "---" + trigger.replace("ref: my-triggerbinding", "ref: only-cluster")
    )
    assert problems(missing) == ["error: TriggerBinding 'only-cluster' not found in namespace 'ns'"]


def test_a_ref_with_a_name_or_a_bad_kind_is_refused(tmp_path: Path) -> None:
    """trigger_validation_test.go, Test_TriggerValidate_error: "Bindings with ref missing kind"
    (a ref with a name) and "Bindings with ref wrong kind" are refused."""
    trigger = listener(
        """
- name: t
  bindings:
  - {name: tb, ref: my-triggerbinding}
  - {ref: my-triggerbinding, kind: BadKind}
  template: {ref: tt}
"""
    )
    found = problems(write(tmp_path, BINDINGS + "---" + trigger))
    assert any("sets both ref and name" in p for p in found)
    assert any("kind 'BadKind' is not valid" in p for p in found)


# --- 2. an embedded template next to bindings ---------------------------------------------------


def test_an_embedded_template_next_to_bindings(tmp_path: Path) -> None:
    """resource_test.go, Test_ResolveTrigger, "embedded trigger template": a trigger with a binding
    ref and ``template.spec`` resolves to that spec (no metadata, so no old-escape annotation) and
    the binding's params. Defaults of the embedded params fill what no binding gives
    (event_test.go, TestResolveParams, "add default values for params with missing values")."""
    trigger = listener(
        """
- name: t
  bindings:
  - ref: my-triggerbinding
  - {name: quote, value: "$(body.q)"}
  template:
    spec:
      params:
      - {name: foo}
      - {name: quote}
      - {name: fallback, default: "from the template"}
      resourcetemplates:
      - apiVersion: v1
        kind: ConfigMap
        metadata: {name: "cm-$(uid)"}
        data: {foo: "$(tt.params.foo)", quote: "$(tt.params.quote)", fallback: "$(tt.params.fallback)"}
"""
    )
    config = load_config([write(tmp_path, BINDINGS + "---" + trigger)])
    (resolved,) = config.triggers_for(config.listener())
    assert resolved.template.name == ""
    assert resolved.template.namespace == "ns"
    assert not resolved.template.old_escape_quotes
    (outcome,) = fire(config, b'{"q": "say \\"hi\\""}')
    assert outcome.error is None
    assert outcome.params == {"fallback": "from the template", "foo": "namespaced", "quote": 'say \\"hi\\"'}
    (resource,) = outcome.resources
    assert resource["metadata"]["name"] == "cm-uid-1"
    assert resource["data"] == {"foo": "namespaced", "quote": 'say "hi"', "fallback": "from the template"}


def test_a_template_with_both_ref_and_spec_is_refused(tmp_path: Path) -> None:
    """trigger_validation_test.go, Test_TriggerValidate_error, "Trigger template with both ref and
    spec" and "Trigger template missing both ref and spec"."""
    both = listener(
        f"""
- name: t
  template:
    ref: tt
    spec:
      resourcetemplates:
{textwrap.indent(textwrap.dedent(RUN).strip(), " " * 8)}
"""
    )
    assert any("sets both ref and spec" in p for p in problems(write(tmp_path, both)))
    neither = listener("- {name: t, template: {}}")
    assert problems(write(tmp_path, neither))


# --- 3. $() nested inside a binding value -------------------------------------------------------

EVENT = event_data(b'{"a": "val1", "b": "val2", "key": "a"}', {"X": ["key"]}, None, "1234567")


@pytest.mark.parametrize(
    ("value", "want"),
    [
        # event_test.go, TestApplyEventValuesToParams
        ("$(body.a): $(body.b)", "val1: val2"),  # "param contains multiple JSONPath expressions"
        ("body.a is: $(body.a)", "body.a is: val1"),  # "... both static values and JSONPath expressions"
        # Nesting: only the innermost $() is an expression (jsonpath_test.go, TestFindTektonExpressions);
        # its value replaces it and the outer $( ) stay as text.
        ("$(body.$(header.x))", "$(body.key)"),
        ("$($(body.key))", "$(a)"),
        ("$(body.a)-$(body.b)", "val1-val2"),
    ],
)
def test_expressions_in_a_binding_value(value: str, want: str) -> None:
    assert resolve_params([("p", value)], EVENT, {}) == {"p": want}


@pytest.mark.parametrize(
    ("value", "expressions"),
    [("$($($(blahblah)))", ["$(blahblah)"]), ("$($())", ["$()"]), ("$())))", ["$()"])],
)
def test_find_expressions_nested_vectors(value: str, expressions: list[str]) -> None:
    """jsonpath_test.go, TestFindTektonExpressions."""
    assert find_expressions(value) == expressions


def test_an_expression_whose_value_holds_the_next_expression_is_replaced_again() -> None:
    """event.go replaces each expression in the value as it stands after the previous
    replacements (``strings.ReplaceAll`` on the running value)."""
    event = event_data(b'{"a": "$(body.b)", "b": "X"}', {}, None, "e")
    assert resolve_params([("p", "$(body.a)-$(body.b)")], event, {}) == {"p": "X-X"}
    assert resolve_params([("p", "$(body.b)-$(body.a)")], event, {}) == {"p": "X-$(body.b)"}


def test_nesting_is_refused_in_a_trigger_binding_but_not_inline(tmp_path: Path) -> None:
    """trigger_binding_validation_test.go, Test_TriggerBindingValidate_error, "invalid parameter
    further nested" (``$(body.test-$(body.param1))``): a TriggerBinding is refused. A trigger's
    own ``name``/``value`` binding is not validated that way by Tekton (trigger_validation.go),
    so the same value is accepted inline and resolves its innermost expression; the rendered
    template then escapes the outer ``$(`` as ``$$(``."""
    binding = """
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerBinding
metadata: {name: nested, namespace: ns}
spec:
  params:
  - {name: foo, value: "$(body.test-$(body.param1))"}
"""
    found = problems(write(tmp_path, binding))
    assert found == ["error: binding 'foo': '$(body.test-' has no closing ')' before the next '$('"]
    inline = listener(
        """
- name: t
  bindings: [{name: foo, value: "$(body.test-$(body.param1))"}]
  template:
    spec:
      params: [{name: foo}]
      resourcetemplates:
      - {apiVersion: v1, kind: ConfigMap, metadata: {name: cm}, data: {foo: "$(tt.params.foo)"}}
"""
    )
    path = write(tmp_path, inline)
    assert problems(path) == []
    (outcome,) = fire(load_config([path]), b'{"param1": "one"}')
    assert outcome.params == {"foo": "$(body.test-one)"}
    assert outcome.resources[0]["data"] == {"foo": "$$(body.test-one)"}


# --- 4. CEL truncate on bytes -------------------------------------------------------------------

TRUNCATE_BODY: dict[str, Any] = {
    "sha": "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
    "value": "testing",
    "unicode": "héllo",
    "pull_request": {"a": 1},
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("expression", "want"),
    [
        # cel_test.go, TestExpressionEvaluation
        ("body.sha.truncate(7)", ("string", "ec26c3e")),  # "truncate a long string"
        ("body.value.truncate(7)", ("string", "testing")),  # "truncate a string to its own length"
        ("body.sha.truncate(45)", ("string", "ec26c3e57ca3a959ca5aad62de7213c562f8c821")),
        ("body.value.split('/')[0].truncate(2)", ("string", "te")),  # "combine split and truncate"
        # triggers.go slices the Go string: bytes, so 'é' (c3 a9) is cut after its first byte
        ("bytes(body.unicode.truncate(2)) == b'h\\xc3'", ("bool", True)),
        ("body.unicode.truncate(2) == 'h\\ufffd'", ("bool", False)),
        ("size(body.unicode.truncate(2))", ("int", 2)),  # utf8.RuneCountInString
        ("size(bytes(body.unicode.truncate(2)))", ("int", 2)),
        ("body.unicode.truncate(2).truncate(9) == body.unicode.truncate(2)", ("bool", True)),
        ("body.unicode.truncate(3)", ("string", "hé")),
        ("body.unicode.truncate(2)", ("string", "h\ufffd")),  # as JSON: each cut byte is U+FFFD
        ("[body.unicode.truncate(2)].marshalJSON()", ("string", '["h\\ufffd"]')),
        ("body.unicode.truncate(2).matches('^h.$')", ("bool", True)),  # RE2 reads the byte as U+FFFD
    ],
)
def test_truncate(backend: str, expression: str, want: tuple[str, Any]) -> None:
    assert evaluate(backend, expression, TRUNCATE_BODY) == want


@pytest.mark.parametrize("backend", BACKENDS)
def test_truncate_errors(backend: str) -> None:
    """cel_test.go, TestExpressionEvaluation_Error, "truncate json": ``no such overload:
    truncate(map, int)``; bytes have no overload at all (only ``string.truncate(int)`` is
    declared), so a bytes receiver fails the check, or evaluation when it is dynamic."""
    with pytest.raises(Exception, match=r"no such overload: truncate\(map, int\)"):
        evaluate(backend, "body.pull_request.truncate(7)", TRUNCATE_BODY)
    with pytest.raises(
        Exception, match=r"found no matching overload for 'truncate' applied to 'bytes.\(int\)'"
    ):
        evaluate(backend, "b'abc'.truncate(2)", TRUNCATE_BODY)
    with pytest.raises(Exception, match=r"no such overload: truncate\(bytes, int\)"):
        evaluate(backend, "dyn(b'abc').truncate(2)", TRUNCATE_BODY)


def test_a_truncated_overlay_is_written_as_go_writes_it() -> None:
    """cel.go stores an overlay with ``json.Marshal``: the cut byte becomes U+FFFD."""
    cel = CelInterceptor(CelEnvironment())
    request = InterceptorRequest(
        body=b'{"unicode": "h\xc3\xa9llo"}',
        interceptor_params={"overlays": [{"key": "short", "expression": "body.unicode.truncate(2)"}]},
    )
    res = cel.process(request)
    assert (res.continue_, res.status.code, res.extensions) == (True, StatusCode.OK, {"short": "h\ufffd"})


# --- 6. an unresolvable binding -----------------------------------------------------------------


def test_missing_key_fails_with_tektons_message() -> None:
    """event_test.go, TestApplyEventValuesToParams_Error, "missing key" and "invalid extension":
    both fail; the text is event.go's around client-go's."""
    event = event_data(b"{}", {}, {"foo": "bar"}, "1234567")
    for value, error in (
        ("$(body.missing)", "missing is not found"),
        ("$(extensions.missing)", "missing is not found"),
    ):
        with pytest.raises(BindingError) as info:
            resolve_params([("foo", value)], event, {})
        assert str(info.value) == (
            "failed to ApplyEventValuesToParams: failed to replace JSONPath value for param foo: "
            f"{value}: {error}"
        )
    with pytest.raises(BindingError, match=r"^failed to ApplyEventValuesToParams: failed to marshal event: "):
        event_data(b"{blahblah}", {}, None, "1234567")  # "non JSON body"
