"""Run one prepared local run with kfp.local.

``python -m kfp_triggers.adapters.launchers.local_runner RUN_DIR``.

:class:`~kfp_triggers.adapters.launchers.local.LocalLauncher` prepares ``RUN_DIR`` (``pipeline.yaml``,
``request.json`` with the typed arguments, ``run.json`` in state PENDING) and starts this module in
a subprocess: ``kfp.local.init`` configures process-wide state, so one process per run keeps runs
apart, survives a crashing pipeline, and gives a real exit status. The runner records RUNNING, then
SUCCEEDED (with the pipeline's outputs) or FAILED (with kfp.local's message) in ``run.json``.

The launcher starts the runner as the leader of a new session, so the runner and every process
kfp.local starts for a task share one process group, which a cancel stops as a whole. Every change
of state goes through :func:`transition`, under a lock on the run, and never replaces a terminal
state: a run cancelled before it started does not start, and a runner killed by a cancel cannot
turn the recorded CANCELED into FAILED or SUCCEEDED.

kfp.local reports a pipeline's outcome only by raising (``raise_on_error=True``) or by a log line,
and returns no status object, so the runner uses ``raise_on_error=True`` and turns the exception into
the FAILED record. Task outputs land under ``RUN_DIR/<pipeline>-<timestamp>/<task>/``.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kfp_triggers.adapters.launchers._runrecord import (
    PIPELINE,
    REQUEST,
    now,
    plain,
    read_record,
    update_record,
)
from kfp_triggers.adapters.launchers.base import is_terminal

LOCK = ".run.lock"


@contextmanager
def record_lock(run_dir: Path) -> Iterator[None]:
    """Hold the run's exclusive lock (``flock`` on ``RUN_DIR/.run.lock``) for a read-then-write.

    Each write of ``run.json`` is atomic on its own; the lock makes a read and the write that
    depends on it atomic too, across the launching process, the runner and any other process
    (a CLI cancelling the run). Not re-entrant: do not take it twice in one thread.
    """
    fd = os.open(run_dir / LOCK, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def transition(run_dir: Path, **changes: Any) -> dict[str, Any] | None:
    """Merge ``changes`` into the record unless it is already terminal; the new record, or None.

    None means the run had already ended (cancelled, most likely) and nothing was written.
    """
    with record_lock(run_dir):
        if is_terminal(str(read_record(run_dir).get("state") or "")):
            return None
        return update_record(run_dir, **changes)


def _jsonable(value: Any) -> Any:
    """Pipeline outputs as JSON: parameters as they are, artifacts as their URI and metadata."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    uri = getattr(value, "uri", None)
    if isinstance(uri, str):
        return {"uri": uri, "metadata": _jsonable(getattr(value, "metadata", {}) or {})}
    return str(value)


def _outputs_dir(run_dir: Path, pipeline_name: str) -> str | None:
    """The directory kfp.local wrote task outputs to (``<pipeline>-<timestamp>``), if any."""
    found = sorted(p for p in run_dir.glob(f"{pipeline_name}-*") if p.is_dir())
    return str(found[-1]) if found else None


def _avoid_name_clash(path: Path) -> str | None:
    """Rename the pipeline when a component has its name; returns the new name, or None if unchanged.

    kfp 2.17's ``load_component_from_file`` looks for a component called like ``pipelineInfo.name``
    first: a pipeline named ``train`` with a ``train`` step loads as that single step (and rejects
    the pipeline's parameters). Renaming our copy keeps the whole DAG.
    """
    import yaml
    from kfp.dsl import utils

    with open(path, encoding="utf-8") as fh:
        docs = [d for d in yaml.safe_load_all(fh) if d is not None]
    spec = docs[0]
    name = str(spec.get("pipelineInfo", {}).get("name", ""))
    components = spec.get("components") or {}
    executors = (spec.get("deploymentSpec") or {}).get("executors") or {}

    def clashes(n: str) -> bool:
        return utils.sanitize_component_name(n) in components or utils.sanitize_executor_label(n) in executors

    if not clashes(name):
        return None
    new = f"{name}-pipeline"
    while clashes(new):
        new += "-x"
    spec["pipelineInfo"]["name"] = new
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump_all(docs, fh, sort_keys=False)
    return new


def run(run_dir: Path) -> int:
    """Execute the prepared run in ``run_dir``; returns 1 when the pipeline failed, else 0.

    A run already ended (cancelled before its turn came) is not started.
    """
    with open(run_dir / REQUEST, encoding="utf-8") as fh:
        request = json.load(fh)
    arguments: dict[str, Any] = request.get("arguments") or {}
    pipeline_name = str(request.get("pipeline_name") or "")
    log = logging.getLogger(__name__)
    started = transition(
        run_dir, state="RUNNING", started_at=now(), runner_pid=os.getpid(), runner_pgid=os.getpgid(0)
    )
    if started is None:
        log.info("the run ended before it started (cancelled); nothing to do")
        return 0
    try:
        from kfp import components, local

        pipeline_name = _avoid_name_clash(run_dir / PIPELINE) or pipeline_name
        local.init(
            runner=local.SubprocessRunner(use_venv=False),
            pipeline_root=str(run_dir),
            raise_on_error=True,
        )
        pipeline = components.load_component_from_file(str(run_dir / PIPELINE))
        task = pipeline(**arguments)
        outputs = _jsonable(dict(getattr(task, "outputs", {}) or {}))
    except BaseException as exc:  # every failure, even SystemExit, must be recorded
        message = plain(str(exc)).strip() or type(exc).__name__
        log.error("run failed: %s", message)
        transition(
            run_dir,
            state="FAILED",
            error=message,
            finished_at=now(),
            outputs_dir=_outputs_dir(run_dir, pipeline_name),
        )
        return 1
    done = transition(
        run_dir,
        state="SUCCEEDED",
        error=None,
        finished_at=now(),
        outputs=outputs,
        outputs_dir=_outputs_dir(run_dir, pipeline_name),
    )
    if done is None:
        log.info("the pipeline finished after the run was cancelled; its state stays as recorded")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: one argument, the prepared run directory."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m kfp_triggers.adapters.launchers.local_runner RUN_DIR\n")
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    return run(Path(args[0]))


if __name__ == "__main__":
    sys.exit(main())
