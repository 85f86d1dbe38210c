"""The dispatch key: launch takes what it signs as a manual run, and nothing else.

A real chain context (SQLite, the in-process bus, the dry-run launcher) on a deployment that signs
its messages with a message key and has a separate dispatch key. A dispatcher holding only the
dispatch key can start a run with param values of its choosing, never claim a verified commit (to
which the status stage would post a commit status with the deployment's token), never journal
under a webhook's eventID, and never get any other message taken.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.adapters.transports.memory import MemoryBus
from kfp_triggers.app.dispatch import dispatch
from kfp_triggers.app.runtime import Settings, build_context, handle_event
from kfp_triggers.stages.context import StageContext
from kfp_triggers.stages.pipeline import idempotency_key, invocation_uid
from kfp_triggers.tekton.processing import render_template
from kfp_triggers.wire.events import (
    HttpRequestData,
    ObjectRef,
    RunRequested,
    TriggerMatched,
    event_for,
    topic_for,
)
from kfp_triggers.wire.messageauth import sign
from tests.conftest import EXAMPLES

EXAMPLE = EXAMPLES / "github-push"
SHA = "9f3c2b1a" * 5
PARAMS = {
    "repo": "acme/models",
    "sha": SHA,
    "short_sha": "9f3c2b1",
    "event_id": "e",
    "trigger": "train-on-main",
}


@pytest.fixture
def ctx(tmp_path: Path) -> StageContext:
    secrets = tmp_path / "secrets"
    shutil.copytree(EXAMPLE / "secrets", secrets)
    for name, value in (("message", b"m" * 32), ("dispatch", b"d" * 32)):
        (secrets / "keys").mkdir(exist_ok=True)
        (secrets / "keys" / name).write_bytes(value)
    settings = Settings(
        config=str(EXAMPLE),
        secrets_dir=str(secrets),
        store=f"sqlite:///{tmp_path}/state.db",
        output_root=str(tmp_path / "runs"),
        message_key_secret="keys/message",
        dispatch_key_secret="keys/dispatch",
    )
    bus = MemoryBus(synchronous=True)
    context = build_context(settings, bus, {"KFPT_LAUNCHER": "dry-run"})
    bus.subscribe(topic_for(RunRequested.TYPE), lambda event: handle_event("launch", event, context))
    return context


def _forged_request(ctx: StageContext, event_id: str) -> RunRequested:
    """A run request as render would make it, claiming a GitHub-verified commit."""
    config = ctx.config
    listener = config.listener("github-push")
    [trigger] = [t for t in config.triggers_for(listener) if t.name == "train-on-main"]
    params = {p.name: p.default for p in trigger.template.params if p.default is not None}
    params.update(PARAMS)
    listener_ref, trigger_ref = ObjectRef("default", "github-push"), ObjectRef("default", "train-on-main")
    key = idempotency_key(listener_ref, trigger_ref, event_id)
    uid = invocation_uid(key)
    return RunRequested(
        event_id=event_id,
        listener=listener_ref,
        trigger=trigger_ref,
        idempotency_key=key,
        uid=uid,
        params=params,
        resources=render_template(listener, trigger, params, event_id, uid),
        origin={"verifiedBy": "github", "github": {"owner": "victim", "repo": "prod", "sha": SHA}},
    )


def _send(ctx: StageContext, payload: Any, key: bytes) -> None:
    event = sign(event_for(payload, source="//attacker", traceparent=None), key)
    ctx.publisher.publish(topic_for(payload.TYPE), event)


def test_a_dispatch_is_a_manual_run_whatever_origin_it_claims(ctx: StageContext) -> None:
    assert ctx.dispatch_key is not None
    _send(ctx, _forged_request(ctx, "dispatch-1"), ctx.dispatch_key)
    [run] = ctx.store.list_runs(10)
    assert run.details["origin"] == {"manual": True}  # the claimed GitHub commit is gone
    sent = dispatch(ctx, "github-push", "train-on-main", PARAMS, sender="ops@example.com")
    runs = [r for r in ctx.store.list_runs(10) if r.event_id == sent["eventID"]]
    assert [r.details["origin"] for r in runs] == [{"dispatchedBy": "ops@example.com", "manual": True}]


def test_the_dispatch_key_starts_nothing_under_a_webhooks_event_id(ctx: StageContext) -> None:
    assert ctx.dispatch_key is not None
    _send(ctx, _forged_request(ctx, "0b6f5a2e-c9d1-11f0-8a1e-4f2c7a9d3b01"), ctx.dispatch_key)
    assert ctx.store.list_runs(10) == []


def test_the_dispatch_key_signs_no_other_message(ctx: StageContext) -> None:
    assert ctx.dispatch_key is not None
    bus = ctx.publisher
    assert isinstance(bus, MemoryBus)
    rendered: list[Any] = []
    bus.subscribe(
        topic_for(TriggerMatched.TYPE), lambda event: rendered.append(handle_event("render", event, ctx))
    )
    request = _forged_request(ctx, "dispatch-2")
    matched = TriggerMatched(
        event_id="dispatch-2",
        listener=request.listener,
        trigger=request.trigger,
        group=None,
        request=HttpRequestData("POST", "/", {}, b"{}"),
    )
    _send(ctx, matched, ctx.dispatch_key)
    assert rendered == [None]  # dropped as unauthentic: render never ran
    assert ctx.store.get_event("dispatch-2") is None


def test_the_message_key_keeps_its_origin(ctx: StageContext) -> None:
    assert ctx.message_key is not None
    _send(ctx, _forged_request(ctx, "evt-from-render"), ctx.message_key)
    [run] = ctx.store.list_runs(10)
    assert run.details["origin"]["github"]["sha"] == SHA  # what a stage signs is believed, as before
