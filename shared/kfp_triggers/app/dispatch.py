"""``kfp-triggers dispatch`` and ``rerun``: a run started by hand, through the chain as deployed.

A dispatch names a listener, one of its triggers and the template's params. Before anything is
sent, the params are checked against the template's declarations (unknown names, required ones
missing) and the rendered run against its pipeline's inputs (each value converted to the declared
type), so a mistake is refused with a message naming every bad param. The event is then journalled
as manual (``Kfpt-Dispatched-By``: who sent it) and a run request is published to the launch
stage on the configured transport. What authenticates a dispatch is the sender's right to publish
there (on Google Cloud, publisher on the launch topic) and a key: the dispatch key
(``KFPT_DISPATCH_KEY_SECRET``) when the deployment has one, which launch alone accepts and only on
run requests, taking them as manual runs whose origin it sets itself; else the stages' message key
(whoever holds that can sign any message between the stages). Launch checks it as every run
request: it must be what the trigger's template renders from those params.

``rerun RUN_ID`` dispatches the params a journalled run was rendered from again, under a new
eventID (so a new idempotency key), linked to the first run in the journal (``Kfpt-Rerun-Of``).

With the in-process transport (``KFPT_TRANSPORT=memory``, the default) this process runs launch
and status itself, so a dispatch works without a deployment; ``--wait`` then follows the run here.
"""

from __future__ import annotations

import base64
import getpass
import json
import socket
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kfp_triggers.adapters.store.base import Store, TriggerDecision
from kfp_triggers.config import Configuration, EventListener, ResolvedTrigger
from kfp_triggers.errors import InvalidRequestError, KfptError
from kfp_triggers.stages.context import StageContext

DISPATCHED_BY = "Kfpt-Dispatched-By"
RERUN_OF = "Kfpt-Rerun-Of"


