"""Launch and status: create each requested run exactly once, then follow it to the end.

Exactly once, over at-least-once delivery, rests on two guards:

* the ledger: a run request's idempotency key is claimed before launching, by one invocation,
  with a short lease renewed while it launches (see :mod:`kfp_triggers.stages.lease`). A
  completed claim returns the stored run. A claim held by another invocation makes this delivery
  ask the backend: a run already there is adopted (its holder died before recording it);
  otherwise the delivery waits, within its time limit, for the holder to finish or for its lease
  to lapse (a takeover), and only then asks to be delivered again;
* the backend: every launcher finds a run already created for the key (KFP: a marker in the run's
  description; Vertex: the job id; local: an index file), which covers a crash between creating
  the run and completing the claim.

Status reads each non-terminal run's state (on ``run.created`` and on every ``status.tick``),
records it with a compare-and-set, and publishes ``run.state`` only on a real transition.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cloudevents.http import CloudEvent

from kfp_triggers.adapters.launchers.base import LaunchedRun, LaunchRejected, LaunchRequest, RunSpec
from kfp_triggers.adapters.launchers.outputs import RunOutput
from kfp_triggers.adapters.store import TERMINAL_STATES, Admission, Claim, ClaimStatus, RunRecord
from kfp_triggers.config import EventListener, ResolvedTrigger
from kfp_triggers.config.pipelines import package_roots
from kfp_triggers.errors import KfptError
from kfp_triggers.metrics import RUN_LAUNCHES, RUN_STATES, WEBHOOK_TO_RUN
from kfp_triggers.stages import groups
from kfp_triggers.stages.chaining import hand_on_run_event
from kfp_triggers.stages.context import StageContext
from kfp_triggers.stages.lease import LeaseKeeper, invocation_owner
from kfp_triggers.stages.outcome import event_outcome
from kfp_triggers.stages.pipeline import idempotency_key, invocation_uid
from kfp_triggers.stages.provenance import run_labels
from kfp_triggers.tekton.processing import render_template
from kfp_triggers.wire.events import (
    EventCompleted,
    ObjectRef,
    RunCreated,
    RunRequested,
    RunState,
    StatusTick,
    event_for,
    topic_for,
    traceparent_of,
)

if TYPE_CHECKING:
    from kfp_triggers.adapters.notifiers.base import Supersession

log = logging.getLogger(__name__)

RUN_API_VERSION = "pipelines.kubeflow.org/v2beta1"
RESERVATION_RESEND_S = 120.0
"""A run request handed back to launch for a freed group slot is sent again after this long."""


class LaunchInProgressError(KfptError):
    """Another worker holds a live claim on this run request: deliver it again later."""

    retryable = True


def is_launchable(resource: dict[str, Any]) -> bool:
    """True for the KFP ``Run`` resources a launcher can start."""
    return resource.get("kind") == "Run" and resource.get("apiVersion") == RUN_API_VERSION


def launch(
    ctx: StageContext, event: CloudEvent, requested: RunRequested, *, dispatched: bool = False
) -> list[RunCreated]:
    """Create the runs of one request exactly once each; publish ``run.created`` for every one.

    A ``dispatched`` request (signed with the dispatch key, not the stages' message key) is a
    manual run: it must carry a dispatch's eventID, and whatever origin it claims is replaced by
    who dispatched it, so a dispatcher can choose param values but never a commit to post a status
    to, nor an event of a webhook to journal under.

    Raises:
        LaunchInProgressError: another worker is launching this key right now (retry later).
        KfptError: a retryable backend or store failure (the claim is released first).
    """
    listener = ctx.listener(requested.listener.namespace, requested.listener.name)
    trigger = ctx.trigger(listener, requested.trigger.namespace, requested.trigger.name)
    if dispatched:
        manual = _as_manual(requested)
        if manual is None:
            log.error(
                "dispatched run request %s refused: its eventID is not a dispatch's",
                requested.idempotency_key,
            )
            return []
        requested = manual
    forged = unrenderable(listener, trigger, requested)
    if forged is not None:
        # Not journalled: the journal must not take writes from whoever sent this.
        log.error("run request %s refused: %s", requested.idempotency_key, forged)
        return []
    created: list[RunCreated] = []
    for index, resource in enumerate(requested.resources):
        key = requested.idempotency_key if index == 0 else f"{requested.idempotency_key}-{index}"
        if not is_launchable(resource):
            kind = f"{resource.get('apiVersion')}/{resource.get('kind')}"
            _journal_failure(ctx, requested, key, f"resource {index} ({kind}) is not a KFP Run; not launched")
            continue
        try:
            roots = package_roots(trigger.template, ctx.config_root)
            spec = RunSpec.from_resource(resource, trigger.template.file_dir, roots)
        except LaunchRejected as exc:
            _journal_failure(ctx, requested, key, str(exc))
            continue
        # A group holds an invocation's first run; a template's further runs launch beside it.
        group = groups.group_of(trigger, requested.params) if index == 0 else None
        run = _launch_once(ctx, requested, key, spec, group)
        if run is None:
            continue
        ctx.publish(
            topic_for(run.TYPE),
            event_for(run, source=f"{ctx.source}/launch", traceparent=traceparent_of(event)),
        )
        log.info(
            "event %s trigger %s: run %s on %s (%s)",
            requested.event_id,
            requested.trigger.name,
            run.run_id,
            run.backend,
            run.state,
        )
        if listener.cloud_event_uri:  # Tekton's "successful": the trigger's resources exist
            _send_successful(ctx, listener, requested.event_id)
        created.append(run)
    return created


MANUAL_EVENT_PREFIXES = ("dispatch-", "rerun-")


def _as_manual(requested: RunRequested) -> RunRequested | None:
    """``requested`` with only a manual origin, or ``None`` when its eventID is not a dispatch's."""
    if not requested.event_id.startswith(MANUAL_EVENT_PREFIXES):
        return None
    claimed = requested.origin
    origin = {
        key: str(claimed[key])[:200]
        for key in ("dispatchedBy", "rerunOf")
        if isinstance(claimed.get(key), str)
    }
    return dataclasses.replace(requested, origin={**origin, "manual": True})


def unrenderable(listener: EventListener, trigger: ResolvedTrigger, requested: RunRequested) -> str | None:
    """Why ``requested`` is not a run request the render stage produced, or ``None`` when it is.

    A message reaching launch is only believed as far as it can be checked: its idempotency key
    and ``$(uid)`` must be the ones render derives for its listener, trigger and event, and its
    resources exactly what the trigger's template renders from its params. So whoever can post to
    the launch stage can at most choose param values, never a pipeline of their own (an inline
    ``pipeline_spec``, another package, another service account).
    """
    key = idempotency_key(requested.listener, requested.trigger, requested.event_id)
    if requested.idempotency_key != key:
        return "its idempotency key is not the one derived from its listener, trigger and event"
    if requested.uid != invocation_uid(key):
        return "its uid is not the one derived from its idempotency key"
    if not all(isinstance(v, str) for v in requested.params.values()):
        return "its params are not all strings, as bound params are"
    try:
        expected = render_template(
            listener, trigger, dict(requested.params), requested.event_id, requested.uid
        )
    except KfptError as exc:
        return f"its params do not render the trigger's template: {exc}"
    if expected != requested.resources:
        return f"its resources are not what trigger {trigger.name}'s template renders from its params"
    return None


def _launch_once(
    ctx: StageContext, requested: RunRequested, key: str, spec: RunSpec, group: groups.GroupRef | None
) -> RunCreated | None:
    store = ctx.store
    owner = invocation_owner(ctx.owner)
    deadline = time.monotonic() + ctx.claim_wait_s
    while True:
        claim = store.claim(key, owner, ctx.lease_s, ctx.clock())
        if claim.status == ClaimStatus.COMPLETED:
            done = _already_launched(ctx, requested, key, claim)
            if done is not None and group is not None and done.state not in TERMINAL_STATES:
                groups.run_started(ctx, group, key, done.run_id)  # in case the group never heard of it
            return done
        if claim.acquired:
            break
        # Another invocation holds the key. If the backend has the run, that holder created it
        # (and may have died before recording it): adopt it rather than wait or give up.
        found = ctx.launcher.find(key)
        if found is not None:
            log.info(
                "event %s: run %s found on the backend for %s; adopted", requested.event_id, found.run_id, key
            )
            adopted = _record(ctx, requested, key, owner, found, spec, adopt=True, group=group)
            if group is not None:
                groups.run_started(ctx, group, key, adopted.run_id)
            return adopted
        if time.monotonic() >= deadline:
            raise LaunchInProgressError(f"run request {key} is being launched by another invocation")
        time.sleep(min(1.0, max(deadline - time.monotonic(), 0.0)))
    note = None
    if group is not None:
        try:
            admission = groups.admit(ctx, group, requested, key)
            if admission.verdict != "launch" or group.action == "cancel-group":
                _settle_unlaunched(ctx, requested, key, owner, group, admission)
                return None
            cancelled = groups.settle_displaced(ctx, admission, key, requested.event_id)
        except KfptError:
            store.release(key, owner)  # delivered again: the group gives it the same standing
            raise
        note = groups.note_for(admission, cancelled, group.rules)
    labels = run_labels(requested)
    try:
        with LeaseKeeper(store, key, owner, ctx.lease_s, ctx.clock):
            request = LaunchRequest(spec, key, requested.event_id, labels, first_attempt=claim.first)
            launched = ctx.launcher.launch(request)
    except LaunchRejected as exc:
        store.release(key, owner)
        _journal_failure(ctx, requested, key, str(exc))
        if group is not None:  # it will never run: its slot goes to the next in line
            groups.release_slot(ctx, group.group_id, key)
        return None
    except KfptError:
        store.release(key, owner)
        raise
    created = _record(ctx, requested, key, owner, launched, spec, adopt=False, group=group, note=note)
    if group is not None and not groups.run_started(ctx, group, key, created.run_id):
        store.record_launch(
            requested.event_id,
            requested.trigger.name,
            key,
            created.run_id,
            created.backend,
            None,
            note="cancelled: a newer event displaced it in its concurrency group while it launched",
        )
    return created


def _settle_unlaunched(
    ctx: StageContext,
    requested: RunRequested,
    key: str,
    owner: str,
    group: groups.GroupRef,
    admission: Admission,
) -> None:
    """Journal and settle a request its group does not let launch (now, or at all).

    A queued request gives its claim back (it comes back to launch when a slot frees); a skipped
    or superseded one, and a ``cancel-group`` trigger's, completes its key with the verdict, so a
    redelivery gets the same answer and launches nothing.
    """
    store = ctx.store
    if group.action == "cancel-group" and admission.verdict == "launch":
        cancelled = groups.settle_displaced(ctx, admission, key, requested.event_id)
        store.leave_group(group.group_id, key, ctx.clock())
        note = f"cancelled the runs of group {group.group_id}: {', '.join(cancelled) or 'none running'}"
        verdict = "cancelled-group"
    else:
        groups.settle_displaced(ctx, admission, key, requested.event_id)  # a queued one it replaced
        note = groups.note_for(admission, [], group.rules) or admission.verdict
        verdict = admission.verdict
    if verdict == "queued":
        store.release(key, owner)
    else:
        store.complete(key, owner, {"verdict": verdict, "note": note}, expires_at=ctx.expiry())
    store.record_launch(requested.event_id, requested.trigger.name, key, None, None, None, note=note)
    ctx.metrics.count(RUN_LAUNCHES, _backend(ctx), "held")
    log.info("event %s trigger %s: %s", requested.event_id, requested.trigger.name, note)


def _already_launched(
    ctx: StageContext, requested: RunRequested, key: str, claim: Claim
) -> RunCreated | None:
    verdict = (claim.result or {}).get("verdict")
    if not claim.run_id and verdict:  # its concurrency group decided it does not launch
        log.info("event %s: run request %s was %s already", requested.event_id, key, verdict)
        return None
    if not claim.run_id:  # completed without a run id: a record we cannot use
        raise LaunchInProgressError(f"run request {key} has a completed claim without a run id")
    stored = ctx.store.get_run(claim.run_id)
    log.info("event %s: run %s already launched for %s", requested.event_id, claim.run_id, key)
    backend = claim.backend or (stored.backend if stored else "unknown")
    ctx.metrics.count(RUN_LAUNCHES, backend, "deduplicated")
    return RunCreated(
        event_id=requested.event_id,
        idempotency_key=key,
        run_id=claim.run_id,
        backend=backend,
        state=stored.state if stored else "UNKNOWN",
        run_url=stored.run_url if stored else None,
    )


def _record(
    ctx: StageContext,
    requested: RunRequested,
    key: str,
    owner: str,
    launched: LaunchedRun,
    spec: RunSpec,
    *,
    adopt: bool,
    group: groups.GroupRef | None = None,
    note: str | None = None,
) -> RunCreated:
    """Record the run, complete the key and journal the launch, in one store transaction."""
    now = ctx.clock()
    run = RunRecord(
        run_id=launched.run_id,
        event_id=requested.event_id,
        listener=f"{requested.listener.namespace}/{requested.listener.name}",
        trigger=requested.trigger.name,
        backend=launched.backend,
        state=str(launched.state),
        created_at=now,
        updated_at=now,
        run_url=launched.run_url,
        idempotency_key=key,
        details={
            "displayName": spec.display_name,
            "triggerNamespace": requested.trigger.namespace,
            "origin": dict(requested.origin),
            **({groups.DETAILS_KEY: group.group_id} if group is not None else {}),
        },
    )
    if not ctx.store.finish_launch(key, owner, run, adopt=adopt, expires_at=ctx.expiry(), note=note):
        # Another invocation took the key over (or adopted this very run); the backend's key
        # check gave it this same run.
        log.warning("claim on %s was taken over; run %s stands", key, launched.run_id)
    else:
        _count_created(ctx, requested, launched.backend)
    return RunCreated(
        event_id=requested.event_id,
        idempotency_key=key,
        run_id=launched.run_id,
        backend=launched.backend,
        state=str(launched.state),
        run_url=launched.run_url,
    )


def _count_created(ctx: StageContext, requested: RunRequested, backend: str) -> None:
    """Count a run recorded for the first time, and time the webhook's way to it."""
    ctx.metrics.count(RUN_LAUNCHES, backend, "created")
    if requested.received_at:
        try:
            received = datetime.fromisoformat(requested.received_at.replace("Z", "+00:00"))
            seconds = (ctx.clock() - received).total_seconds()
        except (ValueError, TypeError):  # not a time ingest wrote; nothing to measure
            return
        ctx.metrics.observe(
            WEBHOOK_TO_RUN, max(seconds, 0.0), requested.listener.name, requested.trigger.name
        )


def _backend(ctx: StageContext) -> str:
    """The launcher's backend name for a metric label, without building a launcher for it."""
    return ctx.backend_name or "unknown"


def _journal_failure(ctx: StageContext, requested: RunRequested, key: str, message: str) -> None:
    log.warning("event %s trigger %s: %s", requested.event_id, requested.trigger.name, message)
    ctx.store.record_launch(requested.event_id, requested.trigger.name, key, None, None, message)
    ctx.metrics.count(RUN_LAUNCHES, _backend(ctx), "failed")


def status(ctx: StageContext, event: CloudEvent, data: RunCreated | StatusTick) -> list[RunState]:
    """Poll the run named by ``run.created``, or every non-terminal run on a tick; publish transitions.

    Notifiers (GitHub commit statuses) are told before the new state is recorded, so if one fails
    for a reason a retry can fix, the redelivered input finds the transition again and re-notifies.

    Raises:
        KfptError: retryable backend, store or notifier failures.
    """
    if isinstance(data, RunCreated):
        record = ctx.store.get_run(data.run_id)
        runs = [record] if record is not None and not record.terminal else []
        if record is not None and record.terminal:  # ended as it was created (a dry run's SKIPPED)
            # A run.created comes again whenever its request is delivered again: only the ledger
            # can tell this announcement was made already.
            _announce_if_complete(
                ctx, event, record.event_id, _listener_ref(record), {record.run_id: record.state}, ledger=True
            )
        for run in runs:  # announce the run as soon as it exists (GitHub shows "pending")
            _notify(ctx, run, run.state, None)
    else:
        runs = ctx.store.list_runs(1000, non_terminal_only=True)
        purged = ctx.purge_if_due()  # the tick is the periodic work there is: housekeeping rides on it
        if purged:
            log.info("purged %d expired journal entries and idempotency records", purged)
        due = groups.start_due(ctx, ctx.clock())
        if due:
            log.info("started %d run requests their rate limit or debounce had held back", due)
        resent = groups.resend_stale(ctx, ctx.clock(), RESERVATION_RESEND_S)
        if resent:
            log.warning("sent %d run requests again whose group slot was not taken up", resent)
    changes: list[RunState] = []
    for run in runs:
        change = _poll(ctx, run, event)
        if change is None:
            continue
        ctx.publish(
            topic_for(change.TYPE),
            event_for(change, source=f"{ctx.source}/status", traceparent=traceparent_of(event)),
        )
        changes.append(change)
        if change.state in TERMINAL_STATES:
            _announce_if_complete(ctx, event, change.event_id, change.listener, {change.run_id: change.state})
    return changes


def _listener_ref(run: RunRecord) -> ObjectRef:
    namespace, _, name = run.listener.rpartition("/")
    return ObjectRef(namespace, name)


def _announce_if_complete(
    ctx: StageContext,
    event: CloudEvent,
    event_id: str,
    listener: ObjectRef,
    ended: Mapping[str, str],
    *,
    ledger: bool = False,
) -> None:
    """Publish ``event.completed`` when the run that just ended was the event's last one.

    ``ended`` maps the run that just ended to its state (no need to read it back). ``ledger``
    makes the announcement go through the idempotency ledger even for an event of one run.
    """
    record = ctx.store.get_event(event_id)
    if record is None:
        return
    found = event_outcome(ctx.store, record, ended)
    if not found.complete:
        return
    key, owner = f"event-completed/{event_id}", invocation_owner(ctx.owner)
    # Two runs of the event may end in two invocations at once: the ledger lets one announce it.
    # A run's end is recorded once, so an event of one run needs no ledger entry.
    shared = ledger or len(found.parts) > 1
    if shared and not ctx.store.claim(key, owner, ctx.lease_s, ctx.clock()).acquired:
        return
    completed = EventCompleted(
        event_id=event_id,
        listener=listener,
        outcome=found.outcome,
        runs=[dict(part) for part in found.parts],
        counts=dict(found.counts),
    )
    try:
        ctx.publish(
            topic_for(completed.TYPE),
            event_for(completed, source=f"{ctx.source}/status", traceparent=traceparent_of(event)),
        )
    except KfptError:
        if shared:
            ctx.store.release(key, owner)  # the input is delivered again and announces it then
        raise
    if shared:
        ctx.store.complete(key, owner, {"outcome": found.outcome}, expires_at=ctx.expiry())
    log.info("event %s: every run has ended: %s", event_id, found.outcome)
    # One run's end is handed on as its run.state already (a run that ended as it was created, a
    # dry run's, is not handed on at all).
    if len(found.parts) > 1:
        hand_on_run_event(ctx, event, completed, ctx.clock())


def _poll(ctx: StageContext, run: RunRecord, parent: CloudEvent) -> RunState | None:
    try:
        observed = ctx.launcher.get_state(run.run_id)
    except LaunchRejected as exc:
        log.warning("run %s cannot be read: %s", run.run_id, exc)
        return None
    state = str(observed.state)
    if state == run.state:
        return None
    _notify(ctx, run, state, run.state, groups.superseded_by(ctx, run, state) if ctx.notifiers else None)
    group_id = run.details.get(groups.DETAILS_KEY)
    if isinstance(group_id, str) and state in TERMINAL_STATES and run.idempotency_key:
        # Before the state is recorded: a crash in between finds the transition again.
        groups.release_slot(ctx, group_id, run.idempotency_key)
    outputs: dict[str, Any] = {}
    for output in observed.outputs if state in TERMINAL_STATES else ():
        found = output.uri or output.artifact_id if output.value is None else output.value
        outputs.setdefault(output.task, {}).setdefault(output.name, found)
    namespace = run.listener.rpartition("/")[0]
    change = RunState(
        event_id=run.event_id,
        run_id=run.run_id,
        backend=run.backend,
        state=state,
        previous_state=run.state,
        run_url=run.run_url,
        trigger=ObjectRef(str(run.details.get("triggerNamespace", namespace)), run.trigger),
        listener=_listener_ref(run),
        outputs=outputs,
    )
    if state in TERMINAL_STATES:
        # Before the end is recorded, as the notifiers and the slot above: a failure here is met
        # again by the next tick; what is handed on keeps its eventID, so a repeat launches nothing.
        if observed.outputs:
            _record_outputs(ctx, run, observed.outputs)
        hand_on_run_event(ctx, parent, change, ctx.clock())
    previous = ctx.store.record_state(run.run_id, state, ctx.clock())
    if previous is None:
        return None
    ctx.metrics.count(RUN_STATES, run.backend, state)
    log.info(
        "run %s of event %s trigger %s: %s -> %s", run.run_id, run.event_id, run.trigger, previous, state
    )
    return dataclasses.replace(change, previous_state=previous)


def _record_outputs(ctx: StageContext, run: RunRecord, outputs: tuple[RunOutput, ...]) -> None:
    """Keep a finished run's outputs on its record (``details.outputs``): the lineage's last link."""
    details = {**run.details, "outputs": [output.to_json() for output in outputs]}
    ctx.store.upsert_run(dataclasses.replace(run, details=details))


def _send_successful(ctx: StageContext, listener: EventListener, event_id: str) -> None:
    from kfp_triggers.adapters import processingevents

    record = ctx.store.get_event(event_id)
    headers = record.request.get("headers") if record is not None and record.request else None
    processingevents.send(listener, event_id, processingevents.SUCCESSFUL, headers)


def _notify(
    ctx: StageContext,
    run: RunRecord,
    state: str,
    previous: str | None,
    superseded_by: Supersession | None = None,
) -> None:
    """Tell every notifier; a permanent failure is logged, a retryable one propagates."""
    if not ctx.notifiers:
        return
    from kfp_triggers.adapters.notifiers import RunStateChange

    change = RunStateChange.from_run(run, state, previous, superseded_by)
    for notifier in ctx.notifiers:
        try:
            notifier.notify(change)
        except KfptError as exc:
            if exc.retryable:
                raise
            log.error("run %s: notification failed: %s", run.run_id, exc)
