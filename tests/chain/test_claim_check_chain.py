"""The claim check through ``serve``: a body over the threshold never travels between the stages.

Real server, in-process bus, SQLite journal, local body store and a kfp.local run of the example
pipeline; the bus keeps every message it carried, so what travelled is checked byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from kfp_triggers.adapters.bodies import digest_of
from kfp_triggers.app import operations
from kfp_triggers.app.explain import explain
from kfp_triggers.app.serve import Server, send_request, wait_for
from kfp_triggers.tekton.request import read_http_request
from tests.chain.serving import EXAMPLE, serving

PUSH = EXAMPLE / "requests" / "push.http"


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.chdir(tmp_path)
    bodies = f"file://{tmp_path}/bodies"
    with serving(tmp_path, {"KFPT_LAUNCHER": "local"}, claim_check_bytes=1024, body_store=bodies) as srv:
        yield srv


def test_a_large_body_is_checked_in_once_and_the_run_still_launches(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = read_http_request(PUSH).body
    assert len(body) > 1024
    digest = digest_of(body)
    status, answer = send_request(server.url, PUSH)
    assert status == 202, answer
    event_id = json.loads(answer)["eventID"]

    def succeeded() -> bool:
        runs = [r for r in server.ctx.store.list_runs(10) if r.event_id == event_id]
        return bool(runs) and all(r.state == "SUCCEEDED" for r in runs)

    assert wait_for(succeeded, 90)
    [run] = [r for r in server.ctx.store.list_runs(10) if r.event_id == event_id]
    assert run.trigger == "train-on-main"
    # The bindings saw the real body: the run's commit is the push's head commit.
    assert json.loads(body)["after"] in json.dumps(server.ctx.store.get_run(run.run_id).to_json())  # type: ignore[union-attr]

    # The body is stored once, under its digest; no message between the stages carried it.
    assert (tmp_path / "bodies" / digest[:2] / digest).read_bytes() == body
    published = list(server.ctx.publisher.published)
    assert published
    needle = json.loads(body)["head_commit"]["message"].encode()
    for message in published:
        assert needle not in message.data, message.topic
        assert len(message.data) < len(body) * 2  # base64 of the body would be 4/3 of it

    # The journal keeps the reference; explain says where the body is.
    record = server.ctx.store.get_event(event_id)
    assert record is not None and record.request is not None
    assert record.request["bodyRef"] == {"sha256": digest, "bytes": len(body)}
    assert record.request["bodyBase64"] == ""
    told = explain(record)["body"]
    assert told["bytes"] == len(body) and "body store" in told["omitted"]["reason"]

    # Replay fetches the body from the store and decides as the first time.
    monkeypatch.setenv("KFPT_BODY_STORE", f"file://{tmp_path}/bodies")
    result = operations.replay(server.ctx.store, event_id, [EXAMPLE], EXAMPLE / "secrets", dry_run=True)
    assert {t["trigger"]: t["now"] for t in result["triggers"]} == {
        "train-on-main": True,
        "release-on-tag": False,
    }


def test_a_replay_whose_body_expired_from_the_store_says_so(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, answer = send_request(server.url, PUSH)
    assert status == 202
    event_id = json.loads(answer)["eventID"]
    assert wait_for(lambda: bool(server.ctx.store.get_event(event_id)), 30)
    monkeypatch.setenv("KFPT_BODY_STORE", f"file://{tmp_path}/elsewhere")
    with pytest.raises(Exception, match="cannot be replayed: its body is not in file://"):
        operations.replay(server.ctx.store, event_id, [EXAMPLE], EXAMPLE / "secrets", dry_run=True)


def test_a_body_missing_or_changed_in_the_store_fails_the_event_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store is emptied (or its copy changed) between ingest and intercept: journalled, not silent."""
    from kfp_triggers.adapters.transports.memory import MemoryBus

    monkeypatch.chdir(tmp_path)
    body = read_http_request(PUSH).body
    digest = digest_of(body)
    bodies = tmp_path / "bodies"
    settings = {"claim_check_bytes": 1024, "body_store": f"file://{bodies}"}
    with serving(tmp_path, {"KFPT_LAUNCHER": "dry-run"}, **settings) as server:
        bus = server.ctx.publisher
        assert isinstance(bus, MemoryBus)
        original_publish = bus.publish

        def tamper_then_publish(topic: str, event: object) -> str:
            # Ingest has stored the body; change it at rest before intercept reads it.
            path = bodies / digest[:2] / digest
            if path.exists():
                path.write_bytes(body.replace(b"main", b"evil", 1))
            return original_publish(topic, event)  # type: ignore[arg-type]

        monkeypatch.setattr(bus, "publish", tamper_then_publish)
        status, answer = send_request(server.url, PUSH)
        assert status == 202
        event_id = json.loads(answer)["eventID"]

        def journalled() -> bool:
            record = server.ctx.store.get_event(event_id)
            return record is not None and bool(record.triggers) and all(t.decided for t in record.triggers)

        assert wait_for(journalled, 30)
        record = server.ctx.store.get_event(event_id)
        assert record is not None
        assert server.ctx.store.list_runs(10) == []
    for trigger in record.triggers:
        assert trigger.accepted is False
        assert trigger.decision_error is not None
        assert (
            "not in the body store" in trigger.decision_error
            and "does not match its digest" in trigger.decision_error
        )
    told = explain(record)
    assert {t["verdict"] for t in told["triggers"]} == {"error"}
