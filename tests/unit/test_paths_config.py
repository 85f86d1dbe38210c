"""Loading ``paths.kfp-triggers.dev`` interceptors: every bad param reported at its own file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

from kfp_triggers.config import check_config
from kfp_triggers.errors import Problem

HEAD = """
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata: {name: tpl}
spec:
  resourcetemplates: [{apiVersion: pipelines.kubeflow.org/v2beta1, kind: Run}]
---
apiVersion: triggers.tekton.dev/v1beta1
kind: Trigger
metadata: {name: t}
spec:
  template: {ref: tpl}
  interceptors:
    - ref: {name: paths.kfp-triggers.dev}
      params:
"""


def load(tmp_path: Path, params: str) -> tuple[Path, list[Problem]]:
    path = tmp_path / "trigger.yaml"
    path.write_text(textwrap.dedent(HEAD).lstrip("\n") + textwrap.indent(textwrap.dedent(params), " " * 8))
    return path, [p for p in check_config([path])[1] if p.severity == "error"]


def line_of(path: Path, needle: str) -> int:
    return next(i for i, text in enumerate(path.read_text().splitlines(), 1) if needle in text)


def test_a_valid_filter_loads_without_errors(tmp_path: Path) -> None:
    _, problems = load(
        tmp_path,
        """
        - name: paths
          value: ["training/**", "!training/**/*.md", "*.jsx?", "v[12].[0-9]+"]
        - name: personalAccessToken
          value: {secretName: github, secretKey: token}
        """,
    )
    assert problems == []


def test_each_bad_pattern_is_reported_at_its_own_line(tmp_path: Path) -> None:
    path, problems = load(
        tmp_path,
        """
        - name: paths
          value:
            - "training/**"
            - "[abc"
            - "?oops"
            - 7
        """,
    )
    assert [(p.file, p.line) for p in problems] == [
        (str(path), line_of(path, '"[abc"')),
        (str(path), line_of(path, '"?oops"')),
        (str(path), line_of(path, "- 7")),
    ]
    assert "paths[1] '[abc' is not a valid pattern: '[' at position 1 is never closed" in problems[0].message
    assert (
        "paths[2] '?oops' is not a valid pattern: '?' at position 1 has no character" in problems[1].message
    )
    assert "paths[3] must be a string, not" in problems[2].message


def test_github_actions_rules_for_the_lists(tmp_path: Path) -> None:
    path, problems = load(
        tmp_path,
        """
        - name: paths
          value: ["src/**"]
        - name: pathsIgnore
          value: ["docs/**"]
        """,
    )
    assert [(p.line, p.message.split(": ", 1)[1]) for p in problems] == [
        (
            line_of(path, "name: pathsIgnore"),
            "paths and pathsIgnore cannot both be given (as in GitHub Actions); "
            "use paths with '!' patterns to exclude",
        )
    ]
    _, only_negative = load(tmp_path, '- {name: paths, value: ["!docs/**"]}\n')
    assert ["needs at least one pattern without '!'" in p.message for p in only_negative] == [True]
    _, empty = load(tmp_path, "- {name: pathsIgnore, value: []}\n")
    assert ["pathsIgnore is empty" in p.message for p in empty] == [True]


def test_unknown_params_wrong_shapes_and_bad_token_refs(tmp_path: Path) -> None:
    path, problems = load(
        tmp_path,
        """
        - name: paths-ignore
          value: ["docs/**"]
        - name: paths
          value: "src/**"
        - name: personalAccessToken
          value: {secretName: github}
        """,
    )
    found = {(p.line, p.message.split(": ", 1)[1]) for p in problems}
    assert found == {
        (
            line_of(path, "name: paths-ignore"),
            "'paths-ignore' is not a param of the paths.kfp-triggers.dev interceptor "
            "(its params are paths, pathsIgnore, personalAccessToken)",
        ),
        (line_of(path, 'value: "src/**"'), "paths must be a list of glob patterns"),
        (line_of(path, "value: {secretName: github}"), "personalAccessToken must be {secretName, secretKey}"),
    }


def test_a_clusterinterceptor_of_the_same_name_is_shadowed_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "ci.yaml"
    path.write_text(
        "apiVersion: triggers.tekton.dev/v1alpha1\nkind: ClusterInterceptor\n"
        "metadata: {name: paths.kfp-triggers.dev}\nspec: {clientConfig: {url: 'http://x/'}}\n"
    )
    warnings = [p for p in check_config([path])[1] if p.severity == "warning"]
    assert any("has the name of a core interceptor" in p.message for p in warnings)
