"""The run-control section: a burst of pushes to one branch under a concurrency group's policy.

One ``serve`` process (in-process bus, SQLite store in a temporary directory, the ``kfp`` launcher)
runs a listener with one trigger whose group is the pushed branch; every push goes to the same
branch, at a steady rate, each with its own ``Idempotency-Key`` (so each is an event of its own).
The KFP API is a stand-in (:mod:`bench.kfp_timed`) whose runs are RUNNING from creation and
SUCCEEDED a fixed time later, and which keeps its own timeline of every run. Two scenarios:

* ``cancel-in-progress``: runs take 3 s, far longer than the gap between pushes, so each push
  finds its predecessor's run going and must cancel it. Expected: exactly one SUCCEEDED run (the
  last push's); every other invocation cancelled (its run CANCELED) or superseded (no run, its
  journal's ``launchNote`` says so);
* ``queue`` with ``max-running: 2``: runs take 0.5 s. Expected: never more than two runs going at
  once, and every push's run SUCCEEDED in the end.

Both also expect that the group is left empty and that no invocation is lost. These are figures,
not assertions: what the engine did is reported as observed (bench/run.py's targets compare them
with the expectations; :func:`expectations` says which hold), with the event ids, journal notes
and group members behind any shortfall. How many runs were going at once is measured twice: by
a thread asking the stand-in every 20 ms, and exactly from the stand-in's timeline of each run's
start and end. The chain is "quiet" once every acknowledged push has a run or a superseded /
skipped note, every run has ended on the stand-in and in the store, and the group has no members.

``python -m bench.runcontrol [--quick]`` runs this section alone and prints its report.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import json
import logging
import math
import sqlite3
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from bench.common import ROOT, fmt_ms, percentile
from bench.kfp_timed import TimedKfp, max_overlap, running_timed_kfp
from kfp_triggers.adapters.store import TERMINAL_STATES
from kfp_triggers.app.runtime import Settings
from kfp_triggers.app.serve import Server, start

TRAIN = ROOT / "examples" / "pipelines" / "train.yaml"
BRANCH = "main"
GROUP_ID = f"default/{BRANCH}"
"""The group every push falls in: the listener's namespace, then the rendered key (the branch)."""
CANCEL = "cancel_in_progress"
QUEUE = "queue"
#: How much longer than the expected duration the chain is given to become quiet, and a floor.
SETTLE_FACTOR = 2.0
SETTLE_MARGIN_S = 15.0


@dataclass(frozen=True)
class Plan:
    """The burst and the stand-in's timings for both scenarios."""

    pushes: int = 50
    push_seconds: float = 10.0
    cancel_run_s: float = 3.0
    queue_run_s: float = 0.5
    max_running: int = 2
    tick_s: float = 0.2
    sample_every_s: float = 0.02


QUICK_PLAN = Plan(pushes=10, push_seconds=2.0)


@dataclass(frozen=True)
class Scenario:
    """One policy under test: its result key, its annotations' values and how long a run takes."""

    key: str
    policy: str
    run_s: float
    max_running: int | None = None

    def expected_s(self, pushes: int) -> float:
        """How long the runs alone keep the group busy once the last push is in (a lower bound)."""
        if self.max_running is None:
            return self.run_s
        return math.ceil(pushes / self.max_running) * self.run_s


def scenarios(plan: Plan) -> tuple[Scenario, Scenario]:
    """The two scenarios of ``plan``: cancel-in-progress, then queue with ``max_running``."""
    return (
        Scenario(CANCEL, "cancel-in-progress", plan.cancel_run_s),
        Scenario(QUEUE, "queue", plan.queue_run_s, plan.max_running),
    )


