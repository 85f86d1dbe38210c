"""A stage believes a message only as far as it can check it.

Attack: any pod that can reach the launch stage (on Knative, the cluster-local Service) posts a
``run.requested`` CloudEvent of its own. Before launch re-rendered requests, it ran whatever the
message carried, an inline ``pipeline_spec`` included. Now a request is launched only when its
key, its ``$(uid)`` and its resources are exactly what render derives from its listener, trigger,
event and params: a forger can at most choose param values.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.app.runtime import handle_event
from kfp_triggers.stages.pipeline import idempotency_key, invocation_uid
from kfp_triggers.tekton.processing import render_template
from kfp_triggers.wire.events import ObjectRef, RunRequested, event_for
from tests.security.chain_harness import Chain, copy_example, start_chain

LISTENER = ObjectRef("default", "github-push")
TRIGGER = ObjectRef("default", "train-on-main")
PARAMS = {
    "repo": "acme-ml/fraud-model",
    "sha": "c0ffee1234567890abcdef1234567890abcdef12",
    "short_sha": "c0ffee1",
}


@pytest.fixture
def chain(tmp_path: Path) -> Chain:
    return start_chain(tmp_path, copy_example(tmp_path), {"KFPT_LAUNCHER": "dry-run"})


def rendered(chain: Chain, event_id: str, params: dict[str, str]) -> RunRequested:
    """A run request exactly as the render stage would publish it."""
    listener = chain.ctx.listener(LISTENER.namespace, LISTENER.name)
    trigger = chain.ctx.trigger(listener, TRIGGER.namespace, TRIGGER.name)
    key = idempotency_key(LISTENER, TRIGGER, event_id)
    uid = invocation_uid(key)
    full = {"message": "", "pusher": "unknown", "epochs": "2", **params}
    resources = render_template(listener, trigger, full, event_id, uid)
    return RunRequested(event_id, LISTENER, TRIGGER, key, uid, full, resources)


def launch(chain: Chain, requested: RunRequested) -> None:
    handle_event("launch", event_for(requested, source="//attacker/pod", traceparent=None), chain.ctx)


def with_resources(requested: RunRequested, resources: list[dict[str, Any]]) -> RunRequested:
    return RunRequested(
        requested.event_id,
        requested.listener,
        requested.trigger,
        requested.idempotency_key,
        requested.uid,
        requested.params,
        resources,
    )


def test_a_request_render_produced_is_launched(chain: Chain) -> None:
    launch(chain, rendered(chain, "ev-genuine", PARAMS))
    assert [r.event_id for r in chain.runs()] == ["ev-genuine"]


def test_a_forged_run_request_with_an_inline_pipeline_is_not_launched(chain: Chain) -> None:
    genuine = rendered(chain, "ev-forged", PARAMS)
    resource = copy.deepcopy(genuine.resources[0])
    del resource["spec"]["pipeline_package"]
    resource["spec"]["pipeline_spec"] = {"pipelineInfo": {"name": "mine"}, "root": {"dag": {"tasks": {}}}}
    launch(chain, with_resources(genuine, [resource]))
    assert chain.runs() == []


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda r: r["spec"].update(service_account="cluster-admin"), id="service account"),
        pytest.param(lambda r: r["spec"].update(pipeline_package="/srv/other/pipeline.yaml"), id="package"),
        pytest.param(lambda r: r["metadata"]["labels"].update(extra="x"), id="labels"),
    ],
)
def test_any_change_to_the_rendered_resources_is_refused(chain: Chain, change: Any) -> None:
    genuine = rendered(chain, "ev-changed", PARAMS)
    resource = copy.deepcopy(genuine.resources[0])
    change(resource)
    launch(chain, with_resources(genuine, [resource]))
    assert chain.runs() == []


def test_a_request_under_another_key_or_uid_is_refused(chain: Chain) -> None:
    genuine = rendered(chain, "ev-key", PARAMS)
    other_key = RunRequested(
        genuine.event_id, LISTENER, TRIGGER, "kfpt-chosen", genuine.uid, genuine.params, genuine.resources
    )
    other_uid = RunRequested(
        genuine.event_id, LISTENER, TRIGGER, genuine.idempotency_key, "u", genuine.params, genuine.resources
    )
    for forged in (other_key, other_uid):
        launch(chain, forged)
    assert chain.runs() == []
    # Nothing was journalled on the forger's say-so either.
    assert chain.ctx.store.get_event("ev-key") is None
