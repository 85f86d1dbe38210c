"""The inter-stage event envelope: the one place that speaks the cloudevents SDK (v1 API).

Every message between stages is a CloudEvent 1.0 of one of our types (see
:mod:`kfp_triggers.wire.eventtypes`) whose data is a JSON object (see :mod:`kfp_triggers.wire.eventdata`
for the shape of each). Each carries two extension attributes:

* ``kfpteventid``: the eventID ingest assigned to the original request, the same on every hop;
* ``traceparent``: a W3C trace context; each hop is a child span of the one before it.

The CloudEvent ``id`` is deterministic per hop (``<eventID>`` for event.received,
``<eventID>/<trigger namespace>/<trigger name>`` for the trigger hops, and so on), so a
redelivered or re-published message is recognisable downstream.

Wire formats:

* **Pub/Sub**: structured mode only (Google's CloudEvents Pub/Sub binding). The message data is
  the JSON event (``to_json``) and the attribute ``content-type`` is
  ``application/cloudevents+json; charset=utf-8``; the whole event survives any number of hops.
  Readers also accept binary mode (``ce-*`` attributes, data as payload), which other producers use.
* **HTTP** (Knative Broker, ``K_SINK``): binary mode, ``ce-*`` headers and the JSON data as body.
  Readers accept binary and structured.

Payloads (full shapes in :mod:`kfp_triggers.wire.eventdata`, read and written by its frozen dataclasses)::

    event.received   {eventID, listener, request: {method, url, headers, bodyBase64}, receivedAt}
    trigger.matched  {eventID, listener, trigger, group, request, extensions, decisions}
    run.requested    {eventID, listener, trigger, idempotencyKey, uid, params, resources}
    run.created      {eventID, idempotencyKey, runID, backend, state, runURL}
    run.state        {eventID, runID, backend, state, previousState, runURL, trigger, listener}
    status.tick      {tickAt}

The type constants, the topic table, the payload classes and the trace-context helpers are
re-exported here, so stages need only this module.

A stage can be handed three shapes, and :func:`decode_stage_input` turns each into our event:
(a) an Eventarc / functions-framework ``google.cloud.pubsub.topic.v1.messagePublished`` event
wrapping a Pub/Sub message; (b) a raw Pub/Sub push envelope ``{"message": ..., "subscription": ...}``;
(c) one of our events delivered directly (Knative Broker).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from cloudevents import exceptions as ce_exceptions
from cloudevents.conversion import to_binary, to_json
from cloudevents.http import CloudEvent, from_http, from_json

from kfp_triggers.errors import InvalidRequestError
from kfp_triggers.golang import fastjson
from kfp_triggers.wire.eventdata import (  # payload classes, re-exported
    AnyEventData,
    BodyRef,
    EventCompleted,
    EventData,
    EventReceived,
    HttpRequestData,
    ObjectRef,
    RunCreated,
    RunRequested,
    RunState,
    StatusTick,
    TriggerMatched,
    parse_event_data,
)
from kfp_triggers.wire.eventtypes import (  # type constants and the topic table, re-exported
    EVENT_RECEIVED,
    EVENT_TYPES,
    HOPS,
    RUN_CREATED,
    RUN_REQUESTED,
    RUN_STATE,
    STATUS_TICK,
    TOPICS,
    TRIGGER_MATCHED,
    dead_letter_topic,
    topic_for,
)
from kfp_triggers.wire.tracecontext import child_traceparent, is_valid_traceparent, new_traceparent

__all__ = [
    "CLOUDEVENTS_JSON", "EVENT_ID_EXTENSION", "EVENT_RECEIVED", "EVENT_TYPES", "HOPS",
    "PUBSUB_MESSAGE_PUBLISHED", "RUN_CREATED", "RUN_REQUESTED", "RUN_STATE", "STATUS_TICK", "TOPICS",
    "TRIGGER_MATCHED", "BodyRef", "CloudEvent", "EventCompleted", "EventReceived", "HttpRequestData",
    "ObjectRef", "RunCreated",
    "RunRequested", "RunState", "StatusTick", "TriggerMatched", "child_traceparent", "dead_letter_topic",
    "decode_push_envelope", "decode_stage_input", "event_for", "from_http_request", "from_pubsub_message",
    "new_event", "new_traceparent", "origin_event_id", "read_data", "to_http_binary", "to_pubsub_message",
    "topic_for", "traceparent_of",
]  # fmt: skip

EVENT_ID_EXTENSION = "kfpteventid"
TRACEPARENT_EXTENSION = "traceparent"
CLOUDEVENTS_JSON = "application/cloudevents+json; charset=utf-8"
PUBSUB_MESSAGE_PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"

_EXPECTED_SHAPES = (
    "a kfp-triggers CloudEvent (dev.kfptriggers.*), a Pub/Sub messagePublished CloudEvent wrapping one, "
    "or a Pub/Sub push envelope {'message': {...}}"
)


def _check_id(what: str, value: str) -> None:
    """Ids travel in HTTP headers and Pub/Sub attributes: printable ASCII without spaces only."""
    if not (value.isascii() and value.isprintable()) or " " in value or not value:
        raise InvalidRequestError(f"{what} must be non-empty printable ASCII without spaces, got {value!r}")


def new_event(
    type_: str,
    data: Mapping[str, Any],
    *,
    event_id: str,
    source: str,
    subject: str | None,
    origin_event_id: str,
    traceparent: str | None,
) -> CloudEvent:
    """Build one of our events.

    Args:
        type_: one of the ``dev.kfptriggers.*`` types.
        data: the payload; it is checked against the type's shape.
        event_id: the CloudEvent id, deterministic per hop (see ``EventData.message_id``).
        source: the CloudEvent source, a URI reference naming the producing stage.
        subject: the optional CloudEvent subject.
        origin_event_id: the eventID of the original request (extension ``kfpteventid``).
        traceparent: the parent trace context; the event gets a child span of it, or a new
            trace when it is missing or invalid.

    Raises:
        InvalidRequestError: unknown type, malformed payload, or unusable ids.
    """
    return _build(
        type_,
        parse_event_data(type_, data).to_data(),
        event_id=event_id,
        source=source,
        subject=subject,
        origin_event_id=origin_event_id,
        traceparent=traceparent,
    )


def _build(
    type_: str,
    payload: Mapping[str, Any],
    *,
    event_id: str,
    source: str,
    subject: str | None,
    origin_event_id: str,
    traceparent: str | None,
) -> CloudEvent:
    """Assemble the CloudEvent around an already valid payload."""
    if type_ not in EVENT_TYPES:
        raise InvalidRequestError(f"not a kfp-triggers event type: {type_!r}")
    _check_id("event id", event_id)
    _check_id("origin event id", origin_event_id)
    attributes: dict[str, Any] = {
        "type": type_,
        "source": source,
        "id": event_id,
        "datacontenttype": "application/json",
        EVENT_ID_EXTENSION: origin_event_id,
        TRACEPARENT_EXTENSION: child_traceparent(traceparent),
    }
    if subject is not None:
        attributes["subject"] = subject
    return CloudEvent(attributes, payload)


def event_for(
    payload: EventData,
    *,
    source: str,
    traceparent: str | None,
    subject: str | None = None,
    validate: bool = True,
) -> CloudEvent:
    """Build the event carrying ``payload``, with its deterministic message id.

    The payload is checked against its type's shape (a safety net against, say, an empty run id)
    unless ``validate`` is off, which only a caller that built every field itself should do.

    Raises:
        InvalidRequestError: as :func:`new_event`.
    """
    data = payload.to_data()
    if validate:
        data = parse_event_data(payload.TYPE, data).to_data()
    return _build(
        payload.TYPE,
        data,
        event_id=payload.message_id(),
        source=source,
        subject=subject,
        origin_event_id=payload.event_id,
        traceparent=traceparent,
    )


def read_data(event: CloudEvent) -> AnyEventData:
    """The typed payload of one of our events (an ``EventReceived``, ``RunCreated``, ...).

    Raises:
        InvalidRequestError: not one of our types, or a malformed payload.
    """
    return parse_event_data(event["type"], event.data)


def origin_event_id(event: CloudEvent) -> str:
    """The eventID of the original request this event descends from.

    Raises:
        InvalidRequestError: the event lacks the ``kfpteventid`` extension.
    """
    value = event.get(EVENT_ID_EXTENSION)
    if not isinstance(value, str) or not value:
        raise InvalidRequestError(f"event {event['id']!r} has no {EVENT_ID_EXTENSION} extension")
    return value


def traceparent_of(event: CloudEvent) -> str | None:
    """The event's ``traceparent`` if it is valid, else ``None`` (a child then starts a new trace)."""
    value = event.get(TRACEPARENT_EXTENSION)
    return value if isinstance(value, str) and is_valid_traceparent(value) else None


