"""The notifier port: what the status stage tells the outside world when a run changes state.

The status stage publishes ``run.state`` on every transition; notifiers report the same change
back to where the event came from (a GitHub commit status today). A notifier needs more than the
``run.state`` payload: it has to know which repository and commit the run is about, and only the
original webhook says that. So a :class:`RunStateChange` carries the original request's headers
and body, read from the event journal, next to the run's new and previous state.

Errors follow the engine's rule: :class:`NotifierUnavailableError` (``retryable``) when trying
again later may succeed (5xx, 429, timeouts), :class:`NotifierError` when it will not (a 4xx).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from kfp_triggers.errors import KfptError
from kfp_triggers.eventdata import HttpRequestData

if TYPE_CHECKING:
    from kfp_triggers.eventdata import RunState as RunStatePayload
    from kfp_triggers.store.base import EventRecord, RunRecord


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
class RunStateChange:
    """One run's state transition, with the webhook that caused the run.

    States use KFP's ``RuntimeState`` names (``PENDING``, ``RUNNING``, ``SUCCEEDED``, ...);
    ``previous_state`` is ``None`` when nothing was known before (the first report of a run).
    ``listener`` is ``namespace/name`` as the run record keeps it; ``trigger`` is the trigger's
    name. ``request_headers``/``request_body`` are the original webhook's headers (list-valued)
    and exact body bytes; both are empty when the journal no longer holds the request, and
    notifiers that need them then do nothing.
    """

    run_id: str
    backend: str
    state: str
    previous_state: str | None
    run_url: str | None
    trigger: str
    listener: str
    event_id: str
    request_headers: Mapping[str, Sequence[str]] = field(default_factory=dict)
    request_body: bytes = b""

    @classmethod
    def from_run(
        cls, run: RunRecord, event: EventRecord | None, state: str, previous_state: str | None
    ) -> RunStateChange:
        """Build a change from a run record, its journalled event and the observed transition.

        ``event`` is what ``store.get_event(run.event_id)`` returned (``None`` when missing).
        """
        headers, body = request_of(event)
        return cls(
            run_id=run.run_id,
            backend=run.backend,
            state=state,
            previous_state=previous_state,
            run_url=run.run_url,
            trigger=run.trigger,
            listener=run.listener,
            event_id=run.event_id,
            request_headers=headers,
            request_body=body,
        )

    @classmethod
    def from_payload(cls, payload: RunStatePayload, event: EventRecord | None) -> RunStateChange:
        """Build a change from the ``run.state`` payload the status stage publishes and its event."""
        headers, body = request_of(event)
        return cls(
            run_id=payload.run_id,
            backend=payload.backend,
            state=payload.state,
            previous_state=payload.previous_state,
            run_url=payload.run_url,
            trigger=payload.trigger.name,
            listener=f"{payload.listener.namespace}/{payload.listener.name}",
            event_id=payload.event_id,
            request_headers=headers,
            request_body=body,
        )


def request_of(event: EventRecord | None) -> tuple[dict[str, list[str]], bytes]:
    """The original request's headers and body from a journalled event; empty when unknown.

    The journal keeps the request as the ``received`` payload's ``request`` object
    (``{"method", "url", "headers", "bodyBase64"}``). A missing or unreadable request gives empty
    headers and body rather than an error: a run must not be held up because its notification
    cannot be addressed.
    """
    if event is None or not event.request:
        return {}, b""
    try:
        request = HttpRequestData.from_data(event.request)
    except KfptError:
        return {}, b""
    return {name: list(values) for name, values in request.headers.items()}, request.body


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
