"""Run every benchmark, print one plain-text report and write it as JSON to ``build/bench/latest.json``.

Every figure is reported next to a baseline measured in the same run (the naive matcher, the
hello-world function), and the ratio between them is the number to compare across machines;
absolute times on a shared 2-core machine move by tens of percent from one run to the next. The
report ends with the design targets and whether this run met them; nothing here fails on a figure.

The sections that need the Google Cloud emulators (cold starts and first-hand-off imports on
Pub/Sub, the emulator chain) start them once for the whole run; where they cannot start, those
sections say why and the rest still runs. ``--no-emulators`` skips them, ``--no-chain`` skips the
chain alone.

``--quick`` runs every section with tiny sample sizes (a smoke test of the harness, not a
measurement). Usage: ``python -m bench.run [--quick] [--no-emulators] [--no-chain] [--output PATH]``
or ``python bench/run.py``; ``python -m bench.runcontrol [--quick]`` runs the run-control section
alone.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import compileall
import contextlib
import importlib.util
import json
import math
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from bench import bodies, chain, coldstart, handoff, ingest, matching, runcontrol
from bench.common import ROOT, fmt_ms, fmt_ratio

DEFAULT_OUTPUT = ROOT / "build" / "bench" / "latest.json"
SECTIONS = (
    "matching",
    "ingest_throughput",
    "ingest_by_size",
    "cold_start",
    "imports",
    "handoff_imports",
    "chain",
    "runcontrol",
    "targets",
)
EMULATOR_SECTIONS = ("handoff_imports", "chain")
FORBIDDEN_AT_START = ("kfp", "google.cloud.pubsub_v1", "grpc")
MATCHING_TARGET_MS = 1.2  # "about 1 ms": within a fifth of it
#: The chain as Cloud Pub/Sub's push would feed it (the relay): a burst's runs/s, steady p50 (ms).
CHAIN_RUNS_PER_S_TARGET = 30.0
CHAIN_P50_TARGET_MS = 1000.0
#: Cold start over hello's, per stage and transport (``memory``: in-process, ``pubsub``: the emulator).
COLD_START_TARGETS = {
    ("ingest", "memory"): 1.3,
    ("ingest", "pubsub"): 1.5,
    ("intercept", "memory"): 1.6,
    ("intercept", "pubsub"): 1.6,
    ("render", "memory"): 1.6,
    ("render", "pubsub"): 1.6,
}


@dataclass(frozen=True)
class Settings:
    """Sample sizes for one run."""

    events: int = 200
    naive_events: int = 8
    warmup_events: int = 5
    concurrencies: tuple[int, ...] = (1, 8, 32)
    load_seconds: float = 3.0
    load_warmup_seconds: float = 1.0
    load_repeats: int = 2
    cold_rounds: int = 5
    import_rounds: int = 3
    chain_burst: int = 100
    chain_steady_seconds: float = 15.0
    runcontrol_pushes: int = 50
    runcontrol_push_seconds: float = 10.0
    body_seconds: float = 4.0
    body_warmup_seconds: float = 1.0


QUICK = Settings(
    events=3,
    naive_events=1,
    warmup_events=1,
    load_seconds=0.3,
    load_warmup_seconds=0.1,
    load_repeats=1,
    cold_rounds=1,
    import_rounds=1,
    chain_burst=5,
    chain_steady_seconds=1.0,
    runcontrol_pushes=runcontrol.QUICK_PLAN.pushes,
    runcontrol_push_seconds=runcontrol.QUICK_PLAN.push_seconds,
    body_seconds=1.0,
    body_warmup_seconds=0.2,
)


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def cold_start_targets(cold: dict[str, Any]) -> list[dict[str, Any]]:
    """Each measured stage and transport against its cold-start target (ratio to hello)."""
    out = []
    for (stage, transport), limit in COLD_START_TARGETS.items():
        figures = cold["functions"][stage].get(transport)
        if figures is not None:
            value = figures["ratio_to_hello"]
            out.append({"function": stage, "transport": transport, "limit": limit, "ratio": value,
                        "met": value <= limit})  # fmt: skip
    return out


def targets(result: dict[str, Any]) -> dict[str, Any]:
    """The design targets next to this run's figures (informational: met or not, nothing fails)."""
    backends = result["matching"]["backends"]
    fastest = min(backends, key=lambda b: backends[b]["intercept_ms"]["median"])
    fast_ms = backends[fastest]["intercept_ms"]["median"]
    levels = result["ingest_throughput"]["levels"]
    ingest_ratios = {str(lv["concurrency"]): lv["throughput_ratio"] for lv in levels}
    start_imports = {name: r["heavy_at_start"] for name, r in result["imports"]["functions"].items()}
    forbidden = {
        name: [m for m in heavy if m in FORBIDDEN_AT_START or (name == "ingest" and m.startswith("cel"))]
        for name, heavy in start_imports.items()
    }
    chain_result = result["chain"]
    lossless, runs_per_s, p50_ms = None, None, None
    if chain_result["measured"]:
        lossless = all(
            figures[p]["lost"] == 0 and figures[p]["settled"]
            for figures in chain_result["deliveries"].values()
            for p in ("burst", "steady")
        )
        # the top-level phases are the relay's: the chain as Cloud Pub/Sub's push would feed it
        runs_per_s = chain_result["burst"]["runs_per_s"]
        p50_ms = chain_result["steady"]["latency_ms"]["p50"]
    control = result["runcontrol"]
    cancel_met, queue_met, queue_most, queue_limit = None, None, None, None
    if control["measured"]:
        cancel_met = all(control[runcontrol.CANCEL]["expectations"].values())
        queue = control[runcontrol.QUEUE]
        queue_met = all(queue["expectations"].values())
        queue_most = max(queue["max_running_sampled"], queue["max_running_exact"])
        queue_limit = queue["max_running_limit"]
    return {
        "matching_fastest_backend": fastest,
        "matching_fastest_median_ms": fast_ms,
        "matching_met": fast_ms <= MATCHING_TARGET_MS,
        "ingest_throughput_ratios": ingest_ratios,
        "ingest_throughput_met": all(r >= 0.9 for r in ingest_ratios.values()),
        "cold_starts": cold_start_targets(result["cold_start"]),
        "forbidden_imports_at_start": {k: v for k, v in forbidden.items() if v},
        "chain_lossless": lossless,
        "chain_runs_per_s": runs_per_s,
        "chain_runs_per_s_met": None if runs_per_s is None else runs_per_s >= CHAIN_RUNS_PER_S_TARGET,
        "chain_p50_ms": p50_ms,
        "chain_p50_met": None if p50_ms is None else p50_ms <= CHAIN_P50_TARGET_MS,
        "runcontrol_cancel_in_progress_met": cancel_met,
        "runcontrol_queue_met": queue_met,
        "runcontrol_queue_most_running": queue_most,
        "runcontrol_queue_limit": queue_limit,
    }


