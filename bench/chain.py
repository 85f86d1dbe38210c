"""The emulator chain section: runs created per second for a burst, webhook-to-run latency at a steady rate.

The measurement itself lives with the emulator harness it reuses
(:mod:`tests.emulator.bench_chain`); this module runs it with the bench's sample sizes and writes
its part of the report. See that module for what is started and how each figure is taken.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from bench.common import fmt_ms


def run(burst: int, steady_seconds: float, hosts: Any, skipped: str | None = None) -> dict[str, Any]:
    """Measure the chain on the running emulators ``hosts`` (``None``: record why it was skipped)."""
    if hosts is None:
        return {"measured": False, "skipped": skipped}
    from tests.emulator.bench_chain import ChainPlan, measure_chain

    plan = ChainPlan(burst=burst, steady_seconds=steady_seconds)
    with tempfile.TemporaryDirectory(prefix="kfpt-bench-chain-") as tmp:
        result = measure_chain(plan, hosts, Path(tmp))
    return {"measured": True, "skipped": None, **result}


def _latency(phase: dict[str, Any]) -> str:
    lat = phase["latency_ms"]
    return f"p50 {fmt_ms(lat['p50'])} / p95 {fmt_ms(lat['p95'])} / max {fmt_ms(lat['max'])} ms"


def _losses(phase: dict[str, Any]) -> str:
    settled = "" if phase["settled"] else ", NOT settled in time"
    return (
        f"{phase['acknowledged']}/{phase['posted']} acknowledged, {phase['events_with_runs']} became runs, "
        f"lost {phase['lost']}, duplicates {phase['duplicates']}{settled}"
    )


def report(result: dict[str, Any]) -> list[str]:
    """Plain-text lines for the chain section."""
    if not result["measured"]:
        return [f"not measured: {result['skipped']}"]
    plan, burst, steady = result["plan"], result["burst"], result["steady"]
    return [
        f"five functions-framework processes on the Pub/Sub emulator, {result['store']} store, KFP stand-in "
        f"taking {plan['create_delay_s'] * 1e3:.0f} ms per create; "
        f"started in {result['chain_start_s']:.1f} s, "
        f"one warm-up webhook ({fmt_ms(result['warmup']['latency_ms']['p50'])} ms to its run)",
        f"burst of {plan['burst']}: {burst['runs_per_s']:.1f} runs/s (first post to last run "
        f"{burst['first_post_to_last_run_s']:.1f} s; {burst['runs_per_s_first_to_last_create']:.1f} runs/s "
        f"from first to last create); ingest took the burst at {burst['ingest_per_s']:.0f} req/s",
        f"burst of {plan['burst']}: {_losses(burst)}; webhook -> run {_latency(burst)}",
        f"steady {plan['steady_rate_per_s']:g} webhooks/s for {plan['steady_seconds']:g} s: webhook -> run "
        f"{_latency(steady)}",
        f"steady: {_losses(steady)}; contract violations {result['contract_violations']}; "
        f"section took {result['wall_s']:.0f} s",
    ]
