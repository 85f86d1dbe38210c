"""With a message key, a stage acts only on messages another stage of the deployment signed.

Attack: a pod that reaches a stage's Service directly (Knative's EventPolicies guard the Broker,
not the Services behind it) posts a ``run.requested`` whose resources are exactly what the
template renders, so launch's render check passes, but whose origin names a repository of the
attacker's choosing: without signed messages the status stage would post our commit statuses
there. Each stage now refuses an unsigned or altered message, on every transport encoding.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from kfp_triggers.app.runtime import handle_event
from kfp_triggers.stages.pipeline import idempotency_key, invocation_uid
from kfp_triggers.tekton.processing import render_template
from kfp_triggers.wire import events as ev
from kfp_triggers.wire.events import ObjectRef, RunRequested, StatusTick, event_for
from kfp_triggers.wire.messageauth import UnauthenticMessageError, sign, verify
from tests.security.chain_harness import Chain, copy_example, github_headers, start_chain

KEY = b"0123456789abcdef0123456789abcdef"
LISTENER = ObjectRef("default", "github-push")
TRIGGER = ObjectRef("default", "train-on-main")
FORGED_ORIGIN = {
    "verifiedBy": "github",
    "github": {"owner": "mallory", "repo": "target", "sha": "b" * 40, "event": "push", "enterpriseHost": ""},
}


@pytest.fixture
def chain(tmp_path: Path) -> Chain:
    config = copy_example(tmp_path)
    (config / "secrets" / "message-key").mkdir()
    (config / "secrets" / "message-key" / "key").write_bytes(KEY)
    return start_chain(
        tmp_path, config, {"KFPT_LAUNCHER": "dry-run", "KFPT_MESSAGE_KEY_SECRET": "message-key/key"}
    )


def rendered_request(chain: Chain, event_id: str) -> RunRequested:
    listener = chain.ctx.listener(LISTENER.namespace, LISTENER.name)
    trigger = chain.ctx.trigger(listener, TRIGGER.namespace, TRIGGER.name)
    key = idempotency_key(LISTENER, TRIGGER, event_id)
    params = {
        "repo": "a/b",
        "sha": "c" * 40,
        "short_sha": "ccccccc",
        "message": "",
        "pusher": "x",
        "epochs": "2",
    }
    resources = render_template(listener, trigger, params, event_id, invocation_uid(key))
    return RunRequested(
        event_id, LISTENER, TRIGGER, key, invocation_uid(key), params, resources, FORGED_ORIGIN
    )


def test_the_chain_runs_with_signed_messages(chain: Chain) -> None:
    body = (Path(__file__).parents[2] / "examples/github-push/payloads/push.json").read_bytes()
    assert chain.post("/github-push", github_headers(body, "d-signed"), body).status == 202
    assert [r.event_id for r in chain.runs()] == ["d-signed"]


def test_an_unsigned_message_with_a_forged_origin_is_refused(chain: Chain) -> None:
    forged = event_for(rendered_request(chain, "ev-forged"), source="//attacker", traceparent=None)
    handle_event("launch", forged, chain.ctx)
    assert chain.runs() == []


def test_a_message_signed_with_another_key_or_altered_after_signing_is_refused(chain: Chain) -> None:
    requested = rendered_request(chain, "ev-other-key")
    handle_event(
        "launch", sign(event_for(requested, source="//x", traceparent=None), b"not-our-key"), chain.ctx
    )
    genuine = sign(event_for(requested, source="//x", traceparent=None), KEY)
    altered = copy.deepcopy(genuine)
    altered.data["params"]["sha"] = "d" * 40
    handle_event("launch", altered, chain.ctx)
    assert chain.runs() == []
    handle_event("launch", genuine, chain.ctx)  # the same message as signed goes through
    assert [r.event_id for r in chain.runs()] == ["ev-other-key"]


def test_a_signature_survives_every_transport_encoding() -> None:
    tick_free = event_for(
        RunRequested("e", LISTENER, TRIGGER, "k", "u", {"a": "1"}, [{"kind": "Run", "x": 1.5}]),
        source="//s",
        traceparent=None,
    )
    signed = sign(tick_free, KEY)
    data, attributes = ev.to_pubsub_message(signed)
    verify(ev.from_pubsub_message(data, attributes, message_id="m"), KEY)
    headers, body = ev.to_http_binary(signed)
    verify(ev.from_http_request(headers, body), KEY)
    stripped = dict(headers)
    stripped.pop("ce-kfptsig")
    with pytest.raises(UnauthenticMessageError, match="not signed"):
        verify(ev.from_http_request(stripped, body), KEY)


def test_status_ticks_need_no_signature(chain: Chain) -> None:
    tick = event_for(StatusTick(tick_at="2026-12-06T00:00:00Z"), source="//scheduler", traceparent=None)
    verify(tick, KEY)
    handle_event("status", tick, chain.ctx)
