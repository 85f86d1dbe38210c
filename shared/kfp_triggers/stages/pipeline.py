"""Intercept and render: from an incoming event to run requests, one per accepted trigger.

Intercept runs every trigger's interceptor chain (Tekton semantics, see :mod:`kfp_triggers.tekton.chain`)
and publishes one ``trigger.matched`` per accepted trigger; render binds params and renders the
template, publishing ``run.requested`` with an idempotency key derived from (listener, trigger,
eventID). Every decision and every render goes to the journal. Both are safe to run again on a
redelivered input: journal writes replace, message ids are deterministic, and launch deduplicates.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import uuid
from collections.abc import Iterable
from typing import Any

from cloudevents.http import CloudEvent

from kfp_triggers.adapters import processingevents
from kfp_triggers.adapters.store.base import TriggerDecision
from kfp_triggers.adapters.transports.base import MessageTooLargeError
from kfp_triggers.config import EventListener, InterceptorSpec
from kfp_triggers.errors import KfptError
from kfp_triggers.metrics import TRIGGER_DECISIONS
from kfp_triggers.stages import commands
from kfp_triggers.stages.bodies import check_in, check_out
from kfp_triggers.stages.context import PermanentStageError, StageContext
from kfp_triggers.tekton.chain import ChainOutcome
from kfp_triggers.tekton.headers import without_credentials
from kfp_triggers.tekton.origin import origin_of, secret_headers, signs_body
from kfp_triggers.tekton.request import RawRequest
from kfp_triggers.wire.events import (
    EventReceived,
    HttpRequestData,
    ObjectRef,
    RunRequested,
    TriggerMatched,
    event_for,
    topic_for,
    traceparent_of,
)

log = logging.getLogger(__name__)

_UID_NAMESPACE = uuid.UUID("0d9b6a34-52f1-4c7e-8e0f-1a2b3c4d5e6f")


def idempotency_key(listener: ObjectRef, trigger: ObjectRef, event_id: str) -> str:
    """The key that makes one (listener, trigger, event) launch at most one run."""
    text = f"{listener.namespace}/{listener.name}|{trigger.namespace}/{trigger.name}|{event_id}"
    return "kfpt-" + hashlib.sha256(text.encode()).hexdigest()[:40]


def invocation_uid(key: str) -> str:
    """The ``$(uid)`` of the invocation ``key`` names: deterministic, so a redelivery renders the same run."""
    return str(uuid.uuid5(_UID_NAMESPACE, key))


def intercept(ctx: StageContext, event: CloudEvent, received: EventReceived) -> list[str]:
    """Run every trigger of the event's listener; publish the accepted ones. Returns their names.

    The request is journalled first, once (see :meth:`EventJournal.record_event`): a request that
    claims the eventID of another one is handled as an event of its own and never replaces it.

    A listener with ``cloudEventURI`` is told, as Tekton tells it, that processing started and is
    done (or failed for good); see :mod:`kfp_triggers.adapters.processingevents`.
    """
    listener = ctx.listener(received.listener.namespace, received.listener.name)
    secrets = secret_headers(_listener_specs(ctx, listener))
    event_id = _admit(ctx, received, listener, secrets)
    try:
        received = dataclasses.replace(received, request=check_out(ctx, received.request))
    except PermanentStageError as exc:
        # Journalled against every trigger, so `events explain` says why nothing was decided.
        _journal_unreadable(ctx, listener, event_id, str(exc))
        raise
    # Tekton sends the request headers on; the credentials among them stay here.
    headers = without_credentials(received.request.headers, secrets)
    processingevents.send(listener, event_id, processingevents.STARTED, headers)
    try:
        accepted = _intercept(ctx, event, received, listener, event_id, secrets)
    except KfptError as exc:
        if not exc.retryable:  # a retryable failure is delivered again: not failed yet
            processingevents.send(listener, event_id, processingevents.FAILED, headers)
        raise
    processingevents.send(listener, event_id, processingevents.DONE, None)
    return accepted


def _admit(
    ctx: StageContext, received: EventReceived, listener: EventListener, secrets: frozenset[str]
) -> str:
    """Journal the request (credentials redacted) and return the eventID it is processed under."""
    req = received.request
    # A body in the body store stays there: the journal keeps its reference.
    journalled = HttpRequestData(
        req.method, req.url, without_credentials(req.headers, secrets), req.body, req.body_ref
    )
    event_id = ctx.store.record_event(
        received.event_id,
        f"{listener.namespace}/{listener.name}",
        ctx.clock(),
        journalled.to_data(),
        ctx.config.version,
        expires_at=ctx.expiry(),
    )
    if event_id != received.event_id:
        log.warning(
            "event %s: another request (another body, or another listener) already holds this id; "
            "this one is handled as event %s",
            received.event_id,
            event_id,
        )
    return event_id


def _journal_unreadable(ctx: StageContext, listener: EventListener, event_id: str, why: str) -> None:
    """Record, for each trigger of the listener, that the event's body could not be read."""
    named: list[tuple[str, str | None]] = [(t.name, None) for t in ctx.config.triggers_for(listener)]
    named += [(t.name, g.name) for g in ctx.config.groups_for(listener) for t in g.triggers]
    ctx.store.record_decisions(
        event_id, [TriggerDecision(name, group, [], False, {}, why) for name, group in named]
    )


