"""The embedded launcher: runs compiled pipelines for real, offline, with kfp.local.

Layout under ``output_root``::

    .keys/<sha256 of the idempotency key>   the run id launched for that key (the idempotency index)
    <run_id>/run.json                         state record: PENDING -> RUNNING -> SUCCEEDED | FAILED,
                                              or CANCELED from PENDING or RUNNING
    <run_id>/.run.lock                        serialises the record's read-then-write changes
    <run_id>/request.json, pipeline.yaml      what the runner executes (typed arguments, the IR)
    <run_id>/runner.log                       the runner's output (kfp.local logs, task output)
    <run_id>/<pipeline>-<timestamp>/<task>/   task outputs written by kfp.local

Each run executes in its own ``python -m kfp_triggers.adapters.launchers.local_runner`` subprocess (kfp.local
keeps global state; a subprocess also isolates crashes), at most ``max_workers`` at a time; later
launches wait in PENDING. The run is fully prepared before it is published in the index, and the
index entry is created with a hard link, which fails if it exists: of two launches with one key,
exactly one wins and the other returns the winner's run. Because state lives in ``run.json``,
``get_state`` works from any process; a run whose launcher or runner process died without a
result is reported (and recorded) as FAILED. This module never imports kfp.

Cancelling works from any process on the same machine too. The runner leads its own session, so
it and every process kfp.local starts for a task form one process group, recorded in ``run.json``
(``runner_pgid``) when the runner is started. :meth:`LocalLauncher.cancel` records CANCELED under
the run's lock, then stops that group (SIGTERM, then SIGKILL for what outlives a grace period).
Every state change is made under the same lock and never replaces a terminal state, so a queued
run that was cancelled never starts, and a killed runner (or the thread waiting for it) cannot
record FAILED over CANCELED.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from kfp_triggers.adapters.launchers._runrecord import (
    LOG,
    PIPELINE,
    REQUEST,
    now,
    pid_alive,
    read_record,
    update_record,
    write_json,
)
from kfp_triggers.adapters.launchers.base import (
    LaunchedRun,
    LaunchRejected,
    LaunchRequest,
    LaunchUnavailable,
    RunState,
    RunStatus,
    is_terminal,
    normalise_state,
)
from kfp_triggers.adapters.launchers.local_runner import record_lock, transition
from kfp_triggers.adapters.launchers.outputs import local_outputs
from kfp_triggers.adapters.launchers.params import coerce_parameters, load_pipeline

log = logging.getLogger(__name__)

BACKEND = "local"
_KEYS = ".keys"
_SECRET_ENV_WORDS = ("TOKEN", "SECRET", "PASSWORD", "CREDENTIAL")
_KILL_WAIT_S = 3.0
"""How long a cancel waits for the run's processes to vanish after SIGKILL."""
_POLL_S = 0.05