# --- wire formats -----------------------------------------------------------------------------


def to_pubsub_message(event: CloudEvent) -> tuple[bytes, dict[str, str]]:
    """Encode an event for Pub/Sub in structured mode: (message data, message attributes).

    Our events always carry JSON data, so the structured document is the attributes plus a
    ``data`` member (CloudEvents JSON format, section 3.1); it is written directly, which is several
    times cheaper than the SDK's generic marshaller on the ingest hot path.
    """
    data = event.data
    if not isinstance(data, dict | list) or event.get("datacontenttype") != "application/json":
        return to_json(event), {"content-type": CLOUDEVENTS_JSON}
    document = dict(event.get_attributes())
    document["data"] = data
    return fastjson.dumps(document), {"content-type": CLOUDEVENTS_JSON}


def from_pubsub_message(data: bytes, attributes: Mapping[str, str], *, message_id: str = "") -> CloudEvent:
    """Decode a Pub/Sub message carrying a CloudEvent in structured or binary mode.

    Structured mode is recognised by the ``content-type`` attribute (or, lacking attributes, by
    a JSON payload with ``specversion``); binary mode by ``ce-*`` attributes.

    Raises:
        InvalidRequestError: the message carries no CloudEvent, or a malformed one.
    """
    where = f"Pub/Sub message {message_id}" if message_id else "Pub/Sub message"
    attrs = {str(k).lower(): str(v) for k, v in attributes.items()}
    content_type = attrs.get("content-type", "")
    try:
        if content_type.lower().startswith("application/cloudevents+json"):
            return from_json(data)
        if any(k.startswith("ce-") for k in attrs):
            _check_binary(attrs, where)
            return from_http(attrs, data)
    except ce_exceptions.GenericException as exc:
        raise InvalidRequestError(f"{where} holds a malformed CloudEvent: {exc}") from exc
    if not content_type and _looks_structured(data):
        return from_pubsub_message(data, {"content-type": CLOUDEVENTS_JSON}, message_id=message_id)
    raise InvalidRequestError(
        f"{where} carries no CloudEvent: expected attribute content-type: {CLOUDEVENTS_JSON} "
        "(structured mode) or ce-* attributes (binary mode)"
    )


