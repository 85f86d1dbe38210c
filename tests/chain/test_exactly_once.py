"""Exactly one run per (listener, trigger, event), however the launch stage is delivered.

The launch stage is driven directly with a real rendered run request, a real store (SQLite, and
Firestore on its emulator) and the real local launcher running the example pipeline. Workers are
separate stage contexts (separate ledger owners) sharing the store and the launcher's output root,
as separate function instances would.
"""

from __future__ import annotations

import functools
import threading
import time
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
from kfp_triggers.adapters.launchers.local import LocalLauncher
from kfp_triggers.adapters.store.base import Store
from kfp_triggers.adapters.store.firestore import FirestoreStore
from kfp_triggers.adapters.store.sqlite import SqliteStore
from kfp_triggers.adapters.transports.memory import MemoryBus
from kfp_triggers.app.validation import load
from kfp_triggers.interceptors.resolve import InterceptorFactory
from kfp_triggers.secretstore import FileSecrets
from kfp_triggers.stages import StageContext, launch
from kfp_triggers.stages.pipeline import idempotency_key, invocation_uid
from kfp_triggers.stages.runs import LaunchInProgressError
from kfp_triggers.tekton.interceptor_protocol import InterceptorServices
from kfp_triggers.tekton.processing import EventProcessor
from kfp_triggers.tekton.request import read_http_request
from kfp_triggers.wire.events import CloudEvent, ObjectRef, RunCreated, RunRequested, event_for
from tests.conftest import EXAMPLES
from tests.emulator.firestore_fixture import firestore_emulator  # noqa: F401 - a fixture

EXAMPLE = EXAMPLES / "github-push"
EVENT_ID = "0b6f5a2e-c9d1-11f0-8a1e-4f2c7a9d3b01"
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


class Crash(BaseException):
    """Stands for the process dying between creating the run and recording it."""


class CrashAfterLaunch:
    """The real launcher, but the worker dies right after the backend created the run."""

    def __init__(self, inner: LocalLauncher) -> None:
        self.inner = inner

    def launch(self, request: LaunchRequest) -> LaunchedRun:
        self.inner.launch(request)
        raise Crash

    def find(self, idempotency_key: str) -> LaunchedRun | None:
        return self.inner.find(idempotency_key)

    def get_state(self, run_id: str) -> RunStatus:
        return self.inner.get_state(run_id)


def _requested() -> RunRequested:
    config = load([EXAMPLE])
    listener = config.listener("github-push")
    processor = EventProcessor(
        config, InterceptorFactory(InterceptorServices(FileSecrets(EXAMPLE / "secrets")))
    )
    request = read_http_request(EXAMPLE / "requests" / "push.http")
    listener_ref = ObjectRef(listener.namespace, listener.name)
    key = idempotency_key(listener_ref, ObjectRef("default", "train-on-main"), EVENT_ID)
    uid = invocation_uid(key)  # as render derives it, so launch recognises the request as rendered
    [outcome] = [o for o in processor.process(listener, request, EVENT_ID, uid=lambda: uid) if o.accepted]
    trigger_ref = ObjectRef(outcome.trigger.namespace, outcome.trigger.name)
    return RunRequested(
        event_id=EVENT_ID,
        listener=listener_ref,
        trigger=trigger_ref,
        idempotency_key=key,
        uid=uid,
        params=outcome.params,
        resources=outcome.resources,
    )


