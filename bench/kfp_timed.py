"""A KFP API stand-in whose runs take time: RUNNING from creation, SUCCEEDED ``run_s`` seconds later.

It is the in-memory v2beta1 server of the KFP contract tests (every request is checked against the
published API), changed so that concurrency policies have something to act on:

* a run is RUNNING as soon as it is created and SUCCEEDED ``run_s`` seconds after, so a newer push
  finds the older runs still going (``cancel-in-progress`` has runs to stop, ``queue`` has slots
  taken). States are evaluated whenever the server is asked anything, as a real server reports
  whatever its runs have reached by then;
* a terminated run (the contract fake marks it CANCELING) reads CANCELED from the next request on;
* the server keeps its own timeline of every run: when it started and when it ended (its
  ``run_s`` elapsed, or it was terminated), on the monotonic clock. How many runs were going at
  once is computed from that timeline exactly, independently of anything the engine records;
* creation times are distinct and ordered for any number of runs (the launcher keeps the
  earliest of concurrent duplicates by ``created_at``);
* it is served by the contract server, which answers with Nagle's algorithm off, as Go's
  net/http (the real KFP API's server) does.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from kfp_triggers.adapters.launchers.kfp_rest import MARKER_PREFIX
from tests.launchers.contract_server import ContractServer, Seen, running
from tests.launchers.test_kfp_rest_contract import FakeKfp

_TERMINATE = re.compile(r"/runs/(?P<run>[^/:]+):terminate")
_FOOTER = re.compile(rf"kfp-triggers: event (?P<event>\S+), {MARKER_PREFIX}[0-9a-f]+\Z")
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
#: States in which a run counts as going (occupying a slot on the backend).
ACTIVE_STATES = frozenset({"PENDING", "RUNNING"})


@dataclass
class TimedRun:
    """One run's life on the stand-in (monotonic seconds): created, ended, and how it ended."""

    run_id: str
    event_id: str
    started: float
    ended: float | None = None
    outcome: str | None = None  # SUCCEEDED or CANCELED once it has ended


class TimedKfp(FakeKfp):
    """The contract fake with runs that take ``run_s`` seconds and a timeline of every run."""

    def __init__(self, run_s: float, now: Callable[[], float] = time.monotonic) -> None:
        """A server that needs no token, whose runs succeed ``run_s`` seconds after creation."""
        super().__init__(token=None)
        self.run_s = run_s
        self.now = now
        self.timeline: dict[str, TimedRun] = {}
        self._ticks = 0

    def stamp(self) -> str:
        """A creation time one microsecond after the previous one (RFC 3339, sorts as text)."""
        self._ticks += 1  # always under ``lock``: only requests being served create anything
        return (_EPOCH + timedelta(microseconds=self._ticks)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def add_run(self, **fields: Any) -> dict[str, Any]:
        """Create a run that is RUNNING from now on, and start its timeline (the lock is held)."""
        run = super().add_run(**fields)
        run["state"] = "RUNNING"
        found = _FOOTER.search(str(run.get("description") or ""))
        self.timeline[run["run_id"]] = TimedRun(
            run["run_id"], found["event"] if found else "", started=self.now()
        )
        return run

    def route(self, seen: Seen, path: str) -> tuple[int, dict[str, Any]]:
        """Bring every run up to date, serve the request, and note when a terminated run stopped."""
        now = self.now()
        self._advance(now)
        status, body = super().route(seen, path)
        stopped = _TERMINATE.fullmatch(path)
        if stopped and seen.method == "POST" and status == 200:
            timed = self.timeline.get(stopped["run"])
            if timed is not None and timed.ended is None:
                timed.ended, timed.outcome = now, "CANCELED"
        return status, body

    def _advance(self, now: float) -> None:
        """Move each run to the state it has reached by ``now`` (the lock is held)."""
        for run_id, timed in self.timeline.items():
            run = self.runs.get(run_id)
            if run is None:
                continue
            if run["state"] == "CANCELING":
                run["state"] = "CANCELED"
                run["finished_at"] = self._wall(timed.ended if timed.ended is not None else now)
            elif run["state"] in ACTIVE_STATES and now >= timed.started + self.run_s:
                timed.ended, timed.outcome = timed.started + self.run_s, "SUCCEEDED"
                run["state"] = "SUCCEEDED"
                run["finished_at"] = self._wall(timed.ended)

    def _wall(self, at: float) -> str:
        """The wall-clock time (RFC 3339) of the monotonic instant ``at``."""
        moment = datetime.now(UTC) - timedelta(seconds=max(self.now() - at, 0.0))
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def active_now(self) -> int:
        """How many runs are PENDING or RUNNING at this moment (what a state query would show)."""
        with self.lock:
            self._advance(self.now())
            return sum(1 for run in self.runs.values() if run["state"] in ACTIVE_STATES)

    def states(self) -> dict[str, str]:
        """Every run's state as of now, by run id."""
        with self.lock:
            self._advance(self.now())
            return {run_id: str(run["state"]) for run_id, run in self.runs.items()}

    def timelines(self) -> list[TimedRun]:
        """A copy of every run's timeline as of now, in creation order."""
        with self.lock:
            self._advance(self.now())
            return [replace(timed) for timed in self.timeline.values()]


def max_overlap(spans: list[tuple[float, float | None]]) -> int:
    """The largest number of half-open spans ``[start, end)`` covering one instant (``None``: no end).

    A span that ends exactly when another starts does not overlap it: ends are counted first.
    """
    edges: list[tuple[float, int]] = []
    for start, end in spans:
        edges.append((start, 1))
        if end is not None:
            edges.append((end, -1))
    edges.sort(key=lambda edge: (edge[0], edge[1]))
    going = most = 0
    for _, step in edges:
        going += step
        most = max(most, going)
    return most


@contextmanager
def running_timed_kfp(run_s: float) -> Iterator[tuple[ContractServer, TimedKfp]]:
    """Serve a :class:`TimedKfp` on 127.0.0.1; yields the server (``base_url``, ``violations``), the fake."""
    fake = TimedKfp(run_s)
    with running(fake) as server:
        yield server, fake
