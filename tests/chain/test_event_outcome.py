"""One outcome for an event whose triggers launch several runs, and ``event.completed`` once.

A copy of the example listener whose two triggers both accept a push to main: each launches a
real kfp.local run. The in-process bus keeps what the stages published, so the completion event is
checked as a subscriber would receive it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.app import operations as ops
from kfp_triggers.app.serve import Server, send_request, wait_for
from kfp_triggers.wire.events import from_pubsub_message, read_data
from kfp_triggers.wire.eventtypes import EVENT_COMPLETED
from tests.chain.serving import EXAMPLE, serving
from tests.conftest import EXAMPLES

PUSH = EXAMPLE / "requests" / "push.http"


def _both_triggers_fire(tmp_path: Path, *, bad_epochs: bool = False) -> Path:
    config = tmp_path / "config"
    shutil.copytree(EXAMPLE, config)
    shutil.copytree(EXAMPLES / "pipelines", tmp_path / "pipelines")
    listener = config / "listener.yaml"
    text = listener.read_text()
    tag_rule = "value: body.ref.startsWith('refs/tags/v') && body.created"
    assert text.count(tag_rule) == 1
    text = text.replace(tag_rule, "value: body.ref == 'refs/heads/main'")
    if bad_epochs:  # the pipeline's epochs is an int: launch refuses this run for good
        assert text.count('value: "10"') == 1
        text = text.replace('value: "10"', 'value: "ten"')
    listener.write_text(text)
    return config


def _completions(server: Server) -> list[dict[str, Any]]:
    found = []
    for message in list(server.ctx.publisher.published):
        event = from_pubsub_message(message.data, dict(message.attributes), message_id=message.message_id)
        if event["type"] == EVENT_COMPLETED:
            found.append({"id": event["id"], **read_data(event).to_data()})
    return found


@pytest.mark.parametrize(
    ("bad_epochs", "outcome", "counts"),
    [(False, "succeeded", {"succeeded": 2}), (True, "failed", {"error": 1, "succeeded": 1})],
)
def test_an_event_with_two_runs_completes_once_with_one_outcome(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad_epochs: bool, outcome: str, counts: dict[str, int]
) -> None:
    monkeypatch.chdir(tmp_path)
    config = _both_triggers_fire(tmp_path, bad_epochs=bad_epochs)
    with serving(tmp_path, {"KFPT_LAUNCHER": "local"}, config=config) as server:
        status, answer = send_request(server.url, PUSH)
        assert status == 202
        event_id = json.loads(answer)["eventID"]
        assert wait_for(lambda: bool(_completions(server)), 120)
        # Redelivered: nothing new launches, and the event does not complete a second time.
        assert send_request(server.url, PUSH)[0] == 202
        shown = ops.show_event(server.ctx.store, event_id)
        [completed] = _completions(server)
        listed = ops.list_events(server.ctx.store, 5, None)
    assert completed["id"] == f"{event_id}/completed"
    assert completed["eventID"] == event_id and completed["listener"]["name"] == "github-push"
    assert (completed["outcome"], completed["counts"]) == (outcome, counts)
    assert {part["trigger"] for part in completed["runs"]} == {"train-on-main", "release-on-tag"}
    assert shown["outcome"]["outcome"] == outcome and shown["outcome"]["counts"] == counts
    assert [row["outcome"] for row in listed if row["eventID"] == event_id] == [outcome]


def test_dry_runs_complete_an_event_as_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with serving(tmp_path, {"KFPT_LAUNCHER": "dry-run"}, config=_both_triggers_fire(tmp_path)) as server:
        assert send_request(server.url, PUSH)[0] == 202
        assert wait_for(lambda: bool(_completions(server)), 30)
        # Delivered again: launch sends run.created again for runs that ended at creation, and
        # the completion is still announced once.
        for _ in range(3):
            assert send_request(server.url, PUSH)[0] == 202
        wait_for(lambda: len(_completions(server)) > 1, 3)
        [completed] = _completions(server)
    assert completed["outcome"] == "skipped" and completed["counts"] == {"skipped": 2}


def test_an_event_of_one_run_is_announced_once_however_often_it_comes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with serving(tmp_path, {"KFPT_LAUNCHER": "dry-run"}) as server:  # only train-on-main takes the push
        for _ in range(4):
            assert send_request(server.url, PUSH)[0] == 202
        assert wait_for(lambda: bool(_completions(server)), 30)
        wait_for(lambda: len(_completions(server)) > 1, 3)
        [completed] = _completions(server)
    assert completed["counts"] == {"skipped": 1}
