"""``serve`` on a thread over the example listener, its state under a test's directory."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.adapters.store.base import RunRecord
from kfp_triggers.app.runtime import Settings
from kfp_triggers.app.serve import Server, send_request, start, wait_for
from tests.conftest import EXAMPLES

EXAMPLE = EXAMPLES / "github-push"
PUSH = EXAMPLE / "requests" / "push.http"
"""The example's signed push to main."""


@contextmanager
def serving(
    tmp_path: Path,
    environ: Mapping[str, str],
    *,
    config: Path = EXAMPLE,
    dashboard: bool = False,
    **settings: Any,
) -> Iterator[Server]:
    """The chain serving ``config`` (the example by default) until the block ends.

    ``settings`` override :class:`Settings` fields (``claim_check_bytes=0``, ``store=...``, say); by
    default the journal, runs and bodies live under ``tmp_path``.
    """
    defaults = {
        "config": str(config),
        "secrets_dir": str(config / "secrets"),
        "store": f"sqlite:///{tmp_path}/state.db",
        "output_root": str(tmp_path / "runs"),
    }
    chosen = Settings(**{**defaults, **settings})
    server = start(chosen, environ, port=0, tick_s=0.2, dashboard=dashboard)
    threading.Thread(target=server.httpd.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.close()


def run_to_the_end(server: Server, request: Path, timeout_s: float = 90) -> tuple[str, RunRecord]:
    """Send ``request`` and wait until the run it starts has ended with its outputs recorded.

    Returns the event id and the run's record as it then stands.
    """
    status, answer = send_request(server.url, request)
    assert status == 202, answer
    event_id: str = json.loads(answer)["eventID"]

    def ended() -> RunRecord | None:
        runs = server.ctx.store.list_runs(5)
        return next((r for r in runs if r.event_id == event_id and r.details.get("outputs")), None)

    assert wait_for(lambda: ended() is not None, timeout_s)
    run = ended()
    assert run is not None
    return event_id, run


def example_run(tmp_path: Path, request: Path = PUSH) -> tuple[str, str, RunRecord]:
    """The example served with kfp.local from ``tmp_path`` (its working directory too) until the
    run ``request`` starts has ended: the store's URL, the event id and the run's record."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        with serving(tmp_path, {"KFPT_LAUNCHER": "local"}) as server:
            event_id, run = run_to_the_end(server, request)
    return f"sqlite:///{tmp_path}/state.db", event_id, run