def _listener_specs(ctx: StageContext, listener: EventListener) -> list[InterceptorSpec]:
    """Every interceptor of the listener's triggers and trigger groups."""
    specs = [spec for trigger in ctx.config.triggers_for(listener) for spec in trigger.interceptors]
    for group in ctx.config.groups_for(listener):
        specs.extend(group.interceptors)
        specs.extend(spec for trigger in group.triggers for spec in trigger.interceptors)
    return specs


def _intercept(
    ctx: StageContext,
    event: CloudEvent,
    received: EventReceived,
    listener: EventListener,
    event_id: str,
    secrets: frozenset[str],
) -> list[str]:
    req = received.request
    listener_ref = received.listener
    request = RawRequest(req.method, req.url, req.headers, req.body)
    items = ctx.processor.intercept_all(listener, request, event_id)
    origins = {
        id(item): origin_of(item.specs, item.chain.header, item.chain.body, req.body)
        for item in items
        if item.chain.accepted
    }
    replay_of = _replayed_event(ctx, listener, event_id, req.body, origins.values())
    outcomes: list[TriggerDecision] = []
    for item in items:
        chain = item.chain
        ok, error = chain.accepted, chain.error
        decided_by = chain.decisions[-1].name if chain.decisions and not ok else ""
        if ok and replay_of is not None and signs_body(origins[id(item)].get("verifiedBy")):
            ok, decided_by = False, "replay"
            error = (
                f"refused as a replay: this signed body was first delivered as event {replay_of} "
                "(a signature covers the body, not the delivery id)"
            )
        decisions = [d.to_json() for d in chain.decisions]
        outcomes.append(
            TriggerDecision(item.trigger.name, item.group, decisions, ok, chain.extensions, error)
        )
        verdict = "accepted" if ok else "error" if chain.error else "rejected"
        ctx.metrics.count(TRIGGER_DECISIONS, listener.name, item.trigger.name, verdict, decided_by)
    # Every decision is journalled before any trigger is handed on, in one write for the event.
    ctx.store.record_decisions(event_id, outcomes)
    accepted: list[str] = []
    for item, outcome in zip(items, outcomes, strict=True):
        if not outcome.accepted:
            continue
        if commands.take_over(ctx, item, listener_ref, event_id, origins):  # a /cancel, carried out
            continue
        trigger, chain = item.trigger, item.chain
        matched = TriggerMatched(
            event_id=event_id,
            listener=listener_ref,
            trigger=ObjectRef(trigger.namespace, trigger.name),
            group=item.group,
            request=check_in(
                ctx,
                HttpRequestData(req.method, req.url, without_credentials(chain.header, secrets), chain.body),
                known=req.body_ref,
            ),
            extensions=chain.extensions,
            decisions=outcome.decisions,
            origin=origins.get(id(item), {}),
            received_at=received.received_at,
        )
        key = idempotency_key(listener_ref, matched.trigger, event_id)
        if _hand_on(ctx, matched, "intercept", event, key, {}):
            accepted.append(trigger.name)
    log.info(
        "event %s for listener %s: triggers accepted: %s",
        event_id,
        listener.name,
        ", ".join(accepted) or "none",
    )
    return accepted


def _replayed_event(
    ctx: StageContext,
    listener: EventListener,
    event_id: str,
    body: bytes,
    origins: Iterable[dict[str, Any]],
) -> str | None:
    """The earlier event whose signed body this is, when it came under another eventID (a replay).

    Only bodies a trigger verified by signature are indexed: unsigned senders may repeat a body
    legitimately, and anyone could send it anyway.
    """
    if not any(signs_body(origin.get("verifiedBy")) for origin in origins):
        return None
    first = ctx.store.first_event_with_body(
        f"{listener.namespace}/{listener.name}",
        hashlib.sha256(body).hexdigest(),
        event_id,
        ctx.clock(),
        expires_at=ctx.expiry(),
    )
    return None if first == event_id else first


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
        ctx.publish(
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
    uid = invocation_uid(key)
    request = check_out(ctx, matched.request)
    chain = ChainOutcome(True, request.body, request.headers, dict(matched.extensions))
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
        origin=dict(matched.origin),
        received_at=matched.received_at,
    )
    if not _hand_on(ctx, requested, "render", event, key, dict(params)):
        return None
    log.info("event %s trigger %s: run requested (%s)", matched.event_id, trigger.name, key)
    return requested
