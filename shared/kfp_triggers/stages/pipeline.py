"""Intercept and render: from an incoming event to run requests, one per accepted trigger.

Intercept runs every trigger's interceptor chain (Tekton semantics, see :mod:`kfp_triggers.chain`)
and publishes one ``trigger.matched`` per accepted trigger; render binds params and renders the
template, publishing ``run.requested`` with an idempotency key derived from (listener, trigger,
eventID). Every decision and every render goes to the journal. Both are safe to run again on a
redelivered input: journal writes replace, message ids are deterministic, and launch deduplicates.
"""

from __future__ import annotations

import hashlib
import logging
import uuid

from cloudevents.http import CloudEvent

from kfp_triggers import processingevents
from kfp_triggers.chain import ChainOutcome
from kfp_triggers.config import EventListener
from kfp_triggers.errors import KfptError
from kfp_triggers.events import (
    EventReceived,
    HttpRequestData,
    ObjectRef,
    RunRequested,
    TriggerMatched,
    event_for,
    topic_for,
    traceparent_of,
)
from kfp_triggers.request import RawRequest
from kfp_triggers.stages.context import StageContext
from kfp_triggers.transports.base import MessageTooLargeError

log = logging.getLogger(__name__)

_UID_NAMESPACE = uuid.UUID("0d9b6a34-52f1-4c7e-8e0f-1a2b3c4d5e6f")


def idempotency_key(listener: ObjectRef, trigger: ObjectRef, event_id: str) -> str:
    """The key that makes one (listener, trigger, event) launch at most one run."""
    text = f"{listener.namespace}/{listener.name}|{trigger.namespace}/{trigger.name}|{event_id}"
    return "kfpt-" + hashlib.sha256(text.encode()).hexdigest()[:40]


def intercept(ctx: StageContext, event: CloudEvent, received: EventReceived) -> list[str]:
    """Run every trigger of the event's listener; publish the accepted ones. Returns their names.

    A listener with ``cloudEventURI`` is told, as Tekton tells it, that processing started and is
    done (or failed for good); see :mod:`kfp_triggers.processingevents`.
    """
    listener = ctx.listener(received.listener.namespace, received.listener.name)
    headers = received.request.headers
    processingevents.send(listener, received.event_id, processingevents.STARTED, headers)
    try:
        accepted = _intercept(ctx, event, received, listener)
    except KfptError as exc:
        if not exc.retryable:  # a retryable failure is delivered again: not failed yet
            processingevents.send(listener, received.event_id, processingevents.FAILED, headers)
        raise
    processingevents.send(listener, received.event_id, processingevents.DONE, None)
    return accepted


def _intercept(
    ctx: StageContext, event: CloudEvent, received: EventReceived, listener: EventListener
) -> list[str]:
    req = received.request
    ctx.store.record_event(
        received.event_id,
        f"{listener.namespace}/{listener.name}",
        ctx.clock(),
        req.to_data(),
        ctx.config.version,
        expires_at=ctx.expiry(),
    )
    request = RawRequest(req.method, req.url, req.headers, req.body)
    accepted: list[str] = []
    for item in ctx.processor.intercept_all(listener, request, received.event_id):
        trigger, chain = item.trigger, item.chain
        decisions = [d.to_json() for d in chain.decisions]
        ctx.store.record_decision(
            received.event_id,
            trigger.name,
            item.group,
            decisions,
            chain.accepted,
            chain.extensions,
            chain.error,
        )
        if not chain.accepted:
            continue
        matched = TriggerMatched(
            event_id=received.event_id,
            listener=received.listener,
            trigger=ObjectRef(trigger.namespace, trigger.name),
            group=item.group,
            request=HttpRequestData(req.method, req.url, chain.header, chain.body),
            extensions=chain.extensions,
            decisions=decisions,
        )
        key = idempotency_key(received.listener, matched.trigger, received.event_id)
        if _hand_on(ctx, matched, "intercept", event, key, {}):
            accepted.append(trigger.name)
    log.info(
        "event %s for listener %s: triggers accepted: %s",
        received.event_id,
        listener.name,
        ", ".join(accepted) or "none",
    )
    return accepted


def _hand_on(
    ctx: StageContext,
    payload: TriggerMatched | RunRequested,
    stage: str,
    parent: CloudEvent,
    key: str,
    params: dict[str, str],
) -> bool:
    """Publish one trigger's next event; False (journalled, logged) when it is too large to carry.

    Only that trigger is lost, and the journal says why; the event's other triggers go on. Other
    transport failures raise, so the input is delivered again.
    """
    try:
        ctx.publisher.publish(
            topic_for(payload.TYPE),
            event_for(payload, source=f"{ctx.source}/{stage}", traceparent=traceparent_of(parent)),
        )
    except MessageTooLargeError as exc:
        trigger = payload.trigger.name
        log.error("event %s trigger %s not handed on: %s", payload.event_id, trigger, exc)
        ctx.store.record_render(payload.event_id, trigger, params, [], key, f"not handed on: {exc}")
        return False
    return True


def render(ctx: StageContext, event: CloudEvent, matched: TriggerMatched) -> RunRequested | None:
    """Bind and render one matched trigger; publish its run request. None when it cannot render."""
    listener = ctx.listener(matched.listener.namespace, matched.listener.name)
    trigger = ctx.trigger(listener, matched.trigger.namespace, matched.trigger.name)
    key = idempotency_key(matched.listener, matched.trigger, matched.event_id)
    uid = str(uuid.uuid5(_UID_NAMESPACE, key))  # deterministic: a redelivery renders the same run
    chain = ChainOutcome(True, matched.request.body, matched.request.headers, dict(matched.extensions))
    try:
        params, resources = ctx.processor.render(listener, trigger, chain, matched.event_id, uid)
    except KfptError as exc:
        log.warning("event %s trigger %s: %s", matched.event_id, trigger.name, exc)
        ctx.store.record_render(matched.event_id, trigger.name, {}, [], key, str(exc))
        return None
    ctx.store.record_render(matched.event_id, trigger.name, dict(params), resources, key, None)
    requested = RunRequested(
        event_id=matched.event_id,
        listener=matched.listener,
        trigger=matched.trigger,
        idempotency_key=key,
        uid=uid,
        params=dict(params),
        resources=resources,
    )
    if not _hand_on(ctx, requested, "render", event, key, dict(params)):
        return None
    log.info("event %s trigger %s: run requested (%s)", matched.event_id, trigger.name, key)
    return requested
