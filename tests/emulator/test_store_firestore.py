"""The Firestore store against the real Firestore emulator: the same behaviour table as SQLite."""

from __future__ import annotations

import functools
import json
import urllib.request
import uuid

import pytest

from kfp_triggers.adapters.store import StoreError, TriggerDecision, store_from_url
from kfp_triggers.adapters.store._firestore_rest import FirestoreClient
from kfp_triggers.adapters.store.firestore import FirestoreStore
from tests.emulator.firestore_fixture import firestore_emulator  # noqa: F401 - a fixture
from tests.store_contract import REQUEST, StoreContract, StoreFactory, at, make_run

pytestmark = pytest.mark.emulator


@pytest.fixture
def project() -> str:
    """A fresh project per test: the emulator keeps each project's data apart."""
    return f"kfpt-test-{uuid.uuid4().hex[:12]}"


class TestFirestoreStore(StoreContract):
    @pytest.fixture
    def store_factory(self, firestore_emulator: str, project: str) -> StoreFactory:  # noqa: F811
        return functools.partial(FirestoreStore, project, emulator_host=firestore_emulator)


def _raw_document(host: str, project: str, path: str) -> dict[str, object]:
    url = f"http://{host}/v1/projects/{project}/databases/(default)/documents/{path}"
    request = urllib.request.Request(url, headers={"Authorization": "Bearer owner"})
    with urllib.request.urlopen(request, timeout=10) as response:
        document: dict[str, object] = json.loads(response.read())
        return document


def test_document_layout(firestore_emulator: str, project: str) -> None:  # noqa: F811
    store = FirestoreStore(project, emulator_host=firestore_emulator)
    store.record_event("ev-1", "github", at(0), REQUEST, "cfg")
    store.record_decisions("ev-1", [TriggerDecision("a.b", None, [], True, {}, None)])
    store.claim("k-1", "owner-1", 30, at(0))
    store.upsert_run(make_run("r1", "SUCCEEDED"))
    event = _raw_document(firestore_emulator, project, "kfpt_events/ev-1")["fields"]
    assert isinstance(event, dict)
    assert event["receivedAt"] == {"timestampValue": "2026-03-01T12:00:00.123456Z"}
    assert json.loads(event["request"]["stringValue"]) == REQUEST
    assert set(event["triggers"]["mapValue"]["fields"]["a.b"]["mapValue"]["fields"]) == {"decision"}
    ledger = _raw_document(firestore_emulator, project, "kfpt_ledger/k-1")["fields"]
    assert isinstance(ledger, dict)
    assert ledger["status"] == {"stringValue": "IN_PROGRESS"} and ledger["attempt"] == {"integerValue": "1"}
    run = _raw_document(firestore_emulator, project, "kfpt_runs/r1")["fields"]
    assert isinstance(run, dict)
    assert run["terminal"] == {"booleanValue": True} and run["state"] == {"stringValue": "SUCCEEDED"}


def test_ids_that_are_not_valid_document_ids_still_round_trip(
    firestore_emulator: str,  # noqa: F811
    project: str,
) -> None:
    store = FirestoreStore(project, emulator_host=firestore_emulator)
    for run_id in ("projects/p/locations/l/pipelineJobs/x", "..", "__name__", "é" * 900):
        store.upsert_run(make_run(run_id))
        got = store.get_run(run_id)
        assert got is not None and got.run_id == run_id


def test_factory_uses_the_emulator_from_the_environment(
    firestore_emulator: str,  # noqa: F811
    project: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator)
    store = store_from_url(f"firestore://{project}")
    assert isinstance(store, FirestoreStore) and store.database == "(default)"
    store.upsert_run(make_run("r1"))
    assert FirestoreStore(project, emulator_host=firestore_emulator).get_run("r1") == make_run("r1")


def test_a_bad_request_is_a_permanent_store_error(firestore_emulator: str, project: str) -> None:  # noqa: F811
    client = FirestoreClient(project, "(default)", firestore_emulator)
    with pytest.raises(StoreError) as info:
        client.run_query({"from": [{"collectionId": "x"}], "limit": -5})
    assert not info.value.retryable


