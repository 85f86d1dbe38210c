"""What a chaos run proves: events lost, duplicate runs and dead letters for work that succeeded.

The figures come only from what the outside world saw, never from the chain's own bookkeeping:

* *sent*: the deliveries posted to ingest and what it answered;
* *runs*: the runs the KFP backend created, each tied to its (event, trigger) by the idempotency
  marker the launcher writes into the run's description;
* *dead letters*: the messages on each stage's dead-letter topic.

An event is *lost* when ingest acknowledged it (2xx at least once) and the backend holds no run for
it. A *duplicate* is an (event, trigger) with more than one backend run, even if the launcher
terminated the later one. A dead letter is *for succeeded work* when the run it was about exists
on the backend (for a letter that names no idempotency key: when the event has a run). The store
is read once, only to say which backend runs it never recorded (a launch that created a run and
died before writing it down), which explains figures but does not change them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from kfp_triggers.adapters.launchers.kfp_rest import idempotency_marker
from kfp_triggers.errors import InvalidRequestError
from kfp_triggers.wire import events as ev
from tests.emulator.chaos_chain import Kill
from tests.emulator.chaos_kfp import CreatedRun

SAMPLE = 10  # ids listed per finding


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered message: the event it descends from and, when it names one, its run's marker."""

    event_id: str | None
    marker: str | None


def read_letter(event: ev.CloudEvent | None) -> DeadLetter:
    """The event id and run marker a dead-lettered CloudEvent is about (``None`` where unknown)."""
    if event is None:
        return DeadLetter(None, None)
    try:
        event_id: str | None = ev.origin_event_id(event)
        data = ev.read_data(event)
    except InvalidRequestError:
        return DeadLetter(None, None)
    key = getattr(data, "idempotency_key", None)
    return DeadLetter(event_id, idempotency_marker(key) if isinstance(key, str) and key else None)


@dataclass
class ChaosReport:
    """The figures of one chaos run; ``ok`` holds when the three zeros hold and the chain went quiet."""

    settings: dict[str, Any]
    wall_time_s: float
    quiet: bool
    events_sent: int
    deliveries_sent: int
    ingest_answers: dict[str, int]
    events_acknowledged: int
    runs_created: int
    distinct_markers: int
    runs_terminated: int
    duplicates: int
    duplicate_creates: int
    lost_events: int
    dead_letters: dict[str, int]
    dead_letters_total: int
    dead_letters_for_succeeded_work: int
    runs_missing_from_store: int
    contract_violations: int
    kills: list[dict[str, Any]]
    samples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """No event lost, no duplicate run, no dead letter for succeeded work, and the chain settled."""
        return (
            self.quiet
            and self.lost_events == 0
            and self.duplicates == 0
            and self.dead_letters_for_succeeded_work == 0
        )

    def to_json(self) -> dict[str, Any]:
        """Every figure, plus ``ok``."""
        return {**asdict(self), "ok": self.ok}

    def summary(self) -> str:
        """A few lines for people."""
        stages = ", ".join(f"{topic} {n}" for topic, n in self.dead_letters.items() if n) or "none"
        kills = ", ".join(f"{k['stage']}@{k['at_s']:.1f}s ({k['moment']})" for k in self.kills) or "none"
        lines = [
            f"events sent {self.events_sent} ({self.deliveries_sent} deliveries; ingest answered "
            f"{self.ingest_answers}); acknowledged {self.events_acknowledged}",
            f"runs created {self.runs_created} for {self.distinct_markers} (event, trigger) pairs; "
            f"terminated {self.runs_terminated}; not in the store {self.runs_missing_from_store}",
            f"lost events {self.lost_events}",
            f"duplicates {self.duplicates} (extra creates {self.duplicate_creates})",
            f"dead letters {self.dead_letters_total} ({stages}); "
            f"for succeeded work {self.dead_letters_for_succeeded_work}",
            f"kills: {kills}",
            f"wall time {self.wall_time_s:.1f} s; chain quiet: {self.quiet}; "
            f"contract violations {self.contract_violations}",
            "PASS: 0 lost, 0 duplicates, 0 dead letters for succeeded work"
            if self.ok
            else "FAIL: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in self.samples.items() if v),
        ]
        return "\n".join(lines)


@dataclass(frozen=True)
class Observed:
    """Everything a chaos run saw, as the report needs it."""

    settings: dict[str, Any]
    wall_time_s: float
    quiet: bool
    event_ids: list[str]
    ingest_answers: dict[str, int]
    acknowledged: set[str]
    created: list[CreatedRun]
    letters: Mapping[str, Iterable[ev.CloudEvent | None]]
    stored_markers: set[str]
    contract_violations: int
    kills: list[Kill]


def build_report(seen: Observed) -> ChaosReport:
    """Count lost events, duplicates and dead letters from what the run observed."""
    creates = Counter(run.marker for run in seen.created)
    events_with_runs = {run.event_id for run in seen.created}
    terminated = [run for run in seen.created if run.state == "CANCELING"]
    duplicated = sorted(marker for marker, n in creates.items() if n > 1)
    lost = sorted(seen.acknowledged - events_with_runs)
    per_topic: dict[str, int] = {}
    for_succeeded: list[str] = []
    unreadable = 0
    for topic, events in seen.letters.items():
        letters = [read_letter(event) for event in events]
        per_topic[topic] = len(letters)
        for letter in letters:
            if letter.event_id is None:
                unreadable += 1
                continue
            # A letter naming a run (launch's run.requested, status's run.created) is about that
            # run; an earlier stage's letter is about every run of its event.
            done = letter.marker in creates if letter.marker else letter.event_id in events_with_runs
            if done:
                for_succeeded.append(letter.event_id)
    missing = sorted(set(creates) - seen.stored_markers)
    by_marker = {run.marker: run.event_id for run in seen.created}
    samples = {
        "lost events": lost[:SAMPLE],
        "duplicated events": [by_marker[m] for m in duplicated[:SAMPLE]],
        "dead letters for succeeded work": sorted(set(for_succeeded))[:SAMPLE],
        "unreadable dead letters": [str(unreadable)] if unreadable else [],
        "chain not quiet": [] if seen.quiet else ["still busy when the settle limit ran out"],
    }
    return ChaosReport(
        settings=seen.settings,
        wall_time_s=round(seen.wall_time_s, 1),
        quiet=seen.quiet,
        events_sent=len(seen.event_ids),
        deliveries_sent=sum(seen.ingest_answers.values()),
        ingest_answers=seen.ingest_answers,
        events_acknowledged=len(seen.acknowledged),
        runs_created=len(seen.created),
        distinct_markers=len(creates),
        runs_terminated=len(terminated),
        duplicates=len(duplicated),
        duplicate_creates=sum(n - 1 for n in creates.values()),
        lost_events=len(lost),
        dead_letters=per_topic,
        dead_letters_total=sum(per_topic.values()),
        dead_letters_for_succeeded_work=len(for_succeeded),
        runs_missing_from_store=len(missing),
        contract_violations=seen.contract_violations,
        kills=[asdict(kill) for kill in seen.kills],
        samples=samples,
    )
