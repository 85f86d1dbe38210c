"""A small Firestore REST v1 client: values, documents, errors, tokens.

``google-cloud-firestore`` would pull gRPC and protobuf into every stage's cold start; the REST API
needs only the engine's pooled HTTP client, which keeps one connection open across the several
calls an event makes (no redirect is followed: it must not carry the bearer token elsewhere).
Values travel in Firestore's typed JSON (``{"stringValue": ...}``, ``{"integerValue": "42"}``...).
Read-only queries (``batchGet``, ``runQuery``) may be sent again when their connection broke; a
commit is sent once. HTTP failures are mapped to the store's errors: 429, 5xx, timeouts and
connection errors are :class:`StoreUnavailableError` (retryable); a failed precondition on a commit
is a :class:`ConflictError` for the caller's compare-and-set loop; any other 4xx is a permanent
:class:`StoreError`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from kfp_triggers.adapters.gcp_token import (
    BearerTokens,
    CredentialsError,
    CredentialsUnavailableError,
    fetch_access_token,
)
from kfp_triggers.adapters.http import Answer, HttpClient, NoAnswerError, default_client
from kfp_triggers.adapters.store._time import format_time, parse_time
from kfp_triggers.adapters.store.base import StoreError, StoreUnavailableError

PRODUCTION_ROOT = "https://firestore.googleapis.com/v1"
_SCOPE = "https://www.googleapis.com/auth/datastore"
_CONFLICT_STATUSES = frozenset({"ALREADY_EXISTS", "FAILED_PRECONDITION", "ABORTED"})
_TRANSIENT_STATUSES = frozenset({"UNAVAILABLE", "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED", "INTERNAL"})
_PLAIN_ID = re.compile(r"[A-Za-z0-9_.\-]{1,700}")
_SIMPLE_FIELD = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


class FirestoreApiError(StoreError):
    """Firestore answered with a permanent error; ``code`` is the HTTP status, ``status`` gRPC's name."""

    def __init__(self, message: str, *, code: int, status: str) -> None:
        self.code = code
        self.status = status
        super().__init__(message)


class ConflictError(FirestoreApiError):
    """A commit's precondition failed: the document changed since it was read (or already exists)."""


# -- values --------------------------------------------------------------------------------------


def encode_value(value: Any) -> dict[str, Any]:
    """A Python value as a Firestore typed value."""
    if value is None:
        return {"nullValue": None}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            raise StoreError(f"integer {value} does not fit Firestore's 64-bit integerValue")
        return {"integerValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value if math.isfinite(value) else str(value).replace("inf", "Infinity")}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, bytes):
        return {"bytesValue": base64.b64encode(value).decode("ascii")}
    if isinstance(value, datetime):
        return {"timestampValue": format_time(value)}
    if isinstance(value, Mapping):
        return {"mapValue": {"fields": encode_fields(value)} if value else {}}
    if isinstance(value, Sequence):
        return {"arrayValue": {"values": [encode_value(v) for v in value]} if value else {}}
    raise StoreError(f"cannot store a {type(value).__name__} in Firestore")


def decode_value(value: Mapping[str, Any]) -> Any:
    """A Firestore typed value as a Python value (timestamps become aware datetimes)."""
    kind, raw = next(iter(value.items()))
    if kind == "nullValue":
        return None
    if kind in ("booleanValue", "stringValue", "referenceValue", "geoPointValue"):
        return raw
    if kind == "integerValue":
        return int(raw)
    if kind == "doubleValue":
        return float(raw)
    if kind == "timestampValue":
        return parse_time(raw)
    if kind == "bytesValue":
        return base64.b64decode(raw)
    if kind == "mapValue":
        return decode_fields(raw.get("fields", {}))
    if kind == "arrayValue":
        return [decode_value(v) for v in raw.get("values", [])]
    raise StoreError(f"unknown Firestore value type {kind!r}")


def encode_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A mapping as a document's (or map value's) ``fields``."""
    return {str(name): encode_value(value) for name, value in fields.items()}


def decode_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`encode_fields`."""
    return {name: decode_value(value) for name, value in fields.items()}


def field_path(*names: str) -> str:
    """A field path through nested maps, quoting each name that is not a plain identifier."""
    quoted = (
        n if _SIMPLE_FIELD.fullmatch(n) else "`" + n.replace("\\", "\\\\").replace("`", "\\`") + "`"
        for n in names
    )
    return ".".join(quoted)


