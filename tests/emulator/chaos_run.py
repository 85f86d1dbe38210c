"""One chaos run: signed pushes delivered several times into the real chain while stages are killed.

The chain is the five stage functions on the Pub/Sub emulator, sharing a Firestore (emulator) or
SQLite store, launching with the ``kfp`` launcher on :mod:`tests.emulator.chaos_kfp`. While the
pushes go in, the launch function is SIGKILLed at random points *inside* launches (just before or
just after a random one of its requests reaches the KFP API, so a run may or may not exist yet)
and the intercept function at random moments of the sending window. Once everything is sent, the
run waits until the chain is quiet (no function writes a line and the KFP API sees no request for
``quiet_period_s``), then collects the backend's runs and the dead letters and builds the report.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kfp_triggers.adapters.launchers.kfp_rest import idempotency_marker
from kfp_triggers.adapters.store import store_from_url
from kfp_triggers.adapters.store.base import Store
from tests.emulator.chain_support import EXAMPLE, unique_project
from tests.emulator.chaos_chain import ChaosChain
from tests.emulator.chaos_emulators import EmulatorHosts
from tests.emulator.chaos_kfp import running_kfp
from tests.emulator.chaos_pushes import DeliveryPlan, Sender, write_pushes
from tests.emulator.chaos_report import ChaosReport, Observed, build_report
from tests.launchers.contract_server import ContractServer

STORES = ("firestore", "sqlite")


@dataclass(frozen=True)
class ChaosPlan:
    """What to send, what to kill, and how the push subscriptions retry."""

    events: int = 300
    deliveries: int = 3
    launch_kills: int = 2
    launch_kill_moment: str | None = None  # e.g. "after POST /apis/v2beta1/runs"; None: any request
    intercept_kills: int = 2
    store: str = "firestore"
    rate_per_s: float = 10.0
    redelivery_window_s: float = 10.0
    max_delivery_attempts: int = 5
    stage_timeout_s: int = 20
    quiet_s: float | None = None  # default: longer than a launch may wait silently for a claim
    settle_limit_s: float = 600.0
    seed: int = 0
    function_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Refuse plans that cannot run."""
        if self.events < 1 or self.deliveries < 1:
            raise ValueError("a chaos run sends at least one event, delivered at least once")
        if self.launch_kills < 0 or self.intercept_kills < 0:
            raise ValueError("kill counts cannot be negative")
        if self.store not in STORES:
            raise ValueError(f"store must be one of {', '.join(STORES)}, not {self.store!r}")
        if self.rate_per_s <= 0 or self.quiet_period_s <= 0 or self.stage_timeout_s <= 0:
            raise ValueError("the sending rate, the quiet period and the stage time limit must be positive")

    @property
    def quiet_period_s(self) -> float:
        """How long the chain must be silent to count as quiet.

        A launch delivery that finds its key claimed may wait up to half the stage's time limit
        without a word before it launches or asks for a redelivery, so the default is a little more.
        """
        return self.quiet_s if self.quiet_s is not None else self.stage_timeout_s / 2 + 3


class _LaunchKiller:
    """The KFP API hook that SIGKILLs the launch function at the chosen moments of its requests.

    Without ``only``, ``points`` maps launch request numbers to ``"before"`` or ``"after"``; with
    ``only`` (such as ``"after POST /apis/v2beta1/runs"``), it counts the moments that match and
    kills at the chosen counts.
    """

    def __init__(self, chain: ChaosChain, points: dict[int, str], only: str | None) -> None:
        self.chain = chain
        self.points = points
        self.only = only
        self._matched = 0
        self._lock = threading.Lock()

    def __call__(self, phase: str, number: int, target: str) -> bool:
        moment = f"{phase} {target}"
        if self.only is None:
            due = self.points.get(number) == phase
        elif moment == self.only:
            with self._lock:
                self._matched += 1
                due = self._matched in self.points
        else:
            due = False
        if due:
            self.chain.kill("launch", f"{moment}, launch request {number}")
        return due

    def pending(self) -> int:
        """Planned kills that have not happened (the chain finished first)."""
        return len(self.points) - sum(1 for k in self.chain.kills if k.stage == "launch")


def _launch_killer(plan: ChaosPlan, chain: ChaosChain, rng: random.Random) -> _LaunchKiller:
    """Kill points drawn from the requests every first launch makes (at least three, one a create)."""
    per_event = 1 if plan.launch_kill_moment else 3
    span = range(1, max(per_event * plan.events, plan.launch_kills) + 1)
    points = {number: rng.choice(("before", "after")) for number in rng.sample(span, plan.launch_kills)}
    return _LaunchKiller(chain, points, plan.launch_kill_moment)


