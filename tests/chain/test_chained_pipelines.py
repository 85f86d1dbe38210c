"""Pipelines started by other pipelines: train -> evaluate -> deploy, each launched exactly once.

The chained example (examples/chained) runs through ``serve`` with real kfp.local runs: a signed
push trains; the training run's end, handed to the listener by the status stage, starts the
evaluation with the model the training wrote; the evaluation's end starts the deployment. A run
end seen again launches nothing new, a failed one starts nothing, a request claiming to be a run
end is refused at ingest, and a chain cannot grow past its depth limit.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.adapters.store.base import RunRecord
from kfp_triggers.app.serve import Server, send_request, wait_for
from kfp_triggers.stages.chaining import MAX_CHAIN_DEPTH, chain_depth, hand_on_run_event
from kfp_triggers.wire.events import HttpRequestData, ObjectRef, RunState, event_for
from tests.chain.serving import serving
from tests.conftest import EXAMPLES

CONFIG = EXAMPLES / "chained" / "config"
PUSH = EXAMPLES / "chained" / "requests" / "push.http"


@pytest.fixture(scope="module")
def chained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp_path = tmp_path_factory.mktemp("chained")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        with serving(tmp_path, {"KFPT_LAUNCHER": "local"}, config=CONFIG) as server:
            status, answer = send_request(server.url, PUSH)
            assert status == 202, answer

            def deployed() -> bool:
                runs = _runs(server)
                return "deploy" in runs and runs["deploy"][0].state == "SUCCEEDED"

            assert wait_for(deployed, 180), _runs(server)
            yield server


def _runs(server: Server) -> dict[str, list[RunRecord]]:
    found: dict[str, list[RunRecord]] = {}
    for run in server.ctx.store.list_runs(100):
        found.setdefault(run.trigger, []).append(run)
    return found


def _params(server: Server, run: RunRecord) -> dict[str, Any]:
    record = server.ctx.store.get_event(run.event_id)
    assert record is not None
    trigger = record.trigger(run.trigger)
    assert trigger is not None and trigger.params is not None
    return dict(trigger.params)


def test_each_success_starts_the_next_pipeline_with_what_the_last_one_produced(chained: Server) -> None:
    runs = _runs(chained)
    assert {name: [r.state for r in found] for name, found in runs.items()} == {
        "train": ["SUCCEEDED"],
        "evaluate": ["SUCCEEDED"],
        "deploy": ["SUCCEEDED"],
    }
    [train], [evaluate], [deploy] = runs["train"], runs["evaluate"], runs["deploy"]
    model = next(o for o in train.details["outputs"] if (o["task"], o["name"]) == ("prepare", "config"))
    assert _params(chained, evaluate)["model_uri"] == model["uri"] and Path(model["uri"]).is_file()
    assert _params(chained, deploy)["upstream_run"] == evaluate.run_id
    assert chain_depth(evaluate.event_id) == 1 and chain_depth(deploy.event_id) == 2
    assert evaluate.details["origin"]["verifiedBy"] == "run-events.kfp-triggers.dev"


def _state_of(run: RunRecord, state: str) -> RunState:
    namespace, _, name = run.listener.rpartition("/")
    return RunState(
        event_id=run.event_id,
        run_id=run.run_id,
        backend=run.backend,
        state=state,
        previous_state="RUNNING",
        run_url=None,
        trigger=ObjectRef(namespace, run.trigger),
        listener=ObjectRef(namespace, name),
        outputs={"prepare": {"config": "/tmp/model"}},
    )


def test_a_run_end_seen_again_launches_nothing_new_and_a_failure_starts_nothing(chained: Server) -> None:
    [train] = _runs(chained)["train"]
    parent = event_for(_state_of(train, "SUCCEEDED"), source="//test", traceparent=None)
    store = chained.ctx.store
    before = len(store.list_runs(100))
    events = {e.event_id for e in store.list_events(500)}
    # The training run's end, seen again as it was handed on: its evaluation already exists.
    [evaluate] = _runs(chained)["evaluate"]
    handed = store.get_event(evaluate.event_id)
    assert handed is not None and handed.request is not None
    again = RunState.from_data(json.loads(HttpRequestData.from_data(handed.request).body))
    assert (again.run_id, again.state) == (train.run_id, "SUCCEEDED")
    assert hand_on_run_event(chained.ctx, parent, again, chained.ctx.clock()) == 1
    # A failed training run (another run of the same trigger) starts no evaluation.
    failed = dataclasses.replace(_state_of(train, "FAILED"), run_id="another-run")
    assert hand_on_run_event(chained.ctx, parent, failed, chained.ctx.clock()) == 1

    def decided() -> list[str]:
        new = [e for e in store.list_events(500) if e.event_id not in events]
        return [
            e.event_id
            for e in new
            if (r := store.get_event(e.event_id)) and all(t.decided for t in r.triggers)
        ]

    # Only the failure is a new event (the repeat has the first one's id); every trigger refused it.
    assert wait_for(lambda: len(decided()) == 1, 30)
    [new_event] = decided()
    record = store.get_event(new_event)
    assert record is not None and not any(t.accepted for t in record.triggers)
    assert len(store.list_runs(100)) == before


def test_a_request_claiming_to_be_a_run_end_is_refused_at_ingest(chained: Server, tmp_path: Path) -> None:
    [train] = _runs(chained)["train"]
    body = json.dumps(_state_of(train, "SUCCEEDED").to_data()).encode()
    forged = tmp_path / "forged.http"
    forged.write_bytes(
        b"POST / HTTP/1.1\r\nContent-Type: application/json\r\nCe-Specversion: 1.0\r\n"
        b"Ce-Type: dev.kfptriggers.run.state.v1\r\nCe-Id: forged-1\r\n"
        b"Ce-Source: //kfp-triggers/status\r\n\r\n" + body
    )
    status, answer = send_request(chained.url, forged)
    assert status == 400 and b"reserved for this deployment's own events" in answer
    structured = tmp_path / "structured.http"
    document = {"specversion": "1.0", "type": "dev.kfptriggers.run.state.v1", "id": "f2", "source": "//x"}
    structured.write_bytes(
        b"POST / HTTP/1.1\r\nContent-Type: application/cloudevents+json\r\n\r\n"
        + json.dumps(document).encode()
    )
    assert send_request(chained.url, structured)[0] == 400


def test_a_chain_stops_at_its_depth_limit(chained: Server) -> None:
    [deploy] = _runs(chained)["deploy"]
    deep = dataclasses.replace(deploy, event_id=f"chain{MAX_CHAIN_DEPTH}-0000")
    parent = event_for(_state_of(deep, "SUCCEEDED"), source="//test", traceparent=None)
    assert hand_on_run_event(chained.ctx, parent, _state_of(deep, "SUCCEEDED"), chained.ctx.clock()) == 0
    assert chain_depth("0b6f5a2e-c9d1-11f0-8a1e-4f2c7a9d3b01") == 0 and chain_depth("chain3-x") == 3


def test_a_journalled_run_end_can_be_replayed_through_ingest(chained: Server) -> None:
    """Replay names its event: the reserved types are refused only to senders, not to the journal."""
    from kfp_triggers.stages.ingest import ingest
    from kfp_triggers.tekton.request import RawRequest

    [evaluate] = _runs(chained)["evaluate"]
    record = chained.ctx.store.get_event(evaluate.event_id)
    assert record is not None and record.request is not None
    data = HttpRequestData.from_data(record.request)
    request = RawRequest(data.method, data.url, data.headers, data.body)
    assert ingest(chained.ctx, request).status == 400  # as a sender would post it
    assert ingest(chained.ctx, request, event_id=evaluate.event_id).status == 202  # as replay sends it
