"""Throughput and latency of the deployed chain: signed webhooks in, KFP runs out, on the emulators.

The chain is the one the chaos harness runs (:class:`~tests.emulator.chaos_chain.ChaosChain`, with
nothing killed): five ``functions-framework`` processes pushed by the Pub/Sub emulator, the
Firestore emulator as the store (SQLite without it), and the ``kfp`` launcher on a KFP stand-in
whose creates take about 150 ms (:mod:`tests.emulator.bench_kfp`). Pushes are distinct signed
GitHub pushes (:func:`~tests.emulator.chaos_pushes.write_pushes`), each posted once.

After one warm-up webhook (every function then has its stage context and Pub/Sub client), two
phases run one after the other:

* **burst**: ``burst`` pushes posted at once from 16 threads; the rate is the runs created divided
  by the time from the first post to the last run created, and the burst is *lossless* when every
  push ingest acknowledged became a run;
* **steady**: pushes at ``steady_rate_per_s`` for ``steady_seconds``; the figure is each webhook's
  latency from its post to the creation of its first run (p50, p95).

Only what the outside saw is counted: ingest's answers and the runs the KFP stand-in created.
"""

from __future__ import annotations

import random
import threading
import time
import urllib.error
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.common import percentile
from kfp_triggers.app.serve import send_request
from tests.emulator.bench_kfp import CREATE_DELAY_S, SlowCreateKfp, running_slow_kfp
from tests.emulator.chain_support import unique_project
from tests.emulator.chaos_chain import ChaosChain
from tests.emulator.chaos_emulators import EmulatorHosts
from tests.emulator.chaos_pushes import SENDER_THREADS, Push, write_pushes
from tests.emulator.chaos_run import ChaosPlan, _function_settings


@dataclass(frozen=True)
class ChainPlan:
    """How many pushes each phase sends and how long the chain may take to turn them into runs."""

    burst: int = 100
    steady_rate_per_s: float = 10.0
    steady_seconds: float = 15.0
    create_delay_s: float = CREATE_DELAY_S
    stage_timeout_s: int = 20
    settle_limit_s: float = 120.0
    seed: int = 0

    @property
    def steady(self) -> int:
        """Pushes sent in the steady phase."""
        return max(1, round(self.steady_rate_per_s * self.steady_seconds))


@dataclass(frozen=True)
class Posted:
    """One webhook: its event, when it was posted (``time.monotonic()``), and ingest's answer."""

    event_id: str
    sent_at: float
    answered_at: float
    status: int  # 0: no HTTP answer


def post_all(url: str, schedule: list[tuple[float, Push]]) -> list[Posted]:
    """Post each push at its due second (from now), from a pool of threads; return every answer."""
    posted: list[Posted] = []
    lock = threading.Lock()

    def post(push: Push) -> None:
        sent = time.monotonic()
        try:
            status, _ = send_request(url, push.request_file, timeout_s=30)
        except (OSError, urllib.error.URLError):
            status = 0
        with lock:
            posted.append(Posted(push.event_id, sent, time.monotonic(), status))

    start = time.monotonic()
    with ThreadPoolExecutor(SENDER_THREADS, thread_name_prefix="bench-send") as pool:
        for due_s, push in schedule:
            time.sleep(max(0.0, start + due_s - time.monotonic()))
            pool.submit(post, push)
    return posted


