"""Concurrency groups through the launch and status stages, on a real store (SQLite and Firestore).

Run requests are rendered from a listener whose trigger sets ``kfp-triggers.dev/concurrency-*``
and delivered to the launch stage as separate invocations would (separate stage contexts sharing
the store); the status stage sees runs end and hands freed slots on. The backend is a recording
stand-in whose runs change state only when the test says so, so every policy can be driven
through its overlaps deterministically; cancellation on the real backends has its own tests.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.adapters.launchers.base import (
    LaunchedRun,
    LaunchRequest,
    LaunchUnavailable,
    RunState,
    RunStatus,
)
from kfp_triggers.adapters.notifiers import RunStateChange, Supersession
from kfp_triggers.adapters.store.base import Store
from kfp_triggers.adapters.store.firestore import FirestoreStore
from kfp_triggers.adapters.store.sqlite import SqliteStore
from kfp_triggers.app.validation import load
from kfp_triggers.config import Configuration
from kfp_triggers.interceptors.resolve import InterceptorFactory
from kfp_triggers.secretstore import FileSecrets
from kfp_triggers.stages import StageContext, launch, status
from kfp_triggers.stages.pipeline import idempotency_key, invocation_uid
from kfp_triggers.tekton.interceptor_protocol import InterceptorServices
from kfp_triggers.tekton.processing import EventProcessor, render_template
from kfp_triggers.tekton.request import RawRequest
from kfp_triggers.wire.events import CloudEvent, ObjectRef, RunCreated, RunRequested, StatusTick, event_for
from tests.conftest import EXAMPLES
from tests.emulator.firestore_fixture import firestore_emulator  # noqa: F401 - a fixture

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PIPELINE = EXAMPLES / "pipelines" / "train.yaml"
BRANCHES = EXAMPLES / "github-branches"
SECRETS = EXAMPLES / "github-push" / "secrets"


def config_text(policy: str, max_running: int = 1, gates: str = "") -> str:
    extra = f'\n    kfp-triggers.dev/max-running: "{max_running}"' if policy.startswith("queue") else ""
    extra += gates
    return f"""
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata:
  name: el
spec:
  triggers:
    - {{name: train, triggerRef: train}}
    - {{name: closed, triggerRef: closed}}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: Trigger
metadata:
  name: train
  annotations:
    kfp-triggers.dev/concurrency-group: "train/$(tt.params.branch)"
    kfp-triggers.dev/concurrency-policy: {policy}{extra}
spec:
  bindings: [{{name: branch, value: $(body.branch)}}, {{name: n, value: $(body.n)}}]
  template: {{ref: train}}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: Trigger
metadata:
  name: closed
  annotations:
    kfp-triggers.dev/concurrency-group: "train/$(tt.params.branch)"
    kfp-triggers.dev/concurrency-action: cancel-group
spec:
  bindings: [{{name: branch, value: $(body.branch)}}, {{name: n, value: $(body.n)}}]
  template: {{ref: train}}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata: {{name: train}}
spec:
  params: [{{name: branch}}, {{name: n}}]
  resourcetemplates:
    - apiVersion: pipelines.kubeflow.org/v2beta1
      kind: Run
      metadata: {{name: train-$(tt.params.n)}}
      spec:
        display_name: train $(tt.params.branch) $(tt.params.n)
        pipeline_package: {PIPELINE}
        runtime_config: {{parameters: {{}}}}
