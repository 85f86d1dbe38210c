"""``serve`` with ``KFPT_TRANSPORT=pubsub``: the chain in one process over real Pub/Sub topics.

The same process answers the webhook, publishes to the emulator and stream-pulls each stage's
subscription; the example pipeline runs for real with kfp.local.
"""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path

import pytest

from kfp_triggers.app.runtime import Settings
from kfp_triggers.app.serve import send_request, start, wait_for
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.emulator

EXAMPLE = EXAMPLES / "github-push"


def test_serve_over_pubsub_runs_the_pipeline(
    emulator_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    environ = {
        **emulator_env,
        "KFPT_PUBSUB_PROJECT": f"kfpt-serve-{uuid.uuid4().hex[:8]}",
        "KFPT_TRANSPORT": "pubsub",
        "KFPT_LAUNCHER": "local",
    }
    settings = Settings(
        config=str(EXAMPLE),
        secrets_dir=str(EXAMPLE / "secrets"),
        store=f"sqlite:///{tmp_path}/state.db",
        output_root=str(tmp_path / "runs"),
    )
    server = start(settings, environ, port=0, tick_s=0.5)
    threading.Thread(target=server.httpd.serve_forever, daemon=True).start()
    try:
        status, body = send_request(server.url, EXAMPLE / "requests" / "push.http")
        assert status == 202, body
        event_id = json.loads(body)["eventID"]

        def finished() -> bool:
            return any(r.event_id == event_id and r.terminal for r in server.ctx.store.list_runs(10))

        assert wait_for(finished, 90), "the run did not finish"
        [run] = server.ctx.store.list_runs(10)
        assert (run.trigger, run.state) == ("train-on-main", "SUCCEEDED")
    finally:
        server.httpd.shutdown()
        server.close()
