"""Pipelines started by other pipelines: this deployment's own run ends as events of a listener.

A listener annotated ``kfp-triggers.dev/run-events: "true"`` also receives, as CloudEvents in
binary mode (``Ce-Type``, ``Ce-Id``, ``Ce-Source`` headers, the payload as a JSON body), every run
end (``dev.kfptriggers.run.state.v1`` with a terminal state and the run's ``outputs``) and every
event completion (``dev.kfptriggers.event.completed.v1``). Its triggers filter and bind them as
any other event (``body.state == 'SUCCEEDED' && body.trigger.name == 'train'``,
``$(body.outputs.train.model)``), so train -> evaluate -> deploy is written in Tekton's own YAML.

The status stage hands them straight to intercept (the events topic), not to ingest: ingest is the
public edge, where anyone may post, while a run end is produced inside the deployment and travels
signed like every message between the stages. Each gets an eventID derived from the listener, the
run and its state, so however often the end is seen the downstream trigger launches once. A chain
is at most :data:`MAX_CHAIN_DEPTH` runs long (the depth is carried in the eventID): a trigger that
fires on its own run's end cannot loop for ever.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import datetime

from cloudevents.http import CloudEvent

from kfp_triggers.config import EventListener
from kfp_triggers.config.models import RUN_EVENTS_ANNOTATION
from kfp_triggers.golang import fastjson
from kfp_triggers.stages.context import StageContext
from kfp_triggers.wire.events import (
    EventCompleted,
    EventReceived,
    HttpRequestData,
    ObjectRef,
    RunState,
    event_for,
    topic_for,
    traceparent_of,
)

log = logging.getLogger(__name__)

MAX_CHAIN_DEPTH = 8
"""Runs in one chain at most: the first run's end starts the second, ... up to this many."""
_CHAINED = re.compile(r"^chain(\d+)-")
_NAMESPACE = uuid.UUID("8d6f4a1e-3c2b-4e5f-9a7d-1b0c2e3f4a5b")


def wants_run_events(listener: EventListener) -> bool:
    """Whether the listener asked to receive this deployment's run ends."""
    return listener.annotations.get(RUN_EVENTS_ANNOTATION, "").strip().lower() == "true"


def chain_depth(event_id: str) -> int:
    """How many run ends led to ``event_id`` (0 for a webhook from outside)."""
    found = _CHAINED.match(event_id)
    return int(found.group(1)) if found else 0


def hand_on_run_event(
    ctx: StageContext, parent: CloudEvent, payload: RunState | EventCompleted, now: datetime
) -> int:
    """Publish ``payload`` as an event of every listener that asked for run events; how many."""
    listeners = [listener for listener in ctx.config.listeners.values() if wants_run_events(listener)]
    if not listeners:
        return 0
    depth = chain_depth(payload.event_id) + 1
    if depth > MAX_CHAIN_DEPTH:
        log.warning(
            "event %s: not handed on as a run event: the chain is already %d runs long",
            payload.event_id,
            depth - 1,
        )
        return 0
    body = fastjson.dumps(payload.to_data())
    # A run ends once: whichever state it came from, its end is one event of each listener.
    ended = f"{payload.run_id}/{payload.state}" if isinstance(payload, RunState) else payload.message_id()
    for listener in listeners:
        name = f"{listener.namespace}/{listener.name}"
        event_id = f"chain{depth}-{uuid.uuid5(_NAMESPACE, f'{name}/{ended}')}"
        headers = {
            "Ce-Specversion": ["1.0"],
            "Ce-Type": [payload.TYPE],
            "Ce-Id": [event_id],
            "Ce-Source": [f"{ctx.source}/status"],
            "Ce-Subject": [payload.event_id],
            "Content-Type": ["application/json"],
        }
        received = EventReceived(
            event_id=event_id,
            listener=ObjectRef(listener.namespace, listener.name),
            request=HttpRequestData("POST", f"/{listener.name}", headers, body),
            received_at=now.isoformat().replace("+00:00", "Z"),
        )
        ctx.publish(
            topic_for(received.TYPE),
            event_for(received, source=f"{ctx.source}/status", traceparent=traceparent_of(parent)),
        )
    return len(listeners)