def listener_yaml(scenario: Scenario) -> str:
    """The listener: one trigger, grouped by branch under ``scenario``'s policy, one KFP run per push."""
    limit = (
        f'    kfp-triggers.dev/max-running: "{scenario.max_running}"\n'
        if scenario.max_running is not None
        else ""
    )
    return f"""\
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {{name: runcontrol}}
spec:
  triggers: [{{name: train-branch, triggerRef: train-branch}}]
---
apiVersion: triggers.tekton.dev/v1beta1
kind: Trigger
metadata:
  name: train-branch
  annotations:
    kfp-triggers.dev/concurrency-group: "$(tt.params.branch)"
    kfp-triggers.dev/concurrency-policy: {scenario.policy}
{limit}spec:
  bindings:
    - {{name: branch, value: $(body.branch)}}
    - {{name: n, value: $(body.n)}}
  template:
    spec:
      params: [{{name: branch}}, {{name: n}}]
      resourcetemplates:
        - apiVersion: pipelines.kubeflow.org/v2beta1
          kind: Run
          metadata: {{generateName: train-}}
          spec:
            display_name: train $(tt.params.branch) push $(tt.params.n)
            pipeline_package: {TRAIN}
            runtime_config:
              parameters:
                repo: acme/models
                commit_sha: "push-$(tt.params.n)"
                epochs: "1"
"""


def push(url: str, n: int, key: str) -> tuple[int, str | None]:
    """POST push number ``n`` to the branch; the HTTP status and the eventID of the answer."""
    body = json.dumps({"branch": BRANCH, "n": n}).encode()
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            status, raw = answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except OSError:
        return 0, None
    try:
        event_id = json.loads(raw).get("eventID")
    except ValueError:
        event_id = None
    return status, event_id if isinstance(event_id, str) else None


@dataclass(frozen=True)
class Push:
    """One acknowledged push: its number, the eventID ingest answered and when it was sent."""

    n: int
    event_id: str
    sent_at: float


class Sampler:
    """A thread asking the stand-in every ``every_s`` how many runs are going, keeping the maximum."""

    def __init__(self, fake: TimedKfp, every_s: float) -> None:
        self.fake = fake
        self.every_s = every_s
        self.most = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="runcontrol-sampler", daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.most = max(self.most, self.fake.active_now())
            self.samples += 1


def group_record(db: Path) -> dict[str, Any] | None:
    """The group's record as the store keeps it (the ``concurrency_groups`` row's JSON), if any."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return None
    try:
        row = conn.execute("SELECT state FROM concurrency_groups WHERE group_id = ?", (GROUP_ID,)).fetchone()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    if row is None:
        return None
    record: dict[str, Any] = json.loads(row[0])
    return record


def _members(record: dict[str, Any] | None) -> list[dict[str, Any]]:
    return list((record or {}).get("members") or [])


def _outcome(note: str | None, run_state: str | None) -> str:
    """What became of one invocation: its run's state, superseded, skipped, or lost."""
    if run_state is not None:
        return {"SUCCEEDED": "succeeded", "CANCELED": "cancelled"}.get(run_state, f"run {run_state}")
    if note and note.startswith("superseded"):
        return "superseded"
    if note and note.startswith("skipped"):
        return "skipped"
    return "lost"


class Observer:
    """Reads what became of each push: the journal, the store's runs, the stand-in, the group."""

    def __init__(self, srv: Server, fake: TimedKfp, db: Path) -> None:
        self.srv = srv
        self.fake = fake
        self.db = db

    def journal(self, event_id: str) -> tuple[str | None, str | None, str | None] | None:
        """The trigger's run id, launch note and error for ``event_id``; ``None`` before it is decided."""
        record = self.srv.ctx.store.get_event(event_id)
        if record is None or not record.triggers:
            return None
        trigger = record.triggers[0]
        return trigger.run_id, trigger.launch_note, trigger.error

    def quiet(self, events: list[str]) -> bool:
        """Whether the chain has nothing left to do for ``events`` (see the module docstring)."""
        if _members(group_record(self.db)):
            return False
        if any(state not in TERMINAL_STATES for state in self.fake.states().values()):
            return False
        if self.srv.ctx.store.list_runs(1, non_terminal_only=True):
            return False
        for event_id in events:
            found = self.journal(event_id)
            if found is None:
                return False
            run_id, note, error = found
            if not (run_id or error or _outcome(note, None) != "lost"):
                return False
        return True


