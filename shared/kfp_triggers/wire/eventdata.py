"""Typed payloads of the inter-stage events: the contract between the stages.

Each payload is a JSON object (bytes as base64). ``eventID`` is always the id ingest assigned to
the incoming request, the same on every hop; ``listener`` and ``trigger`` are
``{"namespace": str, "name": str}``.

``dev.kfptriggers.event.received.v1`` (ingest -> intercept)::

    {"eventID": str, "listener": {...},
     "request": {"method": str, "url": str, "headers": {name: [value, ...]}, "bodyBase64": str},
     "receivedAt": str (RFC 3339)}

``dev.kfptriggers.trigger.matched.v1`` (intercept -> render); ``request`` is the body and the
headers as the bindings must see them (an interceptor may have changed them, and credentials are
redacted once verified); ``origin`` is what the chain verified (see :mod:`kfp_triggers.tekton.origin`)::

    {"eventID", "listener", "trigger": {...}, "group": str | null, "request": {... as above},
     "extensions": {...}, "decisions": [{...}, ...], "origin": {...}}

``dev.kfptriggers.run.requested.v1`` (render -> launch)::

    {"eventID", "listener", "trigger", "idempotencyKey": str, "uid": str,
     "params": {name: JSON value}, "resources": [{rendered object}, ...], "origin": {...}}

``dev.kfptriggers.run.created.v1`` (launch -> status)::

    {"eventID", "idempotencyKey", "runID": str, "backend": str, "state": str, "runURL": str | null}

``dev.kfptriggers.run.state.v1`` (status -> anyone); states use KFP's names::

    {"eventID", "runID", "backend", "state", "previousState": str | null, "runURL": str | null,
     "trigger", "listener"}

``dev.kfptriggers.status.tick.v1`` (scheduler -> status)::

    {"tickAt": str | null}

Each class reads a payload with ``from_data`` (raising :class:`InvalidRequestError` that names the
offending field) and writes one with ``to_data``. ``message_id()`` is the CloudEvent id of the
message carrying it, deterministic per hop, so a redelivery is recognisable downstream.
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Protocol, Self, TypeVar

from kfp_triggers.errors import InvalidRequestError
from kfp_triggers.wire.eventtypes import (
    EVENT_COMPLETED,
    EVENT_RECEIVED,
    RUN_CREATED,
    RUN_REQUESTED,
    RUN_STATE,
    STATUS_TICK,
    TRIGGER_MATCHED,
    TYPE_PREFIX,
)

_DIGEST = re.compile(r"[0-9a-f]{64}")


def is_digest(text: str) -> bool:
    """True for a lowercase hex SHA-256: how a body reference, and the body store, name a body."""
    return bool(_DIGEST.fullmatch(text))


class _Fields:
    """Reads typed fields from one payload object, naming the field path in every error."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, Mapping):
            raise InvalidRequestError(f"invalid {where}: expected a JSON object, got {type(data).__name__}")
        self.data: Mapping[str, Any] = data
        self.where = where

    def fail(self, key: str, wanted: str) -> InvalidRequestError:
        got = "nothing" if key not in self.data else type(self.data[key]).__name__
        return InvalidRequestError(f"invalid {self.where}: {key!r} must be {wanted}, got {got}")

    def text(self, key: str, *, empty: bool = False) -> str:
        value = self.data.get(key)
        if not isinstance(value, str) or (not empty and not value):
            raise self.fail(key, "a string" if empty else "a non-empty string")
        return value

    def optional_text(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is not None and not isinstance(value, str):
            raise self.fail(key, "a string or null")
        return value

    def obj(self, key: str) -> dict[str, Any]:
        value = self.data.get(key, {})
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise self.fail(key, "a JSON object")
        return copy.deepcopy(dict(value))

    def objects(self, key: str) -> list[dict[str, Any]]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise self.fail(key, "a list of JSON objects")
        return [copy.deepcopy(dict(v)) for v in value]

    def read(self, key: str, kind: str) -> Any:
        readers: dict[str, Callable[[str], Any]] = {
            "text": self.text,
            "text?": self.optional_text,
            "object": self.obj,
            "objects": self.objects,
            "ref": self.ref,
            "request": self.request,
        }
        return readers[kind](key)

    def ref(self, key: str) -> ObjectRef:
        if key not in self.data:
            raise self.fail(key, "a JSON object")
        return ObjectRef.from_data(self.data.get(key), f"{self.where} {key!r}")

    def request(self, key: str) -> HttpRequestData:
        if key not in self.data:
            raise self.fail(key, "a JSON object")
        return HttpRequestData.from_data(self.data.get(key), f"{self.where} {key!r}")


@dataclass(frozen=True)
class ObjectRef:
    """A namespaced name: an EventListener or a Trigger."""

    namespace: str
    name: str

    def to_data(self) -> dict[str, str]:
        return {"namespace": self.namespace, "name": self.name}

    @classmethod
    def from_data(cls, data: object, where: str = "reference") -> ObjectRef:
        f = _Fields(data, where)
        return cls(namespace=f.text("namespace", empty=True), name=f.text("name"))


@dataclass(frozen=True)
class BodyRef:
    """A body left in the body store (the claim check): its SHA-256 and its size."""

    sha256: str
    size: int

    def to_data(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "bytes": self.size}

    @classmethod
    def from_data(cls, data: object, where: str) -> BodyRef:
        """Read a reference, refusing anything but a hex digest and a byte count."""
        if not isinstance(data, Mapping):
            raise InvalidRequestError(f"invalid {where}: 'bodyRef' must be an object")
        digest, size = data.get("sha256"), data.get("bytes")
        if not isinstance(digest, str) or not is_digest(digest):
            raise InvalidRequestError(f"invalid {where}: 'bodyRef.sha256' must be a hex SHA-256")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidRequestError(f"invalid {where}: 'bodyRef.bytes' must be a byte count")
        return cls(digest, size)


@dataclass(frozen=True)
class HttpRequestData:
    """An HTTP request as the stages see it: list-valued headers, byte-exact body.

    With ``body_ref`` the body is in the body store and ``body`` is empty until a stage checks it
    out (see :mod:`kfp_triggers.stages.bodies`).
    """

    method: str
    url: str
    headers: dict[str, list[str]]
    body: bytes
    body_ref: BodyRef | None = None

    def to_data(self) -> dict[str, Any]:
        data = {
            "method": self.method,
            "url": self.url,
            "headers": {name: list(values) for name, values in self.headers.items()},
            "bodyBase64": base64.b64encode(self.body).decode("ascii"),
        }
        if self.body_ref is not None:
            data["bodyRef"] = self.body_ref.to_data()
        return data

    @classmethod
    def from_data(cls, data: object, where: str = "request") -> HttpRequestData:
        f = _Fields(data, where)
        headers = f.data.get("headers", {})
        if not isinstance(headers, Mapping) or not all(
            isinstance(k, str) and isinstance(v, list) and all(isinstance(s, str) for s in v)
            for k, v in headers.items()
        ):
            raise f.fail("headers", "an object of header name -> list of strings")
        encoded = f.text("bodyBase64", empty=True)
        try:
            body = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidRequestError(f"invalid {where}: 'bodyBase64' is not valid base64") from exc
        ref = f.data.get("bodyRef")
        body_ref = BodyRef.from_data(ref, where) if ref is not None else None
        if body_ref is not None and body:
            raise InvalidRequestError(f"invalid {where}: a request with 'bodyRef' carries no body")
        return cls(
            method=f.text("method"),
            url=f.text("url", empty=True),
            headers={k: list(v) for k, v in headers.items()},
            body=body,
            body_ref=body_ref,
        )


def _json(key: str, kind: str) -> dict[str, str]:
    """Field metadata: the JSON key of a payload field and how it is read (see ``_Fields.read``)."""
    return {"key": key, "kind": kind}


def _dump(value: object) -> object:
    if isinstance(value, (ObjectRef, HttpRequestData)):
        return value.to_data()
    return copy.deepcopy(value)


class _Payload:
    """Generic ``to_data``/``from_data`` over the fields declared with ``_json`` metadata."""

    TYPE: ClassVar[str]

    def to_data(self) -> dict[str, Any]:
        """The JSON payload."""
        return {f.metadata["key"]: _dump(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_data(cls, data: object) -> Self:
        """Read and validate a JSON payload.

        Raises:
            InvalidRequestError: a field is missing or of the wrong type; the message names it.
        """
        reader = _Fields(data, f"{cls.TYPE.removeprefix(TYPE_PREFIX).removesuffix('.v1')} data")
        kwargs = {f.name: reader.read(f.metadata["key"], f.metadata["kind"]) for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**kwargs)


@dataclass(frozen=True)
class EventReceived(_Payload):
    """An incoming request, wrapped by ingest."""

    TYPE: ClassVar[str] = EVENT_RECEIVED
    event_id: str = field(metadata=_json("eventID", "text"))
    listener: ObjectRef = field(metadata=_json("listener", "ref"))
    request: HttpRequestData = field(metadata=_json("request", "request"))
    received_at: str = field(metadata=_json("receivedAt", "text"))

    def to_data(self) -> dict[str, Any]:
        """The JSON payload, written field by field: this runs once per webhook, on ingest's hot path."""
        return {
            "eventID": self.event_id,
            "listener": self.listener.to_data(),
            "request": self.request.to_data(),
            "receivedAt": self.received_at,
        }

    def message_id(self) -> str:
        return self.event_id


@dataclass(frozen=True)
class TriggerMatched(_Payload):
    """One trigger whose interceptor chain accepted the event."""

    TYPE: ClassVar[str] = TRIGGER_MATCHED
    event_id: str = field(metadata=_json("eventID", "text"))
    listener: ObjectRef = field(metadata=_json("listener", "ref"))
    trigger: ObjectRef = field(metadata=_json("trigger", "ref"))
    group: str | None = field(metadata=_json("group", "text?"))
    request: HttpRequestData = field(metadata=_json("request", "request"))
    extensions: dict[str, Any] = field(metadata=_json("extensions", "object"), default_factory=dict)
    decisions: list[dict[str, Any]] = field(metadata=_json("decisions", "objects"), default_factory=list)
    origin: dict[str, Any] = field(metadata=_json("origin", "object"), default_factory=dict)
    received_at: str | None = field(metadata=_json("receivedAt", "text?"), default=None)
    """When ingest received the webhook (carried on for the webhook-to-run latency)."""

    def message_id(self) -> str:
        return f"{self.event_id}/{self.trigger.namespace}/{self.trigger.name}"


@dataclass(frozen=True)
class RunRequested(_Payload):
    """A rendered run, ready to be created exactly once per idempotency key."""

    TYPE: ClassVar[str] = RUN_REQUESTED
    event_id: str = field(metadata=_json("eventID", "text"))
    listener: ObjectRef = field(metadata=_json("listener", "ref"))
    trigger: ObjectRef = field(metadata=_json("trigger", "ref"))
    idempotency_key: str = field(metadata=_json("idempotencyKey", "text"))
    uid: str = field(metadata=_json("uid", "text"))
    params: dict[str, Any] = field(metadata=_json("params", "object"), default_factory=dict)
    resources: list[dict[str, Any]] = field(metadata=_json("resources", "objects"), default_factory=list)
    origin: dict[str, Any] = field(metadata=_json("origin", "object"), default_factory=dict)
    received_at: str | None = field(metadata=_json("receivedAt", "text?"), default=None)
    """When ingest received the webhook (carried on for the webhook-to-run latency)."""

    def message_id(self) -> str:
        return f"{self.event_id}/{self.trigger.namespace}/{self.trigger.name}"


@dataclass(frozen=True)
class RunCreated(_Payload):
    """A run the launcher created (or found already created) for an idempotency key."""

    TYPE: ClassVar[str] = RUN_CREATED
    event_id: str = field(metadata=_json("eventID", "text"))
    idempotency_key: str = field(metadata=_json("idempotencyKey", "text"))
    run_id: str = field(metadata=_json("runID", "text"))
    backend: str = field(metadata=_json("backend", "text"))
    state: str = field(metadata=_json("state", "text"))
    run_url: str | None = field(metadata=_json("runURL", "text?"), default=None)

    def message_id(self) -> str:
        return f"{self.event_id}/{self.idempotency_key}"


@dataclass(frozen=True)
class RunState(_Payload):
    """A run changed state (KFP state names: PENDING, RUNNING, SUCCEEDED, FAILED, ...)."""

    TYPE: ClassVar[str] = RUN_STATE
    event_id: str = field(metadata=_json("eventID", "text"))
    run_id: str = field(metadata=_json("runID", "text"))
    backend: str = field(metadata=_json("backend", "text"))
    state: str = field(metadata=_json("state", "text"))
    previous_state: str | None = field(metadata=_json("previousState", "text?"))
    run_url: str | None = field(metadata=_json("runURL", "text?"))
    trigger: ObjectRef = field(metadata=_json("trigger", "ref"))
    listener: ObjectRef = field(metadata=_json("listener", "ref"))
    outputs: dict[str, Any] = field(metadata=_json("outputs", "object"), default_factory=dict)
    """Once the run has ended: ``{task: {output: artifact URI (or id), or parameter value}}``."""

    def message_id(self) -> str:
        return f"{self.event_id}/{self.run_id}/{self.previous_state or 'NONE'}/{self.state}"


@dataclass(frozen=True)
class StatusTick(_Payload):
    """The periodic nudge that makes the status stage poll non-terminal runs."""

    TYPE: ClassVar[str] = STATUS_TICK
    tick_at: str | None = field(metadata=_json("tickAt", "text?"), default=None)

    @property
    def event_id(self) -> str:
        """A tick belongs to no incoming request; its own id stands in for one."""
        return self.message_id()

    def message_id(self) -> str:
        return f"tick/{self.tick_at}" if self.tick_at else f"tick/{uuid.uuid4()}"


@dataclass(frozen=True)
class EventCompleted(_Payload):
    """Every run an event launched has ended: its one outcome (``succeeded``, ``failed``, ...)."""

    TYPE: ClassVar[str] = EVENT_COMPLETED
    event_id: str = field(metadata=_json("eventID", "text"))
    listener: ObjectRef = field(metadata=_json("listener", "ref"))
    outcome: str = field(metadata=_json("outcome", "text"))
    runs: list[dict[str, Any]] = field(metadata=_json("runs", "objects"), default_factory=list)
    counts: dict[str, Any] = field(metadata=_json("counts", "object"), default_factory=dict)

    def message_id(self) -> str:
        # One id per event: a second status invocation that saw the last run end sends the same one.
        return f"{self.event_id}/completed"


class EventData(Protocol):
    """What every payload class offers."""

    TYPE: ClassVar[str]

    @property
    def event_id(self) -> str: ...

    def message_id(self) -> str: ...

    def to_data(self) -> dict[str, Any]: ...


_D = TypeVar(
    "_D", EventReceived, TriggerMatched, RunRequested, RunCreated, RunState, StatusTick, EventCompleted
)

AnyEventData = (
    EventReceived | TriggerMatched | RunRequested | RunCreated | RunState | StatusTick | EventCompleted
)

DATA_CLASSES: dict[str, type[AnyEventData]] = {
    cls.TYPE: cls
    for cls in (EventReceived, TriggerMatched, RunRequested, RunCreated, RunState, StatusTick, EventCompleted)
}


def parse_event_data(event_type: str, data: object) -> AnyEventData:
    """Read the payload of an event of ``event_type``.

    Raises:
        InvalidRequestError: the type is not one of ours, or the payload does not fit its shape.
    """
    cls = DATA_CLASSES.get(event_type)
    if cls is None:
        raise InvalidRequestError(f"not a kfp-triggers event type: {event_type!r}")
    return cls.from_data(data)


def expect_data(cls: type[_D], event_type: str, data: object) -> _D:
    """Read a payload that must be of class ``cls``.

    Raises:
        InvalidRequestError: the event is of another type, or its payload is malformed.
    """
    if event_type != cls.TYPE:
        raise InvalidRequestError(f"expected an event of type {cls.TYPE}, got {event_type!r}")
    return cls.from_data(data)
