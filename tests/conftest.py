"""Shared test fixtures: paths to the examples and a runner for the installed CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@dataclass
class CliResult:
    """What one CLI invocation did."""

    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """stdout parsed as JSON."""
        return json.loads(self.stdout)


def run_cli(
    args: Sequence[str | os.PathLike[str]], stdin: bytes | None = None, cwd: Path | None = None
) -> CliResult:
    """Run the installed ``kfp-triggers`` console script, as a user would."""
    exe = Path(sys.executable).with_name("kfp-triggers")
    proc = subprocess.run(
        [str(exe), *map(str, args)],
        input=stdin,
        capture_output=True,
        cwd=cwd or ROOT,
        check=False,
        timeout=120,
    )
    return CliResult(proc.returncode, proc.stdout.decode(), proc.stderr.decode())


@pytest.fixture
def cli() -> Any:
    """The CLI runner."""
    return run_cli