def report_targets(t: dict[str, Any]) -> list[str]:
    """Plain-text lines for the targets section."""

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    ratios = ", ".join(f"c={c} {fmt_ratio(r)}" for c, r in t["ingest_throughput_ratios"].items())
    forbidden = t["forbidden_imports_at_start"]
    shown = "; ".join(f"{k}: {', '.join(v)}" for k, v in forbidden.items()) or "none"
    lines = [
        f"matching 100 triggers in about 1 ms (at most {MATCHING_TARGET_MS:g}): "
        f"{fmt_ms(t['matching_fastest_median_ms'])} ms median "
        f"({t['matching_fastest_backend']}, intercept_all) -> {verdict(t['matching_met'])}",
        f"ingest throughput >= 0.9x hello (in-process): {ratios} -> {verdict(t['ingest_throughput_met'])}",
    ]
    for c in t["cold_starts"]:
        transport = coldstart.TRANSPORT_NAMES[c["transport"]]
        lines.append(
            f"{c['function']} cold start ({transport}) <= {c['limit']:g}x hello: {fmt_ratio(c['ratio'])} "
            f"-> {verdict(c['met'])}"
        )
    lines.append(f"kfp / pubsub / grpc (and CEL for ingest) imported at start: {shown}")
    if t["chain_lossless"] is not None:
        lines += [
            f"emulator chain loses no acknowledged webhook (both deliveries): {verdict(t['chain_lossless'])}",
            f"chain sustains {CHAIN_RUNS_PER_S_TARGET:g} runs/s (relay, burst): "
            f"{t['chain_runs_per_s']:.1f} runs/s -> {verdict(t['chain_runs_per_s_met'])}",
            f"chain webhook -> run p50 <= {CHAIN_P50_TARGET_MS / 1e3:g} s (relay, steady): "
            f"{fmt_ms(t['chain_p50_ms'])} ms -> {verdict(t['chain_p50_met'])}",
        ]
    if t["runcontrol_cancel_in_progress_met"] is not None:
        lines += [
            "run control, cancel-in-progress: exactly one run SUCCEEDED, every other push cancelled or "
            f"superseded, none lost, group left empty -> {verdict(t['runcontrol_cancel_in_progress_met'])}",
            f"run control, queue: at most {t['runcontrol_queue_limit']} running at once "
            f"(most seen {t['runcontrol_queue_most_running']}), every push SUCCEEDED, none lost, group left "
            f"empty -> {verdict(t['runcontrol_queue_met'])}",
        ]
    return lines


