"""Chained pipelines over real Pub/Sub: the status stage hands run ends to intercept on the topic.

``serve`` with ``KFPT_TRANSPORT=pubsub`` on the emulator runs the chained example: a signed push
trains, the training run's end travels the events topic back to intercept and starts the
evaluation, whose end starts the deployment; each launched once, with real kfp.local runs.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from kfp_triggers.app.serve import send_request, wait_for
from tests.chain.serving import serving
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.emulator

CONFIG = EXAMPLES / "chained" / "config"


def test_train_evaluate_deploy_over_pubsub(
    emulator_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    environ = {
        **emulator_env,
        "KFPT_PUBSUB_PROJECT": f"kfpt-chained-{uuid.uuid4().hex[:8]}",
        "KFPT_TRANSPORT": "pubsub",
        "KFPT_LAUNCHER": "local",
    }
    with serving(tmp_path, environ, config=CONFIG) as server:
        status, answer = send_request(server.url, EXAMPLES / "chained" / "requests" / "push.http")
        assert status == 202, answer
        assert json.loads(answer)["eventListener"] == "train-evaluate-deploy"

        def by_trigger() -> dict[str, list[str]]:
            found: dict[str, list[str]] = {}
            for run in server.ctx.store.list_runs(50):
                found.setdefault(run.trigger, []).append(run.state)
            return found

        assert wait_for(lambda: by_trigger().get("deploy") == ["SUCCEEDED"], 240), by_trigger()
        assert by_trigger() == {"train": ["SUCCEEDED"], "evaluate": ["SUCCEEDED"], "deploy": ["SUCCEEDED"]}
