"""A credential that travelled with a webhook is not kept, and not passed on, once it was checked.

Attack surface reproduced: GitLab's ``X-Gitlab-Token`` *is* the webhook secret. It used to travel
in every ``trigger.matched`` message, sit in the journal (SQLite, Firestore) and reach the
``cloudEventURI`` receiver; a header a CEL filter compared with ``compareSecret`` was not redacted
anywhere. Whoever could read the journal or a dead-letter topic could then sign requests as GitLab.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kfp_triggers.adapters.transports.memory import MemoryBus
from kfp_triggers.wire.events import read_data
from kfp_triggers.wire.eventtypes import TRIGGER_MATCHED
from tests.security.chain_harness import Chain, copy_example, start_chain

TOKEN = "gl-webhook-s3cret-do-not-keep"
SHARED = "x-shared-s3cret-do-not-keep"

LISTENER = """
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {name: gitlab}
spec:
  triggers:
    - name: on-push
      interceptors:
        - ref: {name: gitlab}
          params:
            - {name: secretRef, value: {secretName: gitlab-webhook, secretKey: token}}
            - {name: eventTypes, value: [Push Hook]}
        - ref: {name: cel}
          params:
            - name: filter
              value: "header.canonical('X-Shared-Token').compareSecret('token', 'shared-token')"
      bindings:
        - {name: repo, value: $(body.project.path_with_namespace)}
        - {name: sha, value: $(body.after)}
        - {name: short_sha, value: $(body.after)}
      template: {ref: train-run}
"""


@pytest.fixture
def chain(tmp_path: Path) -> Chain:
    config = copy_example(tmp_path)
    (config / "gitlab.yaml").write_text(LISTENER)
    for name, value in (("gitlab-webhook", TOKEN), ("shared-token", SHARED)):
        (config / "secrets" / name).mkdir()
        (config / "secrets" / name / "token").write_text(value)
    return start_chain(tmp_path, config, {"KFPT_LAUNCHER": "dry-run"})


def push() -> bytes:
    return json.dumps(
        {"object_kind": "push", "after": "c0ffee1234567890abcdef1234567890abcdef12",
         "project": {"path_with_namespace": "acme/model"}}
    ).encode()  # fmt: skip


def test_checked_credentials_are_redacted_in_the_journal_and_between_stages(chain: Chain) -> None:
    headers = {
        "Content-Type": "application/json",
        "X-Gitlab-Event": "Push Hook",
        "X-Gitlab-Token": TOKEN,
        "X-Shared-Token": SHARED,
        "Idempotency-Key": "gl-1",
    }
    assert chain.post("/gitlab", headers, push()).status == 202
    assert [r.event_id for r in chain.runs()] == ["gl-1"]  # both secrets were checked and accepted

    record = chain.ctx.store.get_event("gl-1")
    assert record is not None and record.request is not None
    stored = json.dumps(record.request)
    assert TOKEN not in stored and SHARED not in stored
    assert record.request["headers"]["X-Gitlab-Token"] == ["[redacted]"]

    bus = chain.ctx.publisher
    assert isinstance(bus, MemoryBus)
    [matched] = [read_data(e) for e in bus.events("kfpt-matched") if e["type"] == TRIGGER_MATCHED]
    sent = json.dumps(matched.to_data())
    assert TOKEN not in sent and SHARED not in sent
    for later in ("kfpt-launch", "kfpt-runs"):
        assert all(TOKEN not in json.dumps(read_data(e).to_data()) for e in bus.events(later))
    # The database file itself holds neither secret anywhere.
    raw = Path(chain.ctx.store.path).read_bytes()  # type: ignore[attr-defined]
    assert TOKEN.encode() not in raw and SHARED.encode() not in raw