def compile_bytecode() -> None:
    """Compile the engine, the functions and the baseline to bytecode before anything is timed.

    A deployed function starts from compiled modules (the Knative image compiles them at build
    time, and site-packages are compiled at install), so a cold start must not include compiling
    sources; an environment with ``PYTHONDONTWRITEBYTECODE`` would otherwise recompile each module
    changed since it was last cached, on every start.
    """
    for folder in ("shared", "functions", "bench"):
        compileall.compile_dir(ROOT / folder, quiet=1)


def _has_pubsub_client() -> bool:
    try:
        return importlib.util.find_spec("google.cloud.pubsub_v1") is not None
    except ModuleNotFoundError:
        return False


@contextlib.contextmanager
def emulators(wanted: bool, firestore: bool) -> Iterator[tuple[Any, str | None]]:
    """The running emulators (``EmulatorHosts``) and ``None``, or ``None`` and why they are not there."""
    if not wanted:
        yield None, "skipped (--no-emulators)"
        return
    if not _has_pubsub_client():
        yield None, "google-cloud-pubsub is not installed (pip install -e '.[gcp]')"
        return
    from tests.emulator.chaos_emulators import EmulatorUnavailableError, running_emulators

    with tempfile.TemporaryDirectory(prefix="kfpt-bench-emu-") as scratch, contextlib.ExitStack() as stack:
        try:
            hosts = stack.enter_context(running_emulators(Path(scratch), firestore=firestore))
        except EmulatorUnavailableError as exc:
            yield None, f"emulators unavailable: {str(exc).splitlines()[0]}"
            return
        yield hosts, None


