"""``bench/run.py --quick`` end to end: every section is reported and every ratio is a usable number.

Sample sizes are tiny and the machine is shared, so no figure is compared with any threshold; what
is checked is that the harness works: each benchmark ran, produced finite positive ratios, the engine
and the naive matcher accepted the same triggers, and every request got the status it should.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.run import SECTIONS
from tests.conftest import ROOT

HEADINGS = (
    "== Trigger matching",
    "== Ingest under load vs hello-world",
    "== Cold start",
    "== Heavy imports of each function module",
    "== Targets",
)


def _ratios(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every value whose key names a ratio, with its path, anywhere in the result."""
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}"
            if "ratio" in key and not isinstance(value, dict | list):
                yield where, value
            elif "ratio" in key and isinstance(value, dict):
                yield from ((f"{where}.{k}", v) for k, v in value.items())
            else:
                yield from _ratios(value, where)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _ratios(value, f"{path}[{index}]")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    output = tmp_path_factory.mktemp("bench") / "latest.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", f"--output={output}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout, json.loads(Path(output).read_text())


def test_report_has_every_section(quick_run: tuple[str, dict[str, Any]]) -> None:
    text, result = quick_run
    for heading in HEADINGS:
        assert heading in text
    for section in SECTIONS:
        assert result[section], section
    assert result["report"] in text


def test_every_ratio_is_a_positive_finite_number(quick_run: tuple[str, dict[str, Any]]) -> None:
    _, result = quick_run
    found = dict(_ratios(result))
    assert len(found) >= 15, sorted(found)
    for where, value in found.items():
        assert isinstance(value, int | float) and math.isfinite(value) and value > 0, (where, value)


def test_each_benchmark_measured_what_it_should(quick_run: tuple[str, dict[str, Any]]) -> None:
    _, result = quick_run
    backends = result["matching"]["backends"]
    assert "celpy" in backends
    for name, r in backends.items():
        assert r["backend"] == name and r["triggers"] == 100 and r["agree"], (name, r)
        assert 6000 <= r["payload_bytes"] <= 8000
    levels = result["ingest_throughput"]["levels"]
    assert [lv["concurrency"] for lv in levels] == [1, 8, 32]
    for level in levels:
        for name in ("hello", "ingest"):
            assert level[name]["errors"] == 0 and level[name]["rps"] > 0, (level["concurrency"], name)
    assert set(result["cold_start"]["functions"]) == {"hello", "ingest", "intercept", "render"}
    for name, r in result["imports"]["functions"].items():
        assert r["first_status"] in (200, 202), name
    assert Path(result["meta"]["platform"])  # metadata is filled in
