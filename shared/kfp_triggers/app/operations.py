"""Operator commands: serve the chain, send a request, read and explain the journal, runs, cancel, replay.

The CLI parses arguments; these functions do the work and return JSON-ready values.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import sys
import threading
import uuid
import weakref
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kfp_triggers.adapters.store import store_from_url
from kfp_triggers.adapters.store.base import EventRecord, EventSummary, RunRecord, Store
from kfp_triggers.adapters.store.factory import store_from_env
from kfp_triggers.app.runtime import Settings
from kfp_triggers.errors import InvalidRequestError


def open_store(url: str | None) -> Store:
    """The store named by ``url``, else ``KFPT_STORE``, else the embedded SQLite file."""
    return store_from_url(url) if url else store_from_env(os.environ)


def list_runs(store: Store, limit: int, state: str | None) -> list[dict[str, Any]]:
    """``runs list``: newest first; a run in a concurrency group names it (``concurrencyGroup``)."""
    rows = []
    for run in store.list_runs(limit, state=state):
        row = run.to_json()
        group = run.details.get("concurrencyGroup")
        row["concurrencyGroup"] = group if isinstance(group, str) else ""
        rows.append(row)
    return rows


def show_run(store: Store, run_id: str) -> dict[str, Any]:
    """``runs show``: one run with the trigger decisions that led to it."""
    run = store.get_run(run_id)
    if run is None:
        raise InvalidRequestError(f"no run {run_id!r} in the store")
    return run.to_json()


def cancel_run(store: Store, run_id: str, environ: Mapping[str, str]) -> dict[str, Any]:
    """``runs cancel``: stop a run on its own backend; the store reads ``CANCELING`` until it ends.

    The launcher is the one for the run's recorded backend, configured from ``environ``'s
    ``KFPT_*`` settings as the stages configure theirs (so a deployment that now launches on
    another backend can still cancel its older runs). The run's end is left to the status stage,
    which records it as it records any run's end: it publishes ``run.state``, updates the commit
    status and frees the run's concurrency-group slot. So a backend that reports ``CANCELED`` at
    once is recorded as ``CANCELING`` here, and a run the store has as ended is left as it is.
    Idempotent: a run already stopping or ended is not asked again, and ``changed`` says whether
    the stored state moved.

    Raises:
        InvalidRequestError: the store has no such run.
        SettingError, ConfigError: the settings are unusable for the run's backend.
        LaunchRejected: the backend does not know the run or refuses to stop it.
        LaunchUnavailable: the backend could not be reached; retrying is safe.
    """
    from kfp_triggers.adapters.launchers.base import RunState, is_terminal
    from kfp_triggers.adapters.launchers.factory import launcher_from_env

    run = store.get_run(run_id)
    if run is None:
        raise InvalidRequestError(f"no run {run_id!r} in the store")
    settings = Settings.from_env(environ)
    launcher = launcher_from_env(environ, settings.output_root, backend=run.backend)
    status = launcher.cancel(run.run_id)
    state = str(status.state)
    recorded = str(RunState.CANCELING) if status.state is RunState.CANCELED else state
    previous = None
    if not is_terminal(run.state) and not is_terminal(recorded):
        # Observed now, which is after the record as read: never older than what the store holds.
        observed = max(datetime.now(UTC), run.updated_at)
        previous = store.record_state(run.run_id, recorded, observed)
    return {
        "runID": run.run_id,
        "backend": run.backend,
        "state": state,
        "previousState": previous if previous is not None else run.state,
        "recorded": recorded if previous is not None else run.state,
        "changed": previous is not None,
    }


EVENTS_SCANNED = 5000
"""How many of the newest events ``events list`` looks through when it filters by trigger, verdict or time."""


@dataclasses.dataclass(frozen=True)
class EventFilter:
    """What ``events list`` keeps: a trigger that decided, events since a moment, rejections, errors."""

    trigger: str | None = None
    since: datetime | None = None
    rejected: bool = False
    errors: bool = False

    def keeps(self, event: EventSummary) -> bool:
        """Whether ``event`` passes every filter given."""
        if self.trigger and self.trigger not in (*event.accepted, *event.rejected):
            return False
        if self.since and (event.received_at is None or event.received_at < self.since):
            return False
        if self.rejected and not event.rejected:
            return False
        return not (self.errors and not event.errors)

    @property
    def any(self) -> bool:
        """Whether any filter is given (else the store's own newest ``limit`` are the answer)."""
        return bool(self.trigger or self.since or self.rejected or self.errors)


def parse_since(raw: str, now: datetime) -> datetime:
    """``--since``: a duration back from ``now`` (``90s``, ``2h``, ``1h30m``) or an ISO 8601 moment.

    Raises:
        InvalidRequestError: neither.
    """
    from kfp_triggers.config.parse_concurrency import parse_duration

    seconds = parse_duration(raw)
    if seconds is not None:
        return now - timedelta(seconds=seconds)
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequestError(
            f"--since {raw!r} is neither a duration (as 2h or 30m) nor an ISO 8601 time"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def list_events(
    store: Store, limit: int, listener: str | None, only: EventFilter | None = None
) -> list[dict[str, Any]]:
    """``events list``: newest first, with accepted and rejected triggers and resulting runs.

    With filters, the newest :data:`EVENTS_SCANNED` events of the listener are looked through and
    the newest ``limit`` that pass are listed.
    """
    if only is None or not only.any:
        found = store.list_events(limit, listener=listener)
    else:
        found = [e for e in store.list_events(EVENTS_SCANNED, listener=listener) if only.keeps(e)][:limit]
    return [{**_summary_json(e), "outcome": _outcome_of(store, e.event_id)} for e in found]


def _outcome_of(store: Store, event_id: str) -> str | None:
    """The event's one outcome over all its runs (see :mod:`kfp_triggers.stages.outcome`)."""
    from kfp_triggers.stages.outcome import event_outcome

    record = store.get_event(event_id)
    return event_outcome(store, record).outcome if record is not None else None


def _shown(request: dict[str, Any] | None) -> dict[str, Any] | None:
    """The journalled request with its credential headers redacted (replay reads the store itself)."""
    if request is None or not isinstance(request.get("headers"), dict):
        return request
    from kfp_triggers.tekton.headers import without_credentials

    return {**request, "headers": without_credentials(request["headers"])}


def show_event(store: Store, event_id: str) -> dict[str, Any]:
    """``events show``: the whole story of one event, and its one outcome over all its runs."""
    from kfp_triggers.stages.outcome import event_outcome

    record = store.get_event(event_id)
    if record is None:
        raise InvalidRequestError(f"no event {event_id!r} in the journal")
    return {**event_json(record), "outcome": event_outcome(store, record).to_json()}


def explain_event(store: Store, event_id: str) -> dict[str, Any]:
    """``events explain``: the account of one event (see :mod:`kfp_triggers.app.explain`).

    The runs its triggers launched are read from the store for their state, link and times.
    """
    from kfp_triggers.app.explain import explain

    record = store.get_event(event_id)
    if record is None:
        raise InvalidRequestError(f"no event {event_id!r} in the journal")
    runs: dict[str, RunRecord] = {}
    for trigger in record.triggers:
        if trigger.run_id and trigger.run_id not in runs:
            run = store.get_run(trigger.run_id)
            if run is not None:
                runs[run.run_id] = run
    from kfp_triggers.stages.outcome import event_outcome

    known = {run_id: run.state for run_id, run in runs.items()}
    return {**explain(record, runs), "outcome": event_outcome(store, record, known).to_json()}


def event_json(record: EventRecord) -> dict[str, Any]:
    """An event record as JSON: request, per-trigger decisions, params, resources, runs and states."""
    triggers = []
    for t in record.triggers:
        item = dataclasses.asdict(t)
        triggers.append({_camel(k): v for k, v in item.items()})
    return {
        "eventID": record.event_id,
        "listener": record.listener,
        "receivedAt": _time(record.received_at),
        "configVersion": record.config_version,
        "request": _shown(record.request),
        "triggers": triggers,
    }


def _summary_json(summary: EventSummary) -> dict[str, Any]:
    return {
        "eventID": summary.event_id,
        "listener": summary.listener,
        "receivedAt": _time(summary.received_at),
        "configVersion": summary.config_version,
        "accepted": list(summary.accepted),
        "rejected": list(summary.rejected),
        "runIDs": list(summary.run_ids),
        "errors": summary.errors,
    }


def replay(
    store: Store, event_id: str, config_paths: list[Path], secrets_dir: Path | None, *, dry_run: bool
) -> dict[str, Any]:
    """Re-run a journalled event against the current configuration and say what differs.

    With ``dry_run`` nothing is launched. Otherwise the event goes through the chain again under
    its original eventID, so a trigger that already launched a run launches nothing new (same
    idempotency key) while a trigger the configuration now accepts launches its run.
    """
    from kfp_triggers.app.validation import load
    from kfp_triggers.interceptors.resolve import InterceptorFactory
    from kfp_triggers.secretstore import FileSecrets, NoSecrets
    from kfp_triggers.tekton.interceptor_protocol import InterceptorServices
    from kfp_triggers.tekton.processing import EventProcessor
    from kfp_triggers.tekton.request import RawRequest
    from kfp_triggers.wire.events import HttpRequestData

    record = store.get_event(event_id)
    if record is None or record.request is None or record.listener is None:
        raise InvalidRequestError(f"no journalled request for event {event_id!r}")
    omitted = record.request.get("bodyOmitted")
    if omitted:
        raise InvalidRequestError(
            f"event {event_id!r} cannot be replayed: its {omitted.get('bytes')}-byte body was too large "
            "for the store's journal and was not kept"
        )
    data = HttpRequestData.from_data(record.request)
    request = RawRequest(data.method, data.url, data.headers, _journalled_body(data, event_id))
    config = load(config_paths)
    namespace, _, name = record.listener.rpartition("/")
    listener = config.listener(f"{namespace}/{name}" if namespace else name)
    secrets = FileSecrets(secrets_dir) if secrets_dir else NoSecrets()
    processor = EventProcessor(config, InterceptorFactory(InterceptorServices(secrets=secrets)))
    outcomes = processor.process(listener, request, event_id, uid=lambda: str(uuid.uuid4()))
    before = {t.trigger: t for t in record.triggers}
    diff = []
    for outcome in outcomes:
        old = before.get(outcome.trigger.name)
        was = bool(old and old.accepted and not old.error)
        entry: dict[str, Any] = {"trigger": outcome.trigger.name, "before": was, "now": outcome.accepted}
        if old is not None and old.params is not None and outcome.accepted and old.params != outcome.params:
            entry["params"] = {
                k: {"before": old.params.get(k), "now": outcome.params.get(k)}
                for k in sorted(set(old.params) | set(outcome.params))
                if old.params.get(k) != outcome.params.get(k)
            }
        diff.append(entry)
    result: dict[str, Any] = {
        "eventID": event_id,
        "configVersion": {"before": record.config_version, "now": config.version},
        "triggers": diff,
        "dryRun": dry_run,
    }
    if not dry_run:
        result["ingest"] = _rerun(request, event_id)
    return result


def _journalled_body(data: Any, event_id: str) -> bytes:
    """A journalled request's body; one the claim check left in the body store is fetched from it."""
    if data.body_ref is None:
        return bytes(data.body)
    from kfp_triggers.adapters.bodies import BodyMismatchError, BodyMissingError, body_store_from_url

    settings = Settings.from_env(os.environ)
    store = body_store_from_url(settings.body_store, os.environ)
    try:
        return store.get(data.body_ref.sha256)
    except (BodyMissingError, BodyMismatchError) as exc:
        raise InvalidRequestError(
            f"event {event_id!r} cannot be replayed: its body is not in {store.describe()} ({exc})"
        ) from exc


_CHAINED: weakref.WeakSet[Any] = weakref.WeakSet()
"""The in-process buses :func:`_rerun` has subscribed the stages to."""
_CHAINED_LOCK = threading.Lock()


def _rerun(request: Any, event_id: str) -> str:
    """Push the request through the configured chain under its original eventID."""
    from kfp_triggers.adapters.transports.memory import MemoryBus
    from kfp_triggers.app.runtime import context, handle_event
    from kfp_triggers.app.serve import STAGE_TOPICS
    from kfp_triggers.stages.ingest import ingest

    ctx = context()
    with _CHAINED_LOCK:
        # Run the whole chain here, synchronously; once per bus, as a long-lived process (the
        # dashboard) replays again on the same context and must not run each stage twice.
        if isinstance(ctx.publisher, MemoryBus) and ctx.publisher not in _CHAINED:
            for stage, topic in STAGE_TOPICS.items():
                ctx.publisher.subscribe(topic, functools.partial(handle_event, stage, ctx=ctx))
            _CHAINED.add(ctx.publisher)
    answer = ingest(ctx, request, event_id=event_id)
    return f"HTTP {answer.status}: {answer.body.decode(errors='replace').strip()}"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.capitalize() for p in rest)


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    """A plain aligned table on stdout, for humans."""
    if not rows:
        print("(none)")
        return
    cells = [
        [str(r.get(c, "")) if not isinstance(r.get(c), list) else ",".join(map(str, r[c])) for c in columns]
        for r in rows
    ]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def settings_with(overrides: Mapping[str, str | None]) -> tuple[Settings, dict[str, str]]:
    """Settings from the environment with CLI flags taking precedence."""
    environ = dict(os.environ)
    for key, value in overrides.items():
        if value is not None:
            environ[key] = value
    return Settings.from_env(environ), environ


def dump(obj: Any) -> None:
    """Write JSON to stdout."""
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