class LocalLauncher:
    """Launches runs with kfp.local in background subprocesses; see the module docstring."""

    backend = BACKEND

    def __init__(
        self,
        output_root: str | os.PathLike[str],
        max_workers: int = 2,
        python: str | None = None,
        *,
        cancel_grace_s: float = 5.0,
    ):
        """Args:
        output_root: directory for run records and outputs (created if missing).
        max_workers: how many runs execute at the same time.
        python: interpreter for the runner (default: this one); it needs kfp installed.
        cancel_grace_s: how long a cancelled run's processes may take to exit after SIGTERM
            before they are killed.
        """
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self.output_root = Path(output_root).resolve()
        self.max_workers = max_workers
        self.python = python or sys.executable
        self.cancel_grace_s = cancel_grace_s
        self._pool: ThreadPoolExecutor | None = None
        self._futures: dict[str, Future[None]] = {}
        self._lock = threading.Lock()

    # -- launching ---------------------------------------------------------------------------

    def launch(self, request: LaunchRequest) -> LaunchedRun:
        """Start the run in the background, or return the run already launched for the key.

        Raises:
            LaunchRejected: the spec names a pipeline stored on a server, or the package or a
                parameter is invalid.
            LaunchUnavailable: the output directory cannot be written.
        """
        spec = request.spec
        key_path = self._key_path(request.idempotency_key)
        existing = self._existing(key_path)
        if existing is not None:
            return existing
        doc = load_pipeline(spec)
        if doc is None:
            raise LaunchRejected(
                "the local launcher runs a compiled pipeline: give spec.pipeline_package or "
                "spec.pipeline_spec (pipeline_version_reference needs a KFP server)"
            )
        arguments = coerce_parameters(doc, spec.parameters)
        run_id = str(uuid.uuid4())
        run_dir = self.output_root / run_id
        try:
            run_dir.mkdir(parents=True)
            key_path.parent.mkdir(parents=True, exist_ok=True)
            docs = [doc.pipeline_spec, doc.platform_spec] if doc.platform_spec else [doc.pipeline_spec]
            with open(run_dir / PIPELINE, "w", encoding="utf-8") as fh:
                yaml.safe_dump_all(docs, fh, sort_keys=False)
            write_json(run_dir / REQUEST, {"arguments": arguments, "pipeline_name": doc.name})
            write_json(run_dir / "run.json", self._new_record(run_id, request, doc.name, arguments))
            won = self._claim(key_path, run_id)
        except OSError as exc:
            shutil.rmtree(run_dir, ignore_errors=True)
            raise LaunchUnavailable(f"cannot prepare local run under {self.output_root}: {exc}") from exc
        if not won:
            shutil.rmtree(run_dir, ignore_errors=True)
            found = self._existing(key_path)
            if found is None:  # pragma: no cover - the winner's entry vanished (someone deleted it)
                raise LaunchUnavailable(f"idempotency entry {key_path} disappeared; retry")
            return found
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="kfpt-local")
            self._futures[run_id] = self._pool.submit(self._execute, run_dir)
        log.info("local run %s launched for event %s", run_id, request.event_id)
        return LaunchedRun(run_id, BACKEND, RunState.PENDING, run_dir.as_uri())

    def find(self, idempotency_key: str) -> LaunchedRun | None:
        """The run the key's index entry names, or ``None``."""
        return self._existing(self._key_path(idempotency_key))

    def _new_record(
        self, run_id: str, request: LaunchRequest, name: str, args: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "run_id": run_id,
            "state": RunState.PENDING.value,
            "display_name": request.spec.display_name,
            "description": request.spec.description,
            "pipeline_name": name,
            "parameters": args,
            "experiment_name": request.spec.experiment_name,
            "idempotency_key": request.idempotency_key,
            "event_id": request.event_id,
            "labels": request.all_labels(),
            "created_at": now(),
            "launcher_pid": os.getpid(),
            "host": os.uname().nodename,
        }

    def _key_path(self, key: str) -> Path:
        return self.output_root / _KEYS / hashlib.sha256(key.encode("utf-8")).hexdigest()

    def _claim(self, key_path: Path, run_id: str) -> bool:
        """Publish ``run_id`` under the key; False when another launch published first."""
        tmp = key_path.with_name(f".{run_id}.tmp")
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        try:
            os.write(fd, run_id.encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, key_path)  # atomic, complete, and fails if the key is taken
            return True
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)

    def _existing(self, key_path: Path) -> LaunchedRun | None:
        try:
            run_id = key_path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise LaunchUnavailable(f"cannot read idempotency entry {key_path}: {exc}") from exc
        status = self.get_state(run_id)
        return LaunchedRun(run_id, BACKEND, status.state, (self.output_root / run_id).as_uri(), existing=True)

    def _execute(self, run_dir: Path) -> None:
        """Worker thread: run the runner subprocess and make sure the record ends terminal.

        The runner is started, and its process group recorded, under the run's lock: a cancel
        either sees the run not started (and it is not started) or finds the group to stop.
        """
        # The pipeline is user code: keep our own credentials (KFPT_*TOKEN*, ...) out of its environment.
        env = {
            k: v
            for k, v in os.environ.items()
            if not (k.upper().startswith("KFPT_") and any(w in k.upper() for w in _SECRET_ENV_WORDS))
        }
        env["PYTHONUNBUFFERED"] = "1"
        cmd = [self.python, "-m", "kfp_triggers.adapters.launchers.local_runner", str(run_dir)]
        with record_lock(run_dir):
            if is_terminal(str(read_record(run_dir).get("state") or "")):
                log.info("local run %s ended before it started", run_dir.name)
                return
            try:
                with open(run_dir / LOG, "ab") as out:
                    # A new session: the runner leads a process group of its own, which its task
                    # processes join, so a cancel can stop all of them with one killpg.
                    proc = subprocess.Popen(
                        cmd,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        cwd=run_dir,
                        env=env,
                        start_new_session=True,
                    )
            except OSError as exc:
                update_record(
                    run_dir, state="FAILED", error=f"cannot start the runner: {exc}", finished_at=now()
                )
                return
            update_record(run_dir, runner_pid=proc.pid, runner_pgid=proc.pid)
        code = proc.wait()
        with record_lock(run_dir):
            if is_terminal(str(read_record(run_dir).get("state") or "")):
                update_record(run_dir, exit_code=code)  # its outcome, or CANCELED, stays
            else:
                update_record(
                    run_dir,
                    state="FAILED",
                    error=f"the runner exited with status {code} without a result (see {LOG})",
                    finished_at=now(),
                    exit_code=code,
                )

    # -- cancelling --------------------------------------------------------------------------

    def cancel(self, run_id: str) -> RunStatus:
        """Record CANCELED and stop the run's whole process tree; a finished run keeps its state.

        Works from any process on the machine the run executes on (the record names the runner's
        process group). The group gets SIGTERM, and SIGKILL for whatever is still alive
        ``cancel_grace_s`` later; this returns once none of its processes is left (or, failing
        that, shortly after SIGKILL). A run still waiting for a worker is recorded CANCELED and
        never starts.

        Raises:
            LaunchRejected: no such run; it executes on another machine; its processes belong to
                another user.
            LaunchUnavailable: the record cannot be read or written.
        """
        status = self.get_state(run_id)  # checks the id; a run whose process died reads FAILED
        if status.state.is_terminal:
            return status
        run_dir = self.output_root / run_id
        try:
            with record_lock(run_dir):
                record = read_record(run_dir)
                if is_terminal(str(record.get("state") or "")):
                    group = None  # it finished meanwhile
                else:
                    group = _runner_group(record, run_dir)
                    stamp = now()
                    update_record(run_dir, state="CANCELED", finished_at=stamp, canceled_at=stamp)
                    log.info("local run %s cancelled (was %s)", run_id, record.get("state"))
        except LaunchRejected:
            raise
        except (OSError, ValueError) as exc:
            raise LaunchUnavailable(f"cannot record the cancellation of local run {run_id}: {exc}") from exc
        with self._lock:
            future = self._futures.get(run_id)
        if future is not None:
            future.cancel()  # still queued here: it will not take a worker
        if group is not None:
            _stop_group(group, self.cancel_grace_s)
        return self.get_state(run_id)

    # -- reading -----------------------------------------------------------------------------

    def get_state(self, run_id: str) -> RunStatus:
        """Read ``<output_root>/<run_id>/run.json``.

        Raises:
            LaunchRejected: no such run.
            LaunchUnavailable: the record cannot be read.
        """
        if not run_id or "/" in run_id or run_id.startswith("."):
            raise LaunchRejected(f"not a local run id: {run_id!r}")
        run_dir = self.output_root / run_id
        try:
            record = read_record(run_dir)
            record = self._settle_orphan(run_dir, record)
        except FileNotFoundError as exc:
            raise LaunchRejected(f"no local run {run_id} under {self.output_root}") from exc
        except (OSError, ValueError) as exc:
            raise LaunchUnavailable(f"cannot read the record of local run {run_id}: {exc}") from exc
        state = normalise_state(BACKEND, record.get("state"))
        details = {
            k: record.get(k)
            for k in ("display_name", "pipeline_name", "outputs", "outputs_dir", "exit_code", "started_at")
            if record.get(k) is not None
        }
        details["run_dir"] = str(run_dir)
        outputs = local_outputs(record.get("outputs_dir")) if state.is_terminal else ()
        return RunStatus(
            state, record.get("state"), record.get("error"), record.get("finished_at"), details, outputs
        )

    def _settle_orphan(self, run_dir: Path, record: dict[str, Any]) -> dict[str, Any]:
        """Record FAILED for a run whose process died on this machine without finishing it."""
        state = normalise_state(BACKEND, record.get("state"))
        if state.is_terminal or record.get("host") != os.uname().nodename:
            return record
        if state is RunState.PENDING and not pid_alive(record.get("launcher_pid")):
            why = "the launcher process exited before the run started"
        elif state is RunState.RUNNING and not pid_alive(record.get("runner_pid")):
            why = "the runner process exited without a result"
        else:
            return record
        with record_lock(run_dir):
            fresh = read_record(run_dir)  # it may have finished between the two reads
            if normalise_state(BACKEND, fresh.get("state")) != state:
                return fresh
            return update_record(run_dir, state="FAILED", error=why, finished_at=now())

    def wait(self, run_id: str, timeout_s: float | None = None, poll_s: float = 0.1) -> RunStatus:
        """Block until the run is terminal (or PAUSED) and return its status.

        Raises:
            TimeoutError: it did not finish within ``timeout_s``.
            LaunchRejected, LaunchUnavailable: as :meth:`get_state`.
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        future = self._futures.get(run_id)
        if future is not None:
            with contextlib.suppress(CancelledError):  # cancelled before it started: see the record
                future.result(timeout=timeout_s)
        while True:
            status = self.get_state(run_id)
            if status.state.is_terminal or status.state is RunState.PAUSED:
                return status
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"local run {run_id} is still {status.state}")
            time.sleep(poll_s)

    def close(self, wait: bool = True) -> None:
        """Stop the worker pool; with ``wait=False`` runs that have not started are recorded FAILED."""
        with self._lock:
            pool, self._pool = self._pool, None
            futures = dict(self._futures)
        if pool is None:
            return
        pool.shutdown(wait=wait, cancel_futures=not wait)
        for run_id, future in futures.items():
            if future.cancelled():
                transition(  # a run cancelled on purpose stays CANCELED
                    self.output_root / run_id,
                    state="FAILED",
                    error="the launcher shut down before the run started",
                    finished_at=now(),
                )

    def __enter__(self) -> LocalLauncher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(wait=True)


def _runner_group(record: dict[str, Any], run_dir: Path) -> int | None:
    """The process group of the run's runner when there is one to stop, else None.

    None when no runner was started yet, or its leader is gone (on Linux, also when the pid now
    belongs to another program, so a recycled pid is never signalled).

    Raises:
        LaunchRejected: the runner executes on another machine, or belongs to another user.
    """
    pgid = record.get("runner_pgid", record.get("runner_pid"))
    if not isinstance(pgid, int) or pgid <= 1:
        return None
    host = record.get("host")
    if host and host != os.uname().nodename:
        raise LaunchRejected(f"local run {run_dir.name} executes on {host}: cancel it there")
    cmdline = Path(f"/proc/{pgid}/cmdline")
    if Path("/proc/self").is_dir():
        try:
            argv = cmdline.read_bytes()
        except OSError:
            return None
        if b"local_runner" not in argv or run_dir.name.encode() not in argv:
            return None
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return None
    except PermissionError as exc:
        raise LaunchRejected(f"not allowed to stop the processes of local run {run_dir.name}") from exc
    return pgid


def _stop_group(pgid: int, grace_s: float) -> None:
    """SIGTERM every process of the group, then SIGKILL what is left ``grace_s`` later."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, _KILL_WAIT_S)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            log.warning("not allowed to signal process group %d", pgid)
            return
        deadline = time.monotonic() + wait_s
        while _group_alive(pgid):
            if time.monotonic() >= deadline:
                break
            time.sleep(_POLL_S)
        else:
            return
    log.warning("process group %d still has live processes after SIGKILL", pgid)


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group is still running (zombies waiting to be reaped do not count).

    Linux: read from ``/proc``; elsewhere, whether the group has any member at all.
    """
    proc = Path("/proc")
    if not (proc / "self").is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    wanted = str(pgid)
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # After the command name (in parentheses, possibly with spaces): state, ppid, pgrp, ...
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[2] == wanted and fields[0] not in ("Z", "X"):
            return True
    return False
