"""Firestore's typed JSON values, document ids, field paths and HTTP error mapping (no emulator)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from kfp_triggers.adapters.store import StoreError, StoreUnavailableError
from kfp_triggers.adapters.store._firestore_rest import (
    ConflictError,
    FirestoreClient,
    decode_value,
    document_id,
    encode_value,
    field_path,
)

NESTED = {"mapValue": {"fields": {"b": {"nullValue": None}}}}


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (None, {"nullValue": None}),
        (True, {"booleanValue": True}),
        (0, {"integerValue": "0"}),
        (-(2**63), {"integerValue": str(-(2**63))}),
        (1.5, {"doubleValue": 1.5}),
        ("é", {"stringValue": "é"}),
        (b"\x00\xff", {"bytesValue": "AP8="}),
        ({}, {"mapValue": {}}),
        ([], {"arrayValue": {}}),
        (
            {"a": [1, {"b": None}]},
            {"mapValue": {"fields": {"a": {"arrayValue": {"values": [{"integerValue": "1"}, NESTED]}}}}},
        ),
        (datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC), {"timestampValue": "2026-01-02T03:04:05.000006Z"}),
    ],
)
def test_values_round_trip(value: Any, encoded: dict[str, Any]) -> None:
    assert encode_value(value) == encoded
    assert decode_value(encoded) == value


def test_special_values() -> None:
    assert encode_value(float("inf")) == {"doubleValue": "Infinity"}
    assert decode_value({"doubleValue": "-Infinity"}) == float("-inf")
    assert decode_value({"integerValue": "9223372036854775807"}) == 2**63 - 1
    local = datetime(2026, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=1)))
    assert encode_value(local) == {"timestampValue": "2026-01-01T00:00:00.000000Z"}
    assert decode_value({"timestampValue": "2026-01-01T00:00:00.123456789Z"}) == datetime(
        2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC
    )
    assert decode_value({"timestampValue": "2026-01-01T00:00:00Z"}) == datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(StoreError, match="64-bit"):
        encode_value(2**63)
    with pytest.raises(StoreError, match="cannot store a set"):
        encode_value({1, 2})


def test_document_ids_are_valid_and_distinct() -> None:
    raws = ["abc-1.2_3", "a/b", "~x", "..", ".", "__x__", "", "a b", "é", "x" * 5000, "y" * 5000]
    ids = [document_id(raw) for raw in raws]
    assert ids[0] == "abc-1.2_3"
    assert len(set(ids)) == len(ids)
    for encoded in ids[1:]:
        assert encoded.startswith("~") and "/" not in encoded and len(encoded.encode()) <= 1500


def test_field_paths_quote_what_is_not_an_identifier() -> None:
    assert field_path("triggers", "build", "decision") == "triggers.build.decision"
    assert field_path("triggers", "a.b-c", "x") == "triggers.`a.b-c`.x"
    assert field_path("t", "q`u\\o") == "t.`q\\`u\\\\o`"


class _Canned(BaseHTTPRequestHandler):
    """Answers every request with the status and gRPC status name the URL path asks for."""

    def do_POST(self) -> None:
        code, status = self.path.split(":")[0].rsplit("/", 2)[-2:]
        body = json.dumps({"error": {"code": int(code), "status": status, "message": "canned"}}).encode()
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(int(code))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture(scope="module")
def canned() -> Iterator[str]:
    """A local HTTP server answering like a failing Firestore; yields its ``host:port``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Canned)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.parametrize(
    ("code", "status", "error", "retryable"),
    [
        (429, "RESOURCE_EXHAUSTED", StoreUnavailableError, True),
        (503, "UNAVAILABLE", StoreUnavailableError, True),
        (500, "INTERNAL", StoreUnavailableError, True),
        (400, "INVALID_ARGUMENT", StoreError, False),
        (403, "PERMISSION_DENIED", StoreError, False),
    ],
)
def test_http_errors_map_to_store_errors(
    canned: str, code: int, status: str, error: type[StoreError], retryable: bool
) -> None:
    client = FirestoreClient("p", "(default)", canned)
    with pytest.raises(error) as info:
        client.get(f"x/{code}/{status}")
    assert info.value.retryable is retryable
    assert not isinstance(info.value, ConflictError)


@pytest.mark.parametrize(
    ("code", "status"), [(409, "ALREADY_EXISTS"), (400, "FAILED_PRECONDITION"), (409, "ABORTED"), (412, "")]
)
def test_failed_preconditions_on_commit_are_conflicts(canned: str, code: int, status: str) -> None:
    client = FirestoreClient("p", "(default)", canned)
    client.documents = f"x/{code}/{status}"
    with pytest.raises(ConflictError):
        client.commit([])


def test_nothing_listening_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = FirestoreClient("p", "(default)", f"127.0.0.1:{port}", timeout_s=2)
    with pytest.raises(StoreUnavailableError):
        client.get(client.name("kfpt_runs", "r1"))


def test_importing_the_stores_loads_no_google_library() -> None:
    probe = (
        "import sys; before = set(sys.modules); "
        "import kfp_triggers.adapters.store, kfp_triggers.adapters.store.firestore, "
        "kfp_triggers.adapters.store.sqlite; "
        "print(sorted(m for m in set(sys.modules) - before if m.split('.')[0] in ('google', 'grpc')))"
    )
    command = [sys.executable, "-c", probe]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
