"""The KFP API the chain benchmark launches on: the chaos stand-in, slow to create, timing each create.

A real KFP API takes a while to create a run (it stores the pipeline spec and asks Argo or Vertex
for a workflow); here every ``POST /runs`` is held ``create_delay_s`` (150 ms by default) before it
is served, outside the fake's lock, so concurrent creates overlap as they would on a real server.
When each run was created (``time.monotonic()``, after the delay) is kept, keyed by run id, so the
benchmark can tell how long each webhook took to become a run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kfp_triggers.adapters.launchers.kfp_rest import API
from tests.emulator.chaos_kfp import ChaosKfp
from tests.launchers.contract_server import ContractServer, Seen, running

CREATE_DELAY_S = 0.15


class SlowCreateKfp(ChaosKfp):
    """The chaos stand-in whose run creation takes ``create_delay_s``, recording when each run was created."""

    def __init__(self, create_delay_s: float = CREATE_DELAY_S) -> None:
        """A server that needs no token and holds every create ``create_delay_s`` seconds."""
        super().__init__()
        self.create_delay_s = create_delay_s
        self.created_at: dict[str, float] = {}
        self._times_lock = threading.Lock()

    def __call__(self, seen: Seen) -> tuple[int, dict[str, Any]]:
        """Serve one request; a run creation waits first, and its moment is kept when it succeeds."""
        creating = seen.method == "POST" and seen.path == f"{API}/runs"
        if creating:
            time.sleep(self.create_delay_s)
        status, body = super().__call__(seen)
        if creating and status == 200 and "run_id" in body:
            with self._times_lock:
                self.created_at[body["run_id"]] = time.monotonic()
        return status, body

    def first_run_per_event(self) -> dict[str, float]:
        """For each event that has a run: the moment its first run was created."""
        with self._times_lock:
            times = dict(self.created_at)
        first: dict[str, float] = {}
        for run in self.created_runs():
            at = times.get(run.run_id)
            if at is not None and (run.event_id not in first or at < first[run.event_id]):
                first[run.event_id] = at
        return first


@contextmanager
def running_slow_kfp(
    create_delay_s: float = CREATE_DELAY_S,
) -> Iterator[tuple[ContractServer, SlowCreateKfp]]:
    """Serve a :class:`SlowCreateKfp` on 127.0.0.1; yields the server and the fake."""
    fake = SlowCreateKfp(create_delay_s)
    with running(fake) as server:
        yield server, fake
