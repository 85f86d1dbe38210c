"""Concurrency-group rules: every policy, redeliveries, and orders that arrive out of turn."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kfp_triggers.adapters.store._groups import (
    LAUNCH,
    QUEUE,
    QUEUED,
    RESERVED,
    RUNNING,
    SKIP,
    SUPERSEDE,
    GroupMember,
    GroupRules,
    GroupState,
    admit,
    leave,
    promote,
    stale_reservations,
    started,
)

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def member(n: int) -> GroupMember:
    return GroupMember(f"key-{n}", f"ev-{n}", f"2026-12-01T12:00:{n:02d}Z/key-{n}", request={"n": n})


def run_all(policy: str, numbers: list[int], max_running: int = 1) -> tuple[list[str], GroupState | None]:
    state: GroupState | None = None
    verdicts = []
    for n in numbers:
        answer, state = admit(state, member(n), GroupRules(policy, max_running), T0)
        verdicts.append(answer.verdict)
    return verdicts, state


def test_skip_drops_what_comes_while_one_runs() -> None:
    verdicts, state = run_all("skip", [1, 2, 3])
    assert verdicts == [LAUNCH, SKIP, SKIP]
    assert state is not None and list(state.members) == ["key-1"]
    _, state = leave(state, "key-1", T0)
    answer, _ = admit(state, member(4), GroupRules("skip", 1), T0)
    assert answer.verdict == LAUNCH


def test_cancel_in_progress_displaces_older_and_supersedes_late_older_arrivals() -> None:
    state: GroupState | None = None
    first, state = admit(state, member(1), GroupRules("cancel-in-progress", 1), T0)
    ok, state = started(state, "key-1", "run-1")
    assert first.verdict == LAUNCH and ok
    newer, state = admit(state, member(3), GroupRules("cancel-in-progress", 1), T0)
    assert newer.verdict == LAUNCH and [m.run_id for m in newer.displaced] == ["run-1"]
    # An older invocation delivered late is superseded by the newer one, not the other way round.
    late, state = admit(state, member(2), GroupRules("cancel-in-progress", 1), T0)
    assert late.verdict == SUPERSEDE and late.by is not None and late.by.key == "key-3"
    # The displaced invocation learns it when its run is recorded: its run must be cancelled.
    ok, _ = started(state, "key-1", "run-1-again")
    assert not ok
    assert state is not None and list(state.members) == ["key-3"]


def test_a_redelivered_invocation_gets_its_standing_back() -> None:
    state: GroupState | None = None
    for policy in ("cancel-in-progress", "queue", "queue-latest", "skip"):
        state = None
        first, state = admit(state, member(1), GroupRules(policy, 1), T0)
        again, state2 = admit(state, member(1), GroupRules(policy, 1), T0)
        assert (first.verdict, again.verdict) == (LAUNCH, LAUNCH) and state2 == state
    _, state = admit(None, member(1), GroupRules("queue", 1), T0)
    queued, state = admit(state, member(2), GroupRules("queue", 1), T0)
    again, same = admit(state, member(2), GroupRules("queue", 1), T0)
    assert queued.verdict == again.verdict == QUEUE and same == state


def test_queue_runs_at_most_n_and_starts_the_rest_in_order() -> None:
    verdicts, state = run_all("queue", [1, 2, 3, 4, 5], max_running=2)
    assert verdicts == [LAUNCH, LAUNCH, QUEUE, QUEUE, QUEUE]
    assert state is not None and [m.key for m in state.queued()] == ["key-3", "key-4", "key-5"]
    promoted, state = leave(state, "key-2", T0)
    assert [(m.key, m.status, m.request) for m in promoted] == [("key-3", RESERVED, {"n": 3})]
    assert state is not None and len(state.active()) == 2
    # The reserved member's request comes back to launch: it is admitted, without a new queue place.
    back, state = admit(state, member(3), GroupRules("queue", 2), T0)
    assert back.verdict == LAUNCH
    # A newcomer queues behind the ones waiting even when a slot is free for a moment.
    promoted, state = leave(state, "key-1", T0)
    assert [m.key for m in promoted] == ["key-4"]


def test_queue_latest_keeps_only_the_newest_waiting() -> None:
    verdicts, state = run_all("queue-latest", [1, 2, 4], max_running=1)
    assert verdicts == [LAUNCH, QUEUE, QUEUE]
    assert state is not None and [m.key for m in state.queued()] == ["key-4"]
    _, state = admit(None, member(1), GroupRules("queue-latest", 1), T0)
    _, state = admit(state, member(2), GroupRules("queue-latest", 1), T0)
    replaced, state = admit(state, member(4), GroupRules("queue-latest", 1), T0)
    assert [m.key for m in replaced.displaced] == ["key-2"]
    older, state = admit(state, member(3), GroupRules("queue-latest", 1), T0)
    assert older.verdict == SUPERSEDE and older.by is not None and older.by.key == "key-4"


def test_leaving_twice_or_an_unknown_group_writes_nothing() -> None:
    assert leave(None, "key-1", T0) == ([], None)
    _, state = admit(None, member(1), GroupRules("queue", 1), T0)
    _, state = leave(state, "key-1", T0)
    assert leave(state, "key-1", T0) == ([], None)


def test_the_record_survives_its_text_form_and_stale_reservations_are_found() -> None:
    _, state = admit(None, member(1), GroupRules("queue", 1), T0)
    _, state = started(state, "key-1", "run-1")
    _, state = admit(state, member(2), GroupRules("queue", 1), T0)
    promoted, state = leave(state, "key-1", T0)
    assert state is not None and GroupState.loads(state.dumps()) == state
    assert state.reserved_since() == T0
    assert stale_reservations(state, T0 + timedelta(seconds=1)) == promoted
    assert stale_reservations(state, T0) == []
    assert state.members["key-2"].status == RESERVED and QUEUED not in {m.status for m in state.active()}
    ok, state = started(state, "key-2", "run-2")
    assert ok and state is not None and state.members["key-2"].status == RUNNING
    assert state.members["key-2"].request is None and state.reserved_since() is None


def test_a_redelivered_displacer_cancels_again_until_its_run_exists() -> None:
    _, state = admit(None, member(1), GroupRules("cancel-in-progress", 1), T0)
    _, state = started(state, "key-1", "run-1")
    first, state = admit(state, member(2), GroupRules("cancel-in-progress", 1), T0)
    assert state is not None and GroupState.loads(state.dumps()) == state
    again, state = admit(state, member(2), GroupRules("cancel-in-progress", 1), T0)
    assert [m.run_id for m in first.displaced] == [m.run_id for m in again.displaced] == ["run-1"]
    _, state = started(state, "key-2", "run-2")
    after, _ = admit(state, member(2), GroupRules("cancel-in-progress", 1), T0)
    assert after.verdict == LAUNCH and after.displaced == ()


def later(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_rate_limit_delays_what_exceeds_it_and_lets_it_go_when_the_window_allows() -> None:
    rules = GroupRules("allow", rate_limit=2, rate_window_s=60)
    state: GroupState | None = None
    verdicts = []
    for n, at in ((1, 0), (2, 10), (3, 20), (4, 30)):
        answer, state = admit(state, member(n), rules, later(at))
        verdicts.append((answer.verdict, answer.until))
    assert verdicts == [(LAUNCH, None), (LAUNCH, None), (QUEUE, later(60)), (QUEUE, later(60))]
    assert state is not None and [m.key for m in state.queued()] == ["key-3", "key-4"]  # nothing lost
    assert state.due_at(later(30)) == later(60)
    assert promote(state, later(59))[0] == []
    promoted, state = promote(state, later(60))
    assert [m.key for m in promoted] == ["key-3"]  # the first launch left the window, one slot of budget
    assert state.due_at(later(60)) == later(70)
    promoted, state = promote(state, later(70))
    assert [m.key for m in promoted] == ["key-4"] and state.due_at(later(70)) is None
    assert GroupState.loads(state.dumps()) == state


def test_a_debounce_launches_only_the_last_of_a_burst() -> None:
    rules = GroupRules("allow", debounce_s=30)
    first, state = admit(None, member(1), rules, later(1))
    second, state = admit(state, member(5), rules, later(5))
    assert (first.verdict, first.until) == (QUEUE, later(31))
    assert (second.verdict, second.until) == (QUEUE, later(35))
    assert [m.key for m in second.displaced] == ["key-1"]  # superseded by the newer one
    late, state = admit(state, member(3), rules, later(6))  # older than the waiting one
    assert late.verdict == SUPERSEDE and late.by is not None and late.by.key == "key-5"
    assert promote(state, later(34))[0] == [] and state.due_at(later(6)) == later(35)
    promoted, state = promote(state, later(35))
    assert [m.key for m in promoted] == ["key-5"]
    back, state = admit(state, member(5), rules, later(36))  # its request comes back to launch
    assert back.verdict == LAUNCH


def test_a_debounced_cancel_in_progress_cancels_only_when_the_burst_is_over() -> None:
    rules = GroupRules("cancel-in-progress", debounce_s=30)
    _, state = admit(None, member(1), GroupRules("cancel-in-progress"), T0)
    _, state = started(state, "key-1", "run-1")
    waiting, state = admit(state, member(2), rules, later(2))
    assert waiting.verdict == QUEUE and waiting.displaced == ()  # run-1 goes on while it waits
    [promoted], state = promote(state, later(32))
    launched, state = admit(state, promoted, rules, later(33))
    assert launched.verdict == LAUNCH and [m.run_id for m in launched.displaced] == ["run-1"]
    assert list(state.members) == ["key-2"]


def test_a_queue_with_a_rate_limit_respects_both() -> None:
    rules = GroupRules("queue", max_running=2, rate_limit=3, rate_window_s=100)
    state: GroupState | None = None
    for n in range(1, 6):
        _, state = admit(state, member(n), rules, later(n))
    assert state is not None and [m.key for m in state.active()] == ["key-1", "key-2"]
    promoted, state = leave(state, "key-1", later(10))
    assert [m.key for m in promoted] == ["key-3"]  # the third launch of the window
    promoted, state = leave(state, "key-2", later(11))
    assert promoted == [] and state is not None and state.due_at(later(11)) == later(101)
    promoted, state = promote(state, later(101))
    assert [m.key for m in promoted] == ["key-4"]
