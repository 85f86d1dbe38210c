"""The emulator chain section: runs created per second for a burst, webhook-to-run latency at a steady rate.

The measurement itself lives with the emulator harness it reuses
(:mod:`tests.emulator.bench_chain`); this module runs it with the bench's sample sizes and writes
its part of the report. The chain is measured on two deliveries in the same run: the Pub/Sub
emulator's own push (two pushes in flight per subscription, a cap Cloud Pub/Sub does not have)
and a relay that pushes as Cloud Pub/Sub does, 16 at a time; the targets are checked on the
relay's figures. Each phase also reports the CPU each process group spent per run. The baseline
is the hello chain (``bench/hello/chain.py``: five functions that only hand each webhook on, one
creating its run), measured through the same phases on the relay. See that module for what is
started and how each figure is taken.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from bench.common import fmt_ms

#: Report names of the CPU groups, in report order (the five functions are summed separately too).
CPU_GROUPS = {
    "firestore_emulator": "Firestore emulator",
    "pubsub_emulator": "Pub/Sub emulator",
    "ingest": "ingest",
    "intercept": "intercept",
    "render": "render",
    "launch": "launch",
    "status": "status",
    "bench_process": "bench process (relay, KFP stand-in, senders)",
}
FUNCTIONS = ("ingest", "intercept", "render", "launch", "status")


def run(burst: int, steady_seconds: float, hosts: Any, skipped: str | None = None) -> dict[str, Any]:
    """Measure the chain on the running emulators ``hosts`` (``None``: record why it was skipped)."""
    if hosts is None:
        return {"measured": False, "skipped": skipped}
    from tests.emulator.bench_chain import ChainPlan, measure_chain

    plan = ChainPlan(burst=burst, steady_seconds=steady_seconds)
    with tempfile.TemporaryDirectory(prefix="kfpt-bench-chain-") as tmp:
        result = measure_chain(plan, hosts, Path(tmp))
    return {"measured": True, "skipped": None, **result}


def delivery_name(figures: dict[str, Any], hello: bool = False) -> str:
    """How a delivery is named in the report."""
    if hello:
        return f"hello chain, relay ({figures['in_flight']} in flight)"
    if figures["delivery"] == "relay":
        return f"relay ({figures['in_flight']} in flight, as Cloud Pub/Sub push)"
    return f"emulator push ({figures['in_flight']} in flight per subscription)"


def _latency(phase: dict[str, Any]) -> str:
    lat = phase["latency_ms"]
    return f"p50 {fmt_ms(lat['p50'])} / p95 {fmt_ms(lat['p95'])} / max {fmt_ms(lat['max'])} ms"


def _losses(phase: dict[str, Any]) -> str:
    settled = "" if phase["settled"] else ", NOT settled in time"
    return (
        f"{phase['acknowledged']}/{phase['posted']} acknowledged, {phase['events_with_runs']} became runs, "
        f"lost {phase['lost']}, duplicates {phase['duplicates']}{settled}"
    )


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _cpu(phase: dict[str, Any]) -> str:
    """CPU milliseconds per run of each group in one phase."""
    per_run = phase["cpu_ms_per_run"]
    return ", ".join(f"{name} {_ms(per_run.get(group))}" for group, name in CPU_GROUPS.items())


def _capacity(name: str, phase: dict[str, Any]) -> str:
    capacity = phase["capacity_runs_per_s"]
    limit = "n/a" if capacity is None else f"{capacity:.0f} runs/s"
    return (
        f"{name} {_ms(phase['functions_cpu_ms_per_run'])} ms "
        f"(-> {limit} on {phase['cores']} cores for the functions alone)"
    )


def report_delivery(plan: dict[str, Any], figures: dict[str, Any], hello: bool = False) -> list[str]:
    """Plain-text lines for one delivery (of our chain, or of the hello chain)."""
    burst, steady = figures["burst"], figures["steady"]
    name = delivery_name(figures, hello)
    peaks = figures["relay_peak_in_flight"]
    peak = f"; most pushes in flight per stage {max(peaks.values())}" if peaks else ""
    return [
        f"{name}: started in {figures['chain_start_s']:.1f} s, one warm-up webhook "
        f"({fmt_ms(figures['warmup']['latency_ms']['p50'])} ms to its run){peak}",
        f"  burst of {plan['burst']}: {burst['runs_per_s']:.1f} runs/s (first post to last run "
        f"{burst['first_post_to_last_run_s']:.1f} s; {burst['runs_per_s_first_to_last_create']:.1f} runs/s "
        f"from first to last create); ingest took the burst at {burst['ingest_per_s']:.0f} req/s",
        f"  burst: {_losses(burst)}; webhook -> run {_latency(burst)}",
        f"  steady {plan['steady_rate_per_s']:g} webhooks/s for {plan['steady_seconds']:g} s: webhook -> run "
        f"{_latency(steady)}; {_losses(steady)}",
        f"  CPU ms per run, burst: {_cpu(burst)}",
        f"  CPU ms per run, steady: {_cpu(steady)}",
        f"  {'the hello' if hello else 'our'} functions' CPU per run: {_capacity('burst', burst)}; "
        f"{_capacity('steady', steady)}",
    ]


def _times(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def report_hello(result: dict[str, Any]) -> list[str]:
    """Plain-text lines for the hello chain and our relay-fed chain against it."""
    hello, compared = result.get("hello"), result.get("compared_to_hello")
    if hello is None or compared is None:
        return []
    return [
        *report_delivery(result["plan"], hello, hello=True),
        f"our chain / hello chain, both on the relay: burst runs/s {_times(compared['burst_runs_per_s'])}, "
        f"steady p50 {_times(compared['steady_p50'])}, "
        f"functions' CPU per run (burst) {_times(compared['burst_functions_cpu_per_run'])}",
    ]


def report(result: dict[str, Any]) -> list[str]:
    """Plain-text lines for the chain section."""
    if not result["measured"]:
        return [f"not measured: {result['skipped']}"]
    plan = result["plan"]
    lines = [
        f"five functions-framework processes ({plan.get('threads', 4)} threads each, standing for instances "
        f"scaled out) on the Pub/Sub emulator, {result['store']} store, KFP stand-in "
        f"taking {plan['create_delay_s'] * 1e3:.0f} ms per create; each delivery on a chain of its own"
    ]
    for figures in result["deliveries"].values():
        lines += report_delivery(plan, figures)
    lines += report_hello(result)
    lines.append(
        f"contract violations {result['contract_violations']}; section took {result['wall_s']:.0f} s"
    )
    return lines