def test_a_body_too_large_for_a_document_is_left_out_of_the_journal(
    firestore_emulator: str,  # noqa: F811
    project: str,
) -> None:
    """Firestore keeps at most 1 MiB per document: the event is journalled without its body."""
    import base64
    import hashlib

    from kfp_triggers.app.operations import replay

    body = b'{"blob": "' + b"x" * 1_500_000 + b'"}'
    request = dict(REQUEST, bodyBase64=base64.b64encode(body).decode())
    store = FirestoreStore(project, emulator_host=firestore_emulator)
    store.record_event("ev-big", "default/github", at(0), request, "cfg")
    store.record_decisions("ev-big", [TriggerDecision("t", None, [], True, {}, None)])
    record = store.get_event("ev-big")
    assert record is not None and record.request is not None
    assert record.request["bodyBase64"] == ""
    assert record.request["bodyOmitted"] == {"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}
    assert record.request["headers"] == REQUEST["headers"]
    assert [t.trigger for t in record.triggers] == ["t"]
    with pytest.raises(Exception, match="cannot be replayed: its 1500012-byte body was too large"):
        replay(store, "ev-big", [], None, dry_run=True)
    # A body that fits is journalled whole.
    store.record_event("ev-small", "default/github", at(0), REQUEST, "cfg")
    small = store.get_event("ev-small")
    assert small is not None and small.request == REQUEST


def test_expiries_are_written_for_the_ttl_policies(firestore_emulator: str, project: str) -> None:  # noqa: F811
    store = FirestoreStore(project, emulator_host=firestore_emulator)
    store.record_event("ev-ttl", "default/github", at(0), REQUEST, "cfg", expires_at=at(86400))
    store.claim("k-ttl", "w", 30, at(0))
    store.complete("k-ttl", "w", {"run_id": "r"}, expires_at=at(86400))
    for path in ("kfpt_events/ev-ttl", "kfpt_ledger/k-ttl"):
        fields = _raw_document(firestore_emulator, project, path)["fields"]
        assert isinstance(fields, dict)
        assert fields["expireAt"] == {"timestampValue": "2026-03-02T12:00:00.123456Z"}
    assert store.purge(at(10**6)) == 0  # Firestore's TTL policies do the deleting
    assert store.get_event("ev-ttl") is not None


def test_new_events_claims_and_runs_cost_one_round_trip_each(
    firestore_emulator: str,  # noqa: F811
    project: str,
) -> None:
    """A document that does not exist yet is created at once; reading first is for the rare conflict."""
    store = FirestoreStore(project, emulator_host=firestore_emulator)
    calls: list[str] = []
    for method in ("get", "batch_get", "commit"):
        real = getattr(store._client, method)

        def counted(*args: object, _real: object = real, _name: str = method) -> object:
            calls.append(_name)
            return _real(*args)  # type: ignore[operator]

        setattr(store._client, method, counted)
    assert store.record_event("ev-rt", "default/l", at(0), REQUEST, None) == "ev-rt"
    assert store.first_event_with_body("default/l", "d", "ev-rt", at(0)) == "ev-rt"
    assert store.claim("key-rt", "owner-a", 30.0, at(0)).acquired
    store.upsert_run(make_run("run-rt"))
    assert calls == ["commit"] * 4
    # An existing document falls back to read, decide, commit, with the same answers as before.
    calls.clear()
    assert store.record_event("ev-rt", "default/l", at(1), REQUEST, None) == "ev-rt"
    assert not store.claim("key-rt", "owner-b", 30.0, at(1)).acquired
    assert calls == ["commit", "get", "commit", "get"]
    # A launch's end (run, key, journal) is one read of the key and the run, and one commit.
    calls.clear()
    assert store.finish_launch("key-rt", "owner-a", make_run("run-2", idempotency_key="key-rt"), adopt=False)
    store.record_decisions("ev-rt", [TriggerDecision(f"t{i}", None, [], True, {}, None) for i in range(20)])
    assert calls == ["batch_get", "commit", "commit"]
