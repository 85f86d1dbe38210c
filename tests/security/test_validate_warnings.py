"""``validate`` says which triggers anyone can start: those whose chain checks no secret."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import EXAMPLES, run_cli

OPEN = """
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata: {name: tpl}
spec:
  resourcetemplates: [{apiVersion: pipelines.kubeflow.org/v2beta1, kind: Run}]
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: el}
spec:
  triggers:
    - name: cel-only
      interceptors: [{ref: {name: cel}, params: [{name: filter, value: "true"}]}]
      template: {ref: tpl}
    - name: slack-only
      interceptors: [{ref: {name: slack}}]
      template: {ref: tpl}
    - name: signed
      interceptors:
        - ref: {name: gitlab}
          params: [{name: secretRef, value: {secretName: s, secretKey: k}}]
      template: {ref: tpl}
"""


def test_triggers_that_check_no_secret_are_warned_about_at_their_line(tmp_path: Path) -> None:
    path = tmp_path / "open.yaml"
    path.write_text(OPEN)
    result = run_cli(["validate", path])
    assert result.code == 0, result.stderr  # a warning, not an error: Tekton allows it
    lines = path.read_text().splitlines()
    flagged = {
        lines[int(text.split(":")[1]) - 1].strip()
        for text in result.stderr.splitlines()
        if "checks no secret" in text
    }
    assert flagged == {"- name: cel-only", "- name: slack-only"}


def test_the_signed_example_draws_no_such_warning() -> None:
    result = run_cli(["validate", EXAMPLES / "github-push"])
    assert result.code == 0
    assert "checks no secret" not in result.stderr


def test_an_scm_interceptor_without_a_secret_is_warned_about_once(tmp_path: Path) -> None:
    path = tmp_path / "unsigned.yaml"
    path.write_text(
        OPEN.replace("secretRef, value: {secretName: s, secretKey: k}", "eventTypes, value: [push]")
    )
    result = run_cli(["validate", path])
    assert result.code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len([line for line in lines if "gitlab interceptor has no secretRef" in line]) == 1, result.stderr
    assert not [line for line in lines if "trigger 'signed'" in line], result.stderr
