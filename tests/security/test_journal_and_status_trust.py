"""Nobody but the verified sender decides what the journal keeps and where our token posts statuses.

The attacks, on the real chain (example listener, SQLite, kfp.local running the example pipeline, a
GitHub stand-in recording every request; GitHub's API cannot run here, so the status calls are
checked against its published contract):

1. A signed push with delivery id D launches a run. An unsigned request reusing ``X-GitHub-Delivery:
   D`` with a body naming another repository used to replace D's journalled request, and the status
   stage then posted D's run's statuses to the forged repository and sha with our token.
2. The same forgery through a second, CEL-only listener of the same deployment.
3. The same signed body sent again under a new delivery id (a signature does not cover headers)
   used to launch a new run each time.
4. A CEL-only trigger (it authenticates nothing) used to get commit statuses for any repository its
   payload named, under the same context as a protected trigger of the same name.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.security.chain_harness import Chain, copy_example, github_headers, start_chain
from tests.unit.test_github_status import FakeGitHub, fake_github

DELIVERY = "0b6f5a2e-c9d1-11f0-8a1e-4f2c7a9d3b01"
GENUINE_SHA = "c0ffee1234567890abcdef1234567890abcdef12"
EVIL_SHA = "bad0bad0bad0bad0bad0bad0bad0bad0bad0bad0"

OPEN_LISTENER = """
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: open}
spec:
  triggers:
    - name: train-on-main
      interceptors:
        - ref: {name: cel}
          params:
            - {name: filter, value: "body.ref == 'refs/heads/main'"}
            - {name: overlays, value: [{key: short_sha, expression: body.after.truncate(7)}]}
      bindings:
        - ref: github-push
      template: {ref: train-run}
"""


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with fake_github() as api:
        yield api


@pytest.fixture
def chain(tmp_path: Path, github: FakeGitHub) -> Chain:
    config = copy_example(tmp_path)
    (config / "open.yaml").write_text(OPEN_LISTENER)
    token_dir = config / "secrets" / "github-token"
    token_dir.mkdir()
    (token_dir / "token").write_text(github.token)
    return start_chain(
        tmp_path,
        config,
        {"KFPT_GITHUB_TOKEN_SECRET": "github-token/token", "KFPT_GITHUB_API_URL": github.base_url + "/"},
    )


def genuine_body() -> bytes:
    return (Path(__file__).parents[2] / "examples/github-push/payloads/push.json").read_bytes()


def forged_body() -> bytes:
    payload = json.loads(genuine_body())
    payload["repository"]["full_name"] = "mallory/target"
    payload["after"] = EVIL_SHA
    return json.dumps(payload).encode()


def posted_to(api: FakeGitHub) -> set[str]:
    return {r.path for r in api.received}


def test_forged_requests_under_a_known_delivery_id_change_nothing_and_borrow_no_token(
    chain: Chain, github: FakeGitHub
) -> None:
    genuine = genuine_body()
    assert chain.post("/github-push", github_headers(genuine, DELIVERY), genuine).status == 202
    [run] = chain.runs()
    assert run.event_id == DELIVERY

    # 1. Unsigned, same delivery id, same listener: refused by the GitHub interceptor, and kept apart.
    forged = forged_body()
    unsigned = {"Content-Type": "application/json", "X-Github-Event": "push", "X-Github-Delivery": DELIVERY}
    assert chain.post("/github-push", unsigned, forged).status == 202
    # 2. The same forgery through the CEL-only listener: accepted there (it checks nothing) ...
    assert chain.post("/open", unsigned, forged).status == 202

    assert chain.settle(lambda: all(r.terminal for r in chain.runs()))
    journal = chain.ctx.store.get_event(DELIVERY)
    assert journal is not None and journal.listener == "default/github-push"
    assert base64.b64decode(journal.request["bodyBase64"]) == genuine
    # ... but as events of their own, which never replace the genuine one.
    others = {e.event_id for e in chain.ctx.store.list_events(10)} - {DELIVERY}
    assert len(others) == 2 and all(e.startswith(DELIVERY + "~") for e in others)
    genuine_run = next(r for r in chain.runs() if r.event_id == DELIVERY)
    assert genuine_run.run_id == run.run_id and genuine_run.state == "SUCCEEDED"

    # Statuses: only the genuine commit, only for the signed trigger, under its listener's context.
    assert github.violations == []
    assert posted_to(github) == {f"/repos/acme-ml/fraud-model/statuses/{GENUINE_SHA}"}
    contexts = {(body["state"], body["context"]) for body in github.posted()}
    assert contexts == {
        ("pending", "kfp-triggers/github-push/train-on-main"),
        ("success", "kfp-triggers/github-push/train-on-main"),
    }


def test_a_signed_body_sent_again_under_a_new_delivery_id_is_a_replay(
    chain: Chain, github: FakeGitHub
) -> None:
    genuine = genuine_body()
    assert chain.post("/github-push", github_headers(genuine, DELIVERY), genuine).status == 202
    # A redelivery (same id) is the same event; the same body under new ids is a replay.
    assert chain.post("/github-push", github_headers(genuine, DELIVERY), genuine).status == 202
    for n in range(3):
        replayed = github_headers(genuine, f"replayed-{n}")
        assert chain.post("/github-push", replayed, genuine).status == 202
    assert len(chain.runs()) == 1
    record = chain.ctx.store.get_event("replayed-0")
    assert record is not None
    [decision] = [t for t in record.triggers if t.trigger == "train-on-main"]
    assert decision.accepted is False
    assert f"first delivered as event {DELIVERY}" in (decision.decision_error or "")


def test_an_unauthenticated_trigger_gets_no_commit_status(chain: Chain, github: FakeGitHub) -> None:
    forged = forged_body()
    headers = {"Content-Type": "application/json", "X-Github-Event": "push", "X-Github-Delivery": "open-1"}
    assert chain.post("/open", headers, forged).status == 202
    [run] = chain.runs()
    assert run.details["origin"]["verifiedBy"] is None
    assert chain.settle(lambda: all(r.terminal for r in chain.runs()))
    assert github.received == []
