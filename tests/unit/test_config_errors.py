"""Broken configurations: every problem is found, with the right file, line and message."""

from __future__ import annotations

import textwrap
from pathlib import Path
from textwrap import dedent

import pytest

from kfp_triggers.config import ValidationHooks, check_config, load_config
from kfp_triggers.errors import ConfigError, Problem

RUN = "{apiVersion: pipelines.kubeflow.org/v2beta1, kind: Run}"
TEMPLATE = f"""
---
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata: {{name: tpl}}
spec:
  params: [{{name: a, default: x}}]
  resourcetemplates: [{RUN}]
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def line(path: Path, needle: str) -> int:
    return next(i for i, text in enumerate(path.read_text().splitlines(), 1) if needle in text)


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


# (case id, YAML, [(text on the expected line, words the message must contain)])
ERROR_CASES: list[tuple[str, str, list[tuple[str, str]]]] = [
    (
        "unknown kind in the triggers group",
        "apiVersion: triggers.tekton.dev/v1beta1\nkind: TriggerRun\nmetadata: {name: x}\n",
        [("kind: TriggerRun", "unknown kind 'TriggerRun'")],
    ),
    (
        "unknown version",
        "apiVersion: triggers.tekton.dev/v1\nkind: Trigger\nmetadata: {name: x}\n",
        [("apiVersion: triggers", "not served as triggers.tekton.dev/v1")],
    ),
    (
        "ClusterInterceptor only exists in v1alpha1",
        "apiVersion: triggers.tekton.dev/v1beta1\nkind: ClusterInterceptor\nmetadata: {name: x}\n",
        [("apiVersion: triggers", "versions: v1alpha1")],
    ),
    ("document that is not a mapping", "- just\n- a list\n", [("- just", "must be a mapping")]),
    ("document without kind", "apiVersion: v1\nmetadata: {name: x}\n", [("apiVersion", "has no kind")]),
    (
        "missing metadata.name",
        "apiVersion: triggers.tekton.dev/v1beta1\nkind: TriggerBinding\nmetadata:\n  namespace: ci\n"
        "spec: {params: [{name: a, value: b}]}\n",
        [("namespace: ci", "needs metadata.name")],
    ),
    (
        "duplicate names",
        "apiVersion: triggers.tekton.dev/v1beta1\nkind: TriggerBinding\nmetadata: {name: b}\n"
        "spec: {params: [{name: a, value: b}]}\n---\n"
        "apiVersion: triggers.tekton.dev/v1alpha1\nkind: TriggerBinding\nmetadata:\n  name: b\n"
        "spec: {params: [{name: a, value: b}]}\n",
        [("  name: b", "duplicate TriggerBinding 'default/b'")],
    ),
    (
        "binding entry with neither ref nor name",
        dedent("""
        apiVersion: triggers.tekton.dev/v1beta1
        kind: Trigger
        metadata: {name: t}
        spec:
          bindings:
            - value: $(body.a)
          template: {ref: tpl}
        """)
        + TEMPLATE,
        [("- value: $(body.a)", "needs either ref")],
    ),
    (
        "inline binding without value",
        dedent("""
        apiVersion: triggers.tekton.dev/v1beta1
        kind: Trigger
        metadata: {name: t}
        spec:
          bindings:
            - name: lonely
          template: {ref: tpl}
        """)
        + TEMPLATE,
        [("- name: lonely", "binding 'lonely') needs a value")],
    ),
    (
        "listener trigger with neither template nor triggerRef",
        """
        apiVersion: triggers.tekton.dev/v1beta1
        kind: EventListener
        metadata: {name: el}
        spec:
          triggers:
            - name: nothing
              bindings: [{name: a, value: b}]
        """,
        [("- name: nothing", "needs a template or a triggerRef")],
    ),
    (
        "Trigger with neither template ref nor spec",
        """
        apiVersion: triggers.tekton.dev/v1beta1
        kind: Trigger
        metadata: {name: t}
        spec:
          bindings: []
        """,
        [("bindings: []", "needs a template")],
    ),
    (
        "resourcetemplate without apiVersion and kind",
        """
        apiVersion: triggers.tekton.dev/v1beta1
        kind: TriggerTemplate
        metadata: {name: t}
        spec:
          resourcetemplates:
            - metadata: {name: x}
        """,
        [("- metadata: {name: x}", "needs an apiVersion"), ("- metadata: {name: x}", "needs a kind")],
    ),
    (
        "interceptor with neither ref nor webhook",
        dedent("""
        apiVersion: triggers.tekton.dev/v1beta1
        kind: Trigger
        metadata: {name: t}
        spec:
          interceptors:
            - name: anonymous
              params: [{name: filter, value: "true"}]
          template: {ref: tpl}
        """)
        + TEMPLATE,
        [("- name: anonymous", "needs ref.name")],
    ),
    (
        "duplicate param in one binding",
        """
        apiVersion: triggers.tekton.dev/v1beta1
        kind: TriggerBinding
        metadata: {name: b}
        spec:
          params:
            - {name: a, value: "1"}
            - {name: a, value: "2"}
        """,
        [('- {name: a, value: "2"}', "duplicate binding param 'a'")],
    ),
    (
        "duplicate param across a trigger's bindings",
        dedent("""
        apiVersion: triggers.tekton.dev/v1beta1
        kind: TriggerBinding
        metadata: {name: b}
        spec:
          params:
            - {name: a, value: "1"}
        ---
        apiVersion: triggers.tekton.dev/v1beta1
        kind: Trigger
        metadata: {name: t}
        spec:
          bindings:
            - ref: b
            - name: a
              value: again
          template: {ref: tpl}
        """)
        + TEMPLATE,
        [("value: again", "duplicate binding param 'a' in trigger 't'")],
    ),
    (
        "undeclared template param",
        """
        apiVersion: triggers.tekton.dev/v1beta1
        kind: TriggerTemplate
        metadata: {name: t}
        spec:
          params: [{name: known}]
          resourcetemplates:
            - apiVersion: pipelines.kubeflow.org/v2beta1
              kind: Run
              spec:
                display_name: $(tt.params.known)
                description: $(tt.params.unknown-one)
        """,
        [("description:", "undeclared param '$(tt.params.unknown-one)'")],
    ),
    (
        "array default",
        f"""
        apiVersion: triggers.tekton.dev/v1beta1
        kind: TriggerTemplate
        metadata: {{name: t}}
        spec:
          params:
            - name: list
              default: [a, b]
          resourcetemplates: [{RUN}]
        """,
        [("default: [a, b]", "array and object params are not supported")],
    ),
    (
        "unresolvable refs",
        """
        apiVersion: triggers.tekton.dev/v1beta1
        kind: EventListener
        metadata: {name: el, namespace: ci}
        spec:
          triggers:
            - name: t
              interceptors:
                - ref: {name: nowhere}
                - ref: {name: cel, kind: NamespacedInterceptor}
              bindings:
                - ref: missing-binding
                - ref: missing-cluster-binding
                  kind: ClusterTriggerBinding
              template: {ref: missing-template}
        """,
        [
            ("name: nowhere", "interceptor 'nowhere' is neither a core interceptor"),
            ("kind: NamespacedInterceptor", "NamespacedInterceptor 'cel' is not defined"),
            ("ref: missing-binding", "TriggerBinding 'missing-binding' not found in namespace 'ci'"),
            ("ref: missing-cluster-binding", "ClusterTriggerBinding 'missing-cluster-binding' not found"),
            ("ref: missing-template", "TriggerTemplate 'missing-template' not found in namespace 'ci'"),
        ],
    ),
    (
        "a binding ref finds nothing in another namespace",
        dedent("""
        apiVersion: triggers.tekton.dev/v1beta1
        kind: TriggerBinding
        metadata: {name: b, namespace: other}
        spec: {params: [{name: a, value: b}]}
        ---
        apiVersion: triggers.tekton.dev/v1beta1
        kind: Trigger
        metadata: {name: t}
        spec:
          bindings: [{ref: b}]
          template: {ref: tpl}
        """)
        + TEMPLATE,
        [("bindings: [{ref: b}]", "TriggerBinding 'b' not found in namespace 'default'")],
    ),
    (
        "bad label selector operator and payload-validation value",
        """
        apiVersion: triggers.tekton.dev/v1beta1
        kind: EventListener
        metadata:
          name: el
          annotations: {tekton.dev/payload-validation: "no"}
        spec:
          labelSelector:
            matchExpressions:
              - {key: a, operator: Equals, values: [b]}
              - {key: c, operator: In}
        """,
        [
            ("name: el", "must be 'true' or 'false'"),
            ("operator: Equals", "operator 'Equals' is not valid"),
            ("operator: In}", "operator In needs a non-empty values list"),
        ],
    ),
    (
        "ingest annotations with values they cannot take",
        """
        apiVersion: triggers.tekton.dev/v1beta1
        kind: EventListener
        metadata:
          name: el
          annotations: {kfp-triggers.dev/accepted-status: "302", kfp-triggers.dev/verify-at-ingest: "yes"}
        spec:
          triggers: [{name: t, template: {ref: tpl}}]
        """
        + TEMPLATE,
        [
            ("name: el", "kfp-triggers.dev/accepted-status must be one of 200, 201, 202, 204, not '302'"),
            ("name: el", "kfp-triggers.dev/verify-at-ingest must be 'true' or 'false'"),
        ],
    ),
    (
        "concurrency annotations that do not make sense",
        dedent(
            """
            apiVersion: triggers.tekton.dev/v1beta1
            kind: EventListener
            metadata:
              name: el
              annotations:
                kfp-triggers.dev/concurrency-policy: queue
                kfp-triggers.dev/concurrency-limit: "3"
            spec:
              triggers: [{name: t, template: {ref: tpl}}]
            ---
            apiVersion: triggers.tekton.dev/v1beta1
            kind: Trigger
            metadata:
              name: bad-values
              annotations:
                kfp-triggers.dev/concurrency-group: "$(body.ref)"
                kfp-triggers.dev/concurrency-policy: cancel
                kfp-triggers.dev/max-running: "0"
                kfp-triggers.dev/concurrency-action: stop
            spec: {template: {ref: tpl}}
            ---
            apiVersion: triggers.tekton.dev/v1beta1
            kind: Trigger
            metadata:
              name: not-a-queue
              annotations:
                kfp-triggers.dev/concurrency-group: "$(tt.params.a)"
                kfp-triggers.dev/concurrency-policy: skip
                kfp-triggers.dev/max-running: "2"
            spec: {template: {ref: tpl}}
            ---
            apiVersion: triggers.tekton.dev/v1beta1
            kind: Trigger
            metadata:
              name: undeclared
              annotations: {kfp-triggers.dev/concurrency-group: "$(tt.params.a)/$(tt.params.branch)"}
            spec: {template: {ref: tpl}}
            """
        )
        + TEMPLATE,
        [
            ("name: el", "unknown annotation kfp-triggers.dev/concurrency-limit"),
            ("name: el", "needs kfp-triggers.dev/concurrency-group"),
            ("name: bad-values", "may only reference $(tt.params.<name>), not $(body.ref)"),
            ("name: bad-values", "concurrency-policy must be one of allow, cancel-in-progress, queue"),
            ("name: bad-values", "max-running must be a whole number from 1 to 1000, not '0'"),
            ("name: bad-values", "concurrency-action must be one of launch, cancel-group, not 'stop'"),
            ("name: not-a-queue", "max-running applies to the queue and queue-latest policies, not skip"),
            ("name: undeclared", "uses $(tt.params.branch), which its template does not declare"),
        ],
    ),
    (
        "rate limits and debounce windows that do not make sense",
        dedent(
            """
            apiVersion: triggers.tekton.dev/v1beta1
            kind: Trigger
            metadata:
              name: bad-rate
              annotations:
                kfp-triggers.dev/rate-limit: "ten per hour"
                kfp-triggers.dev/debounce: "30 seconds"
            spec: {template: {ref: tpl}}
            ---
            apiVersion: triggers.tekton.dev/v1beta1
            kind: Trigger
            metadata:
              name: out-of-range
              annotations:
                kfp-triggers.dev/rate-limit: "0/1h"
                kfp-triggers.dev/debounce: "8d"
            spec: {template: {ref: tpl}}
            ---
            apiVersion: triggers.tekton.dev/v1beta1
            kind: Trigger
            metadata:
              name: skipping
              annotations:
                kfp-triggers.dev/concurrency-group: "g"
                kfp-triggers.dev/concurrency-policy: skip
                kfp-triggers.dev/debounce: "30s"
            spec: {template: {ref: tpl}}
            """
        )
        + TEMPLATE,
        [
            ("name: bad-rate", "rate-limit must be N/DURATION (at most N launches per window, as 10/1h)"),
            ("name: bad-rate", "debounce must be a duration up to 7 days (as 30s or 5m), not '30 seconds'"),
            ("name: out-of-range", "rate-limit must be N/DURATION"),
            ("name: out-of-range", "debounce must be a duration up to 7 days (as 30s or 5m), not '8d'"),
            ("name: skipping", "they do not combine with the skip policy"),
        ],
    ),
    (
        "listener that selects nothing",
        "apiVersion: triggers.tekton.dev/v1beta1\nkind: EventListener\nmetadata: {name: el}\nspec:\n"
        "  serviceAccountName: sa\n",
        [("serviceAccountName: sa", "needs triggers, triggerGroups, namespaceSelector or labelSelector")],
    ),
    (
        "trigger group without interceptors or selector",
        """
        apiVersion: triggers.tekton.dev/v1beta1
        kind: EventListener
        metadata: {name: el}
        spec:
          triggerGroups:
            - name: g
        """,
        [
            ("- name: g", "interceptors is required"),
            ("- name: g", "needs labelSelector or namespaceSelector"),
        ],
    ),
    (
        "webhook without a Service objectRef and with a bad header",
        dedent("""
        apiVersion: triggers.tekton.dev/v1beta1
        kind: Trigger
        metadata: {name: t}
        spec:
          interceptors:
            - webhook:
                url: http://x.example
                header:
                  - {name: x-lower, value: v}
          template: {ref: tpl}
        """)
        + TEMPLATE,
        [
            ("url: http://x.example", "objectRef is required"),
            ("name: x-lower", "not a canonical header name (write it as 'X-Lower')"),
        ],
    ),
    (
        "legacy interceptor form in v1beta1",
        dedent("""
        apiVersion: triggers.tekton.dev/v1beta1
        kind: Trigger
        metadata: {name: t}
        spec:
          interceptors:
            - github:
                eventTypes: [push]
          template: {ref: tpl}
        """)
        + TEMPLATE,
        [("- github:", "is the v1alpha1 interceptor form"), ("- github:", "needs ref.name")],
    ),
    (
        "YAML duplicate key",
        "apiVersion: triggers.tekton.dev/v1beta1\nkind: TriggerBinding\nkind: Trigger  # again\n"
        "metadata: {name: b}\nspec: {params: [{name: a, value: b}]}\n",
        [("# again", "duplicate key 'kind' (first at line 2)")],
    ),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_error_is_reported_at_its_line(tmp_path: Path, text: str, expected: list[tuple[str, str]]) -> None:
    path = write(tmp_path / "config.yaml", text)
    _config, problems = check_config([path])
    found = sorted((p.line, p.message) for p in errors(problems))
    assert len(found) == len(expected), found
    for want_needle, want_words in expected:
        want_line = line(path, want_needle)
        assert any(ln == want_line and want_words in msg for ln, msg in found), (want_line, want_words, found)
    assert all(p.file == str(path) for p in errors(problems))
    with pytest.raises(ConfigError) as raised:
        load_config([path])
    assert raised.value.problems == problems


def test_yaml_syntax_error_names_its_line_and_other_files_still_load(tmp_path: Path) -> None:
    good = write(
        tmp_path / "a.yaml",
        "apiVersion: triggers.tekton.dev/v1beta1\nkind: TriggerBinding\n"
        "metadata: {name: b}\nspec: {params: [{name: a, value: b}]}\n",
    )
    bad = write(tmp_path / "b.yaml", "apiVersion: v1\nkind: ConfigMap\ndata:\n  key: [unclosed\n  other: 1\n")
    config, problems = check_config([tmp_path])
    assert config is not None
    assert ("TriggerBinding", "default", "b") in config.bindings
    (problem,) = problems
    assert problem.file == str(bad)
    assert problem.line == 5
    assert problem.message.startswith("YAML syntax error")
    assert good != bad


def test_several_problems_in_one_file_are_all_reported_in_order(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.yaml",
        """
        apiVersion: triggers.tekton.dev/v1beta1
        kind: Mystery
        metadata: {name: m}
        ---
        apiVersion: triggers.tekton.dev/v1beta1
        kind: TriggerBinding
        metadata: {name: b}
        spec:
          params:
            - {name: p, value: [not, a, string]}
        ---
        apiVersion: triggers.tekton.dev/v1beta1
        kind: Trigger
        metadata: {name: t}
        spec:
          bindings: [{ref: b}, {ref: gone}]
          template: {ref: gone-too}
        """,
    )
    _config, problems = check_config([path])
    assert [(p.line, p.severity) for p in problems] == [
        (2, "error"),
        (line(path, "not, a, string"), "error"),
        (line(path, "{ref: gone}"), "error"),
        (line(path, "ref: gone-too"), "error"),
    ]
    assert "must be a string" in problems[1].message


def test_problems_are_sorted_by_file_then_line(tmp_path: Path) -> None:
    for name in ("b.yaml", "a.yaml"):
        write(
            tmp_path / name,
            "apiVersion: triggers.tekton.dev/v1beta1\nkind: Nope\n---\n"
            "apiVersion: triggers.tekton.dev/v1beta1\nkind: AlsoNope\n",
        )
    _config, problems = check_config([tmp_path])
    assert [(Path(p.file).name, p.line) for p in problems] == [
        ("a.yaml", 2),
        ("a.yaml", 5),
        ("b.yaml", 2),
        ("b.yaml", 5),
    ]


LISTENER_WITH_EXPRESSIONS = """
apiVersion: triggers.tekton.dev/v1alpha1
kind: EventListener
metadata: {name: el}
spec:
  triggers:
    - name: t
      interceptors:
        - ref: {name: cel}
          params:
            - name: filter
              value: "bad filter ("
            - name: overlays
              value:
                - key: k
                  expression: "bad overlay ("
        - cel:
            filter: "legacy bad ("
            overlays:
              - {key: k2, expression: "legacy overlay ("}
        - cel:
            filter: "good"
      bindings:
        - name: p
          value: "$(body.broken"
      template:
        spec:
          params: [{name: p}]
          resourcetemplates: [{apiVersion: pipelines.kubeflow.org/v2beta1, kind: Run}]