_BINARY_REQUIRED = ("ce-specversion", "ce-type", "ce-source", "ce-id")


def _check_binary(headers: Mapping[str, str], where: str) -> None:
    """Name the missing ``ce-*`` headers; the SDK would fall back to structured mode and blame JSON."""
    lowered = {k.lower() for k in headers}
    if any(k.startswith("ce-") for k in lowered):
        missing = [k for k in _BINARY_REQUIRED if k not in lowered]
        if missing:
            raise InvalidRequestError(f"{where}: binary-mode CloudEvent lacks {', '.join(missing)}")


def _looks_structured(data: bytes) -> bool:
    try:
        parsed = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(parsed, dict) and "specversion" in parsed


def from_http_request(headers: Mapping[str, str], body: bytes, *, raw_data: bool = False) -> CloudEvent:
    """Parse a CloudEvent from an HTTP request in binary or structured mode.

    Args:
        headers: the request headers (any case).
        body: the request body.
        raw_data: keep a binary-mode body as bytes instead of decoding JSON.

    Raises:
        InvalidRequestError: the request is not a valid CloudEvent.
    """
    _check_binary(headers, "not a valid CloudEvent")
    try:
        if raw_data:
            return from_http(dict(headers), body, data_unmarshaller=lambda b: b)
        return from_http(dict(headers), body)
    except ce_exceptions.GenericException as exc:
        raise InvalidRequestError(f"not a valid CloudEvent: {exc}") from exc


