"""Shared helpers of the deployment tests: repository paths, the engine's settings, external tools."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT

INFRA = ROOT / "infra"
TERRAFORM = INFRA / "terraform"
KNATIVE = INFRA / "knative"
ENGINE = ROOT / "shared" / "kfp_triggers"

_SETTING = re.compile(r"[\"'](KFPT_[A-Z0-9_]+)[\"']")


def engine_settings() -> frozenset[str]:
    """Every ``KFPT_*`` name that appears as a string literal in the engine: the settings it reads.

    Docstrings name settings in double backticks, so only names the code passes around count.
    """
    names: set[str] = set()
    for path in ENGINE.rglob("*.py"):
        names.update(_SETTING.findall(path.read_text(encoding="utf-8")))
    return frozenset(names)


def require_tool(name: str) -> str:
    """The path of an external tool; skip the test without it, or fail when CI=true."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (required when CI=true)")
        pytest.skip(message)
    return path


def tool_env() -> dict[str, str]:
    """Environment for terraform and kubectl: no user config, no network lookups for config files."""
    env = dict(os.environ)
    env["TF_CLI_CONFIG_FILE"] = os.devnull
    env["CHECKPOINT_DISABLE"] = "1"
    return env


def read(path: Path) -> str:
    """A file's text."""
    return path.read_text(encoding="utf-8")