def _intercept_kill_timers(plan: ChaosPlan, chain: ChaosChain, rng: random.Random) -> list[threading.Timer]:
    sending_s = max(plan.events / plan.rate_per_s, 2.0)
    timers = []
    for _ in range(plan.intercept_kills):
        at = rng.uniform(0.1, 0.9) * sending_s
        timer = threading.Timer(at, chain.kill, ("intercept", f"{at:.1f} s into sending"))
        timer.daemon = True
        timers.append(timer)
    return timers


def _wait_quiet(chain: ChaosChain, kfp: ContractServer, quiet_s: float, limit_s: float) -> bool:
    """True once no function wrote and the KFP API got no request for ``quiet_s``; False at ``limit_s``."""
    start = last_change = time.monotonic()
    last: tuple[int, int] | None = None
    while time.monotonic() - start < limit_s:
        signature = (chain.activity(), len(kfp.seen))
        now = time.monotonic()
        if signature != last:
            last, last_change = signature, now
        elif now - last_change >= quiet_s:
            return True
        time.sleep(0.25)
    return False


def _store(plan: ChaosPlan, url: str, hosts: EmulatorHosts) -> Store:
    if plan.store == "firestore":
        from kfp_triggers.adapters.store.firestore import FirestoreStore

        return FirestoreStore(url.removeprefix("firestore://"), emulator_host=hosts.firestore)
    return store_from_url(url)


def _function_settings(
    plan: ChaosPlan, hosts: EmulatorHosts, project: str, store_url: str, kfp_url: str
) -> dict[str, str]:
    """Every function's ``KFPT_*`` settings: the example listener, Pub/Sub, the store, the KFP launcher."""
    return {
        "KFPT_CONFIG": str(EXAMPLE),
        "KFPT_SECRETS_DIR": str(EXAMPLE / "secrets"),
        "KFPT_TRANSPORT": "pubsub",
        "PUBSUB_EMULATOR_HOST": hosts.pubsub,
        "KFPT_PUBSUB_PROJECT": project,
        "KFPT_STORE": store_url,
        "KFPT_LAUNCHER": "kfp",
        "KFPT_KFP_HOST": kfp_url,
        "KFPT_STAGE_TIMEOUT_S": str(plan.stage_timeout_s),
        **({"FIRESTORE_EMULATOR_HOST": hosts.firestore} if hosts.firestore else {}),
        **plan.function_env,
    }


def run_chaos(plan: ChaosPlan, hosts: EmulatorHosts, workdir: Path) -> ChaosReport:
    """Run ``plan`` against the emulators at ``hosts``; scratch files go to ``workdir``."""
    if plan.store == "firestore" and hosts.firestore is None:
        raise ValueError("a Firestore store needs the Firestore emulator")
    began = time.monotonic()
    rng = random.Random(plan.seed)
    pushes = write_pushes(plan.events, workdir / "requests", rng)
    project = unique_project("kfpt-chaos")
    store_url = f"firestore://{project}" if plan.store == "firestore" else f"sqlite:///{workdir / 'state.db'}"
    with running_kfp() as (server, kfp):
        settings = _function_settings(plan, hosts, project, store_url, server.base_url)
        killable = tuple(
            s for s, n in (("launch", plan.launch_kills), ("intercept", plan.intercept_kills)) if n
        )
        chain = ChaosChain.start(
            project,
            hosts.pubsub,
            settings,
            workdir / "functions",
            killable,
            plan.max_delivery_attempts,
            ack_deadline_s=min(600, max(10, plan.stage_timeout_s)),  # as the Terraform module sets it
        )
        killer = _launch_killer(plan, chain, rng)
        timers = _intercept_kill_timers(plan, chain, rng)
        try:
            kfp.hook = killer
            for timer in timers:
                timer.start()
            schedule = DeliveryPlan(
                plan.rate_per_s, plan.deliveries, redelivery_window_s=plan.redelivery_window_s
            )
            sender = Sender(chain.ingest_url)
            sender.run(schedule.schedule(pushes, rng))
            for timer in timers:
                timer.join()
            quiet = _wait_quiet(chain, server, plan.quiet_period_s, plan.settle_limit_s)
            letters = chain.dead_letters()
        finally:
            kfp.hook = None
            for timer in timers:
                timer.cancel()
            chain.stop()
        store = _store(plan, store_url, hosts)
        try:
            runs = store.list_runs(10 * plan.events + 100)
            stored = {idempotency_marker(r.idempotency_key) for r in runs if r.idempotency_key}
        finally:
            store.close()
        observed = Observed(
            settings={**asdict(plan), "launch_kills_not_reached": killer.pending()},
            wall_time_s=time.monotonic() - began,
            quiet=quiet,
            event_ids=[p.event_id for p in pushes],
            ingest_answers=sender.statuses(),
            acknowledged=sender.acknowledged(),
            created=kfp.created_runs(),
            letters=letters,
            stored_markers=stored,
            contract_violations=len(server.violations),
            kills=list(chain.kills),
        )
    return build_report(observed)
