"""Ingest: accept a webhook, hand it on durably, answer as a Tekton EventListener would.

The request is checked (size, the listener's payload validation) and published as an
``event.received`` CloudEvent with the body kept byte-exact. Only once the transport has
acknowledged the publish does ingest answer ``202`` with Tekton's body; if the hand-off fails it
answers ``503`` so the sender retries, where Tekton would have answered 202 and lost the event.

The eventID is the id the sender defines for one delivery (see :mod:`kfp_triggers.tekton.eventids`), so a
redelivery of the same webhook is recognised downstream and launches nothing new.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from kfp_triggers.adapters.transports.base import MessageTooLargeError
from kfp_triggers.config import EventListener
from kfp_triggers.errors import KfptError
from kfp_triggers.golang import fastjson
from kfp_triggers.logs import log_context
from kfp_triggers.metrics import EVENTS_RECEIVED, STAGE_DURATION
from kfp_triggers.stages.bodies import check_in
from kfp_triggers.stages.context import StageContext
from kfp_triggers.stages.edge_auth import authentication_failure, wants_edge_auth
from kfp_triggers.tekton.eventids import cloudevent_type, event_id_for
from kfp_triggers.tekton.headers import first
from kfp_triggers.tekton.payload import invalid_body_message, payload_problem
from kfp_triggers.tekton.request import RawRequest
from kfp_triggers.wire.events import EventReceived, HttpRequestData, ObjectRef, event_for, topic_for
from kfp_triggers.wire.eventtypes import TYPE_PREFIX

log = logging.getLogger(__name__)

ACCEPTED_EVENT_TYPE = "dev.tekton.event.triggers.accepted.v1"


@dataclass(frozen=True)
class HttpAnswer:
    """An HTTP response: status, headers and a body."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, obj: Any, headers: dict[str, str] | None = None) -> HttpAnswer:
        """A JSON answer with a trailing newline, as Go's JSON encoder writes it."""
        data = fastjson.dumps(obj) + b"\n"
        return cls(status, data, {"Content-Type": "application/json", **(headers or {})})


def route(ctx: StageContext, path: str) -> EventListener | None:
    """The listener a request path addresses: ``/<name>`` or ``/<namespace>/<name>``, else the only one."""
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    if len(parts) == 1:
        for (_ns, name), listener in ctx.config.listeners.items():
            if name == parts[0]:
                return listener
    if len(parts) == 2:
        found = ctx.config.listeners.get((parts[0], parts[1]))
        if found is not None:
            return found
    listeners = list(ctx.config.listeners.values())
    return listeners[0] if len(listeners) == 1 else None


def ingest(ctx: StageContext, request: RawRequest, event_id: str | None = None) -> HttpAnswer:
    """Handle one incoming HTTP request; never raises for bad input.

    ``event_id`` overrides the id taken from the request (``replay`` keeps the original one).
    """
    if request.url.split("?", 1)[0] == "/live":
        return HttpAnswer(200, b"ok", {"Content-Type": "text/plain; charset=utf-8"})
    started = time.perf_counter()
    listener = route(ctx, request.url)
    answer = _answer(ctx, listener, request, event_id)
    # The listener label is a configured name (or empty), never the path a sender chose.
    ctx.metrics.count(EVENTS_RECEIVED, listener.name if listener is not None else "", str(answer.status))
    ctx.metrics.observe(STAGE_DURATION, time.perf_counter() - started, "ingest")
    return answer


