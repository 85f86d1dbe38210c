"""The notifier port: what the status stage tells the outside world when a run changes state.

The status stage publishes ``run.state`` on every transition; notifiers report the same change
back to where the event came from (a GitHub commit status today). A notifier needs more than the
``run.state`` payload: it has to know which repository and commit the run is about. That comes
from the run's *origin* (see :mod:`kfp_triggers.tekton.origin`): what the intercept stage verified about
the event when it accepted the trigger, kept with the run. The journalled request is never read
again for it, since a request is only what some sender sent, and headers are signed by nobody.

Errors follow the engine's rule: :class:`NotifierUnavailableError` (``retryable``) when trying
again later may succeed (5xx, 429, timeouts), :class:`NotifierError` when it will not (a 4xx).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from kfp_triggers.errors import KfptError

if TYPE_CHECKING:
    from kfp_triggers.adapters.store.base import RunRecord
    from kfp_triggers.wire.eventdata import RunState as RunStatePayload


class NotifierError(KfptError):
    """A notification was refused (a 4xx answer, a bad setting); sending it again will not help.

    ``status`` is the HTTP status of the answer when there was one.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class NotifierUnavailableError(NotifierError):
    """The receiver could not be reached or was overloaded (5xx, 429, timeouts): retry later."""

    retryable = True


class InvalidNotifierSettingError(NotifierError, ValueError):
    """A notifier setting (``KFPT_GITHUB_*``) is malformed."""


@dataclass(frozen=True)
class Supersession:
    """The newer invocation of a run's concurrency group that cancelled it, and its run if it has one."""

    event_id: str
    run_id: str | None = None
    run_url: str | None = None


@dataclass(frozen=True)
class RunStateChange:
    """One run's state transition, with what was verified about the event that caused the run.

    States use KFP's ``RuntimeState`` names (``PENDING``, ``RUNNING``, ``SUCCEEDED``, ...);
    ``previous_state`` is ``None`` when nothing was known before (the first report of a run).
    ``superseded_by`` names the newer invocation that cancelled the run (a concurrency group's
    ``cancel-in-progress``), when that is why it was canceled.
    ``listener`` is ``namespace/name`` as the run record keeps it; ``trigger`` is the trigger's
    name. ``origin`` is the trigger's origin (``verifiedBy``, and ``github`` for a webhook GitHub
    signed); empty when nothing was verified, and notifiers then have nothing to report.
    """

    run_id: str
    backend: str
    state: str
    previous_state: str | None
    run_url: str | None
    trigger: str
    listener: str
    event_id: str
    origin: Mapping[str, Any] = field(default_factory=dict)
    superseded_by: Supersession | None = None

    @classmethod
    def from_run(
        cls, run: RunRecord, state: str, previous_state: str | None, superseded_by: Supersession | None = None
    ) -> RunStateChange:
        """Build a change from a run record (its origin was kept at launch) and the observed transition."""
        origin = run.details.get("origin")
        return cls(
            superseded_by=superseded_by,
            run_id=run.run_id,
            backend=run.backend,
            state=state,
            previous_state=previous_state,
            run_url=run.run_url,
            trigger=run.trigger,
            listener=run.listener,
            event_id=run.event_id,
            origin=dict(origin) if isinstance(origin, Mapping) else {},
        )

    @classmethod
    def from_payload(cls, payload: RunStatePayload, origin: Mapping[str, Any] | None) -> RunStateChange:
        """Build a change from the ``run.state`` payload the status stage publishes and the run's origin."""
        return cls(
            run_id=payload.run_id,
            backend=payload.backend,
            state=payload.state,
            previous_state=payload.previous_state,
            run_url=payload.run_url,
            trigger=payload.trigger.name,
            listener=f"{payload.listener.namespace}/{payload.listener.name}",
            event_id=payload.event_id,
            origin=dict(origin or {}),
        )


@runtime_checkable
class Notifier(Protocol):
    """Reports a run's state transition somewhere outside the engine."""

    def notify(self, change: RunStateChange) -> None:
        """Report ``change``; a change this notifier has nothing to say about is ignored.

        Raises:
            NotifierUnavailableError: the receiver may accept it later (retry).
            NotifierError: the receiver refused it for good.
        """
        ...
