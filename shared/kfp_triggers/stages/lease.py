"""Claims on run requests: owned by one invocation, kept alive while it launches.

A ledger claim says "this invocation is creating the run for this key". Two rules make that
true under at-least-once delivery and crashes:

* the owner is one *invocation* (:func:`invocation_owner`), not a process: two deliveries of one
  request handled by two threads of one instance are two owners, so only one of them launches;
* the lease is short and renewed (:class:`LeaseKeeper`) while the launch runs, so a live holder
  keeps its claim however slow the backend is, and a holder that died (SIGKILL, an instance
  recycled mid-request) loses it within one lease, not after a fixed five minutes.

How long is derived from the stage's own time limit (:func:`lease_for`): a launch invocation that
outlives its time limit has been killed by the platform anyway.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING

from kfp_triggers.errors import KfptError

if TYPE_CHECKING:
    from kfp_triggers.adapters.store.base import IdempotencyLedger

log = logging.getLogger(__name__)

MIN_LEASE_S = 5.0
MAX_LEASE_S = 60.0


def lease_for(stage_timeout_s: float) -> tuple[float, float]:
    """``(lease, wait)`` for a stage allowed ``stage_timeout_s`` per invocation.

    The lease is a quarter of the time limit (between 5 and 60 s), renewed every third of it. A
    delivery that finds the key held by a live invocation waits up to half the time limit for it
    to finish (or die and lose its lease) before asking to be delivered again, which leaves the
    other half for launching after a takeover.
    """
    lease = min(max(stage_timeout_s / 4, MIN_LEASE_S), MAX_LEASE_S)
    return lease, max(stage_timeout_s / 2, lease + 1.0)


def invocation_owner(instance: str) -> str:
    """A ledger owner unique to one invocation of the stage in the instance ``instance``."""
    return f"{instance}/{uuid.uuid4().hex[:12]}"


class LeaseKeeper:
    """Renews ``owner``'s claim on ``key`` every third of the lease for the ``with`` block.

    ``lost`` turns true when a renewal finds the claim held by someone else (the store was
    unreachable for longer than a lease and another invocation took over); the backend's own
    key check then keeps the second launch from creating a second run.
    """

    def __init__(
        self,
        ledger: IdempotencyLedger,
        key: str,
        owner: str,
        lease_s: float,
        clock: Callable[[], datetime],
    ) -> None:
        self._ledger, self._key, self._owner = ledger, key, owner
        self._lease_s, self._clock = lease_s, clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kfpt-lease", daemon=True)
        self.lost = False

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._lease_s / 3):
            try:
                claim = self._ledger.claim(self._key, self._owner, self._lease_s, self._clock())
            except KfptError as exc:  # try again next time; the lease still has two thirds to go
                log.warning("could not renew the claim on %s: %s", self._key, exc)
                continue
            if not claim.acquired:
                self.lost = True
                log.warning("claim on %s lost to %s while launching", self._key, claim.owner)
                return
