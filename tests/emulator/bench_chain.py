"""Throughput, latency and CPU cost of the deployed chain: signed webhooks in, KFP runs out, on the emulators.

The chain is the one the chaos harness runs (:class:`~tests.emulator.chaos_chain.ChaosChain`, with
nothing killed): five ``functions-framework`` processes fed from the Pub/Sub emulator, the
Firestore emulator as the store (SQLite without it), and the ``kfp`` launcher on a KFP stand-in
whose creates take about 150 ms (:mod:`tests.emulator.bench_kfp`). Pushes are distinct signed
GitHub pushes (:func:`~tests.emulator.chaos_pushes.write_pushes`), each posted once.

The chain is measured once per delivery, each on a fresh chain and project:

* ``push``: the emulator's own push subscriptions, which keep at most two pushes in flight per
  subscription (so this measures mostly that cap);
* ``relay``: pull subscriptions fed to the functions by
  :class:`~tests.emulator.push_relay.PushRelay`, pushing ``in_flight`` at a time as Cloud Pub/Sub's
  push does (it has no such cap).

After one warm-up webhook (every function then has its stage context and Pub/Sub client), two
phases run one after the other:

* **burst**: ``burst`` pushes posted at once from 16 threads; the rate is the runs created divided
  by the time from the first post to the last run created, and the burst is *lossless* when every
  push ingest acknowledged became a run;
* **steady**: pushes at ``steady_rate_per_s`` for ``steady_seconds``; the figure is each webhook's
  latency from its post to the creation of its first run (p50, p95).

Only what the outside saw is counted: ingest's answers and the runs the KFP stand-in created.

Each phase also records the CPU time each process group spent in it, from ``/proc/<pid>/stat``
(user + system time of every process of the group, its threads included, and of the children it
reaped) sampled before and after: the Firestore and Pub/Sub emulators (their ``gcloud`` command
and the JVM below it; only when started by :mod:`tests.emulator.chaos_emulators`), each function
(functions-framework's gunicorn and its worker), and this process (the relay, the KFP stand-in and
the senders). Divided by the runs created, it says what a run costs each group, and the functions'
share says how many runs a second the functions alone could sustain on this machine's cores.
"""

from __future__ import annotations

import os
import random
import threading
import time
import urllib.error
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bench.common import percentile
from kfp_triggers.adapters.launchers.kfp_rest import MARKER_PREFIX
from kfp_triggers.adapters.transports.pubsub import ensure_topology, subscriber_client
from kfp_triggers.app.serve import send_request
from kfp_triggers.wire.eventtypes import HOPS, TOPICS
from tests.emulator.bench_kfp import CREATE_DELAY_S, SlowCreateKfp, running_slow_kfp
from tests.emulator.chain_support import (
    ENTRY_POINTS,
    INPUT_TOPICS,
    ROOT,
    FunctionServer,
    start_function,
    stop_all,
    unique_project,
)
from tests.emulator.chaos_chain import ChaosChain, Delivery, wait_ready
from tests.emulator.chaos_emulators import EmulatorHosts
from tests.emulator.chaos_pushes import SENDER_THREADS, Push, write_pushes
from tests.emulator.chaos_run import ChaosPlan, _function_settings
from tests.emulator.push_relay import DEFAULT_IN_FLIGHT, PushRelay

#: Every delivery measured, in order (the first also warms the Firestore emulator's JVM up).
DELIVERIES: tuple[Delivery, ...] = ("push", "relay")

#: The CPU groups of a phase besides the five functions, as reported.
EMULATOR_GROUPS = ("firestore_emulator", "pubsub_emulator")
OWN_GROUP = "bench_process"

#: Pushes the emulator keeps in flight per push subscription (measured: an endpoint taking D seconds
#: receives 2/D messages a second).
EMULATOR_PUSH_IN_FLIGHT = 2

