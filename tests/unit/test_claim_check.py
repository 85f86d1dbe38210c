"""The claim check's pieces: body references on the wire, the local body store, hostile references."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kfp_triggers.adapters.bodies import (
    BodyMismatchError,
    BodyMissingError,
    BodyStoreConfigError,
    body_store_from_url,
    digest_of,
)
from kfp_triggers.adapters.bodies.local import LocalBodyStore
from kfp_triggers.adapters.store._rules import request_digest
from kfp_triggers.errors import InvalidRequestError
from kfp_triggers.wire.events import BodyRef, HttpRequestData

BODY = b'{"ref": "refs/heads/main"}' * 100


def test_a_reference_travels_instead_of_the_body_and_reads_back() -> None:
    ref = BodyRef(digest_of(BODY), len(BODY))
    data = HttpRequestData("POST", "/", {"X-Github-Event": ["push"]}, b"", ref).to_data()
    assert data["bodyBase64"] == "" and data["bodyRef"] == {"sha256": ref.sha256, "bytes": len(BODY)}
    assert HttpRequestData.from_data(data).body_ref == ref
    # A request without a reference is written as before: no new key.
    assert "bodyRef" not in HttpRequestData("POST", "/", {}, BODY).to_data()
    # The journal knows the event by the body's digest either way: a redelivery is recognised.
    assert request_digest(data) == request_digest(HttpRequestData("POST", "/", {}, BODY).to_data())


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ({"sha256": "../../etc/passwd", "bytes": 1}, "hex SHA-256"),
        ({"sha256": "A" * 64, "bytes": 1}, "hex SHA-256"),
        ({"sha256": "0" * 64, "bytes": -1}, "byte count"),
        ({"sha256": "0" * 64, "bytes": True}, "byte count"),
        ({"sha256": "0" * 64}, "byte count"),
        ("gs://elsewhere/object", "must be an object"),
    ],
)
def test_a_hostile_reference_is_refused(ref: object, message: str) -> None:
    data = {"method": "POST", "url": "/", "headers": {}, "bodyBase64": "", "bodyRef": ref}
    with pytest.raises(InvalidRequestError, match=message):
        HttpRequestData.from_data(data)


def test_a_request_cannot_carry_both_a_body_and_a_reference() -> None:
    data = HttpRequestData("POST", "/", {}, BODY).to_data()
    data["bodyRef"] = {"sha256": digest_of(BODY), "bytes": len(BODY)}
    with pytest.raises(InvalidRequestError, match="carries no body"):
        HttpRequestData.from_data(data)


def test_the_local_store_keeps_bodies_by_digest_and_checks_them(tmp_path: Path) -> None:
    store = LocalBodyStore(tmp_path / "bodies")
    digest = digest_of(BODY)
    store.put(digest, BODY)
    store.put(digest, BODY)  # the same body again: nothing changes
    assert store.get(digest) == BODY
    path = tmp_path / "bodies" / digest[:2] / digest
    assert path.read_bytes() == BODY
    path.write_bytes(BODY + b" ")  # changed at rest
    with pytest.raises(BodyMismatchError):
        store.get(digest)
    with pytest.raises(BodyMissingError):
        store.get("f" * 64)
    with pytest.raises(BodyMissingError, match="not a SHA-256"):
        store.get("../" + digest[3:])  # no path reaches outside the directory


def test_the_local_store_purges_bodies_older_than_the_cutoff(tmp_path: Path) -> None:
    store = LocalBodyStore(tmp_path)
    old, new = b"old" * 10, b"new" * 10
    store.put(digest_of(old), old)
    store.put(digest_of(new), new)
    week_ago = time.time() - 7 * 86400
    os.utime(tmp_path / digest_of(old)[:2] / digest_of(old), (week_ago, week_ago))
    assert store.purge(datetime.now(UTC) - timedelta(days=1)) == 1
    assert store.get(digest_of(new)) == new
    with pytest.raises(BodyMissingError):
        store.get(digest_of(old))


def test_only_a_directory_or_a_bucket_is_a_body_store(tmp_path: Path) -> None:
    assert isinstance(body_store_from_url(f"file://{tmp_path}", {}), LocalBodyStore)
    assert body_store_from_url("gs://kfpt-bodies/p", {}).describe() == "gs://kfpt-bodies/p"
    for url in ("s3://bucket", "file://", "gs://Not_A_Bucket!"):
        with pytest.raises(BodyStoreConfigError):
            body_store_from_url(url, {})


def test_storing_a_body_again_renews_its_age(tmp_path: Path) -> None:
    """A later event with the same body must not lose it to the first one's retention."""
    store = LocalBodyStore(tmp_path)
    digest = digest_of(BODY)
    store.put(digest, BODY)
    week_ago = time.time() - 7 * 86400
    path = tmp_path / digest[:2] / digest
    os.utime(path, (week_ago, week_ago))
    store.put(digest, BODY)  # the same body arrives again
    assert store.purge(datetime.now(UTC) - timedelta(days=1)) == 0
    assert store.get(digest) == BODY
