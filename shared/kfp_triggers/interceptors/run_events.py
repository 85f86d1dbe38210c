"""The ``run-events.kfp-triggers.dev`` interceptor: only this deployment's own run ends pass.

A listener annotated ``kfp-triggers.dev/run-events: "true"`` receives this deployment's run ends
and event completions (see :mod:`kfp_triggers.stages.chaining`) as CloudEvents whose ``Ce-Type`` is
``dev.kfptriggers.run.state.v1`` or ``dev.kfptriggers.event.completed.v1``. Those types are
reserved: ingest refuses any request that claims one (400), so such a request can only have been
handed to intercept by the status stage itself. This interceptor lets a trigger rely on that: it
continues only for those types, so a chained trigger is not started by whoever can post to the
listener's URL. It takes no params; a CEL filter after it picks the runs (``body.trigger.name``,
``body.state``).
"""

from __future__ import annotations

from kfp_triggers.config.models import RUN_EVENTS_INTERCEPTOR
from kfp_triggers.tekton.headers import first
from kfp_triggers.tekton.interceptor_protocol import (
    InterceptorRequest,
    InterceptorResponse,
    InterceptorServices,
    StatusCode,
)
from kfp_triggers.wire.eventtypes import EVENT_COMPLETED, RUN_STATE

RUN_EVENT_TYPES = (RUN_STATE, EVENT_COMPLETED)

__all__ = ["RUN_EVENTS_INTERCEPTOR", "RUN_EVENT_TYPES", "RunEventsInterceptor"]


class RunEventsInterceptor:
    """Continues only for the run ends and event completions the status stage hands on."""

    def __init__(self, services: InterceptorServices) -> None:
        self.services = services

    def process(self, request: InterceptorRequest) -> InterceptorResponse:
        """Continue when ``Ce-Type`` is one of :data:`RUN_EVENT_TYPES`, else stop (code 9)."""
        if request.interceptor_params:
            names = ", ".join(sorted(request.interceptor_params))
            return InterceptorResponse.stop(
                StatusCode.INVALID_ARGUMENT,
                f"the {RUN_EVENTS_INTERCEPTOR} interceptor takes no params ({names})",
            )
        kind = first(request.header, "Ce-Type")
        if kind in RUN_EVENT_TYPES:
            return InterceptorResponse.proceed()
        shown = repr(kind[:80]) if kind else "none"
        wanted = ", ".join(RUN_EVENT_TYPES)
        return InterceptorResponse.stop(
            StatusCode.FAILED_PRECONDITION,
            f"not one of this deployment's run events: Ce-Type is {shown}, not one of {wanted}",
        )
