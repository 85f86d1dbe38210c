"""``serve --dashboard``: the dashboard's pages on serve's own port, beside the webhooks and /metrics."""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path

import pytest

from kfp_triggers.app.serve import send_request, wait_for
from kfp_triggers.errors import SettingError
from tests.chain.serving import EXAMPLE, serving
from tests.conftest import EXAMPLES


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return int(resp.status), resp.read().decode()


def test_the_dashboard_shows_what_the_chain_journalled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with serving(tmp_path, {"KFPT_LAUNCHER": "dry-run"}, dashboard=True) as server:
        status, answer = send_request(server.url, EXAMPLE / "requests" / "push.http")
        assert status == 202, answer  # webhooks still reach ingest at /
        event_id = json.loads(answer)["eventID"]
        assert wait_for(lambda: bool(server.ctx.store.list_runs(5)), 30)
        status, page = _get(f"{server.url}dashboard/events")
        assert status == 200 and event_id in page and "train-on-main" in page
        status, page = _get(f"{server.url}dashboard/events/{event_id}")
        assert status == 200 and "release-on-tag" in page
        assert 'name="token"' not in page  # serve's dashboard offers no replay
        status, scrape = _get(f"{server.url}metrics")
        assert status == 200 and "kfpt_events_received_total" in scrape


def test_a_listener_the_dashboard_would_hide_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "config"
    shutil.copytree(EXAMPLE, config)
    shutil.copytree(EXAMPLES / "pipelines", tmp_path / "pipelines")
    listener = config / "listener.yaml"
    listener.write_text(
        listener.read_text().replace(
            "kind: EventListener\nmetadata:\n  name: github-push",
            "kind: EventListener\nmetadata:\n  name: dashboard",
            1,
        )
    )
    hidden = pytest.raises(SettingError, match="would hide listener 'dashboard'")
    with hidden, serving(tmp_path, {"KFPT_LAUNCHER": "dry-run"}, config=config, dashboard=True):
        pass
