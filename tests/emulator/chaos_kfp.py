"""The KFP API the chaos harness launches on: the contract tests' fake, recording every run it creates.

It is the in-memory v2beta1 server of the KFP contract tests (every request is checked against the
published API), with three changes the harness needs:

* creation times are distinct and ordered for any number of runs (the launcher keeps the earliest
  of concurrent duplicates by ``created_at``);
* a run finishes as soon as it is read (``SUCCEEDED``), so the status stage follows each run to the
  end without a scheduler's ticks;
* every request the launch stage makes (``GET /runs``, ``POST /runs``, experiments, terminations,
  not the status stage's reads of one run) passes a *hook* before and after it is served, which the
  harness uses to SIGKILL the launch function at exactly that point of a launch. A request whose
  sender was killed before it was served is not served at all (its effect never happens).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from kfp_triggers.adapters.launchers.kfp_rest import API, MARKER_PREFIX
from tests.launchers.contract_server import ContractServer, Seen, running
from tests.launchers.test_kfp_rest_contract import FakeKfp

#: Called with ``"before"`` or ``"after"``, the request's number among launch requests, and
#: ``METHOD path`` of the request; it returns True when it killed the sender.
LaunchHook = Callable[[str, int, str], bool]

_STATUS_READ = re.compile(rf"{API}/runs/[^/:]+")
_FOOTER = re.compile(rf"kfp-triggers: event (?P<event>\S+), (?P<marker>{MARKER_PREFIX}[0-9a-f]+)\Z")
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class CreatedRun:
    """One run the backend created, read back from the marker line of its description."""

    run_id: str
    event_id: str
    marker: str
    state: str


class ChaosKfp(FakeKfp):
    """The contract fake with ordered timestamps, runs that finish when read, and a launch hook."""

    def __init__(self) -> None:
        """A server that needs no token (the chain's launcher is configured without one)."""
        super().__init__(token=None)
        self.hook: LaunchHook | None = None
        self.launch_requests = 0
        self._ticks = 0
        self._count_lock = threading.Lock()

    def stamp(self) -> str:
        """A creation time one microsecond after the previous one (RFC 3339, sorts as text)."""
        self._ticks += 1
        return (_EPOCH + timedelta(microseconds=self._ticks)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def __call__(self, seen: Seen) -> tuple[int, dict[str, Any]]:
        """Serve one request; launch requests pass the hook before and after."""
        if seen.method == "GET" and _STATUS_READ.fullmatch(seen.path):
            with self.lock:
                run = self.runs.get(seen.path.rsplit("/", 1)[1])
                if run is not None and run["state"] == "PENDING":
                    run["state"] = "SUCCEEDED"
                    run["finished_at"] = self.stamp()
            return super().__call__(seen)
        with self._count_lock:
            self.launch_requests += 1
            number = self.launch_requests
        hook = self.hook
        if hook is not None and hook("before", number, seen.target):
            return 503, {"error": "the client is gone", "code": 14, "message": "unavailable"}
        answer = super().__call__(seen)
        if hook is not None:
            hook("after", number, seen.target)
        return answer

    def created_runs(self) -> list[CreatedRun]:
        """Every run created so far (terminated duplicates included), with its event and marker."""
        with self.lock:
            runs = list(self.runs.values())
        created = []
        for run in runs:
            found = _FOOTER.search(str(run.get("description") or ""))
            if found is not None:
                created.append(CreatedRun(run["run_id"], found["event"], found["marker"], run["state"]))
        return created


@contextmanager
def running_kfp() -> Iterator[tuple[ContractServer, ChaosKfp]]:
    """Serve a :class:`ChaosKfp` on 127.0.0.1; yields the server (``base_url``, ``seen``) and the fake."""
    fake = ChaosKfp()
    with running(fake) as server:
        yield server, fake
