"""Which triggers a listener (or trigger group) runs: Tekton's selectTriggers, case by case."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kfp_triggers.config import check_config, load_config
from kfp_triggers.config.models import LabelSelector, Requirement

RUN_SPEC = "{resourcetemplates: [{apiVersion: pipelines.kubeflow.org/v2beta1, kind: Run}]}"


def trigger(namespace: str, name: str, labels: str) -> str:
    return f"""
---
apiVersion: triggers.tekton.dev/v1beta1
kind: Trigger
metadata: {{name: {name}, namespace: {namespace}, labels: {labels}}}
spec: {{template: {{spec: {RUN_SPEC}}}}}
"""


TRIGGERS = "".join(
    [
        trigger("default", "d-ml", "{team: ml, tier: prod}"),
        trigger("default", "d-web", "{team: web}"),
        trigger("foo", "f-ml", "{team: ml}"),
        trigger("foo", "f-none", "{}"),
        trigger("bar", "b-ml", "{team: ml, tier: dev}"),
    ]
)

# (case id, EventListener spec lines, expected trigger ids "<ns>/<name>")
CASES = [
    ("no selector: only spec.triggers", "triggers: [{triggerRef: d-web}]", ["default/d-web"]),
    ("labelSelector alone: listener namespace", "labelSelector: {matchLabels: {team: ml}}", ["default/d-ml"]),
    (
        "empty labelSelector: all of the listener namespace",
        "labelSelector: {}",
        ["default/d-ml", "default/d-web"],
    ),
    (
        "matchNames without labels: every trigger there",
        "namespaceSelector: {matchNames: [foo]}",
        ["foo/f-ml", "foo/f-none"],
    ),
    (
        "matchNames in listed order",
        "namespaceSelector: {matchNames: [foo, bar]}\nlabelSelector: {matchLabels: {team: ml}}",
        ["foo/f-ml", "bar/b-ml"],
    ),
    (
        "star: every namespace",
        "namespaceSelector: {matchNames: ['*']}\nlabelSelector: {matchLabels: {team: ml}}",
        ["bar/b-ml", "default/d-ml", "foo/f-ml"],
    ),
    (
        "star among other names is a literal namespace",
        "namespaceSelector: {matchNames: ['*', foo]}",
        ["foo/f-ml", "foo/f-none"],
    ),
    (
        "In",
        "namespaceSelector: {matchNames: ['*']}\n"
        "labelSelector: {matchExpressions: [{key: tier, operator: In, values: [dev, test]}]}",
        ["bar/b-ml"],
    ),
    (
        "NotIn matches absent labels too",
        "namespaceSelector: {matchNames: ['*']}\n"
        "labelSelector: {matchExpressions: [{key: tier, operator: NotIn, values: [prod]}]}",
        ["bar/b-ml", "default/d-web", "foo/f-ml", "foo/f-none"],
    ),
    (
        "Exists",
        "namespaceSelector: {matchNames: ['*']}\n"
        "labelSelector: {matchExpressions: [{key: tier, operator: Exists}]}",
        ["bar/b-ml", "default/d-ml"],
    ),
    (
        "DoesNotExist with matchLabels",
        "namespaceSelector: {matchNames: ['*']}\n"
        "labelSelector:\n  matchLabels: {team: ml}\n"
        "  matchExpressions: [{key: tier, operator: DoesNotExist}]",
        ["foo/f-ml"],
    ),
    (
        "spec.triggers first, then selected, duplicates kept",
        "triggers: [{triggerRef: d-ml}]\nlabelSelector: {matchLabels: {team: ml}}",
        ["default/d-ml", "default/d-ml"],
    ),
    (
        "a name listed twice selects twice",
        "namespaceSelector: {matchNames: [bar, bar]}",
        ["bar/b-ml", "bar/b-ml"],
    ),
]


@pytest.mark.parametrize(("spec", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_listener_selection(tmp_path: Path, spec: str, expected: list[str]) -> None:
    listener = (
        "apiVersion: triggers.tekton.dev/v1beta1\nkind: EventListener\nmetadata: {name: el}\nspec:\n"
        + textwrap.indent(spec, "  ")
        + "\n"
    )
    path = tmp_path / "c.yaml"
    path.write_text(listener + TRIGGERS)
    config = load_config([path])
    got = [f"{t.namespace}/{t.name}" for t in config.triggers_for(config.listener())]
    assert got == expected


def test_group_selection_uses_the_same_rules(tmp_path: Path) -> None:
    listener = """apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: el, namespace: foo}
spec:
  triggerGroups:
    - name: ml-everywhere
      interceptors: [{ref: {name: cel}, params: [{name: filter, value: 'true'}]}]
      triggerSelector:
        namespaceSelector: {matchNames: ['*']}
        labelSelector: {matchLabels: {team: ml}}
    - name: local
      interceptors: [{ref: {name: cel}}]
      triggerSelector:
        labelSelector: {}
"""
    path = tmp_path / "c.yaml"
    path.write_text(listener + TRIGGERS)
    config = load_config([path])
    listener_model = config.listener()
    assert config.triggers_for(listener_model) == []
    groups = config.groups_for(listener_model)
    assert [(g.name, [f"{t.namespace}/{t.name}" for t in g.triggers]) for g in groups] == [
        ("ml-everywhere", ["bar/b-ml", "default/d-ml", "foo/f-ml"]),
        ("local", ["foo/f-ml", "foo/f-none"]),
    ]
    assert groups[1].trigger_id == "namespaces/foo/triggerGroups/local"


def test_namespaced_interceptor_is_found_in_the_listener_namespace(tmp_path: Path) -> None:
    text = """apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: el, namespace: ci}
spec:
  namespaceSelector: {matchNames: [team]}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: Trigger
metadata: {name: t, namespace: team}
spec:
  interceptors: [{ref: {name: check, kind: NamespacedInterceptor}}]
  template: {spec: RUN_SPEC}
---
apiVersion: triggers.tekton.dev/v1alpha1
kind: Interceptor
metadata: {name: check, namespace: ci}
spec: {clientConfig: {url: "http://check.ci/"}}
""".replace("RUN_SPEC", RUN_SPEC)
    path = tmp_path / "c.yaml"
    path.write_text(text)
    config = load_config([path])
    (resolved,) = config.triggers_for(config.listener())
    assert resolved.interceptors[0].url == "http://check.ci/"
    # Seen from a listener in another namespace, the Interceptor is not found.
    path.write_text(
        text.replace(
            "namespace: ci}\nspec:\n  namespaceSelector", "namespace: x}\nspec:\n  namespaceSelector"
        )
    )
    _config, problems = check_config([path])
    assert ["NamespacedInterceptor 'check' is not defined" in p.message for p in problems] == [True]


@pytest.mark.parametrize(
    ("requirement", "labels", "expected"),
    [
        (Requirement("a", "In", ("1", "2")), {"a": "2"}, True),
        (Requirement("a", "In", ("1",)), {}, False),
        (Requirement("a", "NotIn", ("1",)), {}, True),
        (Requirement("a", "NotIn", ("1",)), {"a": "1"}, False),
        (Requirement("a", "Exists"), {"a": ""}, True),
        (Requirement("a", "DoesNotExist"), {"a": ""}, False),
    ],
)
def test_requirement_semantics(requirement: Requirement, labels: dict[str, str], expected: bool) -> None:
    assert requirement.matches(labels) is expected
    assert LabelSelector(match_expressions=(requirement,)).matches(labels) is expected
    assert LabelSelector().matches(labels) is True