#: The baseline chain's functions, one target per stage (``hello_<stage>``).
HELLO_SOURCE = ROOT / "bench" / "hello" / "chain.py"
#: The topic each stage hands a webhook on to along the chain (the hello functions publish every
#: message there). Status's hops back into the chain (queued run requests to launch, run ends to
#: intercept for chained listeners) are not part of that path: a hello status taking one would loop.
_BACKWARDS = frozenset({("status", "launch"), ("status", "intercept")})
HELLO_NEXT_TOPIC: dict[str, str] = {
    hop.producer: hop.topic
    for hop in HOPS
    if hop.producer in ENTRY_POINTS and (hop.producer, hop.consumer) not in _BACKWARDS
}


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
    deliveries: tuple[Delivery, ...] = DELIVERIES
    in_flight: int = DEFAULT_IN_FLIGHT
    hello: bool = True  # also measure the hello chain (relay-fed), the baseline
    # Requests each function process serves at once. A deployed stage serves one request per
    # instance and adds instances under load; one process with this many threads stands for that
    # (with 4, launch alone caps a burst at 4 / 150 ms = 27 runs/s).
    threads: int = 16

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
    return {**_function_settings(chaos, hosts, project, store, kfp_url), "THREADS": str(plan.threads)}


def _process_tree(pid: int) -> list[int]:
    """``pid`` and every process below it (an emulator's JVM sits under its gcloud wrapper)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            children = [int(child) for child in task.read_text().split()]
        except OSError:
            continue  # the thread or the process is gone
        for child in children:
            found.extend(_process_tree(child))
    return found


def _cpu_ticks(pid: int) -> int:
    """Clock ticks ``pid`` spent (user + system, its threads included) plus those of children it reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0  # exited since the tree was read
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": field 3 (state) is fields[0]
    utime, stime, cutime, cstime = (int(fields[k]) for k in range(11, 15))
    return utime + stime + cutime + cstime


def tree_cpu_s(pid: int | None) -> float | None:
    """CPU seconds spent so far by the process tree under ``pid`` (``None``: no such process)."""
    if pid is None or not Path(f"/proc/{pid}").exists():
        return None
    return sum(_cpu_ticks(p) for p in _process_tree(pid)) / os.sysconf("SC_CLK_TCK")


class CpuGroups:
    """CPU seconds per process group, read from ``/proc`` (Linux); groups without a pid read ``None``."""

    def __init__(self, roots: dict[str, int | None]) -> None:
        """Watch the process trees under ``roots`` (group name -> root pid) and this process."""
        self.roots = roots

    def sample(self) -> dict[str, float | None]:
        """CPU seconds of each group so far; this process counts its own threads only, not its children."""
        sampled = {group: tree_cpu_s(pid) for group, pid in self.roots.items()}
        sampled[OWN_GROUP] = time.process_time()
        return sampled


def cpu_figures(
    before: dict[str, float | None], after: dict[str, float | None], runs: int, stages: tuple[str, ...]
) -> dict[str, Any]:
    """CPU seconds per group between two samples, milliseconds per run, and the functions' capacity.

    ``capacity_runs_per_s`` is this machine's cores over the functions' CPU per run: the rate the
    five functions could sustain if nothing else used the cores.
    """
    spent: dict[str, float | None] = {}
    for group, end in after.items():
        start = before.get(group)
        spent[group] = None if start is None or end is None else max(0.0, end - start)
    per_run = {g: (None if s is None or runs == 0 else s * 1e3 / runs) for g, s in spent.items()}
    functions = [per_run[stage] for stage in stages]
    functions_ms = sum(f for f in functions if f is not None) if None not in functions else None
    cores = len(os.sched_getaffinity(0))
    capacity = cores * 1e3 / functions_ms if functions_ms else None
    return {
        "cpu_s": spent,
        "cpu_ms_per_run": per_run,
        "functions_cpu_ms_per_run": functions_ms,
        "cores": cores,
        "capacity_runs_per_s": capacity,
    }


class RunningChain(Protocol):
    """What the phases need of a started chain: where webhooks go, its functions, its relays, a stop."""

    @property
    def ingest_url(self) -> str:
        """Where webhooks are posted."""
        ...

    @property
    def servers(self) -> dict[str, FunctionServer]:
        """The function serving each stage."""
        ...

    @property
    def relays(self) -> dict[str, PushRelay]:
        """The relay feeding each stage (empty on the emulator's push)."""
        ...

    def stop(self) -> None:
        """Stop the relays and the functions."""


