"""The Cloud Storage body store against a real GCS emulator (the ``gcp-storage-emulator`` package).

What our REST client writes is read back with Google's own client library, and the whole chain runs
with its bodies in the emulator's bucket. When the emulator is missing the tests skip, except
under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kfp_triggers.adapters.bodies import BodyMismatchError, BodyMissingError, body_store_from_url, digest_of
from kfp_triggers.app.serve import send_request, wait_for
from kfp_triggers.tekton.request import read_http_request
from tests.chain.serving import EXAMPLE, serving
from tests.emulator.gcs_fixture import BUCKET, gcs_emulator  # noqa: F401 - a fixture


def test_bodies_round_trip_and_are_what_googles_client_reads(gcs_emulator: str) -> None:  # noqa: F811
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    store = body_store_from_url(f"gs://{BUCKET}/bodies", {"STORAGE_EMULATOR_HOST": gcs_emulator})
    body = bytes(range(256)) * 2000  # binary, 512 KB
    digest = digest_of(body)
    store.put(digest, body)
    store.put(digest, body)  # stored already: still fine
    assert store.get(digest) == body

    os.environ["STORAGE_EMULATOR_HOST"] = gcs_emulator
    try:
        client = storage.Client(project="test", credentials=AnonymousCredentials())
        blob = client.bucket(BUCKET).blob(f"bodies/{digest}")
        assert blob.download_as_bytes() == body
        blob.upload_from_string(body[:-1] + b"!")  # changed at rest
    finally:
        del os.environ["STORAGE_EMULATOR_HOST"]
    with pytest.raises(BodyMismatchError):
        store.get(digest)
    with pytest.raises(BodyMissingError):
        store.get("e" * 64)


def test_the_chain_runs_with_its_large_bodies_in_the_bucket(
    gcs_emulator: str,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    environ = {"KFPT_LAUNCHER": "dry-run", "STORAGE_EMULATOR_HOST": gcs_emulator}
    push = EXAMPLE / "requests" / "push.http"
    with serving(tmp_path, environ, claim_check_bytes=1024, body_store=f"gs://{BUCKET}/chain") as server:
        status, answer = send_request(server.url, push)
        assert status == 202, answer
        event_id = json.loads(answer)["eventID"]
        assert wait_for(lambda: any(r.event_id == event_id for r in server.ctx.store.list_runs(10)), 30)
    body = read_http_request(push).body
    stored = body_store_from_url(f"gs://{BUCKET}/chain", {"STORAGE_EMULATOR_HOST": gcs_emulator})
    assert stored.get(digest_of(body)) == body