def measure(scenario: Scenario, plan: Plan) -> dict[str, Any]:
    """Run one scenario on a fresh ``serve`` and stand-in; its figures."""
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="kfpt-bench-runcontrol-") as scratch,
        running_timed_kfp(scenario.run_s) as (server, fake),
    ):
        tmp = Path(scratch)
        (tmp / "config").mkdir()
        (tmp / "secrets").mkdir()
        (tmp / "config" / "listener.yaml").write_text(listener_yaml(scenario), encoding="utf-8")
        db = tmp / "state.db"
        settings = Settings(
            config=str(tmp / "config"),
            secrets_dir=str(tmp / "secrets"),
            store=f"sqlite:///{db}",
            output_root=str(tmp / "runs"),
        )
        environ = {"KFPT_LAUNCHER": "kfp", "KFPT_KFP_HOST": server.base_url}
        srv = start(settings, environ, port=0, tick_s=plan.tick_s)
        http = threading.Thread(target=srv.httpd.serve_forever, name="runcontrol-serve", daemon=True)
        http.start()
        try:
            with Sampler(fake, plan.sample_every_s) as sampler:
                figures = _drive(scenario, plan, srv, fake, db)
            figures["max_running_sampled"] = sampler.most
            figures["samples"] = sampler.samples
        finally:
            srv.httpd.shutdown()
            srv.close()
            srv.ctx.store.close()
        figures["contract_violations"] = len(server.violations)
        figures["contract_violation_examples"] = server.violations[:3]
    figures["wall_s"] = time.perf_counter() - started
    return figures


def _drive(scenario: Scenario, plan: Plan, srv: Server, fake: TimedKfp, db: Path) -> dict[str, Any]:
    """Send the pushes, wait for quiet, and gather the figures."""
    gap = plan.push_seconds / plan.pushes
    sent, pushes = 0, []
    first = time.monotonic()
    for n in range(plan.pushes):
        time.sleep(max(first + n * gap - time.monotonic(), 0.0))
        at = time.monotonic()
        status, event_id = push(srv.url, n, f"runcontrol-{scenario.key}-{n:03d}")
        sent += 1
        if status == 202 and event_id:
            pushes.append(Push(n, event_id, at))
    pushed_s = time.monotonic() - first
    observer = Observer(srv, fake, db)
    events = [p.event_id for p in pushes]
    deadline = time.monotonic() + SETTLE_FACTOR * scenario.expected_s(plan.pushes) + SETTLE_MARGIN_S
    quiet_at = None
    while time.monotonic() < deadline:
        if observer.quiet(events):
            quiet_at = time.monotonic()
            break
        time.sleep(0.05)
    figures = _figures(scenario, plan, observer, pushes)
    figures.update(
        sent=sent,
        acknowledged=len(pushes),
        push_span_s=pushed_s,
        settled=quiet_at is not None,
        quiet_s=None if quiet_at is None else quiet_at - first,
    )
    return figures