def wait_for_runs(kfp: SlowCreateKfp, event_ids: set[str], limit_s: float) -> bool:
    """Wait until every event in ``event_ids`` has a run; False when ``limit_s`` ran out first."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if event_ids <= kfp.first_run_per_event().keys():
            return True
        time.sleep(0.05)
    return event_ids <= kfp.first_run_per_event().keys()


def phase_figures(posted: list[Posted], kfp: SlowCreateKfp, settled: bool) -> dict[str, Any]:
    """What one phase achieved: acknowledged, runs, lost, duplicates, latencies and rates."""
    acked = {p.event_id: p for p in posted if 200 <= p.status < 300}
    first_runs = kfp.first_run_per_event()
    done = {e: first_runs[e] for e in acked if e in first_runs}
    creates = Counter(run.marker for run in kfp.created_runs() if run.event_id in acked)
    latencies = [(done[e] - acked[e].sent_at) * 1e3 for e in done]
    first_post = min((p.sent_at for p in posted), default=0.0)
    last_run = max(done.values(), default=first_post)
    last_answer = max((p.answered_at for p in posted), default=first_post)
    span = last_run - first_post
    created = sorted(done.values())
    drain = created[-1] - created[0] if len(created) > 1 else 0.0
    return {
        "posted": len(posted),
        "acknowledged": len(acked),
        "ingest_answers": {str(s): n for s, n in sorted(Counter(p.status for p in posted).items())},
        "events_with_runs": len(done),
        "runs_created": sum(creates.values()),
        "lost": len(acked) - len(done),
        "duplicates": sum(1 for n in creates.values() if n > 1),
        "settled": settled,
        "ingest_s": last_answer - first_post,
        "ingest_per_s": len(posted) / (last_answer - first_post) if last_answer > first_post else 0.0,
        "first_post_to_last_run_s": span,
        "runs_per_s": len(done) / span if span > 0 else 0.0,
        "runs_per_s_first_to_last_create": (len(created) - 1) / drain if drain > 0 else 0.0,
        "latency_ms": {
            "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95),
            "max": max(latencies, default=float("nan")),
            "min": min(latencies, default=float("nan")),
        },
    }


def _settings(
    hosts: EmulatorHosts, project: str, store: str, kfp_url: str, plan: ChainPlan
) -> dict[str, str]:
    """Every function's settings, as the chaos harness gives them (the example listener, Pub/Sub, kfp)."""
    chaos = ChaosPlan(
        events=1,
        launch_kills=0,
        intercept_kills=0,
        store="firestore" if hosts.firestore else "sqlite",
        stage_timeout_s=plan.stage_timeout_s,
    )
    return _function_settings(chaos, hosts, project, store, kfp_url)


def _phase(
    chain: ChaosChain, kfp: SlowCreateKfp, schedule: list[tuple[float, Push]], limit_s: float
) -> dict[str, Any]:
    posted = post_all(chain.ingest_url, schedule)
    acked = {p.event_id for p in posted if 200 <= p.status < 300}
    settled = wait_for_runs(kfp, acked, limit_s)
    time.sleep(0.5)  # a late twin of a run would be created about now
    return phase_figures(posted, kfp, settled)


def measure_chain(plan: ChainPlan, hosts: EmulatorHosts, workdir: Path) -> dict[str, Any]:
    """Start the chain on the emulators at ``hosts``, run the warm-up, burst and steady phases."""
    began = time.monotonic()
    rng = random.Random(plan.seed)
    pushes = write_pushes(1 + plan.burst + plan.steady, workdir / "requests", rng)
    warmup, burst, steady = pushes[0], pushes[1 : 1 + plan.burst], pushes[1 + plan.burst :]
    project = unique_project("kfpt-bench")
    store = f"firestore://{project}" if hosts.firestore else f"sqlite:///{workdir / 'state.db'}"
    with running_slow_kfp(plan.create_delay_s) as (server, kfp):
        chain = ChaosChain.start(
            project,
            hosts.pubsub,
            _settings(hosts, project, store, server.base_url, plan),
            workdir / "functions",
            killable=(),
            max_delivery_attempts=5,
            ack_deadline_s=min(600, max(10, plan.stage_timeout_s)),
        )
        started_s = time.monotonic() - began
        try:
            warm = _phase(chain, kfp, [(0.0, warmup)], plan.settle_limit_s)
            burst_figures = _phase(chain, kfp, [(0.0, p) for p in burst], plan.settle_limit_s)
            schedule = [(i / plan.steady_rate_per_s, p) for i, p in enumerate(steady)]
            steady_figures = _phase(chain, kfp, schedule, plan.settle_limit_s)
        finally:
            chain.stop()
        violations = len(server.violations)
    return {
        "plan": asdict(plan),
        "store": "firestore" if hosts.firestore else "sqlite",
        "chain_start_s": started_s,
        "warmup": warm,
        "burst": burst_figures,
        "steady": steady_figures,
        "contract_violations": violations,
        "wall_s": time.monotonic() - began,
    }