class Clock:
    """A settable clock shared by every worker, so lease expiry needs no sleeping."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _worker(store: Callable[[], Store], launcher: Any, clock: Clock) -> StageContext:
    config = load([EXAMPLE], check_cel=False)
    return StageContext(
        config=config,
        processor_factory=lambda: EventProcessor(config, InterceptorFactory(InterceptorServices())),
        publisher=MemoryBus(),
        store_factory=store,
        launcher_factory=lambda: launcher,
        lease_s=60.0,
        claim_wait_s=0.5,
        clock=clock,
    )


@pytest.fixture(params=["sqlite", pytest.param("firestore", marks=pytest.mark.emulator)])
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Store]:
    if request.param == "sqlite":
        return functools.partial(SqliteStore, tmp_path / "state.db")
    host = request.getfixturevalue("firestore_emulator")
    return functools.partial(FirestoreStore, f"kfpt-once-{uuid.uuid4().hex[:10]}", emulator_host=host)


def _deliver(ctx: StageContext, event: CloudEvent, requested: RunRequested) -> list[RunCreated]:
    """Deliver until the stage succeeds, as Pub/Sub redelivers after a retryable failure."""
    for _ in range(400):
        try:
            return launch(ctx, event, requested)
        except LaunchInProgressError:
            time.sleep(0.02)
    raise AssertionError("launch never completed")


def _run_dirs(root: Path) -> list[Path]:
    return [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]


def test_concurrent_redeliveries_launch_one_run(store_factory: Callable[[], Store], tmp_path: Path) -> None:
    requested = _requested()
    event = event_for(requested, source="//test", traceparent=None)
    clock = Clock()
    with LocalLauncher(tmp_path / "runs") as launcher:
        workers = [_worker(store_factory, launcher, clock) for _ in range(8)]
        results: list[list[RunCreated]] = []
        threads = [
            threading.Thread(target=lambda w=w: results.append(_deliver(w, event, requested)))
            for w in workers
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert len(results) == 8
        run_ids = {created.run_id for result in results for created in result}
        assert len(run_ids) == 1
        assert len(_run_dirs(tmp_path / "runs")) == 1
        store = store_factory()
        assert [r.run_id for r in store.list_runs(100)] == list(run_ids)
        launcher.wait(next(iter(run_ids)), timeout_s=60)


def test_a_crash_between_create_and_record_is_adopted_without_a_second_run(
    store_factory: Callable[[], Store], tmp_path: Path
) -> None:
    requested = _requested()
    event = event_for(requested, source="//test", traceparent=None)
    clock = Clock()
    with LocalLauncher(tmp_path / "runs") as launcher:
        doomed = _worker(store_factory, CrashAfterLaunch(launcher), clock)
        with pytest.raises(Crash):
            launch(doomed, event, requested)
        assert len(_run_dirs(tmp_path / "runs")) == 1  # the backend has the run; nobody recorded it
        survivor = _worker(store_factory, launcher, clock)
        # The dead invocation's lease is still live, but the backend has the run: it is adopted at
        # once, so the redelivery neither waits for the lease nor ends in the dead-letter topic.
        [created] = launch(survivor, event, requested)
        assert len(_run_dirs(tmp_path / "runs")) == 1
        [run] = store_factory().list_runs(100)
        assert run.run_id == created.run_id
        [again] = launch(survivor, event, requested)  # and any later redelivery returns the same run
        assert again.run_id == created.run_id
        event_record = store_factory().get_event(requested.event_id)
        assert event_record is not None and event_record.triggers[0].run_id == created.run_id
        launcher.wait(created.run_id, timeout_s=60)


class CrashBeforeLaunch:
    """The worker dies after claiming the key, before the backend created anything."""

    def __init__(self, inner: LocalLauncher) -> None:
        self.inner = inner

    def launch(self, request: LaunchRequest) -> LaunchedRun:
        raise Crash

    def find(self, idempotency_key: str) -> LaunchedRun | None:
        return self.inner.find(idempotency_key)

    def get_state(self, run_id: str) -> RunStatus:
        return self.inner.get_state(run_id)


def test_a_claim_stranded_before_the_create_is_taken_over_once_its_lease_lapses(
    store_factory: Callable[[], Store], tmp_path: Path
) -> None:
    requested = _requested()
    event = event_for(requested, source="//test", traceparent=None)
    clock = Clock()
    with LocalLauncher(tmp_path / "runs") as launcher:
        with pytest.raises(Crash):
            launch(_worker(store_factory, CrashBeforeLaunch(launcher), clock), event, requested)
        survivor = _worker(store_factory, launcher, clock)
        with pytest.raises(LaunchInProgressError):  # nothing on the backend, and the lease is live
            launch(survivor, event, requested)
        clock.now = T0 + timedelta(seconds=61)  # the dead invocation's lease lapses: a takeover
        [created] = launch(survivor, event, requested)
        assert len(_run_dirs(tmp_path / "runs")) == 1
        assert [r.run_id for r in store_factory().list_runs(100)] == [created.run_id]
        launcher.wait(created.run_id, timeout_s=60)


class RacyBackend:
    """Stands for a backend whose own duplicate check races (KFP's list-then-create): every
    launch call creates a run. Only the ledger can then keep one request to one run."""

    def __init__(self) -> None:
        self.created: list[str] = []
        self.lock = threading.Lock()

    def launch(self, request: LaunchRequest) -> LaunchedRun:
        time.sleep(0.05)  # the create takes a while: the other invocation is right behind
        with self.lock:
            run_id = f"run-{len(self.created)}"
            self.created.append(request.idempotency_key)
        return LaunchedRun(run_id, "racy", RunState.PENDING)

    def find(self, idempotency_key: str) -> LaunchedRun | None:
        with self.lock:
            if idempotency_key in self.created:
                return LaunchedRun(f"run-{self.created.index(idempotency_key)}", "racy", RunState.PENDING)
        return None

    def get_state(self, run_id: str) -> RunStatus:
        return RunStatus(RunState.PENDING)


def test_two_deliveries_in_one_instance_launch_once(store_factory: Callable[[], Store]) -> None:
    requested = _requested()
    event = event_for(requested, source="//test", traceparent=None)
    backend = RacyBackend()
    worker = _worker(store_factory, backend, Clock())  # one instance: one context, many threads
    results: list[list[RunCreated]] = []
    threads = [
        threading.Thread(target=lambda: results.append(_deliver(worker, event, requested))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert backend.created == [requested.idempotency_key]
    assert {c.run_id for result in results for c in result} == {"run-0"}


class TimesOutAfterCreating:
    """A backend that skips its duplicate check when told the key is new, as the KFP launcher does,
    and whose first create times out on our side after the server made the run."""

    def __init__(self) -> None:
        self.created: list[str] = []
        self.first_attempts: list[bool] = []

    def launch(self, request: LaunchRequest) -> LaunchedRun:
        self.first_attempts.append(request.first_attempt)
        if not request.first_attempt and (found := self.find(request.idempotency_key)) is not None:
            return found
        self.created.append(request.idempotency_key)
        if len(self.created) == 1:
            raise LaunchUnavailable("timed out waiting for the answer (the server created the run)")
        return LaunchedRun(f"run-{len(self.created) - 1}", "slow", RunState.PENDING)

    def find(self, idempotency_key: str) -> LaunchedRun | None:
        if idempotency_key in self.created:
            return LaunchedRun(f"run-{self.created.index(idempotency_key)}", "slow", RunState.PENDING)
        return None

    def get_state(self, run_id: str) -> RunStatus:
        return RunStatus(RunState.PENDING)


def test_only_a_keys_first_attempt_may_skip_the_backend_check(store_factory: Callable[[], Store]) -> None:
    requested = _requested()
    event = event_for(requested, source="//test", traceparent=None)
    backend = TimesOutAfterCreating()
    with pytest.raises(LaunchUnavailable):
        launch(_worker(store_factory, backend, Clock()), event, requested)
    [created] = launch(_worker(store_factory, backend, Clock()), event, requested)  # the redelivery
    assert backend.first_attempts == [True, False]
    assert backend.created == [requested.idempotency_key] and created.run_id == "run-0"
