"""Field-level rules of each kind (Tekton's admission checks) and YAML details, table-driven."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kfp_triggers.config import check_config

RUN = "{apiVersion: pipelines.kubeflow.org/v2beta1, kind: Run}"
INLINE = f"template: {{spec: {{resourcetemplates: [{RUN}]}}}}"


def listener(trigger_lines: str, *, version: str = "v1beta1", name: str = "el") -> str:
    return (
        f"apiVersion: triggers.tekton.dev/{version}\nkind: EventListener\nmetadata: {{name: {name}}}\nspec:\n"
        "  triggers:\n" + textwrap.indent(textwrap.dedent(trigger_lines).strip("\n"), "    ") + "\n"
    )


def line(path: Path, needle: str) -> int:
    return next(i for i, text in enumerate(path.read_text().splitlines(), 1) if needle in text)


# (case id, YAML, severity, [(text on the expected line, words in the message)])
CASES: list[tuple[str, str, str, list[tuple[str, str]]]] = [
    (
        "binding ref and name together",
        listener(f"- name: t\n  bindings: [{{ref: b, name: n}}]\n  {INLINE}"),
        "error",
        [("bindings: [{ref: b, name: n}]", "sets both ref and name")],
    ),
    (
        "binding kind not a binding kind",
        listener(f"- name: t\n  bindings:\n    - ref: b\n      kind: ConfigMap\n  {INLINE}"),
        "error",
        [("kind: ConfigMap", "kind 'ConfigMap' is not valid")],
    ),
    (
        "TriggerBinding without spec and param without name",
        "apiVersion: triggers.tekton.dev/v1beta1  # a\nkind: TriggerBinding\nmetadata: {name: a}\n---\n"
        "apiVersion: triggers.tekton.dev/v1beta1\nkind: TriggerBinding\nmetadata: {name: b}\n"
        "spec:\n  params:\n    - value: lonely\n",
        "error",
        [("# a", "spec is required"), ("- value: lonely", "name is required")],
    ),
    (
        "interceptor ref kind and params",
        listener(
            f"""
            - name: t
              interceptors:
                - ref: {{name: cel, kind: Interceptor}}
                - ref: {{name: cel}}
                  params:
                    - value: no-name
              {INLINE}
            """
        ),
        "error",
        [("kind: Interceptor}", "ref.kind 'Interceptor' is not valid"), ("- value: no-name", "needs a name")],
    ),
    (
        "duplicate interceptor param: the last one is used",
        listener(
            f"""
            - name: t
              interceptors:
                - ref: {{name: cel}}
                  params:
                    - {{name: filter, value: "false"}}
                    - {{name: filter, value: "true"}}
              {INLINE}
            """
        ),
        "warning",
        [('value: "true"', "duplicate interceptor param 'filter'")],
    ),
    (
        "webhook objectRef details and header values",
        listener(
            f"""
            - name: t
              interceptors:
                - webhook:
                    objectRef:
                      kind: Pod
                      apiVersion: apps/v1
                    header:
                      - {{name: X-Empty, value: ""}}
              {INLINE}
            """
        ),
        "error",
        [
            ("objectRef:", "objectRef.name is required"),
            ("kind: Pod", "objectRef.kind must be Service"),
            ("apiVersion: apps/v1", "objectRef.apiVersion must be v1"),
            ("X-Empty", "value must be a non-empty string or list of strings"),
        ],
    ),
    (
        "cel params of the wrong shape",
        listener(
            f"""
            - name: t
              interceptors:
                - ref: {{name: cel}}
                  params:
                    - name: filter
                      value: [not, text]
                - ref: {{name: cel}}
                  params: [{{name: overlays, value: "key=value"}}]
                - ref: {{name: cel}}
                  params:
                    - name: overlays
                      value:
                        - {{key: only-key}}
                        - {{expression: "1"}}
              {INLINE}
            """
        ),
        "error",
        [
            ("value: [not, text]", "the cel filter must be a string, not a list"),
            ('value: "key=value"', "cel overlays must be a list"),
            ("- {key: only-key}", "overlays[0] needs an expression"),
            ('- {expression: "1"}', "overlays[1] needs a key"),
        ],
    ),
    (
        "template spec missing, empty, nameless param, non-string apiVersion",
        "apiVersion: triggers.tekton.dev/v1beta1  # a\nkind: TriggerTemplate\nmetadata: {name: a}\n---\n"
        "apiVersion: triggers.tekton.dev/v1beta1\nkind: TriggerTemplate\nmetadata: {name: b}\n"
        "spec:\n  params: [{description: nameless}]\n  resourcetemplates: []\n---\n"
        "apiVersion: triggers.tekton.dev/v1beta1\nkind: TriggerTemplate\nmetadata: {name: c}\n"
        "spec:\n  resourcetemplates:\n    - {apiVersion: 2, kind: Run}\n",
        "error",
        [
            ("# a", "spec is required"),
            ("params: [{description: nameless}]", "name is required"),
            ("resourcetemplates: []", "needs at least one resource"),
            ("apiVersion: 2", "apiVersion must be a string"),
        ],
    ),
    (
        "template param declared twice",
        "apiVersion: triggers.tekton.dev/v1beta1\nkind: TriggerTemplate\nmetadata: {name: t}\nspec:\n"
        f"  params:\n    - name: p\n    - name: p  # again\n  resourcetemplates: [{RUN}]\n",
        "warning",
        [("# again", "template param 'p' is declared twice (first at line 6)")],
    ),
    (
        "template ref and spec rules",
        listener(
            f"""
            - name: both
              template: {{ref: x, spec: {{resourcetemplates: [{RUN}]}}}}
            - name: empty-ref
              template: {{ref: ""}}
            - name: bad-version
              template: {{ref: tpl, apiversion: v2}}
            """
        )
        + "---\napiVersion: triggers.tekton.dev/v1beta1\nkind: TriggerTemplate\nmetadata: {name: tpl}\n"
        f"spec: {{resourcetemplates: [{RUN}]}}\n",
        "error",
        [
            ("template: {ref: x, spec:", "sets both ref and spec"),
            ('template: {ref: ""}', "needs ref (a TriggerTemplate) or spec"),
            ("apiversion: v2", "apiversion 'v2' is not valid"),
        ],
    ),
    (
        "listener trigger rules",
        listener(
            f"""
            - name: not a label
              {INLINE}
            - triggerRef: other
              bindings: [{{name: a, value: b}}]
            """,
            name="a-very-long-listener-name-that-goes-on-and-on-past-sixty-chars",
        ),
        "error",
        [
            ("metadata:", "is longer than 60 characters"),
            ("- name: not a label", "trigger name 'not a label' must be a valid label value"),
            ("bindings: [{name: a, value: b}]", "sets triggerRef and bindings"),
        ],
    ),
    (
        "selector details",
        "apiVersion: triggers.tekton.dev/v1beta1\nkind: EventListener\nmetadata: {name: el}\nspec:\n"
        "  namespaceSelector: {matchNames: [ok, 3]}\n"
        "  labelSelector:\n    matchExpressions:\n      - {operator: Exists}\n"
        "      - {key: k, operator: Exists, values: [v]}\n"
        "  triggerGroups:\n    - interceptors: [{ref: {name: cel}}]\n"
        "      triggerSelector: {labelSelector: {}}\n",
        "error",
        [
            ("matchNames: [ok, 3]", "matchNames[1] must be a name"),
            ("- {operator: Exists}", "key is required"),
            ("values: [v]", "operator Exists takes no values"),
            ("- interceptors:", "name is required"),
        ],
    ),
    (
        "wrong types",
        "apiVersion: triggers.tekton.dev/v1beta1\nkind: EventListener\nmetadata: {name: el}\nspec:\n"
        "  triggers: {not: a list}\n  namespaceSelector: [wrong]\n---\n"
        "apiVersion: triggers.tekton.dev/v1beta1\nkind: Trigger\nmetadata: {name: t, labels: {n: 1}}\n"
        f"spec:\n  serviceAccountName: [x]\n  interceptors: [just-text]\n  {INLINE}\n",
        "error",
        [
            ("triggers: {not: a list}", "spec.triggers must be a list, not a mapping"),
            ("namespaceSelector: [wrong]", "spec.namespaceSelector must be a mapping, not a list"),
            ("metadata: {name: t, labels", "metadata.labels.n must be a string"),
            ("serviceAccountName: [x]", "spec.serviceAccountName must be a string"),
            ("interceptors: [just-text]", "interceptors[0] must be a mapping, not a string"),
        ],
    ),
]


@pytest.mark.parametrize(("text", "severity", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_field_rules(tmp_path: Path, text: str, severity: str, expected: list[tuple[str, str]]) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    _config, problems = check_config([path])
    found = [(p.line, p.message) for p in problems if p.severity == severity]
    assert len(found) == len(expected), found
    for needle, words in expected:
        at = line(path, needle)
        assert any(ln == at and words in msg for ln, msg in found), (at, words, found)


def test_group_with_an_unresolvable_interceptor_is_left_out(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "apiVersion: triggers.tekton.dev/v1beta1\nkind: EventListener\nmetadata: {name: el}\nspec:\n"
        "  triggerGroups:\n    - name: g\n      interceptors: [{ref: {name: missing}}]\n"
        "      triggerSelector: {labelSelector: {}}\n"
    )
    config, problems = check_config([path])
    assert config is not None
    assert [p.line for p in problems] == [7]
    assert config.groups_for(config.listener()) == []


def test_yaml_details_merge_keys_nulls_keys_and_empty_documents(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "# a comment-only document\n---\n---\n"
        "apiVersion: triggers.tekton.dev/v1beta1\n"
        "kind: TriggerBinding\n"
        "metadata: {name: base, labels: &labels {team: ml}}\n"
        "spec:\n"
        "  params:\n"
        "    - &param {name: a, value: x}\n"
        "---\n"
        "apiVersion: triggers.tekton.dev/v1beta1\n"
        "kind: TriggerBinding\n"
        "metadata: {name: derived}\n"
        "spec:\n"
        "  params:\n"
        "    - {name: empty, value: ~}\n"
        "    - {name: hex, value: 0x10}\n"
        "    - {name: when, value: 2024-01-02}\n"
        "    - {name: switch, value: on}\n"
        "---\n"
        "apiVersion: triggers.tekton.dev/v1beta1\n"
        "kind: EventListener\n"
        "metadata:\n"
        "  name: el\n"
        "  labels:\n"
        "    <<: [{team: web, tier: dev}, &owner {owner: me}]\n"
        "    team: data\n"
        "  annotations: {<<: *owner, 2: two, yes: y, ~: n}\n"
        "spec: {labelSelector: {}}\n"
    )
    config, problems = check_config([path])
    assert config is not None
    assert problems == []
    derived = config.bindings[("TriggerBinding", "default", "derived")]
    assert [(p.name, p.value) for p in derived.params] == [
        ("empty", ""),
        ("hex", "16"),
        ("when", "2024-01-02"),
        ("switch", "true"),
    ]
    el = config.listener()
    assert el.labels == {"team": "data", "tier": "dev", "owner": "me"}
    assert el.annotations == {"2": "two", "true": "y", "null": "n", "owner": "me"}


def test_bad_merge_key_and_complex_key(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "apiVersion: triggers.tekton.dev/v1beta1\nkind: TriggerBinding\n"
        "metadata:\n  name: b\n  <<: [just, text]\n  ? [complex]\n  : key\n"
        "spec: {params: [{name: a, value: b}]}\n"
    )
    _config, problems = check_config([path])
    assert [(p.line, p.message) for p in problems] == [
        (5, "a merge key '<<' needs a mapping or a list of mappings"),
        (6, "a mapping key must be a plain value, not a mapping or a list"),
    ]