def document_id(raw: str) -> str:
    """A valid, injective document id for any string (``/``, ``..``, ``__x__`` are not allowed)."""
    if (
        _PLAIN_ID.fullmatch(raw)
        and raw not in (".", "..")
        and not (raw.startswith("__") and raw.endswith("__"))
    ):
        return raw
    encoded = base64.urlsafe_b64encode(raw.encode()).decode("ascii").rstrip("=")
    if len(encoded) <= 1400:
        return "~" + encoded
    return "~~" + hashlib.sha256(raw.encode()).hexdigest()


# -- access tokens --------------------------------------------------------------------------------


def _store_tokens(emulator: bool) -> BearerTokens:
    """Firestore's tokens (the emulator takes ``owner``), their failures as the store's errors."""

    def fetch(scope: str) -> tuple[str, float]:
        try:
            return fetch_access_token(scope)
        except CredentialsUnavailableError as exc:
            raise StoreUnavailableError(f"Firestore credentials: {exc}") from exc
        except CredentialsError as exc:
            raise StoreError(f"Firestore credentials: {exc}") from exc

    return BearerTokens(_SCOPE, fixed="owner" if emulator else None, fetch=fetch)


# -- the client -----------------------------------------------------------------------------------


class FirestoreClient:
    """Document reads, conditional commits and queries of one Firestore database."""

    def __init__(
        self,
        project: str,
        database: str,
        emulator_host: str | None,
        *,
        timeout_s: float = 10.0,
        http: HttpClient | None = None,
    ) -> None:
        root = f"http://{emulator_host}/v1" if emulator_host else PRODUCTION_ROOT
        self.database_name = f"projects/{project}/databases/{database}"
        self.documents = f"{self.database_name}/documents"
        self._root = root
        self._timeout = timeout_s
        self._tokens = _store_tokens(emulator=bool(emulator_host))
        self._http = http or default_client()

    def name(self, collection: str, raw_id: str) -> str:
        """The full resource name of the document ``raw_id`` (encoded) in ``collection``."""
        return f"{self.documents}/{collection}/{document_id(raw_id)}"

    def get(self, name: str) -> dict[str, Any] | None:
        """A document (``fields``, ``updateTime``...), or ``None`` when it does not exist."""
        try:
            found: dict[str, Any] = self._call("GET", name)
        except FirestoreApiError as exc:
            if exc.status == "NOT_FOUND" or exc.code == 404:
                return None
            raise
        return found

    def batch_get(self, names: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The documents among ``names`` that exist, by name."""
        if not names:
            return {}
        answers = self._call("POST", f"{self.documents}:batchGet", {"documents": list(names)}, reads=True)
        return {a["found"]["name"]: a["found"] for a in answers if "found" in a}

    def commit(self, writes: list[dict[str, Any]]) -> None:
        """Apply ``writes`` atomically.

        Raises:
            ConflictError: a ``currentDocument`` precondition did not hold.
        """
        try:
            self._call("POST", f"{self.documents}:commit", {"writes": writes})
        except FirestoreApiError as exc:
            if exc.status in _CONFLICT_STATUSES or exc.code in (409, 412) or exc.status == "NOT_FOUND":
                raise ConflictError(str(exc), code=exc.code, status=exc.status) from exc
            raise

    def run_query(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """The documents a ``structuredQuery`` matches, in the query's order."""
        answers = self._call("POST", f"{self.documents}:runQuery", {"structuredQuery": query}, reads=True)
        return [a["document"] for a in answers if "document" in a]

    def _call(
        self, method: str, path: str, body: Any = None, *, reads: bool = False, retried: bool = False
    ) -> Any:
        """One REST call; ``reads``: a read-only POST, safe to send again if its connection broke."""
        url = f"{self._root}/{quote(path, safe='/:()~')}"
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {self._tokens.get()}", "Content-Type": "application/json"}
        try:
            answer = self._http.request(
                method, url, headers=headers, body=data, timeout_s=self._timeout, idempotent=reads or None
            )
            if answer.ok:
                return json.loads(answer.body or b"{}")
        except (NoAnswerError, ValueError) as exc:
            reason = exc.reason if isinstance(exc, NoAnswerError) else exc
            raise StoreUnavailableError(f"Firestore unreachable at {self._root}: {reason}") from exc
        if answer.status == 401 and not retried and self._tokens.fixed is None:
            self._tokens.forget()
            return self._call(method, path, body, reads=reads, retried=True)
        raise _api_error(answer)


def _api_error(answer: Answer) -> StoreError:
    try:
        detail = json.loads(answer.body).get("error", {})
    except (ValueError, AttributeError):
        detail = {}
    status = str(detail.get("status", ""))
    message = f"Firestore {answer.status} {status}: {detail.get('message', answer.reason)}"
    if answer.status == 429 or answer.status >= 500 or status in _TRANSIENT_STATUSES:
        return StoreUnavailableError(message)
    return FirestoreApiError(message, code=answer.status, status=status)
