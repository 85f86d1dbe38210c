"""The pull request commands example validates cleanly; its sample requests are what its script writes."""

from __future__ import annotations

import importlib.util
import json

from tests.conftest import EXAMPLES, run_cli

EXAMPLE = EXAMPLES / "pr-commands"


def test_the_example_validates_without_warnings() -> None:
    result = run_cli(["validate", EXAMPLE])
    assert result.code == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["valid"], report["listeners"], report["warnings"]) == (True, ["default/pr-commands"], [])


def test_make_requests_reproduces_the_committed_payloads_and_requests() -> None:
    spec = importlib.util.spec_from_file_location("make_pr_commands_requests", EXAMPLE / "make_requests.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = module.files()
    assert len(written) == 14
    for name, data in written.items():
        assert (EXAMPLE / name).read_bytes() == data, name