@dataclass
class HelloChain:
    """The baseline chain (``bench/hello/chain.py``): five functions that only hand each webhook on.

    Same topics, same functions-framework command and server shape, same relays as the real chain;
    the launch stage creates one run per webhook on the same KFP stand-in.
    """

    servers: dict[str, FunctionServer] = field(default_factory=dict)
    relays: dict[str, PushRelay] = field(default_factory=dict)

    @property
    def ingest_url(self) -> str:
        """Where webhooks are posted."""
        return self.servers["ingest"].url + "/"

    @classmethod
    def start(
        cls,
        project: str,
        pubsub_host: str,
        kfp_url: str,
        workdir: Path,
        in_flight: int,
        ack_deadline_s: int,
        threads: int,
    ) -> HelloChain:
        """Create the topology (no retry policy, as for our chain), start the functions and their relays."""
        environ = {"PUBSUB_EMULATOR_HOST": pubsub_host}
        chain = cls()
        try:
            subscriptions = ensure_topology(
                project, TOPICS, max_delivery_attempts=5, ack_deadline_seconds=ack_deadline_s, environ=environ
            )
            subscriber = subscriber_client(environ)
            try:
                for topic in INPUT_TOPICS.values():
                    subscriber.update_subscription(
                        request={
                            "subscription": {"name": subscriptions[f"{topic}-sub"]},
                            "update_mask": {"paths": ["retry_policy"]},
                        }
                    )
            finally:
                subscriber.close()
            for stage in ENTRY_POINTS:
                settings = {
                    "HELLO_PUBSUB": pubsub_host,
                    "HELLO_PROJECT": project,
                    "HELLO_NEXT_TOPIC": HELLO_NEXT_TOPIC[stage],
                    "HELLO_KFP": kfp_url,
                    "HELLO_MARKER_PREFIX": MARKER_PREFIX,
                    "THREADS": str(threads),
                }
                folder = workdir / stage
                folder.mkdir(parents=True)
                chain.servers[stage] = _start_hello(stage, settings, folder)
            wait_ready(list(chain.servers.values()))
            for stage, topic in INPUT_TOPICS.items():
                endpoint = chain.servers[stage].push_endpoint(project, topic)
                relay = PushRelay(subscriptions[f"{topic}-sub"], endpoint, environ, in_flight, ack_deadline_s)
                chain.relays[stage] = relay.start()
        except BaseException:
            chain.stop()
            raise
        return chain

    def stop(self) -> None:
        """Stop the relays first (pushes under way settle), then the functions."""
        for relay in self.relays.values():
            relay.stop()
        stop_all(self.servers.values())


def _start_hello(stage: str, settings: dict[str, str], folder: Path) -> FunctionServer:
    """Start the hello function of ``stage`` in the stage's place."""
    return start_function(stage, settings, folder, target=f"hello_{stage}", source=HELLO_SOURCE)


def _phase(
    chain: RunningChain,
    kfp: SlowCreateKfp,
    schedule: list[tuple[float, Push]],
    limit_s: float,
    cpu: CpuGroups,
) -> dict[str, Any]:
    before = cpu.sample()
    posted = post_all(chain.ingest_url, schedule)
    acked = {p.event_id for p in posted if 200 <= p.status < 300}
    settled = wait_for_runs(kfp, acked, limit_s)
    time.sleep(0.5)  # a late twin of a run would be created about now
    after = cpu.sample()
    figures = phase_figures(posted, kfp, settled)
    return {**figures, **cpu_figures(before, after, figures["events_with_runs"], tuple(chain.servers))}


def _measure(
    plan: ChainPlan,
    hosts: EmulatorHosts,
    workdir: Path,
    seed: int,
    start: Callable[[str, str, str], RunningChain],
) -> dict[str, Any]:
    """Start a chain with ``start(project, store, kfp_url)``; run the warm-up, burst and steady phases."""
    began = time.monotonic()
    rng = random.Random(seed)
    pushes = write_pushes(1 + plan.burst + plan.steady, workdir / "requests", rng)
    warmup, burst, steady = pushes[0], pushes[1 : 1 + plan.burst], pushes[1 + plan.burst :]
    project = unique_project("kfpt-bench")
    store = f"firestore://{project}" if hosts.firestore else f"sqlite:///{workdir / 'state.db'}"
    with running_slow_kfp(plan.create_delay_s) as (server, kfp):
        chain = start(project, store, server.base_url)
        started_s = time.monotonic() - began
        cpu = CpuGroups(
            {
                "firestore_emulator": hosts.firestore_pid,
                "pubsub_emulator": hosts.pubsub_pid,
                **{stage: fn.proc.pid for stage, fn in chain.servers.items()},
            }
        )
        try:
            warm = _phase(chain, kfp, [(0.0, warmup)], plan.settle_limit_s, cpu)
            burst_figures = _phase(chain, kfp, [(0.0, p) for p in burst], plan.settle_limit_s, cpu)
            schedule = [(i / plan.steady_rate_per_s, p) for i, p in enumerate(steady)]
            steady_figures = _phase(chain, kfp, schedule, plan.settle_limit_s, cpu)
            peaks = {stage: relay.stats.peak_in_flight for stage, relay in chain.relays.items()}
        finally:
            chain.stop()
        violations = len(server.violations)
    return {
        "chain_start_s": started_s,
        "warmup": warm,
        "burst": burst_figures,
        "steady": steady_figures,
        "relay_peak_in_flight": peaks,
        "contract_violations": violations,
        "wall_s": time.monotonic() - began,
    }