def _answer(
    ctx: StageContext, listener: EventListener | None, request: RawRequest, event_id: str | None
) -> HttpAnswer:
    if len(request.body) > ctx.max_body_bytes:
        return HttpAnswer.json(
            413, {"error": f"request body is {len(request.body)} bytes; the limit is {ctx.max_body_bytes}"}
        )
    if listener is None:
        # The answer names no listener: which ones exist is not the sender's business.
        path = request.url.split("?", 1)[0][:200]
        return HttpAnswer.json(404, {"error": f"no EventListener at {path!r}"})
    if listener.payload_validation:
        problem = payload_problem(request.body)
        if problem is not None:
            return HttpAnswer.json(
                400, _tekton_body(listener, "", uid="", error=invalid_body_message(problem))
            )
    claimed = cloudevent_type(request.headers, request.body) if event_id is None else ""
    if claimed.startswith(TYPE_PREFIX):  # (a replay, which names its event, comes from the journal)
        # Only the status stage hands these to intercept (run ends, for chained pipelines); a
        # request claiming one would pass for them (see run-events.kfp-triggers.dev).
        return HttpAnswer.json(
            400, {"error": f"event type {claimed[:100]!r} is reserved for this deployment's own events"}
        )
    if wants_edge_auth(listener):
        failure = authentication_failure(ctx, listener, request)
        if failure is not None:
            log.warning("listener %s: request refused at the edge: %s", listener.name, failure)
            return HttpAnswer.json(401, {"error": failure})
    event_id = event_id or event_id_for(request.headers, request.body)
    with log_context(stage="ingest", eventID=event_id, traceparent=first(request.headers, "Traceparent")):
        return _hand_on(ctx, listener, request, event_id)


def _hand_on(ctx: StageContext, listener: EventListener, request: RawRequest, event_id: str) -> HttpAnswer:
    """Publish the event and answer: 202 once the transport has it, else why not."""
    try:
        received = EventReceived(
            event_id=event_id,
            listener=ObjectRef(listener.namespace, listener.name),
            request=check_in(
                ctx, HttpRequestData(request.method, request.url, request.headers, request.body)
            ),
            received_at=ctx.clock().isoformat().replace("+00:00", "Z"),
        )
        event = event_for(
            received,
            source=f"{ctx.source}/ingest",
            traceparent=first(request.headers, "Traceparent"),
            validate=False,  # every field was built above from the request itself
        )
        ctx.publish(topic_for(received.TYPE), event)
    except MessageTooLargeError as exc:
        log.error("event %s for listener %s refused: %s", event_id, listener.name, exc)
        return HttpAnswer.json(413, {"error": str(exc), "eventID": event_id})
    except KfptError as exc:
        log.error("event %s for listener %s not handed on: %s", event_id, listener.name, exc)
        return HttpAnswer.json(
            503, {"error": "the event could not be handed on; retry later", "eventID": event_id}
        )
    if listener.accepted_status == 204:
        return HttpAnswer(204, b"")
    body = _tekton_body(listener, event_id, uid=listener.uid)
    if _is_cloudevent(request):
        return _cloudevent_answer(listener, event_id, body)
    return HttpAnswer.json(listener.accepted_status, body)


def _tekton_body(
    listener: EventListener, event_id: str, *, uid: str, error: str | None = None
) -> dict[str, str]:
    body = {"eventListener": listener.name, "namespace": listener.namespace, "eventListenerUID": uid}
    if event_id:
        body["eventID"] = event_id
    if error is not None:
        body["errorMessage"] = error
    return body


def _is_cloudevent(request: RawRequest) -> bool:
    content_type = first(request.headers, "Content-Type").lower()
    return bool(first(request.headers, "Ce-Specversion")) or content_type.startswith(
        "application/cloudevents+json"
    )


def _cloudevent_answer(listener: EventListener, event_id: str, body: dict[str, str]) -> HttpAnswer:
    """Tekton answers a CloudEvent with a binary-mode CloudEvent of type ``...triggers.accepted.v1``."""
    headers = {
        "Ce-Specversion": "1.0",
        "Ce-Id": event_id,
        "Ce-Type": ACCEPTED_EVENT_TYPE,
        "Ce-Source": listener.name,
        "Ce-Subject": f"{listener.namespace}.{listener.name} accepted {event_id}",
    }
    return HttpAnswer.json(listener.accepted_status, body, headers)
