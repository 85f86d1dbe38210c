"""v1alpha1 interceptor forms (github:, gitlab:, bitbucket:, cel:) converted as Tekton converts them."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.config import check_config, load_config

RUN_SPEC = "{resourcetemplates: [{apiVersion: pipelines.kubeflow.org/v2beta1, kind: Run}]}"


def trigger_with(interceptor: str, version: str = "v1alpha1") -> str:
    return (
        f"apiVersion: triggers.tekton.dev/{version}\nkind: EventListener\nmetadata: {{name: el}}\nspec:\n"
        "  triggers:\n    - name: t\n      interceptors:\n"
        + textwrap.indent(textwrap.dedent(interceptor).strip("\n"), " " * 8)
        + f"\n      template: {{spec: {RUN_SPEC}}}\n"
    )


# (case id, interceptor YAML, expected (name, ref_name, params))
CASES: list[tuple[str, str, tuple[str, str, dict[str, Any]]]] = [
    (
        "github",
        """
        - github:
            secretRef: {secretName: s, secretKey: k}
            eventTypes: [pull_request]
        """,
        (
            "github",
            "github",
            {"secretRef": {"secretName": "s", "secretKey": "k"}, "eventTypes": ["pull_request"]},
        ),
    ),
    (
        "gitlab with only a secret",
        "- gitlab: {secretRef: {secretName: s, secretKey: k}}",
        ("gitlab", "gitlab", {"secretRef": {"secretName": "s", "secretKey": "k"}}),
    ),
    (
        "bitbucket",
        "- bitbucket: {secretRef: {secretName: s, secretKey: k}, eventTypes: ['repo:refs_changed']}",
        (
            "bitbucket",
            "bitbucket",
            {"secretRef": {"secretName": "s", "secretKey": "k"}, "eventTypes": ["repo:refs_changed"]},
        ),
    ),
    (
        "cel filter and overlays",
        """
        - name: labelled
          cel:
            filter: "body.a == 1"
            overlays:
              - {key: short, expression: "body.sha.truncate(7)"}
        """,
        (
            "labelled",
            "cel",
            {"filter": "body.a == 1", "overlays": [{"key": "short", "expression": "body.sha.truncate(7)"}]},
        ),
    ),
    (
        "cel overlays only",
        "- cel: {overlays: [{key: k, expression: '1'}]}",
        ("cel", "cel", {"overlays": [{"key": "k", "expression": "1"}]}),
    ),
    (
        "ref wins over a legacy block",
        """
        - ref: {name: cel}
          params: [{name: filter, value: "true"}]
          github: {eventTypes: [push]}
        """,
        ("cel", "cel", {"filter": "true"}),
    ),
    (
        "legacy name precedence: bitbucket before cel",
        "- cel: {filter: 'true'}\n  bitbucket: {secretRef: {secretName: s, secretKey: k}}",
        ("bitbucket", "bitbucket", {"secretRef": {"secretName": "s", "secretKey": "k"}}),
    ),
]


@pytest.mark.parametrize(("interceptor", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_legacy_forms_become_ref_and_params(
    tmp_path: Path, interceptor: str, expected: tuple[str, str, dict[str, Any]]
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(trigger_with(interceptor))
    config = load_config([path])
    (resolved,) = config.triggers_for(config.listener())
    (spec,) = resolved.interceptors
    assert (spec.name, spec.ref_name, spec.params) == expected
    assert spec.ref_kind == "ClusterInterceptor"
    assert spec.webhook is None


def test_ref_and_legacy_block_warns(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(trigger_with(CASES[5][1]))
    config = load_config([path])
    assert [(w.line, w.message) for w in config.warnings] == [
        (
            10,
            "spec.triggers[0].interceptors[0] has both ref and a legacy interceptor block; "
            "the block is ignored",
        )
    ]


@pytest.mark.parametrize(
    ("interceptor", "message", "at"),
    [
        ("- cel: {}", "needs a filter or overlays", 8),
        ("- github: {eventTypes: [push]}\n  gitlab: {eventTypes: [push]}", "sets github and gitlab", 9),
        ("- github: [push]", ".github must be a mapping", 8),
        ("- gitlab:\n    eventTypes: push", "eventTypes must be a list", 9),
    ],
)
def test_broken_legacy_forms(tmp_path: Path, interceptor: str, message: str, at: int) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(trigger_with(interceptor))
    _config, problems = check_config([path])
    errors = [p for p in problems if p.severity == "error"]
    assert len(errors) == 1
    assert message in errors[0].message
    assert errors[0].line == at


def test_legacy_forms_are_v1alpha1_only(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(trigger_with("- cel: {filter: 'true'}", version="v1beta1"))
    _config, problems = check_config([path])
    assert [(p.line, p.severity) for p in problems] == [(8, "error"), (8, "error")]
    assert "is the v1alpha1 interceptor form" in problems[0].message
