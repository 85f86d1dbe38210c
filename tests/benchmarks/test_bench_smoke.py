"""``bench/run.py --quick`` end to end: every section is reported and every ratio is a usable number.

Sample sizes are tiny and the machine is shared, so no figure is compared with any threshold; what
is checked is that the harness works: each benchmark ran, produced finite positive ratios, the engine
and the naive matcher accepted the same triggers, and every request got the status it should.

The quick run starts the Pub/Sub and Firestore emulators only when an ``emulator``-marked test of
this module was selected (``make test-fast`` deselects them). Where the emulators cannot start, the
bench reports why and those tests skip, except under ``CI=true``, where that is a failure (as in
``tests/emulator/conftest.py``).
"""

from __future__ import annotations

import json
import math
import os
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
    "== Ingest by body size",
    "== Cold start to the first hand-off",
    "== Heavy imports of each function module",
    "== Imports of the first hand-off",
    "== Emulator chain",
    "== Run control",
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


def _emulator_tests_selected(session: pytest.Session) -> bool:
    """Whether any selected test of this module needs the emulator sections."""
    here = Path(__file__)
    return any(item.path == here and item.get_closest_marker("emulator") for item in session.items)


@pytest.fixture(scope="module")
def quick_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, dict[str, Any]]:
    output = tmp_path_factory.mktemp("bench") / "latest.json"
    emulators = [] if _emulator_tests_selected(request.session) else ["--no-emulators"]
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", f"--output={output}", *emulators],
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
    cold = result["cold_start"]
    assert cold["hello"]["median_ms"] > 0
    for stage in ("ingest", "intercept", "render"):
        assert cold["functions"][stage]["memory"]["median_ms"] > 0, stage
    sizes = result["ingest_by_size"]["sizes"]
    assert [s["size"] for s in sizes] == ["1 KB", "1 MB", "20 MB"]
    for entry in sizes:
        expected = {"1 KB": 1024, "1 MB": 2**20, "20 MB": 20 * 2**20}[entry["size"]]
        assert 0.9 * expected <= entry["bytes"] <= 1.1 * expected, entry["size"]
        for name in ("hello-body", "ingest"):
            assert entry[name]["errors"] == 0 and entry[name]["rps"] > 0, (entry["size"], name)
    for name, r in result["imports"]["functions"].items():
        assert r["first_status"] in (200, 202), name
    assert Path(result["meta"]["platform"])  # metadata is filled in


def _emulator_result(quick_run: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """The quick run's result once its emulator sections ran; skip (fail under CI=true) if they could not."""
    _, result = quick_run
    emulators = result["meta"]["emulators"]
    if not emulators["available"]:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the emulators are required under CI=true: {emulators['reason']}")
        pytest.skip(f"emulators not available: {emulators['reason']}")
    return result


@pytest.mark.emulator
def test_cold_start_on_pubsub_hands_off_durably(quick_run: tuple[str, dict[str, Any]]) -> None:
    result = _emulator_result(quick_run)
    for stage, entry in result["cold_start"]["functions"].items():
        pubsub = entry["pubsub"]
        assert pubsub["handoffs_landed"] == pubsub["handoffs_sent"] == 1, stage
        assert pubsub["ratio_to_in_process"] > 0 and pubsub["ratio_to_hello"] > 0, stage
    cold_targets = {(c["function"], c["transport"]) for c in result["targets"]["cold_starts"]}
    assert ("ingest", "pubsub") in cold_targets and ("render", "pubsub") in cold_targets


@pytest.mark.emulator
def test_first_pubsub_handoff_loads_no_grpc_client(quick_run: tuple[str, dict[str, Any]]) -> None:
    """The stages publish over REST: their first Pub/Sub hand-off costs no gRPC import."""
    result = _emulator_result(quick_run)
    for stage, entry in result["handoff_imports"]["functions"].items():
        assert entry["pubsub"]["statuses"] == [entry["memory"]["statuses"][0]], stage
        assert not entry["extra"]["grpc"] and not entry["extra"]["pubsub_client"], stage


@pytest.mark.emulator
def test_chain_turns_every_webhook_into_one_run(quick_run: tuple[str, dict[str, Any]]) -> None:
    result = _emulator_result(quick_run)
    chain = result["chain"]
    assert chain["measured"] and chain["contract_violations"] == 0
    for phase in ("warmup", "burst", "steady"):
        figures = chain[phase]
        assert figures["settled"], phase
        assert figures["acknowledged"] == figures["posted"] == figures["events_with_runs"], phase
        assert figures["lost"] == 0 and figures["duplicates"] == 0, phase
        assert figures["latency_ms"]["p50"] > 0, phase
    assert chain["burst"]["runs_per_s"] > 0
    assert result["targets"]["chain_lossless"] is True