def measure_delivery(
    plan: ChainPlan, hosts: EmulatorHosts, workdir: Path, delivery: Delivery, seed: int
) -> dict[str, Any]:
    """Start our chain fed by ``delivery`` in a project of its own; run warm-up, burst and steady phases."""

    def start(project: str, store: str, kfp_url: str) -> RunningChain:
        return ChaosChain.start(
            project,
            hosts.pubsub,
            _settings(hosts, project, store, kfp_url, plan),
            workdir / "functions",
            killable=(),
            max_delivery_attempts=5,
            ack_deadline_s=_ack_deadline_s(plan),
            delivery=delivery,
            in_flight=plan.in_flight,
        )

    in_flight = plan.in_flight if delivery == "relay" else EMULATOR_PUSH_IN_FLIGHT
    figures = _measure(plan, hosts, workdir, seed, start)
    return {"delivery": delivery, "in_flight": in_flight, **figures}


def measure_hello(plan: ChainPlan, hosts: EmulatorHosts, workdir: Path, seed: int) -> dict[str, Any]:
    """The baseline chain (:class:`HelloChain`) through the same phases, fed by the relay."""

    def start(project: str, _store: str, kfp_url: str) -> RunningChain:
        deadline = _ack_deadline_s(plan)
        return HelloChain.start(
            project, hosts.pubsub, kfp_url, workdir / "functions", plan.in_flight, deadline, plan.threads
        )

    return {"delivery": "relay", "in_flight": plan.in_flight, **_measure(plan, hosts, workdir, seed, start)}


def _ack_deadline_s(plan: ChainPlan) -> int:
    return min(600, max(10, plan.stage_timeout_s))


def _over(ours: float | None, hello: float | None) -> float | None:
    """``ours / hello`` when both are measured and ``hello`` is not zero."""
    return ours / hello if ours is not None and hello else None


def compare_to_hello(ours: dict[str, Any], hello: dict[str, Any]) -> dict[str, float | None]:
    """Our relay-fed chain over the hello chain: burst throughput, steady p50, the functions' CPU per run."""
    return {
        "burst_runs_per_s": _over(ours["burst"]["runs_per_s"], hello["burst"]["runs_per_s"]),
        "steady_p50": _over(ours["steady"]["latency_ms"]["p50"], hello["steady"]["latency_ms"]["p50"]),
        "burst_functions_cpu_per_run": _over(
            ours["burst"]["functions_cpu_ms_per_run"], hello["burst"]["functions_cpu_ms_per_run"]
        ),
    }


def measure_chain(plan: ChainPlan, hosts: EmulatorHosts, workdir: Path) -> dict[str, Any]:
    """Measure our chain on the emulators at ``hosts`` once per delivery of ``plan``, then the hello chain.

    The top-level ``chain_start_s``, ``warmup``, ``burst`` and ``steady`` are those of the last
    delivery (the relay, by default): the chain as Cloud Pub/Sub's push would feed it.
    """
    began = time.monotonic()
    deliveries = {
        delivery: measure_delivery(plan, hosts, workdir / delivery, delivery, plan.seed + number)
        for number, delivery in enumerate(plan.deliveries)
    }
    last = deliveries[plan.deliveries[-1]]
    hello = measure_hello(plan, hosts, workdir / "hello", plan.seed + len(deliveries)) if plan.hello else None
    return {
        "plan": asdict(plan),
        "store": "firestore" if hosts.firestore else "sqlite",
        "deliveries": deliveries,
        "chain_start_s": last["chain_start_s"],
        "warmup": last["warmup"],
        "burst": last["burst"],
        "steady": last["steady"],
        "hello": hello,
        "compared_to_hello": None if hello is None else compare_to_hello(last, hello),
        "contract_violations": sum(
            d["contract_violations"] for d in [*deliveries.values(), *([hello] if hello else [])]
        ),
        "wall_s": time.monotonic() - began,
    }