"""


class Crash(BaseException):
    """Stands for the launching process dying (SIGKILL) mid-invocation."""


class Backend:
    """Runs that start PENDING and change only when the test says; cancels recorded."""

    def __init__(self) -> None:
        self.states: dict[str, RunState] = {}
        self.keys: dict[str, str] = {}
        self.cancelled: list[str] = []
        self.unreachable = 0  # how many cancel calls fail next (a retryable failure)
        self.crash_next_launch = False  # the launching process dies before the create

    def launch(self, request: LaunchRequest) -> LaunchedRun:
        if self.crash_next_launch:
            self.crash_next_launch = False
            raise Crash
        found = self.find(request.idempotency_key)
        if found is not None:
            return found
        run_id = f"run-{len(self.states)}"
        self.states[run_id] = RunState.RUNNING
        self.keys[request.idempotency_key] = run_id
        return LaunchedRun(run_id, "fake", RunState.RUNNING)

    def find(self, idempotency_key: str) -> LaunchedRun | None:
        run_id = self.keys.get(idempotency_key)
        return None if run_id is None else LaunchedRun(run_id, "fake", self.states[run_id], existing=True)

    def get_state(self, run_id: str) -> RunStatus:
        return RunStatus(self.states[run_id])

    def cancel(self, run_id: str) -> RunStatus:
        if self.unreachable:
            self.unreachable -= 1
            raise LaunchUnavailable("the backend did not answer")
        self.cancelled.append(run_id)
        if not self.states[run_id].is_terminal:
            self.states[run_id] = RunState.CANCELED
        return RunStatus(self.states[run_id])

    def running(self) -> list[str]:
        return [r for r, s in self.states.items() if not s.is_terminal]


class Outbox:
    """A publisher that keeps what the stages hand on."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, CloudEvent]] = []

    def publish(self, topic: str, event: CloudEvent) -> str:
        self.sent.append((topic, event))
        return str(len(self.sent))

    def run_requests(self) -> list[RunRequested]:
        return [
            RunRequested.from_data(e.data) for t, e in self.sent if e["type"].endswith("run.requested.v1")
        ]


class Chain:
    """The launch and status stages over one store, config, backend and outbox."""

    def __init__(
        self, store: Callable[[], Store], tmp_path: Path, policy: str, max_running: int = 1, gates: str = ""
    ) -> None:
        path = tmp_path / "config.yaml"
        path.write_text(config_text(policy, max_running, gates), encoding="utf-8")
        self.config: Configuration = load([path], check_cel=False)
        self.listener_name = "el"
        self.store_factory = store
        self.backend = Backend()
        self.outbox = Outbox()
        self.now = T0
        self.events = 0
        self.notified: list[RunStateChange] = []

    def context(self) -> StageContext:
        """A fresh stage context: another function instance, another ledger owner."""
        config = self.config
        return StageContext(
            config=config,
            processor_factory=lambda: EventProcessor(config, InterceptorFactory(InterceptorServices())),
            publisher=self.outbox,
            store_factory=self.store_factory,
            launcher_factory=lambda: self.backend,
            notifiers_factory=lambda: [self],
            lease_s=60.0,
            claim_wait_s=0.2,
            clock=lambda: self.now,
            config_root=str(PIPELINE.parent.parent),
        )

    def request(self, branch: str, trigger: str = "train", received_s: float | None = None) -> RunRequested:
        """A new event on ``branch`` received ``received_s`` after T0, rendered for ``trigger``."""
        self.events += 1
        event_id = f"ev-{self.events}"
        received = T0 + timedelta(seconds=self.events if received_s is None else received_s)
        self.store_factory().record_event(event_id, "default/el", received, {"n": self.events}, None)
        listener = self.config.listener(self.listener_name)
        [resolved] = [t for t in self.config.triggers_for(listener) if t.name == trigger]
        listener_ref = ObjectRef("default", "el")
        trigger_ref = ObjectRef("default", trigger)
        key = idempotency_key(listener_ref, trigger_ref, event_id)
        params = {"branch": branch, "n": str(self.events)}
        resources = render_template(listener, resolved, params, event_id, invocation_uid(key))
        return RunRequested(event_id, listener_ref, trigger_ref, key, invocation_uid(key), params, resources)

    def notify(self, change: RunStateChange) -> None:
        """The status stage's notifier: every change is kept."""
        self.notified.append(change)

    def launch(self, requested: RunRequested) -> list[RunCreated]:
        return launch(self.context(), event_for(requested, source="//test", traceparent=None), requested)

    def finish(self, run_id: str, state: RunState = RunState.SUCCEEDED) -> None:
        """The backend ends ``run_id``; a status tick notices and hands freed slots on."""
        self.backend.states[run_id] = state
        self.tick()

    def tick(self) -> None:
        tick = StatusTick(tick_at=self.now.isoformat())
        status(self.context(), event_for(tick, source="//test", traceparent=None), tick)

    def deliver_handed_on(self) -> list[RunCreated]:
        """Deliver every run request status handed back to launch, then forget them."""
        requests = self.outbox.run_requests()
        self.outbox.sent.clear()
        return [run for requested in requests for run in self.launch(requested)]

    def notes(self, requested: RunRequested) -> dict[str, Any]:
        event = self.store_factory().get_event(requested.event_id)
        assert event is not None
        [record] = [t for t in event.triggers if t.trigger == requested.trigger.name]
        return {"run": record.run_id, "note": record.launch_note, "error": record.launch_error}


