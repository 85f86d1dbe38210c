"""Helpers shared by the benchmarks: statistics, ratios, free ports and JSON-speaking subprocesses.

Every benchmark that needs a clean interpreter (a forced CEL backend, a cold import) runs in a child
process that prints one JSON object as its last line of output; :func:`run_json` starts it and
reads that object back, so the parent never shares state with what it measures.
"""

from __future__ import annotations

import json
import math
import os
import socket
import statistics
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation between closest ranks; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summary(values: Sequence[float]) -> dict[str, float]:
    """Median, p90, p99, minimum and count of ``values`` (same unit as the input)."""
    return {
        "n": float(len(values)),
        "median": statistics.median(values) if values else math.nan,
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "min": min(values) if values else math.nan,
    }


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, NaN when either side is missing or the denominator is zero."""
    if not (math.isfinite(numerator) and math.isfinite(denominator)) or denominator == 0:
        return math.nan
    return numerator / denominator


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a child process: ours, minus any ``KFPT_*`` setting, plus ``extra``.

    Dropping inherited ``KFPT_*`` variables keeps a developer's shell settings from changing what is
    measured; each benchmark states the settings it needs.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("KFPT_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.update(extra or {})
    return env


def run_json(args: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 300.0) -> Any:
    """Run ``python <args>`` from the repository root and return the JSON on its last stdout line.

    Raises:
        RuntimeError: the child failed or printed no JSON; the message carries its stderr tail.
    """
    proc = subprocess.run(
        [PYTHON, *args],
        cwd=ROOT,
        env=child_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        tail = "\n".join(proc.stderr.splitlines()[-15:])
        raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}:\n{tail}")
    return json.loads(lines[-1])


def run_importtime(args: Sequence[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``python -X importtime <args>`` from the repository root; its stderr holds the import times."""
    return subprocess.run(
        [PYTHON, "-X", "importtime", *args],
        cwd=ROOT,
        env=child_env(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def fmt_ms(value: float) -> str:
    """Milliseconds with precision that suits the magnitude (``0.842``, ``12.3``, ``1530``)."""
    if not math.isfinite(value):
        return "n/a"
    if value < 10:
        return f"{value:.3f}"
    if value < 100:
        return f"{value:.1f}"
    return f"{value:.0f}"


def fmt_ratio(value: float) -> str:
    """A ratio as ``1.23x``, or with three significant digits below 0.1 (``0.00562x``)."""
    if not math.isfinite(value):
        return "n/a"
    return f"{value:.3g}x" if abs(value) < 0.1 else f"{value:.2f}x"