def default_sender() -> str:
    """Who is dispatching, for the journal: ``user@host``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def parse_params(pairs: list[str]) -> dict[str, str]:
    """``k=v`` arguments as a mapping.

    Raises:
        InvalidRequestError: an argument without ``=``, or a name given twice.
    """
    params: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise InvalidRequestError(f"--param {pair!r} is not NAME=VALUE")
        if name in params:
            raise InvalidRequestError(f"--param {name} is given twice")
        params[name] = value
    return params


def find_trigger(
    config: Configuration, listener_name: str, trigger_name: str
) -> tuple[EventListener, ResolvedTrigger]:
    """The listener and its trigger (directly or through a group), by name.

    Raises:
        InvalidRequestError: no such listener or trigger; the message lists the ones there are.
    """
    try:
        listener = config.listener(listener_name)
    except KfptError as exc:
        raise InvalidRequestError(str(exc)) from None
    triggers = list(config.triggers_for(listener))
    triggers += [t for g in config.groups_for(listener) for t in g.triggers]
    for trigger in triggers:
        if trigger.name == trigger_name:
            return listener, trigger
    names = ", ".join(sorted(t.name for t in triggers)) or "none"
    raise InvalidRequestError(f"listener {listener.name} has no trigger {trigger_name!r} (it has: {names})")


def checked_params(
    listener: EventListener, trigger: ResolvedTrigger, given: Mapping[str, str], config_root: Path
) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """The params with the template's defaults, and the resources they render; every problem at once.

    Raises:
        InvalidRequestError: unknown or missing params, or values the pipeline's inputs refuse.
    """
    from kfp_triggers.adapters.launchers.base import LaunchRejected, RunSpec
    from kfp_triggers.adapters.launchers.params import coerce_parameters, load_pipeline
    from kfp_triggers.config.pipelines import package_roots
    from kfp_triggers.tekton.processing import render_template

    declared = {p.name: p for p in trigger.template.params}
    problems = [f"unknown param {name!r}" for name in given if name not in declared]
    missing = [name for name, p in declared.items() if p.default is None and name not in given]
    problems += [f"param {name!r} is required (the template gives it no default)" for name in missing]
    if problems:
        known = ", ".join(sorted(declared)) or "none"
        raise InvalidRequestError(f"trigger {trigger.name}: {'; '.join(problems)} (its params: {known})")
    params = {name: p.default for name, p in declared.items() if p.default is not None}
    params.update(given)
    resources = render_template(listener, trigger, params, "dispatch-check", "dispatch-check")
    roots = package_roots(trigger.template, config_root)
    for index, resource in enumerate(resources):
        try:
            spec = RunSpec.from_resource(resource, trigger.template.file_dir, roots)
            doc = load_pipeline(spec)
            if doc is not None:
                coerce_parameters(doc, spec.parameters)
        except (LaunchRejected, ValueError) as exc:
            raise InvalidRequestError(f"trigger {trigger.name}: resource {index}: {exc}") from None
    return params, resources


def dispatch(
    ctx: StageContext,
    listener_name: str,
    trigger_name: str,
    given: Mapping[str, str],
    *,
    sender: str,
    rerun_of: str | None = None,
) -> dict[str, Any]:
    """Check, journal and send one manual run request; returns its eventID, key and params.

    Raises:
        InvalidRequestError: the listener, trigger or params are refused (nothing is sent).
    """
    from kfp_triggers.stages.pipeline import idempotency_key, invocation_uid
    from kfp_triggers.tekton.processing import render_template
    from kfp_triggers.wire.events import ObjectRef, RunRequested, event_for, topic_for

    listener, trigger = find_trigger(ctx.config, listener_name, trigger_name)
    params, _ = checked_params(listener, trigger, given, ctx.config_root)
    event_id = f"{'rerun' if rerun_of else 'dispatch'}-{uuid.uuid4()}"
    listener_ref = ObjectRef(listener.namespace, listener.name)
    trigger_ref = ObjectRef(trigger.namespace, trigger.name)
    key = idempotency_key(listener_ref, trigger_ref, event_id)
    uid = invocation_uid(key)
    resources = render_template(listener, trigger, params, event_id, uid)
    headers = {DISPATCHED_BY: [sender], **({RERUN_OF: [rerun_of]} if rerun_of else {})}
    body = json.dumps(params, sort_keys=True).encode()
    request = {
        "method": "DISPATCH",
        "url": f"/{listener.name}",
        "headers": headers,
        "bodyBase64": base64.b64encode(body).decode("ascii"),
    }
    store = ctx.store
    store.record_event(
        event_id, f"{listener.namespace}/{listener.name}", ctx.clock(), request, ctx.config.version,
        expires_at=ctx.expiry(),
    )  # fmt: skip
    decision = {"name": "dispatch", "response": {"continue": True}, "by": sender}
    extensions = {"dispatchedBy": sender, **({"rerunOf": rerun_of} if rerun_of else {})}
    store.record_decisions(
        event_id, [TriggerDecision(trigger.name, None, [decision], True, extensions, None)]
    )
    store.record_render(event_id, trigger.name, dict(params), resources, key, None)
    requested = RunRequested(
        event_id=event_id,
        listener=listener_ref,
        trigger=trigger_ref,
        idempotency_key=key,
        uid=uid,
        params=dict(params),
        resources=resources,
        origin={"dispatchedBy": sender, **({"rerunOf": rerun_of} if rerun_of else {})},
        received_at=ctx.clock().isoformat().replace("+00:00", "Z"),
    )
    event = event_for(requested, source=f"{ctx.source}/dispatch", traceparent=None)
    if ctx.dispatch_key is not None:
        from kfp_triggers.wire.messageauth import sign

        # Launch takes what this key signs as a manual run, whatever origin it claims.
        ctx.publisher.publish(topic_for(requested.TYPE), sign(event, ctx.dispatch_key))
    else:
        ctx.publish(topic_for(requested.TYPE), event)
    return {"eventID": event_id, "idempotencyKey": key, "listener": listener.name, "trigger": trigger.name,
            "params": params, "dispatchedBy": sender, "rerunOf": rerun_of}  # fmt: skip


def rerun_params(store: Store, run_id: str) -> tuple[str, str, dict[str, str]]:
    """The listener, trigger and params a journalled run was rendered from.

    Raises:
        InvalidRequestError: no such run, or its event's render is not in the journal.
    """
    run = store.get_run(run_id)
    if run is None:
        raise InvalidRequestError(f"no run {run_id!r} in the store")
    record = store.get_event(run.event_id)
    trigger = record.trigger(run.trigger) if record is not None else None
    if trigger is None or trigger.params is None:
        raise InvalidRequestError(
            f"run {run_id} cannot be rerun: the params of event {run.event_id} are no longer in the journal"
        )
    listener = run.listener.rpartition("/")[2]
    return listener, run.trigger, {str(k): str(v) for k, v in trigger.params.items()}


def wait_for_run(ctx: StageContext, key: str, timeout_s: float, tick: Any) -> dict[str, Any] | None:
    """Follow the run of ``key`` until it ends (``tick()`` lets an in-process status stage poll)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        claim_run = next((r for r in ctx.store.list_runs(200) if r.idempotency_key == key), None)
        if claim_run is not None and claim_run.terminal:
            return claim_run.to_json()
        tick()
        time.sleep(0.5)
    found = next((r for r in ctx.store.list_runs(200) if r.idempotency_key == key), None)
    return found.to_json() if found is not None else None