@pytest.fixture(params=["sqlite", pytest.param("firestore", marks=pytest.mark.emulator)])
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Store]:
    if request.param == "sqlite":
        return functools.partial(SqliteStore, tmp_path / "state.db")
    host = request.getfixturevalue("firestore_emulator")
    return functools.partial(FirestoreStore, f"kfpt-groups-{uuid.uuid4().hex[:10]}", emulator_host=host)


def test_cancel_in_progress_keeps_only_the_newest_run_of_a_branch(
    store_factory: Callable[[], Store], tmp_path: Path
) -> None:
    chain = Chain(store_factory, tmp_path, "cancel-in-progress")
    first, second = chain.request("main"), chain.request("main")
    other = chain.request("dev")
    [run1] = chain.launch(first)
    [run_other] = chain.launch(other)
    [run2] = chain.launch(second)
    assert chain.backend.cancelled == [run1.run_id]
    assert sorted(chain.backend.running()) == sorted([run2.run_id, run_other.run_id])
    assert chain.notes(second)["note"] == f"launched; cancelled run {run1.run_id}"
    # An older push delivered late is superseded: it neither launches nor cancels the newer run.
    late = chain.request("main", received_s=1.5)
    assert chain.launch(late) == []
    assert chain.launch(late) == []  # redelivered: the same verdict, still nothing
    assert chain.notes(late) == {"run": None, "note": f"superseded by event {second.event_id}", "error": None}
    # Redelivering the newest request neither creates nor cancels anything.
    assert [r.run_id for r in chain.launch(second)] == [run2.run_id]
    assert chain.backend.cancelled == [run1.run_id] and len(chain.backend.states) == 3
    # CANCELED reaches the journal's run state through status.
    chain.tick()
    stored = store_factory().get_run(run1.run_id)
    assert stored is not None and stored.state == "CANCELED"
    # The cancelled run's commit status names the run that replaced it.
    [cancelled] = [c for c in chain.notified if c.run_id == run1.run_id and c.state == "CANCELED"]
    assert cancelled.superseded_by == Supersession(second.event_id, run2.run_id, None)


def test_a_cancellation_that_fails_is_made_again_when_the_request_is_redelivered(
    store_factory: Callable[[], Store], tmp_path: Path
) -> None:
    chain = Chain(store_factory, tmp_path, "cancel-in-progress")
    first, second = chain.request("main"), chain.request("main")
    [run1] = chain.launch(first)
    chain.backend.unreachable = 1
    with pytest.raises(LaunchUnavailable):
        chain.launch(second)  # answered 500: the platform delivers it again
    assert chain.backend.cancelled == [] and len(chain.backend.states) == 1
    [run2] = chain.launch(second)
    assert chain.backend.cancelled == [run1.run_id]
    assert chain.backend.running() == [run2.run_id]


def test_a_crash_between_taking_a_slot_and_launching_gives_the_slot_back_to_the_same_request(
    store_factory: Callable[[], Store], tmp_path: Path
) -> None:
    chain = Chain(store_factory, tmp_path, "queue")
    first, second = chain.request("main"), chain.request("main")
    chain.backend.crash_next_launch = True
    with pytest.raises(Crash):
        chain.launch(first)  # admitted, holding the group's one slot, then dead before the create
    assert chain.launch(second) == []  # the slot is still held: the newcomer queues
    chain.now += timedelta(seconds=61)  # the dead invocation's claim lapses; its message comes again
    [run1] = chain.launch(first)
    assert run1.event_id == first.event_id and len(chain.backend.states) == 1
    chain.finish(run1.run_id)
    [run2] = chain.deliver_handed_on()
    assert run2.event_id == second.event_id and len(chain.backend.states) == 2


def test_skip_drops_what_arrives_while_a_run_is_in_progress(
    store_factory: Callable[[], Store], tmp_path: Path
) -> None:
    chain = Chain(store_factory, tmp_path, "skip")
    first, second = chain.request("main"), chain.request("main")
    [run1] = chain.launch(first)
    assert chain.launch(second) == []
    assert chain.notes(second)["note"] == f"skipped: run {run1.run_id} in progress"
    chain.finish(run1.run_id)
    third = chain.request("main")
    assert len(chain.launch(third)) == 1
    assert chain.launch(second) == []  # once skipped, always skipped