def _figures(scenario: Scenario, plan: Plan, observer: Observer, pushes: list[Push]) -> dict[str, Any]:
    """What became of every push, the runs on the stand-in, and the group's record."""
    fake, store = observer.fake, observer.srv.ctx.store
    states = fake.states()
    timelines = fake.timelines()
    by_event: dict[str, list[str]] = {}
    started: dict[str, float] = {}
    for timed in timelines:
        by_event.setdefault(timed.event_id, []).append(timed.run_id)
        started[timed.event_id] = min(started.get(timed.event_id, timed.started), timed.started)
    ends = sorted(t.ended for t in timelines if t.ended is not None)
    numbers = {p.event_id: p.n for p in pushes}
    outcomes: Counter[str] = Counter()
    lost, unrecorded = [], []
    succeeded_pushes = []
    waits, handoffs = [], []
    for p in pushes:
        if p.event_id in started:
            began = started[p.event_id]
            waits.append((began - p.sent_at) * 1e3)
            freed = [end for end in ends if p.sent_at <= end <= began]  # it waited for a slot
            if freed:
                handoffs.append((began - freed[-1]) * 1e3)
    for event_id, n in numbers.items():
        found = observer.journal(event_id)
        run_id, note, error = found if found is not None else (None, None, None)
        outcome = _outcome(note, states.get(run_id, "UNKNOWN") if run_id else None)
        outcomes[outcome] += 1
        if outcome == "succeeded":
            succeeded_pushes.append(n)
        if outcome == "lost":
            lost.append({"eventID": event_id, "journalled": found is not None, "launchNote": note,
                         "error": error})  # fmt: skip
        if not run_id and by_event.get(event_id):
            unrecorded.append({"eventID": event_id, "runs": by_event[event_id]})
    record = group_record(observer.db)
    members = _members(record)
    recorded = {r.run_id: r.state for r in store.list_runs(10 * plan.pushes + 10)}
    mismatched = {run_id: (recorded.get(run_id), state) for run_id, state in states.items()
                  if recorded.get(run_id) != state}  # fmt: skip
    start_order = [numbers.get(e, -1) for e in sorted(started, key=started.__getitem__)]
    run_states = Counter(states.values())
    bus: Any = observer.srv.ctx.publisher
    return {
        "policy": scenario.policy,
        "max_running_limit": scenario.max_running,
        "run_s": scenario.run_s,
        "pushes": plan.pushes,
        "push_seconds": plan.push_seconds,
        "runs_created": len(states),
        "runs_succeeded": run_states.get("SUCCEEDED", 0),
        "runs_canceled": run_states.get("CANCELED", 0),
        "run_states": dict(run_states),
        "outcomes": dict(outcomes),
        "superseded": outcomes.get("superseded", 0),
        "skipped": outcomes.get("skipped", 0),
        "succeeded_pushes": sorted(succeeded_pushes),
        "started_in_push_order": start_order == sorted(start_order),
        "push_to_run_ms": {"p50": percentile(waits, 50), "max": max(waits, default=math.nan)},
        "slot_freed_to_next_run_ms": {
            "n": len(handoffs),
            "p50": percentile(handoffs, 50),
            "max": max(handoffs, default=math.nan),
        },
        "max_running_exact": max_overlap([(t.started, t.ended) for t in timelines]),
        "members_left": len(members),
        "group_members": [{k: m.get(k) for k in ("key", "eventID", "status", "runID")} for m in members],
        "group_found": record is not None,
        "lost": len(lost),
        "lost_events": lost,
        "runs_not_in_journal": unrecorded,
        "duplicates": sum(1 for runs in by_event.values() if len(runs) > 1),
        "recorded_state_mismatches": {k: list(v) for k, v in mismatched.items()},
        "delivery_failures": len(getattr(bus, "failures", ())),
        "dead_letters": sum(1 for m in getattr(bus, "published", ()) if m.topic.endswith("-dead-letter")),
    }


def expectations(figures: dict[str, Any]) -> dict[str, bool]:
    """Which of its scenario's expectations one scenario's figures meet, by name."""
    acked = figures["acknowledged"]
    outcomes = figures["outcomes"]
    common = {
        "all_acknowledged": acked == figures["sent"] == figures["pushes"],
        "none_lost": figures["lost"] == 0,
        "group_empty": figures["members_left"] == 0,
        "settled": bool(figures["settled"]),
    }
    if figures["policy"] == "cancel-in-progress":
        others = outcomes.get("cancelled", 0) + outcomes.get("superseded", 0)
        return {
            **common,
            "one_succeeded": figures["runs_succeeded"] == 1 and outcomes.get("succeeded", 0) == 1,
            "others_cancelled_or_superseded": others == acked - 1,
        }
    limit = figures["max_running_limit"]
    return {
        **common,
        "within_limit": max(figures["max_running_sampled"], figures["max_running_exact"]) <= limit,
        "all_succeeded": outcomes.get("succeeded", 0) == acked and figures["runs_succeeded"] == acked,
    }


def run(plan: Plan, concurrently: bool = False) -> dict[str, Any]:
    """Measure both scenarios of ``plan``; the section's result.

    They run one after the other, so neither takes CPU from the other; ``concurrently`` runs them
    side by side instead (each still on a ``serve``, store and stand-in of its own), which halves
    the time of a smoke run whose figures are not compared with anything.
    """
    started = time.perf_counter()
    result: dict[str, Any] = {"measured": True, "plan": asdict(plan), "concurrently": concurrently}
    both = scenarios(plan)
    if concurrently:
        with ThreadPoolExecutor(len(both), thread_name_prefix="runcontrol") as pool:
            futures = {s.key: pool.submit(measure, s, plan) for s in both}
            measured = {key: future.result() for key, future in futures.items()}
    else:
        measured = {s.key: measure(s, plan) for s in both}
    for key, figures in measured.items():
        result[key] = {**figures, "expectations": expectations(figures)}
    result["wall_s"] = time.perf_counter() - started
    return result