---
apiVersion: triggers.tekton.dev/v1alpha1
kind: TriggerBinding
metadata: {name: b}
spec:
  params:
    - name: q
      value: "$(header.also-broken"
"""


def test_hooks_check_every_binding_value_and_cel_expression(tmp_path: Path) -> None:
    path = write(tmp_path / "c.yaml", LISTENER_WITH_EXPRESSIONS)
    seen_bindings: list[str] = []
    seen_cel: list[str] = []

    def binding_check(value: str, *, inline: bool = False) -> list[str]:
        seen_bindings.append(value)
        return ["unterminated $("] if value.count("(") > value.count(")") else []

    def cel_check(expression: str) -> str | None:
        seen_cel.append(expression)
        return "syntax error" if expression.endswith("(") else None

    _config, problems = check_config([path], ValidationHooks(binding_check, cel_check))
    assert sorted(seen_bindings) == ["$(body.broken", "$(header.also-broken"]
    assert seen_cel == ["bad filter (", "bad overlay (", "legacy bad (", "legacy overlay (", "good"]
    found = [(p.line, p.message) for p in errors(problems)]
    expected_lines = [
        line(path, '"bad filter ("'),
        line(path, '"bad overlay ("'),
        line(path, '"legacy bad ("'),
        line(path, '"legacy overlay ("'),
        line(path, '"$(body.broken"'),
        line(path, '"$(header.also-broken"'),
    ]
    assert [ln for ln, _ in found] == expected_lines
    assert "invalid CEL expression: syntax error" in found[0][1]
    assert "binding 'p': unterminated $(" in found[4][1]
    assert "binding 'q': unterminated $(" in found[5][1]


def test_without_hooks_expressions_are_not_checked(tmp_path: Path) -> None:
    path = write(tmp_path / "c.yaml", LISTENER_WITH_EXPRESSIONS)
    config, problems = check_config([path])
    assert errors(problems) == []
    assert config is not None


def test_a_raising_hook_is_reported_not_raised(tmp_path: Path) -> None:
    path = write(tmp_path / "c.yaml", LISTENER_WITH_EXPRESSIONS)

    def explode(_expression: str) -> str | None:
        raise RuntimeError("boom")

    _config, problems = check_config([path], ValidationHooks(cel_expression=explode))
    assert len(errors(problems)) == 5
    assert all("RuntimeError: boom" in p.message for p in errors(problems))


WARNING_CASES: list[tuple[str, str, list[tuple[str, str]]]] = [
    (
        "template param nobody provides",
        """
        apiVersion: triggers.tekton.dev/v1beta1
        kind: Trigger
        metadata: {name: t}
        spec:
          bindings: [{name: given, value: x}]
          template:
            spec:
              params:
                - name: given
                - name: orphan
                - {name: defaulted, default: d}
              resourcetemplates:
                - apiVersion: pipelines.kubeflow.org/v2beta1
                  kind: Run
                  spec: {display_name: "$(tt.params.orphan)"}
        """,
        [("- name: orphan", "template param 'orphan' has no default and no binding of trigger 't'")],
    ),
    (
        "missing triggerRef",
        """
        apiVersion: triggers.tekton.dev/v1beta1
        kind: EventListener
        metadata: {name: el}
        spec:
          triggers:
            - triggerRef: not-there
        """,
        [("triggerRef: not-there", "no Trigger of that name in namespace 'default'; it is skipped")],
    ),
    (
        "resource no launcher can start",
        """
        apiVersion: triggers.tekton.dev/v1beta1
        kind: TriggerTemplate
        metadata: {name: t}
        spec:
          resourcetemplates:
            - apiVersion: tekton.dev/v1
              kind: PipelineRun
            - apiVersion: pipelines.kubeflow.org/v2beta1
              kind: Run
        """,
        [("kind: PipelineRun", "tekton.dev/v1 PipelineRun: no launcher can start it")],
    ),
    (
        "signature interceptors without secretRef",
        """
        apiVersion: triggers.tekton.dev/v1alpha1
        kind: Trigger
        metadata: {name: t}
        spec:
          interceptors:
            - ref: {name: github}
              params: [{name: eventTypes, value: [push]}]
            - gitlab: {eventTypes: [Push Hook]}
            - ref: {name: bitbucket}
            - ref: {name: github}
              params: [{name: secretRef, value: {secretName: s, secretKey: k}}]
          template:
            spec:
              resourcetemplates: [{apiVersion: pipelines.kubeflow.org/v2beta1, kind: Run}]
        """,
        [
            ("- ref: {name: github}", "the github interceptor has no secretRef"),
            ("- gitlab:", "the gitlab interceptor has no secretRef"),
            ("- ref: {name: bitbucket}", "the bitbucket interceptor has no secretRef"),
        ],
    ),
    (
        "unknown fields are ignored with a warning",
        """
        apiVersion: triggers.tekton.dev/v1beta1
        kind: TriggerBinding
        metadata: {name: b}
        spec:
          params:
            - {name: a, value: b}
          parms: []
        """,
        [("parms: []", "unknown field 'parms' in spec is ignored")],
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in WARNING_CASES], ids=[c[0] for c in WARNING_CASES]
)
def test_warning_is_reported_and_config_still_loads(
    tmp_path: Path, text: str, expected: list[tuple[str, str]]
) -> None:
    path = write(tmp_path / "config.yaml", text)
    config = load_config([path])
    found = [(p.line, p.message) for p in config.warnings]
    assert all(p.severity == "warning" for p in config.warnings)
    assert len(found) == len(expected), found
    for (want_needle, want_words), (got_line, got_message) in zip(expected, found, strict=True):
        assert got_line == line(path, want_needle)
        assert want_words in got_message


def test_missing_trigger_ref_is_skipped_but_the_rest_runs(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.yaml",
        f"""
        apiVersion: triggers.tekton.dev/v1beta1
        kind: EventListener
        metadata: {{name: el}}
        spec:
          triggers:
            - triggerRef: not-there
            - name: real
              template:
                spec: {{resourcetemplates: [{RUN}]}}
        """,
    )
    config = load_config([path])
    assert [t.name for t in config.triggers_for(config.listener())] == ["real"]


def test_unreadable_text_and_recursive_aliases_are_reported(tmp_path: Path) -> None:
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(
        b"apiVersion: triggers.tekton.dev/v1beta1\nkind: TriggerBinding\nmetadata: {name: \xff}\n"
    )
    loop = write(
        tmp_path / "loop.yaml",
        """
        apiVersion: triggers.tekton.dev/v1beta1
        kind: TriggerBinding
        metadata: {name: b, labels: &l {x: *l}}
        spec: {params: [{name: a, value: b}]}
        """,
    )
    bom = tmp_path / "bom.yaml"
    bom.write_bytes(
        b"\xef\xbb\xbfapiVersion: triggers.tekton.dev/v1beta1\nkind: TriggerBinding\n"
        b"metadata: {name: bom}\nspec: {params: [{name: a, value: b}]}\n"
    )
    config, problems = check_config([tmp_path])
    assert config is not None
    assert [(Path(p.file).name, p.line, p.message) for p in problems] == [
        ("latin.yaml", 0, "file is not UTF-8 text: invalid start byte"),
        ("loop.yaml", 3, "recursive YAML alias"),
    ]
    assert ("TriggerBinding", "default", "bom") in config.bindings
    assert loop.exists()


def test_core_interceptor_names_are_not_overridden(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.yaml",
        f"""
        apiVersion: triggers.tekton.dev/v1alpha1
        kind: ClusterInterceptor
        metadata: {{name: cel}}
        spec:
          clientConfig:
            service: {{name: tekton-triggers-core-interceptors, namespace: tekton-pipelines, path: cel}}
        ---
        apiVersion: triggers.tekton.dev/v1beta1
        kind: EventListener
        metadata: {{name: el}}
        spec:
          triggers:
            - name: t
              interceptors: [{{ref: {{name: cel}}, params: [{{name: filter, value: 'true'}}]}}]
              template: {{spec: {{resourcetemplates: [{RUN}]}}}}
        """,
    )
    config = load_config([path])
    assert [(w.line, "name of a core interceptor" in w.message) for w in config.warnings] == [(1, True)]
    (trigger,) = config.triggers_for(config.listener())
    assert (trigger.interceptors[0].ref_name, trigger.interceptors[0].url) == ("cel", None)
    assert trigger.name == "t"
    assert trigger.trigger_id == "namespaces/default/triggers/t"