def to_http_binary(event: CloudEvent) -> tuple[dict[str, str], bytes]:
    """Encode an event as a binary-mode HTTP request: (headers, body)."""
    headers, body = to_binary(event)
    if isinstance(body, str):
        body = body.encode("utf-8")
    return dict(headers), body if body is not None else b""


# --- decoding a stage's input -----------------------------------------------------------------


def _ours(event: CloudEvent, where: str) -> CloudEvent:
    """Check that ``event`` is one of our types with a JSON object payload."""
    if event["type"] not in EVENT_TYPES:
        raise InvalidRequestError(
            f"{where}: unexpected event type {event['type']!r}; expected {_EXPECTED_SHAPES}"
        )
    data = event.data
    if isinstance(data, (bytes, str)):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise InvalidRequestError(f"{where}: event {event['id']!r} has non-JSON data") from exc
        event.data = data
    if not isinstance(data, dict):
        raise InvalidRequestError(f"{where}: event {event['id']!r} data must be a JSON object")
    if event["type"] != STATUS_TICK:  # a tick belongs to no request
        origin_event_id(event)
    return event


def _message_of(container: object, where: str) -> Mapping[str, Any]:
    if not isinstance(container, Mapping) or not isinstance(container.get("message"), Mapping):
        raise InvalidRequestError(f"{where} has no 'message' object; expected {_EXPECTED_SHAPES}")
    message: Mapping[str, Any] = container["message"]
    return message


def _decode_message(message: Mapping[str, Any], where: str) -> CloudEvent:
    """Unwrap the CloudEvent inside a Pub/Sub message (camelCase or snake_case fields)."""
    message_id = str(message.get("messageId") or message.get("message_id") or "")
    label = f"{where} (message {message_id})" if message_id else where
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, Mapping):
        raise InvalidRequestError(f"{label}: 'attributes' must be an object")
    encoded = message.get("data") or ""
    if not isinstance(encoded, str):
        raise InvalidRequestError(f"{label}: 'data' must be a base64 string")
    try:
        payload = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequestError(f"{label}: 'data' is not valid base64") from exc
    inner = from_pubsub_message(payload, attributes, message_id=message_id)
    return _ours(inner, label)


def decode_push_envelope(body: Mapping[str, Any]) -> CloudEvent:
    """Decode a raw Pub/Sub push request body ``{"message": {...}, "subscription": ...}``.

    Raises:
        InvalidRequestError: not a push envelope, or it does not carry one of our events.
    """
    return _decode_message(_message_of(body, "Pub/Sub push envelope"), "Pub/Sub push envelope")


def decode_stage_input(event: CloudEvent | Mapping[str, Any]) -> CloudEvent:
    """Turn whatever a stage was handed into the kfp-triggers event it carries.

    Accepts (a) a ``google.cloud.pubsub.topic.v1.messagePublished`` CloudEvent (Eventarc, or
    functions-framework's conversion of a raw push) wrapping a structured- or binary-mode
    event; (b) a raw push envelope, as a mapping; (c) one of our events, delivered directly.

    Raises:
        InvalidRequestError: any other shape, naming the shapes that were expected.
    """
    if isinstance(event, CloudEvent):
        if event["type"] == PUBSUB_MESSAGE_PUBLISHED:
            data = event.data
            if isinstance(data, (bytes, str)):
                try:
                    data = json.loads(data)
                except ValueError:
                    data = None
            where = f"messagePublished event {event['id']!r}"
            return _decode_message(_message_of(data, where), where)
        return _ours(event, "stage input")
    if isinstance(event, Mapping):
        return decode_push_envelope(event)
    raise InvalidRequestError(f"unsupported stage input {type(event).__name__}; expected {_EXPECTED_SHAPES}")
