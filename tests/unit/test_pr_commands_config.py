"""Loading ``pr-commands.kfp-triggers.dev`` interceptors: each bad param reported at its own file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

from kfp_triggers.config import check_config
from kfp_triggers.errors import Problem
from tests.unit import test_paths_config as paths_config
from tests.unit.test_paths_config import line_of

HEAD = paths_config.HEAD.replace("paths.kfp-triggers.dev", "pr-commands.kfp-triggers.dev")


def load(tmp_path: Path, params: str) -> tuple[Path, list[Problem]]:
    path = tmp_path / "trigger.yaml"
    path.write_text(textwrap.dedent(HEAD).lstrip("\n") + textwrap.indent(textwrap.dedent(params), " " * 8))
    return path, [p for p in check_config([path])[1] if p.severity == "error"]


def test_valid_params_load_without_errors(tmp_path: Path) -> None:
    _, problems = load(
        tmp_path,
        """
        - name: secretRef
          value: {secretName: github-api, secretKey: token}
        - name: okToTest
          value: true
        - name: commands
          value: [retest, cancel, ok-to-test]
        - name: gitlabApiUrl
          value: https://gitlab.example.com/api/v4/
        """,
    )
    assert problems == []


def test_each_bad_param_is_reported_at_its_own_line(tmp_path: Path) -> None:
    path, problems = load(
        tmp_path,
        """
        - name: secretRef
          value: {secretName: github-api}
        - name: okToTest
          value: "yes"
        - name: commands
          value:
            - retest
            - deploy
        - name: gitlabApiUrl
          value: gitlab.example.com
        - name: eventTypes
          value: [issue_comment]
        """,
    )
    assert [(p.line, p.message.split(": ", 1)[1]) for p in problems] == [
        (line_of(path, "{secretName: github-api}"), "secretRef must be {secretName, secretKey}"),
        (line_of(path, '"yes"'), "okToTest must be true or false, not a string"),
        (line_of(path, "- deploy"), "commands[1] 'deploy' is not one of retest, cancel, ok-to-test"),
        (line_of(path, "gitlab.example.com"), "gitlabApiUrl must be an http(s) URL"),
        (
            line_of(path, "name: eventTypes"),
            "'eventTypes' is not a param of the pr-commands.kfp-triggers.dev interceptor "
            "(its params are secretRef, okToTest, commands, gitlabApiUrl)",
        ),
    ]
    assert all(p.file == str(path) for p in problems)


def test_the_token_is_required(tmp_path: Path) -> None:
    path, problems = load(tmp_path, "- {name: okToTest, value: false}\n")
    [problem] = problems
    assert problem.line == line_of(path, "- ref: {name: pr-commands.kfp-triggers.dev}")
    assert "needs a secretRef (a GitHub or GitLab token)" in problem.message
