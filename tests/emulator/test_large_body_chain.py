"""A 20 MB signed GitHub push through the chain on real emulators: carried by reference.

``serve`` over the Pub/Sub emulator (10 MB per message), with the journal in the Firestore emulator
(1 MiB per document) and bodies in the GCS emulator: the push is accepted, travels between the
stages as its digest, is bound from and launched, journalled with its reference, and replayed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from pathlib import Path

import pytest

from kfp_triggers.adapters.bodies import body_store_from_url, digest_of
from kfp_triggers.app import operations as ops
from kfp_triggers.app.serve import send_request, wait_for
from tests.chain.serving import EXAMPLE, serving
from tests.emulator.firestore_fixture import firestore_emulator  # noqa: F401 - a fixture
from tests.emulator.gcs_fixture import BUCKET, gcs_emulator  # noqa: F401 - a fixture

pytestmark = pytest.mark.emulator

BODY_BYTES = 20 * 1024 * 1024


def _signed_push(tmp_path: Path) -> tuple[Path, bytes]:
    """A push to main as GitHub sends it, padded to 20 MB with commits, signed with the example secret."""
    payload = json.loads((EXAMPLE / "payloads" / "push.json").read_text())
    filler = {"id": "0" * 40, "message": "x" * 1000, "added": [], "removed": [], "modified": []}
    payload["commits"] = [dict(filler, id=f"{i:040x}") for i in range(BODY_BYTES // 1100)]
    body = json.dumps(payload).encode()
    secret = (EXAMPLE / "secrets" / "github-webhook" / "secret").read_bytes()
    signature = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    head = (
        "POST / HTTP/1.1\r\nContent-Type: application/json\r\nX-GitHub-Event: push\r\n"
        f"X-GitHub-Delivery: big-{uuid.uuid4()}\r\nX-Hub-Signature-256: {signature}\r\n\r\n"
    )
    request = tmp_path / "big-push.http"
    request.write_bytes(head.encode() + body)
    return request, body


def test_a_20_mb_push_is_carried_by_reference_launched_and_replayable(
    emulator_env: dict[str, str],
    firestore_emulator: str,  # noqa: F811
    gcs_emulator: str,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator)
    project = f"kfpt-big-{uuid.uuid4().hex[:8]}"
    environ = {
        **emulator_env,
        "KFPT_PUBSUB_PROJECT": project,
        "KFPT_TRANSPORT": "pubsub",
        "KFPT_LAUNCHER": "dry-run",
        "STORAGE_EMULATOR_HOST": gcs_emulator,
    }
    request, body = _signed_push(tmp_path)
    assert len(body) > 19 * 1024 * 1024
    bodies = f"gs://{BUCKET}/{project}"
    with serving(
        tmp_path,
        environ,
        store=f"firestore://{project}",
        max_body_bytes=25 * 1024 * 1024,
        body_store=bodies,
    ) as server:
        status, answer = send_request(server.url, request, timeout_s=60)
        assert status == 202, answer
        event_id = json.loads(answer)["eventID"]
        assert wait_for(lambda: any(r.event_id == event_id for r in server.ctx.store.list_runs(10)), 120)
        record = server.ctx.store.get_event(event_id)
        assert record is not None and record.request is not None
        [run] = [r for r in server.ctx.store.list_runs(10) if r.event_id == event_id]
        trigger = record.trigger("train-on-main")
        assert trigger is not None and trigger.params is not None
    # Bound from the real body: the push's head commit.
    assert trigger.params["sha"] == json.loads(body)["after"]
    assert run.trigger == "train-on-main"
    # Journalled with the reference (a Firestore document could not hold the body) ...
    assert record.request["bodyRef"] == {"sha256": digest_of(body), "bytes": len(body)}
    stored = body_store_from_url(bodies, {"STORAGE_EMULATOR_HOST": gcs_emulator})
    assert stored.get(digest_of(body)) == body
    # ... and replayable: the body is fetched back and decided on as the first time.
    monkeypatch.setenv("KFPT_BODY_STORE", bodies)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)
    result = ops.replay(server.ctx.store, event_id, [EXAMPLE], EXAMPLE / "secrets", dry_run=True)
    assert {t["trigger"]: t["now"] for t in result["triggers"]} == {
        "train-on-main": True,
        "release-on-tag": False,
    }