def test_queue_runs_at_most_n_and_starts_the_rest_as_slots_free(
    store_factory: Callable[[], Store], tmp_path: Path
) -> None:
    chain = Chain(store_factory, tmp_path, "queue", max_running=2)
    requests = [chain.request("main") for _ in range(5)]
    launched = [run for r in requests for run in chain.launch(r)]
    assert len(launched) == 2 and len(chain.backend.running()) == 2
    assert chain.notes(requests[2])["note"] == f"queued behind run {launched[0].run_id}"
    assert chain.launch(requests[3]) == []  # a redelivered queued request stays queued
    started: list[RunCreated] = []
    while chain.backend.running():
        chain.finish(chain.backend.running()[0])
        assert len(chain.backend.running()) <= 2
        started += chain.deliver_handed_on()
        assert len(chain.backend.running()) <= 2
    assert [r.event_id for r in launched + started] == [r.event_id for r in requests]
    assert len(chain.backend.states) == 5


def test_queue_latest_keeps_one_waiting_and_journals_the_replaced_one(
    store_factory: Callable[[], Store], tmp_path: Path
) -> None:
    chain = Chain(store_factory, tmp_path, "queue-latest")
    first, second, third = (chain.request("main") for _ in range(3))
    [run1] = chain.launch(first)
    assert chain.launch(second) == [] and chain.launch(third) == []
    assert chain.notes(second)["note"] == f"superseded by event {third.event_id}"
    chain.finish(run1.run_id)
    [run3] = chain.deliver_handed_on()
    assert run3.event_id == third.event_id
    assert chain.launch(second) == []  # the replaced request never runs
    assert len(chain.backend.states) == 2


def test_a_cancel_group_trigger_stops_the_groups_runs(
    store_factory: Callable[[], Store], tmp_path: Path
) -> None:
    chain = Chain(store_factory, tmp_path, "queue", max_running=2)
    runs = [run for r in (chain.request("main"), chain.request("main")) for run in chain.launch(r)]
    closing = chain.request("main", trigger="closed")
    assert chain.launch(closing) == []
    assert sorted(chain.backend.cancelled) == sorted(r.run_id for r in runs)
    assert chain.notes(closing)["note"].startswith("cancelled the runs of group default/train/main")
    assert chain.launch(closing) == [] and len(chain.backend.cancelled) == 2  # cancels once


