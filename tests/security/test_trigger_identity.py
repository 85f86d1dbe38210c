"""A trigger's name is its identity in a listener: unnamed or duplicate triggers are refused at load.

Attack: two inline triggers with one name (or none) in one listener. Before names were checked the
configuration validated, ``simulate`` showed both, and the chain launched one run while journalling
the other as already launched, because the idempotency key and render's lookup use the name.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from kfp_triggers.config import check_config

HEAD = """
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
"""


def problems_of(tmp_path: Path, triggers: str, extra: str = "") -> list[tuple[int, str, str]]:
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(HEAD).lstrip() + textwrap.indent(textwrap.dedent(triggers), "  ") + extra)
    _config, problems = check_config([path])
    return [(p.line, p.severity, p.message) for p in problems]


def test_two_inline_triggers_with_one_name_are_an_error_at_the_second(tmp_path: Path) -> None:
    found = problems_of(
        tmp_path,
        """
        - name: build
          template: {ref: tpl}
        - name: build
          template: {ref: tpl}
        """,
    )
    errors = [f for f in found if f[1] == "error"]
    assert len(errors) == 1
    line, _, message = errors[0]
    assert "two triggers named 'build'" in message
    text = (tmp_path / "config.yaml").read_text().splitlines()
    assert text[line - 1].strip() == "- name: build"
    assert line > 12  # the second declaration, not the first


def test_an_inline_trigger_without_a_name_is_an_error(tmp_path: Path) -> None:
    found = problems_of(tmp_path, "- template: {ref: tpl}\n")
    assert any(sev == "error" and "has no name" in msg for _, sev, msg in found)


def test_the_same_trigger_listed_and_selected_is_a_warning_not_an_error(tmp_path: Path) -> None:
    found = problems_of(
        tmp_path,
        """
        - triggerRef: shared
        """,
        extra=textwrap.dedent(
            """
              labelSelector: {matchLabels: {team: ml}}
            ---
            apiVersion: triggers.tekton.dev/v1beta1
            kind: Trigger
            metadata: {name: shared, labels: {team: ml}}
            spec:
              template: {ref: tpl}
            """
        ),
    )
    assert not [f for f in found if f[1] == "error"], found
    assert any(sev == "warning" and "more than once" in msg for _, sev, msg in found)


def test_distinct_names_are_fine(tmp_path: Path) -> None:
    found = problems_of(
        tmp_path,
        """
        - name: build
          template: {ref: tpl}
        - name: test
          template: {ref: tpl}
        """,
    )
    assert not [f for f in found if f[1] == "error"], found