def run(
    settings: Settings, quick: bool, use_emulators: bool = True, use_chain: bool = True
) -> dict[str, Any]:
    """Run every section and return the whole result (including the report text)."""
    from bench.pubsub import prepare

    started = time.perf_counter()
    compile_bytecode()
    result: dict[str, Any] = {
        "meta": {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "quick": quick,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average_at_start": os.getloadavg()[0],
            "commit": _git_commit(),
            "settings": asdict(settings),
        }
    }
    result["matching"] = matching.run(settings.events, settings.naive_events, settings.warmup_events)
    result["ingest_throughput"] = ingest.throughput(
        settings.concurrencies, settings.load_seconds, settings.load_warmup_seconds, settings.load_repeats
    )
    result["ingest_by_size"] = bodies.run(settings.body_seconds, settings.body_warmup_seconds)
    result["imports"] = ingest.imports(settings.import_rounds)
    result["runcontrol"] = runcontrol.run(
        runcontrol.Plan(pushes=settings.runcontrol_pushes, push_seconds=settings.runcontrol_push_seconds),
        concurrently=quick,
    )
    with emulators(use_emulators, firestore=use_chain) as (hosts, why_not):
        result["meta"]["emulators"] = {"available": hosts is not None, "reason": why_not}
        target = prepare(hosts.pubsub) if hosts is not None else None
        result["cold_start"] = coldstart.cold_starts(settings.cold_rounds, target, why_not)
        result["handoff_imports"] = handoff.handoff_imports(settings.import_rounds, target, why_not)
        chain_hosts = hosts if use_chain else None
        result["chain"] = chain.run(
            settings.chain_burst,
            settings.chain_steady_seconds,
            chain_hosts,
            why_not or "skipped (--no-chain)",
        )
    result["targets"] = targets(result)
    result["meta"]["seconds"] = time.perf_counter() - started
    result["meta"]["load_average_at_end"] = os.getloadavg()[0]
    result["report"] = report(result)
    return result


def report(result: dict[str, Any]) -> str:
    """The whole plain-text report."""
    meta = result["meta"]
    title = (
        f"kfp-triggers benchmarks{' (QUICK: smoke run, not a measurement)' if meta['quick'] else ''} - "
        f"{meta['when']}, Python {meta['python']}, {meta['cpus']} CPUs, commit {meta['commit']}"
    )
    sections = [
        ("Trigger matching (per event, all triggers; ratio = engine / naive, same backend)",
         matching.report(result["matching"])),
        ("Ingest under load vs hello-world (in-process transport, same functions-framework command, "
         "default gunicorn)", ingest.report_throughput(result["ingest_throughput"])),
        ("Ingest by body size (1 KB, 1 MB, 20 MB signed pushes, claim check on) vs a body-reading "
         "hello-world",
         bodies.report(result["ingest_by_size"])),
        ("Cold start to the first hand-off, in-process and on the Pub/Sub emulator, vs hello-world",
         coldstart.report(result["cold_start"])),
        ("Heavy imports of each function module", ingest.report_imports(result["imports"])),
        ("Imports of the first hand-off", handoff.report(result["handoff_imports"])),
        ("Emulator chain: webhooks to KFP runs", chain.report(result["chain"])),
        (f"Run control: {result['runcontrol']['plan']['pushes']} pushes to one branch",
         runcontrol.report(result["runcontrol"])),
        ("Targets (informational)", report_targets(result["targets"])),
    ]  # fmt: skip
    lines = [title]
    for heading, body in sections:
        lines += ["", f"== {heading}", *body]
    if "seconds" in meta:
        start, end = meta["load_average_at_start"], meta["load_average_at_end"]
        busy = max(start, end) > (meta["cpus"] or 1)
        note = " (above the CPU count: other work shared the machine)" if busy else ""
        lines += [
            "",
            f"total {meta['seconds']:.0f} s; load average {start:.1f} at start, {end:.1f} at end{note}",
        ]
    return "\n".join(lines)


def _finite(value: Any) -> Any:
    """JSON cannot carry NaN or infinities; write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def main(argv: list[str] | None = None) -> int:
    """Command line; see the module docstring."""
    parser = argparse.ArgumentParser(description="run every kfp-triggers benchmark")
    parser.add_argument("--quick", action="store_true", help="tiny sample sizes: a smoke run of the harness")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the JSON result")
    parser.add_argument("--no-emulators", action="store_true", help="skip every section that needs emulators")
    parser.add_argument("--no-chain", action="store_true", help="skip the emulator chain section")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else Settings()
    result = run(settings, args.quick, use_emulators=not args.no_emulators, use_chain=not args.no_chain)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(_finite(result), indent=2) + "\n")
    print(result["report"])
    print(f"\nwritten to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
