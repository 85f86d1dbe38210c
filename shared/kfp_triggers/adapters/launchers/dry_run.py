"""A launcher that launches nothing: it checks the request and records what would have been launched.

Useful to try a configuration against real webhooks without creating runs. The request is checked as
the real launchers check it (the pipeline is loaded and the parameters converted when the pipeline is
local), so a dry run fails where a real launch would. Records are kept in memory and, when a path is
given, appended as JSON lines; the file is re-read, so a key recorded by another process or an
earlier start is still recognised. Run ids are derived from the key; the state is SKIPPED, or
CANCELED once the run has been cancelled (a cancellation is a line of its own,
``{"run_id": ..., "canceled_at": ...}``, so it too is seen by every process reading the file).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from pathlib import Path
from typing import Any

from kfp_triggers.adapters.launchers._runrecord import now
from kfp_triggers.adapters.launchers.base import (
    LaunchedRun,
    LaunchRejected,
    LaunchRequest,
    RunState,
    RunStatus,
)
from kfp_triggers.adapters.launchers.params import coerce_parameters, load_pipeline

log = logging.getLogger(__name__)

BACKEND = "dry-run"
_NAMESPACE = uuid.UUID("6f1c1f0e-5b1a-4c1e-9a53-6b6b7a1f7e01")


class DryRunLauncher:
    """Records launches instead of performing them; idempotent by key."""

    backend = BACKEND

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self._by_key: dict[str, dict[str, Any]] = {}
        self._by_id: dict[str, dict[str, Any]] = {}
        self._canceled: dict[str, str] = {}  # run id -> when it was cancelled
        self._reload()

    @property
    def launched(self) -> list[dict[str, Any]]:
        """Every recorded launch, oldest first."""
        with self._lock:
            return list(self._by_key.values())

    def _remember(self, record: dict[str, Any]) -> None:
        self._by_key.setdefault(record["idempotency_key"], record)
        self._by_id.setdefault(record["run_id"], record)

    def _reload(self) -> None:
        if self.path is None or not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a crash
                if not isinstance(record, dict) or not record.get("run_id"):
                    continue
                if record.get("canceled_at"):
                    self._canceled.setdefault(str(record["run_id"]), str(record["canceled_at"]))
                elif record.get("idempotency_key"):
                    self._remember(record)

    def _append(self, record: dict[str, Any]) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, sort_keys=True, default=str) + "\n")

    def _state(self, run_id: str) -> RunState:
        return RunState.CANCELED if run_id in self._canceled else RunState.SKIPPED

    def launch(self, request: LaunchRequest) -> LaunchedRun:
        """Check the request and record it, or return the record already made for the key.

        Raises:
            LaunchRejected: the pipeline or a parameter is invalid.
        """
        key = request.idempotency_key
        with self._lock:
            record = self._by_key.get(key)
            if record is None:
                self._reload()
                record = self._by_key.get(key)
            if record is not None:
                state = self._state(record["run_id"])
                return LaunchedRun(record["run_id"], BACKEND, state, None, existing=True)
            record = self._record(request)
            self._remember(record)
            self._append(record)
        log.info("dry run: would launch %r for event %s", request.spec.display_name, request.event_id)
        return LaunchedRun(record["run_id"], BACKEND, RunState.SKIPPED, None)

    def find(self, idempotency_key: str) -> LaunchedRun | None:
        """The record made for the key (here or by another process writing the same file), or ``None``."""
        with self._lock:
            record = self._by_key.get(idempotency_key)
            if record is None:
                self._reload()
                record = self._by_key.get(idempotency_key)
            if record is None:
                return None
            return LaunchedRun(record["run_id"], BACKEND, self._state(record["run_id"]), None, True)

    def _record(self, request: LaunchRequest) -> dict[str, Any]:
        spec = request.spec
        doc = load_pipeline(spec)
        pipeline: dict[str, Any]
        if spec.pipeline_package is not None:
            pipeline = {"package": str(spec.pipeline_package)}
        elif doc is not None:
            pipeline = {"inline": doc.name}
        else:
            ref = spec.pipeline_version_reference
            pipeline = {
                "pipeline_id": ref.pipeline_id if ref else None,
                "pipeline_version_id": ref.pipeline_version_id if ref else None,
            }
        return {
            "run_id": str(uuid.uuid5(_NAMESPACE, request.idempotency_key)),
            "idempotency_key": request.idempotency_key,
            "event_id": request.event_id,
            "display_name": spec.display_name,
            "description": spec.description,
            "pipeline": pipeline,
            "experiment_name": spec.experiment_name,
            "experiment_id": spec.experiment_id,
            "parameters": coerce_parameters(doc, spec.parameters) if doc else dict(spec.parameters),
            "pipeline_root": spec.pipeline_root,
            "service_account": spec.service_account,
            "labels": request.all_labels(),
            "recorded_at": now(),
        }

    def get_state(self, run_id: str) -> RunStatus:
        """SKIPPED for a recorded dry run, CANCELED once it has been cancelled.

        Raises:
            LaunchRejected: no dry run has this id.
        """
        with self._lock:
            record = self._lookup(run_id)
            canceled_at = self._canceled.get(run_id)
        details = {"dry_run": True, **record}
        if canceled_at is not None:
            details["canceled_at"] = canceled_at
            return RunStatus(RunState.CANCELED, RunState.CANCELED.value, None, canceled_at, details)
        return RunStatus(RunState.SKIPPED, RunState.SKIPPED.value, None, record.get("recorded_at"), details)

    def cancel(self, run_id: str) -> RunStatus:
        """Record that the dry run was cancelled (once) and report CANCELED.

        Nothing ran, so there is nothing to stop: the cancellation is recorded so that the dry
        run reads as a real one would after a cancel. Cancelling again records nothing new.

        Raises:
            LaunchRejected: no dry run has this id.
        """
        with self._lock:
            self._lookup(run_id)
            if run_id not in self._canceled:
                stamp = now()
                self._canceled[run_id] = stamp
                self._append({"run_id": run_id, "canceled_at": stamp})
                log.info("dry run %s cancelled", run_id)
        return self.get_state(run_id)

    def _lookup(self, run_id: str) -> dict[str, Any]:
        """The record of ``run_id``, the file re-read first (another process may have cancelled it).

        The caller holds the lock.

        Raises:
            LaunchRejected: no dry run has this id.
        """
        self._reload()
        record = self._by_id.get(run_id)
        if record is None:
            raise LaunchRejected(f"no dry run {run_id}")
        return record
