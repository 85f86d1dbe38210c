"""``kfp-triggers settings`` through the installed console script, in a real environment."""

from __future__ import annotations

import pytest

from kfp_triggers import settings as registry
from tests.conftest import run_cli


def test_the_settings_command_prints_every_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KFPT_LAUNCHER", "dry-run")
    monkeypatch.setenv("KFPT_KFP_TOKEN", "inline-secret-token")
    result = run_cli(["settings", "--output", "json"])
    assert result.code == 0, result.stderr
    rows = {r["name"]: r for r in result.json()}
    assert list(rows) == [s.name for s in registry.SETTINGS]
    assert rows["KFPT_LAUNCHER"] == {
        "name": "KFPT_LAUNCHER",
        "type": "choice",
        "expected": "one of local, kfp, vertex, dry-run",
        "default": "local",
        "value": "dry-run",
        "stages": ["launch", "status"],
        "doc": "where runs are launched",
        "problem": None,
    }
    assert rows["KFPT_KFP_TOKEN"]["value"] == "(set, hidden)"
    assert "inline-secret-token" not in result.stdout + result.stderr


def test_the_settings_command_shows_a_table_and_fails_on_a_typo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KFPT_LAUNCHR", "kfp")
    result = run_cli(["settings"])
    assert result.code == 1
    header, *lines = result.stdout.splitlines()
    assert header.split() == ["NAME", "TYPE", "DEFAULT", "VALUE", "STAGES", "DOC"]
    assert len(lines) == len(registry.SETTINGS)
    assert "error: unknown setting KFPT_LAUNCHR; did you mean KFPT_LAUNCHER?" in result.stderr
