"""The behaviour every store adapter must show, written once and run against each adapter.

A test module subclasses :class:`StoreContract` and provides a ``store_factory`` fixture: a picklable
callable that opens the store under test, so that other processes can open it too.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kfp_triggers.adapters.store import (
    ClaimStatus,
    LeaseLostError,
    RunNotFoundError,
    RunRecord,
    Store,
    TriggerDecision,
)
from kfp_triggers.adapters.store._groups import GroupMember, GroupRules

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
StoreFactory = Callable[[], Store]


def at(seconds: float) -> datetime:
    """A moment ``seconds`` after the fixed test epoch: every test uses this clock."""
    return T0 + timedelta(seconds=seconds)


def make_run(run_id: str, state: str = "PENDING", created: float = 0, **changes: Any) -> RunRecord:
    fields: dict[str, Any] = {
        "run_id": run_id,
        "event_id": "ev-1",
        "listener": "github",
        "trigger": "train",
        "backend": "local",
        "state": state,
        "created_at": at(created),
        "updated_at": at(created),
        "run_url": f"http://kfp/runs/{run_id}",
        "idempotency_key": f"key-{run_id}",
        "details": {"pipeline": "train.yaml", "params": {"epochs": 3, "lr": 0.5, "tags": [["a"], None]}},
    }
    fields.update(changes)
    return RunRecord(**fields)


REQUEST = {
    "method": "POST",
    "headers": {"X-GitHub-Event": ["push"]},
    "body": '{"ref": "refs/heads/main", "n": [1, [2, 3]], "big": 12345678901234567890}',
    "nested": {"list": [[1, 2], {"a": None}], "float": 1.5, "unicode": "é✓"},
}


def _claim_in_process(factory: StoreFactory, key: str, owner: str, barrier: Any, results: Any) -> None:
    """Child-process body: open the store, wait for every claimer, claim once, report the outcome."""
    try:
        store = factory()
        try:
            barrier.wait(timeout=120)
            with ThreadPoolExecutor(4) as pool:
                claims = list(pool.map(lambda i: store.claim(key, f"{owner}-t{i}", 60.0, T0), range(4)))
            results.put([(claim.status.value, claim.owner) for claim in claims])
        finally:
            store.close()
    except BaseException as exc:  # report, so the parent fails fast instead of waiting
        results.put([("error", repr(exc))])


class StoreContract:
    """Journal, ledger and run behaviour; subclasses supply the ``store_factory`` fixture."""

    @pytest.fixture
    def store(self, store_factory: StoreFactory) -> Iterator[Store]:
        store = store_factory()
        yield store
        store.close()

    # -- journal -----------------------------------------------------------------------------

    def test_unknown_event_is_none(self, store: Store) -> None:
        assert store.get_event("nope") is None
        assert store.list_events(10) == []

    def test_event_round_trip_keeps_request_exactly(self, store: Store) -> None:
        store.record_event("ev-1", "github", at(0), REQUEST, "cfg-1")
        event = store.get_event("ev-1")
        assert event is not None
        assert (event.event_id, event.listener, event.config_version) == ("ev-1", "github", "cfg-1")
        assert event.received_at == T0
        assert event.request == REQUEST
        assert event.triggers == ()

    def test_a_request_is_journalled_once_and_never_replaced(self, store: Store) -> None:
        first = {"bodyBase64": "e30=", "headers": {"X-Hub-Signature-256": ["sha256=aa"]}}
        forged = {"bodyBase64": "eyJmb3JnZWQiOiB0cnVlfQ==", "headers": {}}
        assert store.record_event("ev-1", "default/github", at(0), first, "cfg-1") == "ev-1"
        # The same body again (a redelivery, whatever its headers) is the same event: nothing changes.
        again = {**first, "headers": {"X-Request-Id": ["proxy"]}}
        assert store.record_event("ev-1", "default/github", at(5), again, "cfg-2") == "ev-1"
        # Another body, or another listener, under the same id is another event of its own.
        other_body = store.record_event("ev-1", "default/github", at(6), forged, "cfg-2")
        other_listener = store.record_event("ev-1", "default/open", at(7), first, "cfg-2")
        assert len({"ev-1", other_body, other_listener}) == 3
        assert other_body.startswith("ev-1~") and other_listener.startswith("ev-1~")
        # ... whose own redeliveries land on it.
        assert store.record_event("ev-1", "default/github", at(8), forged, None) == other_body
        kept = store.get_event("ev-1")
        assert kept is not None
        assert (kept.request, kept.listener, kept.received_at) == (first, "default/github", at(0))
        conflicting = store.get_event(other_body)
        assert conflicting is not None and conflicting.request == forged
        assert {e.event_id for e in store.list_events(10)} == {"ev-1", other_body, other_listener}

    def test_the_first_event_with_a_body_is_remembered_per_listener(self, store: Store) -> None:
        later = at(100)
        assert store.first_event_with_body("default/a", "d1", "ev-1", at(0), expires_at=later) == "ev-1"
        assert store.first_event_with_body("default/a", "d1", "ev-2", at(1), expires_at=later) == "ev-1"
        assert store.first_event_with_body("default/b", "d1", "ev-3", at(1), expires_at=later) == "ev-3"
        assert store.first_event_with_body("default/a", "d2", "ev-4", at(1)) == "ev-4"
        # Once the record expired, the body may be seen anew.
        assert store.first_event_with_body("default/a", "d1", "ev-5", at(101), expires_at=at(200)) == "ev-5"

    def test_rewrites_replace_instead_of_duplicating(self, store: Store) -> None:
        store.record_event("ev-1", "github", at(0), {"v": 1}, "cfg-1")
        for accepted in (False, True, True):
            outcome = TriggerDecision("build", None, [{"name": "cel"}], accepted, {"x": accepted}, None)
            store.record_decisions("ev-1", [outcome])
        store.record_render("ev-1", "build", {"a": "1"}, [{"kind": "Run"}], "k1", None)
        store.record_render("ev-1", "build", {"a": "2"}, [{"kind": "Run", "n": 2}], "k1", None)
        event = store.get_event("ev-1")
        assert event is not None
        assert (event.request, event.config_version, event.received_at) == ({"v": 1}, "cfg-1", at(0))
        assert len(event.triggers) == 1
        build = event.triggers[0]
        assert build.accepted is True and build.extensions == {"x": True}
        assert build.params == {"a": "2"} and build.resources == [{"kind": "Run", "n": 2}]
        assert [s.event_id for s in store.list_events(10)] == ["ev-1"]

    def test_whole_story_of_an_event(self, store: Store) -> None:
        decisions = [
            {"name": "github", "response": {"continue": True, "status": {"code": 0}}},
            {"name": "cel", "response": {"continue": True, "extensions": {"short": "abc"}}},
        ]
        store.record_event("ev-1", "github", at(0), REQUEST, "cfg-1")
        store.record_decisions(
            "ev-1",
            [
                TriggerDecision("train", "grp", decisions, True, {"short": "abc"}, None),
                TriggerDecision("docs", None, decisions[:1], False, {}, "filtered by cel"),
            ],
        )
        store.record_render("ev-1", "train", {"sha": "abc"}, [{"kind": "Run", "spec": {}}], "key-r1", None)
        store.record_launch("ev-1", "train", "key-r1", "r1", "local", None)
        store.upsert_run(make_run("r1", "RUNNING"))
        event = store.get_event("ev-1")
        assert event is not None
        assert [t.trigger for t in event.triggers] == ["docs", "train"]
        docs, train = event.triggers
        assert docs.decided and docs.accepted is False and docs.error == "filtered by cel"
        assert not docs.rendered and docs.params is None and docs.run_id is None
        assert train.group == "grp" and train.decisions == decisions
        assert (train.params, train.resources) == ({"sha": "abc"}, [{"kind": "Run", "spec": {}}])
        assert (train.idempotency_key, train.run_id, train.backend) == ("key-r1", "r1", "local")
        assert train.run_state == "RUNNING" and train.error is None
        (summary,) = store.list_events(5)
        assert summary.accepted == ("train",) and summary.rejected == ("docs",)
        assert summary.run_ids == ("r1",) and summary.errors == 1 and summary.received_at == T0

    def test_decisions_of_one_event_leave_other_triggers_and_stages_alone(self, store: Store) -> None:
        store.record_event("ev-2", "github", at(0), REQUEST, "cfg-1")
        store.record_render("ev-2", "a", {"p": "1"}, [], "key-a", None)
        store.record_decisions("ev-2", [TriggerDecision("b", None, [], False, {}, "no")])
        store.record_decisions(
            "ev-2",
            [
                TriggerDecision("a", None, [], True, {"e": 1}, None),
                TriggerDecision("c", "g", [], True, {}, None),
            ],
        )
        store.record_decisions("ev-2", [])
        event = store.get_event("ev-2")
        assert event is not None
        by_name = {t.trigger: t for t in event.triggers}
        assert sorted(by_name) == ["a", "b", "c"]
        assert (
            by_name["a"].accepted
            and by_name["a"].extensions == {"e": 1}
            and by_name["a"].params == {"p": "1"}
        )
        assert by_name["b"].accepted is False and by_name["b"].error == "no"
        assert by_name["c"].group == "g" and by_name["c"].decided

    def test_later_stage_before_ingest_record(self, store: Store) -> None:
        store.record_launch("ev-9", "train", "k", None, "local", "backend said no")
        event = store.get_event("ev-9")
        assert event is not None and event.received_at is None and event.request is None
        assert event.triggers[0].launch_error == "backend said no" and event.triggers[0].launched

    def test_trigger_names_with_awkward_characters(self, store: Store) -> None:
        names = ["a.b-c", "with space", "q`uote", "sl/ash", "ünï"]
        store.record_decisions("ev/1:x", [TriggerDecision(name, None, [], True, {}, None) for name in names])
        for name in names:
            store.record_render("ev/1:x", name, {"n": name}, [], None, None)
        event = store.get_event("ev/1:x")
        assert event is not None
        assert sorted(t.trigger for t in event.triggers) == sorted(names)
        assert all(t.params == {"n": t.trigger} for t in event.triggers)

    def test_list_events_newest_first_limited_and_by_listener(self, store: Store) -> None:
        for i in range(5):
            store.record_event(f"ev-{i}", "gitlab" if i % 2 else "github", at(i), {}, None)
        assert [s.event_id for s in store.list_events(3)] == ["ev-4", "ev-3", "ev-2"]
        assert [s.event_id for s in store.list_events(10, listener="gitlab")] == ["ev-3", "ev-1"]
        assert [s.listener for s in store.list_events(1, listener="github")] == ["github"]

    # -- ledger ------------------------------------------------------------------------------

    def test_claim_acquires_then_others_see_in_progress(self, store: Store) -> None:
        first = store.claim("k", "a", 30, at(0))
        assert first.status is ClaimStatus.ACQUIRED and first.acquired and not first.takeover
        assert first.lease_expires_at == at(30) and first.attempt == 1
        other = store.claim("k", "b", 30, at(10))
        assert other.status is ClaimStatus.IN_PROGRESS and other.owner == "a"
        assert other.lease_expires_at == at(30)
        again = store.claim("k", "a", 30, at(20))
        assert again.acquired and again.lease_expires_at == at(50) and again.attempt == 1

    def test_completed_key_returns_the_stored_result(self, store: Store) -> None:
        store.claim("k", "a", 30, at(0))
        store.complete("k", "a", {"run_id": "r1", "backend": "kfp", "url": None})
        store.complete("k", "a", {"run_id": "r1", "backend": "kfp", "url": None})
        for owner in ("a", "b"):
            done = store.claim("k", owner, 30, at(1000))
            assert done.status is ClaimStatus.COMPLETED and not done.acquired
            assert (done.run_id, done.backend, done.owner) == ("r1", "kfp", "a")
            assert done.result == {"run_id": "r1", "backend": "kfp", "url": None}

    def test_expired_lease_is_taken_over_and_stale_owner_cannot_complete(self, store: Store) -> None:
        store.claim("k", "a", 30, at(0))
        assert store.claim("k", "b", 30, at(29.999)).status is ClaimStatus.IN_PROGRESS
        taken = store.claim("k", "b", 30, at(30))
        assert taken.acquired and taken.takeover and taken.previous_owner == "a"
        assert taken.attempt == 2 and taken.lease_expires_at == at(60)
        with pytest.raises(LeaseLostError):
            store.complete("k", "a", {"run_id": "stale"})
        with pytest.raises(LeaseLostError):
            store.release("k", "a")
        store.complete("k", "b", {"run_id": "r2"})
        assert store.claim("k", "a", 30, at(100)).run_id == "r2"

    def test_expired_but_untouched_lease_can_still_complete(self, store: Store) -> None:
        store.claim("k", "a", 30, at(0))
        store.complete("k", "a", {"run_id": "late"})
        assert store.claim("k", "b", 30, at(500)).run_id == "late"

    def test_finish_launch_records_run_key_and_journal_together(self, store: Store) -> None:
        store.record_event("ev-1", "github", at(0), REQUEST, "cfg-1")
        store.claim("key-r1", "a", 30, at(0))
        assert store.finish_launch("key-r1", "a", make_run("r1"), adopt=False, expires_at=at(3600))
        done = store.claim("key-r1", "b", 30, at(1))
        assert done.status is ClaimStatus.COMPLETED and done.run_id == "r1"
        assert done.result == {"run_id": "r1", "backend": "local", "run_url": "http://kfp/runs/r1"}
        assert store.get_run("r1") == make_run("r1")
        event = store.get_event("ev-1")
        assert event is not None and event.request == REQUEST
        [train] = event.triggers
        assert (train.idempotency_key, train.run_id, train.backend, train.run_state) == (
            "key-r1",
            "r1",
            "local",
            "PENDING",
        )
        # The completed key expires as complete() would let it.
        assert store.claim("key-r1", "c", 30, at(3600)).acquired

    def test_finish_launch_after_losing_the_key_records_the_run_but_not_the_key(self, store: Store) -> None:
        store.claim("key-r1", "a", 30, at(0))
        assert store.claim("key-r1", "b", 30, at(100)).takeover
        assert not store.finish_launch("key-r1", "a", make_run("r1"), adopt=False)
        held = store.claim("key-r1", "c", 30, at(101))
        assert held.status is ClaimStatus.IN_PROGRESS and held.owner == "b"
        assert store.get_run("r1") is not None
        event = store.get_event("ev-1")
        assert event is not None and event.triggers[0].run_id == "r1"

    def test_finish_launch_adopting_completes_whoever_holds_and_keeps_a_stored_creation_time(
        self, store: Store
    ) -> None:
        store.upsert_run(make_run("r1", created=5))
        store.claim("key-r1", "a", 30, at(0))
        assert store.finish_launch("key-r1", "b", make_run("r1", created=50), adopt=True)
        assert store.claim("key-r1", "c", 30, at(1)).run_id == "r1"
        stored = store.get_run("r1")
        assert stored is not None and stored.created_at == at(5) and stored.updated_at == at(50)
        # A key completed already keeps its result when adopted again.
        assert store.finish_launch("key-r1", "d", make_run("r2", idempotency_key="key-r1"), adopt=True)
        assert store.claim("key-r1", "c", 30, at(2)).run_id == "r1"

    def test_a_group_admits_queues_and_hands_slots_on(self, store: Store) -> None:
        def member(n: int) -> GroupMember:
            return GroupMember(f"k{n}", f"ev-{n}", f"o{n}", request={"n": n})

        assert store.admit_to_group("ns/main", member(1), GroupRules("queue", 1), at(0)).verdict == "launch"
        queued = store.admit_to_group("ns/main", member(2), GroupRules("queue", 1), at(0))
        assert queued.verdict == "queued" and queued.by is not None and queued.by.key == "k1"
        assert (
            store.admit_to_group("ns/main", member(2), GroupRules("queue", 1), at(0)).verdict == "queued"
        )  # redelivered
        assert store.admit_to_group("ns/other", member(3), GroupRules("queue", 1), at(0)).verdict == "launch"
        assert store.group_run_started("ns/main", "k1", "run-1")
        assert [(m.key, m.status, m.run_id) for m in store.group_members("ns/main")] == [
            ("k1", "RUNNING", "run-1"),
            ("k2", "QUEUED", None),
        ]
        assert store.group_members("ns/none") == []
        assert not store.group_run_started("ns/main", "k-unknown", "run-x")
        assert store.stale_reservations(at(100)) == []
        [promoted] = store.leave_group("ns/main", "k1", at(10))
        assert (promoted.key, promoted.status, promoted.request) == ("k2", "RESERVED", {"n": 2})
        assert store.leave_group("ns/main", "k1", at(11)) == []
        assert [(g, m.key) for g, m in store.stale_reservations(at(10.5))] == [("ns/main", "k2")]
        assert store.stale_reservations(at(10)) == []
        assert store.admit_to_group("ns/main", member(2), GroupRules("queue", 1), at(0)).verdict == "launch"
        assert store.stale_reservations(at(100)) == []

    def test_a_gated_group_is_due_when_its_gate_passes(self, store: Store) -> None:
        rules = GroupRules("allow", rate_limit=1, rate_window_s=60)
        assert store.admit_to_group("g/rate", GroupMember("k1", "e1", "o1"), rules, at(0)).verdict == "launch"
        delayed = store.admit_to_group(
            "g/rate", GroupMember("k2", "e2", "o2", request={"n": 2}), rules, at(1)
        )
        assert (delayed.verdict, delayed.until) == ("queued", at(60))
        debounced = GroupRules("allow", debounce_s=30)
        store.admit_to_group("g/debounce", GroupMember("d1", "e3", "o3"), debounced, at(5))
        assert store.due_groups(at(34)) == []
        assert store.due_groups(at(35)) == ["g/debounce"]
        assert sorted(store.due_groups(at(60))) == ["g/debounce", "g/rate"]
        assert store.promote_group("g/rate", at(59)) == []
        [started] = store.promote_group("g/rate", at(60))
        assert (started.key, started.status, started.request) == ("k2", "RESERVED", {"n": 2})
        assert store.due_groups(at(60)) == ["g/debounce"]
        assert store.promote_group("g/none", at(60)) == []

    def test_concurrent_admissions_to_one_group_launch_one(self, store: Store) -> None:
        claimers = 8
        barrier = threading.Barrier(claimers)

        def admit(i: int) -> str:
            barrier.wait(timeout=120)
            return store.admit_to_group(
                "hot", GroupMember(f"k{i}", f"ev-{i}", f"o{i}"), GroupRules("skip", 1), at(0)
            ).verdict

        with ThreadPoolExecutor(claimers) as pool:
            verdicts = list(pool.map(admit, range(claimers)))
        assert sorted(verdicts) == ["launch"] + ["skipped"] * (claimers - 1)

    def test_a_launch_note_is_journalled(self, store: Store) -> None:
        store.claim("key-r1", "a", 30, at(0))
        note = "launched; cancelled run r0 of the group"
        assert store.finish_launch("key-r1", "a", make_run("r1"), adopt=False, note=note)
        event = store.get_event("ev-1")
        assert event is not None and event.triggers[0].launch_note == note
        store.record_launch("ev-1", "other", "k2", None, None, None, note="queued behind run r1")
        event = store.get_event("ev-1")
        assert event is not None and {t.trigger: t.launch_note for t in event.triggers} == {
            "train": note,
            "other": "queued behind run r1",
        }

    def test_release_lets_a_later_attempt_start_but_not_as_the_first(self, store: Store) -> None:
        store.release("never-claimed", "a")
        first = store.claim("k", "a", 30, at(0))
        assert first.acquired and first.first and first.attempt == 1
        with pytest.raises(LeaseLostError):
            store.release("k", "b")
        store.release("k", "a")
        store.release("k", "a")
        with pytest.raises(LeaseLostError):  # released: the releaser no longer holds it
            store.complete("k", "a", {"run_id": "r1"})
        # The released attempt may have created a run: the next one must not skip the backend check.
        later = store.claim("k", "b", 30, at(1))
        assert later.acquired and not later.first and later.attempt == 2
        with pytest.raises(LeaseLostError):
            store.complete("never-claimed", "a", {})

    def test_own_released_claim_taken_again_is_a_later_attempt(self, store: Store) -> None:
        store.claim("k", "a", 30, at(0))
        store.release("k", "a")
        again = store.claim("k", "a", 30, at(1))
        assert again.acquired and not again.first and again.attempt == 2
        store.complete("k", "a", {"run_id": "r1"})
        assert store.claim("k", "b", 30, at(2)).run_id == "r1"

    def test_a_renewal_and_a_takeover_are_not_first(self, store: Store) -> None:
        assert store.claim("k", "a", 30, at(0)).first
        renewed = store.claim("k", "a", 30, at(10))
        assert renewed.acquired and renewed.attempt == 1
        taken = store.claim("k", "b", 30, at(100))
        assert taken.acquired and taken.takeover and not taken.first

    def test_completed_key_cannot_be_released_and_may_expire(self, store: Store) -> None:
        store.claim("k", "a", 30, at(0))
        store.complete("k", "a", {"run_id": "r1"}, expires_at=at(3600))
        with pytest.raises(LeaseLostError):
            store.release("k", "a")
        assert store.claim("k", "b", 30, at(3599)).status is ClaimStatus.COMPLETED
        renewed = store.claim("k", "b", 30, at(3600))
        assert renewed.acquired and renewed.attempt == 2 and renewed.result is None

    def test_concurrent_claimers_in_threads_exactly_one_acquires(self, store: Store) -> None:
        claimers = 12
        barrier = threading.Barrier(claimers)

        def claim(i: int) -> ClaimStatus:
            barrier.wait(timeout=120)
            return store.claim("hot", f"owner-{i}", 60, at(0)).status

        with ThreadPoolExecutor(claimers) as pool:
            statuses = list(pool.map(claim, range(claimers)))
        assert statuses.count(ClaimStatus.ACQUIRED) == 1
        assert statuses.count(ClaimStatus.IN_PROGRESS) == claimers - 1

    def test_concurrent_claimers_in_processes_exactly_one_acquires(self, store_factory: StoreFactory) -> None:
        store_factory().close()  # create the schema / check reachability before the race
        ctx = multiprocessing.get_context("spawn")
        processes = 3
        barrier, results = ctx.Barrier(processes), ctx.Queue()
        workers = [
            ctx.Process(target=_claim_in_process, args=(store_factory, "hot", f"p{i}", barrier, results))
            for i in range(processes)
        ]
        for worker in workers:
            worker.start()
        outcomes = [item for _ in workers for item in results.get(timeout=180)]
        for worker in workers:
            worker.join(timeout=60)
        assert [w.exitcode for w in workers] == [0] * processes
        winners = [owner for status, owner in outcomes if status == "acquired"]
        assert len(winners) == 1
        assert all(owner == winners[0] for _, owner in outcomes)

    # -- runs --------------------------------------------------------------------------------

    def test_run_round_trip_and_json_shape(self, store: Store) -> None:
        run = make_run("r1", "PENDING", details={"nested": [[1, 2], {"k": None}], "x": 1.25})
        store.upsert_run(run)
        assert store.get_run("r1") == run
        assert store.get_run("r2") is None
        shape = run.to_json()
        assert {"runID", "eventID", "listener", "trigger", "backend", "state", "createdAt"} <= set(shape)
        assert shape["createdAt"] == "2026-03-01T12:00:00.123456Z"
        assert RunRecord.from_json(shape) == run

    def test_upsert_replaces_but_keeps_created_at(self, store: Store) -> None:
        store.upsert_run(make_run("r1", "PENDING", created=0))
        store.upsert_run(make_run("r1", "RUNNING", created=50, run_url="http://other"))
        got = store.get_run("r1")
        assert got is not None
        assert (got.state, got.run_url) == ("RUNNING", "http://other")
        assert (got.created_at, got.updated_at) == (at(0), at(50))
        assert len(store.list_runs(10)) == 1

    def test_list_runs_order_filters_and_limit(self, store: Store) -> None:
        states = ["PENDING", "SUCCEEDED", "RUNNING", "FAILED", "CANCELED", "PAUSED", "SKIPPED"]
        for i, state in enumerate(states):
            store.upsert_run(make_run(f"r{i}", state, created=i))
        assert [r.run_id for r in store.list_runs(3)] == ["r6", "r5", "r4"]
        assert [r.run_id for r in store.list_runs(10, state="SUCCEEDED")] == ["r1"]
        assert [r.run_id for r in store.list_runs(10, non_terminal_only=True)] == ["r5", "r2", "r0"]
        assert [r.run_id for r in store.list_runs(2, non_terminal_only=True)] == ["r5", "r2"]
        assert store.list_runs(10, state="FAILED", non_terminal_only=True) == []

    def test_record_state_reports_transitions_only(self, store: Store) -> None:
        store.upsert_run(make_run("r1", "PENDING", created=0))
        assert store.record_state("r1", "PENDING", at(1)) is None
        assert store.record_state("r1", "RUNNING", at(2)) == "PENDING"
        assert store.record_state("r1", "RUNNING", at(3)) is None
        assert store.record_state("r1", "SUCCEEDED", at(4)) == "RUNNING"
        assert store.record_state("r1", "RUNNING", at(3.5)) is None  # stale observation
        got = store.get_run("r1")
        assert got is not None and (got.state, got.updated_at) == ("SUCCEEDED", at(4))
        assert store.list_runs(10, non_terminal_only=True) == []
        with pytest.raises(RunNotFoundError):
            store.record_state("missing", "RUNNING", at(1))

    def test_concurrent_identical_transitions_are_reported_once(self, store: Store) -> None:
        store.upsert_run(make_run("r1", "RUNNING", created=0))
        pollers = 8
        barrier = threading.Barrier(pollers)

        def observe(_: int) -> str | None:
            barrier.wait(timeout=120)
            return store.record_state("r1", "SUCCEEDED", at(10))

        with ThreadPoolExecutor(pollers) as pool:
            previous = list(pool.map(observe, range(pollers)))
        assert previous.count("RUNNING") == 1 and previous.count(None) == pollers - 1