def test_a_crash_between_a_run_ending_and_its_slot_freeing_loses_nothing(
    store_factory: Callable[[], Store], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain = Chain(store_factory, tmp_path, "queue")
    first, second = chain.request("main"), chain.request("main")
    [run1] = chain.launch(first)
    assert chain.launch(second) == []
    from kfp_triggers.stages import groups

    real = groups.hand_on

    def crash(ctx: StageContext, members: list[Any]) -> None:
        if members:
            raise RuntimeError("the status instance died right after freeing the slot")

    monkeypatch.setattr(groups, "hand_on", crash)
    chain.backend.states[run1.run_id] = RunState.SUCCEEDED
    with pytest.raises(RuntimeError):
        chain.tick()
    monkeypatch.setattr(groups, "hand_on", real)
    chain.tick()  # the transition is seen again; the slot is already free, the request not yet resent
    assert chain.outbox.run_requests() == []
    chain.now = T0 + timedelta(minutes=10)
    chain.tick()  # a later tick finds the reservation that never came back and sends it again
    [run2] = chain.deliver_handed_on()
    assert run2.event_id == second.event_id


def signed_push(ref: str, sha: str, deleted: bool = False) -> RawRequest:
    """A GitHub push to ``ref`` signed with the example secret, as GitHub delivers it."""
    body = json.dumps(
        {"ref": ref, "after": sha, "deleted": deleted, "repository": {"full_name": "acme-ml/fraud-model"}}
    ).encode()
    signature = hmac.new(
        (SECRETS / "github-webhook" / "secret").read_bytes(), body, hashlib.sha256
    ).hexdigest()
    headers = {
        "Content-Type": ["application/json"],
        "X-GitHub-Event": ["push"],
        "X-GitHub-Delivery": [sha],
        "X-Hub-Signature-256": [f"sha256={signature}"],
    }
    return RawRequest("POST", "/", headers, body)


def test_the_branch_example_cancels_a_branchs_older_run_and_a_deleted_branchs_runs(
    store_factory: Callable[[], Store], tmp_path: Path
) -> None:
    chain = Chain(store_factory, tmp_path, "allow")
    chain.config = load([BRANCHES])
    chain.listener_name = "github-branches"
    listener = chain.config.listener("github-branches")
    processor = EventProcessor(chain.config, InterceptorFactory(InterceptorServices(FileSecrets(SECRETS))))

    def deliver(ref: str, sha: str, deleted: bool = False) -> list[RunCreated]:
        chain.events += 1
        event_id = f"ev-{chain.events}"
        store_factory().record_event(
            event_id, "default/github-branches", T0 + timedelta(seconds=chain.events), {}, None
        )
        listener_ref = ObjectRef("default", "github-branches")
        created: list[RunCreated] = []
        for outcome in processor.process(listener, signed_push(ref, sha, deleted), event_id, uid=lambda: "u"):
            if not outcome.accepted:
                continue
            trigger_ref = ObjectRef("default", outcome.trigger.name)
            key = idempotency_key(listener_ref, trigger_ref, event_id)
            uid = invocation_uid(key)
            [resolved] = [t for t in chain.config.triggers_for(listener) if t.name == outcome.trigger.name]
            resources = render_template(listener, resolved, outcome.params, event_id, uid)
            requested = RunRequested(event_id, listener_ref, trigger_ref, key, uid, outcome.params, resources)
            created += chain.launch(requested)
        return created

    [main1] = deliver("refs/heads/main", "a" * 40)
    [feature] = deliver("refs/heads/feature/x", "b" * 40)
    [main2] = deliver("refs/heads/main", "c" * 40)
    assert chain.backend.cancelled == [main1.run_id]
    assert sorted(chain.backend.running()) == sorted([feature.run_id, main2.run_id])
    assert deliver("refs/heads/feature/x", "0" * 40, deleted=True) == []
    assert chain.backend.cancelled == [main1.run_id, feature.run_id]
    assert chain.backend.running() == [main2.run_id]


def test_a_rate_limit_delays_launches_and_a_tick_starts_them_when_the_window_allows(
    store_factory: Callable[[], Store], tmp_path: Path
) -> None:
    gates = '\n    kfp-triggers.dev/rate-limit: "2/1m"'
    chain = Chain(store_factory, tmp_path, "allow", gates=gates)
    requests = [chain.request("main") for _ in range(3)]
    launched = [run for r in requests for run in chain.launch(r)]
    assert len(launched) == 2
    note = chain.notes(requests[2])["note"]
    assert note == "delayed until 2026-12-01T12:01:00+00:00 (rate limit 2 per 60 s)"
    chain.now = T0 + timedelta(seconds=59)
    chain.tick()
    assert chain.deliver_handed_on() == []
    chain.now = T0 + timedelta(seconds=61)
    chain.tick()  # the first launch has left the window
    [third] = chain.deliver_handed_on()
    assert third.event_id == requests[2].event_id and len(chain.backend.states) == 3


def test_a_debounce_launches_the_last_push_of_a_burst_once_it_is_quiet(
    store_factory: Callable[[], Store], tmp_path: Path
) -> None:
    gates = '\n    kfp-triggers.dev/debounce: "30s"'
    chain = Chain(store_factory, tmp_path, "cancel-in-progress", gates=gates)
    burst = [chain.request("main") for _ in range(3)]
    for requested in burst:
        chain.now = T0 + timedelta(seconds=int(requested.event_id.rsplit("-", 1)[1]))
        assert chain.launch(requested) == []
    assert [chain.notes(r)["note"] for r in burst[:2]] == [
        f"superseded by event {burst[1].event_id}",
        f"superseded by event {burst[2].event_id}",
    ]
    assert chain.launch(burst[0]) == []  # a superseded push stays superseded
    chain.now = T0 + timedelta(seconds=32)
    chain.tick()
    assert chain.deliver_handed_on() == []  # the last push waits 30 s from its arrival
    chain.now = T0 + timedelta(seconds=34)
    chain.tick()
    [run] = chain.deliver_handed_on()
    assert run.event_id == burst[2].event_id and len(chain.backend.states) == 1