def _most(figures: dict[str, Any]) -> str:
    return f"sampled {figures['max_running_sampled']}, exact {figures['max_running_exact']}"


def report_scenario(title: str, figures: dict[str, Any]) -> list[str]:
    """Plain-text lines for one scenario, with what fell short of the expectations."""
    quiet = "NOT quiet in time" if figures["quiet_s"] is None else f"quiet {figures['quiet_s']:.1f} s"
    wait, handoff = figures["push_to_run_ms"], figures["slot_freed_to_next_run_ms"]
    other = {s: c for s, c in figures["run_states"].items() if s not in ("SUCCEEDED", "CANCELED")}
    others = f", other states {other}" if other else ""
    lines = [
        f"{title} (runs take {figures['run_s']:g} s): {figures['acknowledged']}/{figures['sent']} pushes "
        f"acknowledged; {figures['runs_created']} runs created, {figures['runs_succeeded']} SUCCEEDED, "
        f"{figures['runs_canceled']} CANCELED{others}; {figures['superseded']} superseded",
        f"  most running at once {_most(figures)}; {figures['members_left']} members left in the group, "
        f"{figures['lost']} lost; {quiet} after the first push (pushes took {figures['push_span_s']:.1f} s)",
        f"  push -> its run created on KFP: p50 {fmt_ms(wait['p50'])} ms, max {fmt_ms(wait['max'])} ms; "
        f"a run's end -> the run that waited for it created: p50 {fmt_ms(handoff['p50'])} ms, "
        f"max {fmt_ms(handoff['max'])} ms ({handoff['n']} waited)"
        f"{'' if figures['started_in_push_order'] else '; runs NOT started in push order'}",
    ]
    missed = [name for name, ok in figures["expectations"].items() if not ok]
    if missed:
        lines.append(f"  NOT as expected: {', '.join(missed)}")
    for lost in figures["lost_events"][:5]:
        lines.append(
            f"  lost: event {lost['eventID']} (journalled {lost['journalled']}), "
            f"launchNote {lost['launchNote']!r}, error {lost['error']!r}"
        )
    for member in figures["group_members"][:5]:
        lines.append(f"  left in group {GROUP_ID}: {member}")
    anomalies = {
        "runs the journal does not name": len(figures["runs_not_in_journal"]),
        "events with more than one run": figures["duplicates"],
        "runs whose recorded state differs from the stand-in's": len(figures["recorded_state_mismatches"]),
        "failed deliveries on the bus": figures["delivery_failures"],
        "dead letters": figures["dead_letters"],
        "KFP contract violations": figures["contract_violations"],
    }
    shown = "; ".join(f"{what} {count}" for what, count in anomalies.items() if count)
    if shown:
        lines.append(f"  also: {shown}")
    return lines


def report(result: dict[str, Any]) -> list[str]:
    """Plain-text lines for the section."""
    if not result.get("measured"):
        return [f"not measured: {result.get('skipped')}"]
    plan = result["plan"]
    lines = [
        f"serve in one process (in-process bus, SQLite), kfp launcher on a KFP stand-in whose runs are "
        f"RUNNING at creation; {plan['pushes']} pushes to one branch over {plan['push_seconds']:g} s, "
        f"each its own event; status tick {plan['tick_s']:g} s; running counted every "
        f"{plan['sample_every_s'] * 1e3:g} ms and exactly from the stand-in's timeline"
    ]
    lines += report_scenario("cancel-in-progress", result[CANCEL])
    lines += report_scenario(f"queue, max-running {plan['max_running']}", result[QUEUE])
    side = " (both scenarios side by side)" if result.get("concurrently") else ""
    lines.append(f"section took {result['wall_s']:.0f} s{side}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run this section alone and print its report (``--json`` adds the figures)."""
    parser = argparse.ArgumentParser(description="the run-control benchmark section alone")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_PLAN.pushes} pushes instead of 50, both scenarios side by side (a smoke run)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON after the report")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    result = run(QUICK_PLAN if args.quick else Plan(), concurrently=args.quick)
    print("\n".join(report(result)))
    if args.json:
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
