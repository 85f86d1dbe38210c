"""The inter-stage envelope: building events, every input shape a stage can get, trace context, payloads."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from kfp_triggers.errors import InvalidRequestError
from kfp_triggers.wire import events as ev
from kfp_triggers.wire.eventdata import (
    DATA_CLASSES,
    EventReceived,
    HttpRequestData,
    ObjectRef,
    RunCreated,
    RunRequested,
    RunState,
    StatusTick,
    TriggerMatched,
    expect_data,
    parse_event_data,
)
from kfp_triggers.wire.eventtypes import (
    ALL_TOPICS,
    EVENT_RECEIVED,
    EVENT_TYPES,
    RUN_CREATED,
    STATUS_TICK,
    TOPICS,
    TRIGGER_MATCHED,
    topic_for,
)
from kfp_triggers.wire.tracecontext import (
    child_traceparent,
    is_valid_traceparent,
    new_traceparent,
    parse_traceparent,
)

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
LISTENER = ObjectRef("ci", "github-listener")
TRIGGER = ObjectRef("ci", "train-on-push")
REQUEST = HttpRequestData(
    method="POST",
    url="/hooks?x=1",
    headers={"X-Github-Event": ["push"], "Accept": ["a", "b"]},
    body=b'{"ref": "refs/heads/main"}\xff\x00',
)

SAMPLES: list[Any] = [
    EventReceived("d-1", LISTENER, REQUEST, "2026-01-02T03:04:05Z"),
    TriggerMatched(
        "d-1", LISTENER, TRIGGER, "grp", REQUEST, {"ext": {"a": [1, 2]}}, [{"interceptor": "cel"}]
    ),
    TriggerMatched("d-1", LISTENER, TRIGGER, None, REQUEST),
    RunRequested("d-1", LISTENER, TRIGGER, "key-1", "uid-1", {"sha": "abc", "n": 3}, [{"kind": "Run"}]),
    RunCreated("d-1", "key-1", "run-9", "local", "PENDING", "http://kfp/#/runs/details/run-9"),
    RunCreated("d-1", "key-1", "run-9", "local", "PENDING"),
    RunState("d-1", "run-9", "kfp", "SUCCEEDED", "RUNNING", None, TRIGGER, LISTENER),
    StatusTick("2026-01-02T03:04:05Z"),
    StatusTick(),
]


def matched_event(**overrides: Any) -> ev.CloudEvent:
    payload = TriggerMatched("d-1", LISTENER, TRIGGER, None, REQUEST, {"k": "v"})
    return ev.event_for(payload, source="//kfp-triggers/intercept", traceparent=PARENT, **overrides)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def structured_message(event: ev.CloudEvent, *, snake: bool = False) -> dict[str, Any]:
    data, attributes = ev.to_pubsub_message(event)
    id_key, time_key = ("message_id", "publish_time") if snake else ("messageId", "publishTime")
    return {"data": b64(data), "attributes": attributes, id_key: "m-42", time_key: "2026-01-01T00:00:00Z"}


def binary_message(event: ev.CloudEvent) -> dict[str, Any]:
    headers, body = ev.to_http_binary(event)
    return {"data": b64(body), "attributes": headers, "messageId": "m-43"}


def published(message: dict[str, Any], *, subscription: bool = True, as_text: bool = False) -> ev.CloudEvent:
    data: dict[str, Any] = {"message": message}
    if subscription:
        data["subscription"] = "projects/p/subscriptions/s"
    attrs = {"type": ev.PUBSUB_MESSAGE_PUBLISHED, "source": "//pubsub.googleapis.com/projects/p/topics/t"}
    return ev.CloudEvent(attrs, json.dumps(data) if as_text else data)


# --- event types and topics -----------------------------------------------------------------------


def test_every_hop_type_has_a_topic_and_a_dead_letter_topic() -> None:
    assert {topic_for(t) for t in EVENT_TYPES} == set(TOPICS)
    assert set(TOPICS) == {"kfpt-events", "kfpt-matched", "kfpt-launch", "kfpt-runs", "kfpt-run-states"}
    assert {t + "-dead-letter" for t in TOPICS} <= set(ALL_TOPICS)
    assert all(t.startswith("dev.kfptriggers.") and t.endswith(".v1") for t in EVENT_TYPES)
    with pytest.raises(KeyError, match="not a kfp-triggers event type"):
        topic_for("com.example.other")


# --- trace context --------------------------------------------------------------------------------


def test_new_traceparent_is_valid_and_random() -> None:
    first, second = new_traceparent(), new_traceparent()
    assert is_valid_traceparent(first) and is_valid_traceparent(second)
    assert first != second
    assert first.startswith("00-") and first.endswith("-01")
    assert new_traceparent(sampled=False).endswith("-00")


def test_child_keeps_trace_id_and_flags_and_gets_a_new_span() -> None:
    child = parse_traceparent(child_traceparent(PARENT))
    parent = parse_traceparent(PARENT)
    assert child.trace_id == parent.trace_id
    assert child.parent_id != parent.parent_id
    assert child.flags == "01" and child.sampled
    unsampled = PARENT[:-2] + "00"
    assert child_traceparent(unsampled).endswith("-00")


def test_child_of_a_future_version_is_written_as_version_00_with_known_flags_only() -> None:
    future = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff-what-ever"
    child = child_traceparent(future)
    assert child.startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-")
    assert child.endswith("-03")


@pytest.mark.parametrize("parent", [None, "", "garbage", "00-" + "0" * 32 + "-00f067aa0ba902b7-01"])
def test_child_of_a_missing_or_invalid_parent_starts_a_new_trace(parent: str | None) -> None:
    child = child_traceparent(parent)
    assert is_valid_traceparent(child)
    assert "4bf92f3577b34da6a3ce929d0e0e4736" not in child


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "expected 00-"),
        ("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "version ff"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", "exactly four fields"),
        ("00-" + "0" * 32 + "-00f067aa0ba902b7-01", "trace id is all zeros"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-" + "0" * 16 + "-01", "parent id is all zeros"),
        ("00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", "expected 00-"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1", "expected 00-"),
        ("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.x", "expected 00-"),
    ],
)
def test_invalid_traceparents_are_rejected_with_the_rule_they_break(value: str, reason: str) -> None:
    assert not is_valid_traceparent(value)
    with pytest.raises(InvalidRequestError, match=reason):
        parse_traceparent(value)


def test_future_version_with_extra_fields_is_valid() -> None:
    parsed = parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more")
    assert parsed.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"


# --- building events ------------------------------------------------------------------------------


def test_new_event_sets_ids_extensions_and_a_child_traceparent() -> None:
    event = matched_event(subject="refs/heads/main")
    assert event["type"] == TRIGGER_MATCHED
    assert event["id"] == "d-1/ci/train-on-push"
    assert event["source"] == "//kfp-triggers/intercept"
    assert event["subject"] == "refs/heads/main"
    assert event["datacontenttype"] == "application/json"
    assert ev.origin_event_id(event) == "d-1"
    trace = ev.traceparent_of(event)
    assert trace is not None
    assert parse_traceparent(trace).trace_id == parse_traceparent(PARENT).trace_id
    assert trace != PARENT


def test_new_event_without_parent_or_subject() -> None:
    event = ev.new_event(
        EVENT_RECEIVED,
        SAMPLES[0].to_data(),
        event_id="d-1",
        source="//kfp-triggers/ingest",
        subject=None,
        origin_event_id="d-1",
        traceparent=None,
    )
    assert "subject" not in event
    assert is_valid_traceparent(event["traceparent"])


def test_message_ids_are_deterministic_per_hop() -> None:
    assert matched_event()["id"] == matched_event()["id"]
    ids = {payload.message_id() for payload in SAMPLES[:7]}
    assert "d-1" in ids and "d-1/ci/train-on-push" in ids and "d-1/key-1" in ids
    assert "d-1/run-9/RUNNING/SUCCEEDED" in ids
    assert StatusTick("t0").message_id() == "tick/t0"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"type_": "com.example.other"}, "not a kfp-triggers event type"),
        ({"event_id": ""}, "event id must be"),
        ({"event_id": "has space"}, "event id must be"),
        ({"origin_event_id": "ünïcode"}, "origin event id must be"),
        ({"data": {"eventID": "d-1"}}, "'listener' must be a JSON object"),
    ],
)
def test_new_event_rejects_bad_input(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {
        "type_": EVENT_RECEIVED,
        "data": SAMPLES[0].to_data(),
        "event_id": "d-1",
        "source": "s",
        "subject": None,
        "origin_event_id": "d-1",
        "traceparent": None,
    }
    args.update(kwargs)
    with pytest.raises(InvalidRequestError, match=message):
        ev.new_event(args.pop("type_"), args.pop("data"), **args)


# --- payloads -------------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", SAMPLES, ids=lambda p: type(p).__name__)
def test_payloads_round_trip_through_json(payload: Any) -> None:
    wire = json.loads(json.dumps(payload.to_data()))
    again = type(payload).from_data(wire)
    assert again == payload
    assert parse_event_data(payload.TYPE, wire) == payload
    assert DATA_CLASSES[payload.TYPE] is type(payload)


def test_wire_keys_match_the_documented_shapes() -> None:
    assert set(SAMPLES[0].to_data()) == {"eventID", "listener", "request", "receivedAt"}
    assert set(SAMPLES[0].to_data()["request"]) == {"method", "url", "headers", "bodyBase64"}
    assert set(SAMPLES[1].to_data()) == {
        "eventID", "listener", "trigger", "group", "request", "extensions", "decisions", "origin",
        "receivedAt",
    }  # fmt: skip
    assert set(SAMPLES[3].to_data()) == {
        "eventID", "listener", "trigger", "idempotencyKey", "uid", "params", "resources", "origin",
        "receivedAt",
    }  # fmt: skip
    assert set(SAMPLES[4].to_data()) == {"eventID", "idempotencyKey", "runID", "backend", "state", "runURL"}
    assert set(SAMPLES[6].to_data()) == {
        "eventID", "runID", "backend", "state", "previousState", "runURL", "trigger", "listener", "outputs",
    }  # fmt: skip
    assert SAMPLES[0].to_data()["request"]["bodyBase64"] == b64(REQUEST.body)


def test_to_data_returns_copies() -> None:
    payload = SAMPLES[1]
    data = payload.to_data()
    data["extensions"]["ext"]["a"].append(3)
    assert payload.extensions == {"ext": {"a": [1, 2]}}


@pytest.mark.parametrize(
    ("cls", "change", "message"),
    [
        (EventReceived, {"eventID": 7}, "'eventID' must be a non-empty string, got int"),
        (EventReceived, {"listener": {"namespace": "ci"}}, "'listener'.*'name' must be a non-empty string"),
        (EventReceived, {"request": None}, "'request': expected a JSON object, got NoneType"),
        (EventReceived, {"receivedAt": ""}, "'receivedAt' must be a non-empty string"),
        (TriggerMatched, {"group": 3}, "'group' must be a string or null"),
        (TriggerMatched, {"extensions": []}, "'extensions' must be a JSON object"),
        (TriggerMatched, {"decisions": ["x"]}, "'decisions' must be a list of JSON objects"),
        (RunRequested, {"params": "a=b"}, "'params' must be a JSON object"),
        (RunRequested, {"resources": {}}, "'resources' must be a list of JSON objects"),
        (RunCreated, {"runURL": 1}, "'runURL' must be a string or null"),
        (RunState, {"trigger": "ci/t"}, "'trigger': expected a JSON object, got str"),
    ],
)
def test_malformed_payloads_name_the_field(cls: Any, change: dict[str, Any], message: str) -> None:
    base = next(p for p in SAMPLES if isinstance(p, cls)).to_data()
    base.update(change)
    with pytest.raises(InvalidRequestError, match=message):
        cls.from_data(base)


@pytest.mark.parametrize(
    ("request_data", "message"),
    [
        ({"headers": {"A": "single"}}, "'headers' must be an object of header name -> list of strings"),
        ({"bodyBase64": "not base64!"}, "'bodyBase64' is not valid base64"),
        ({"method": ""}, "'method' must be a non-empty string"),
    ],
)
def test_malformed_request_parts_are_rejected(request_data: dict[str, Any], message: str) -> None:
    data = SAMPLES[0].to_data()
    data["request"].update(request_data)
    with pytest.raises(InvalidRequestError, match=message):
        EventReceived.from_data(data)


def test_payload_of_the_wrong_kind_is_rejected() -> None:
    with pytest.raises(InvalidRequestError, match="expected a JSON object, got list"):
        RunCreated.from_data([1])
    with pytest.raises(InvalidRequestError, match="not a kfp-triggers event type"):
        parse_event_data("com.example", {})
    with pytest.raises(InvalidRequestError, match=f"expected an event of type {RUN_CREATED}"):
        expect_data(RunCreated, EVENT_RECEIVED, SAMPLES[4].to_data())
    assert expect_data(RunCreated, RUN_CREATED, SAMPLES[4].to_data()) == SAMPLES[4]


# --- wire formats ---------------------------------------------------------------------------------


def test_pubsub_mode_is_structured() -> None:
    event = matched_event()
    data, attributes = ev.to_pubsub_message(event)
    assert attributes == {"content-type": "application/cloudevents+json; charset=utf-8"}
    body = json.loads(data)
    assert body["specversion"] == "1.0" and body["id"] == event["id"]
    assert body["kfpteventid"] == "d-1" and body["data"] == event.data
    assert ev.from_pubsub_message(data, attributes) == event


def test_http_binary_mode_headers_and_body() -> None:
    event = matched_event()
    headers, body = ev.to_http_binary(event)
    assert headers["ce-id"] == "d-1/ci/train-on-push"
    assert headers["ce-type"] == TRIGGER_MATCHED
    assert headers["ce-specversion"] == "1.0"
    assert headers["ce-kfpteventid"] == "d-1"
    assert headers["ce-traceparent"] == event["traceparent"]
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == event.data


def test_from_http_request_reads_binary_and_structured() -> None:
    event = matched_event()
    assert ev.from_http_request(*ev.to_http_binary(event)) == event
    data, _ = ev.to_pubsub_message(event)
    assert ev.from_http_request({"Content-Type": "application/cloudevents+json"}, data) == event
    raw = ev.from_http_request(
        {"ce-specversion": "1.0", "ce-type": "t", "ce-source": "s", "ce-id": "1"}, b"{}"
    )
    assert raw.data == {}
    kept = ev.from_http_request(
        {"ce-specversion": "1.0", "ce-type": "t", "ce-source": "s", "ce-id": "1"}, b'{"a": 1}', raw_data=True
    )
    assert kept.data == b'{"a": 1}'


@pytest.mark.parametrize(
    ("headers", "body", "message"),
    [
        ({"Content-Type": "application/json"}, b'{"a": 1}', "specversion"),
        ({"Content-Type": "application/cloudevents+json"}, b"[1]", "specversion"),
        ({"ce-specversion": "0.1", "ce-type": "t", "ce-source": "s", "ce-id": "1"}, b"", "specversion"),
        ({"ce-specversion": "1.0", "ce-id": "1"}, b"", "binary-mode CloudEvent lacks ce-type, ce-source"),
    ],
)
def test_from_http_request_rejects_non_cloudevents(
    headers: dict[str, str], body: bytes, message: str
) -> None:
    with pytest.raises(InvalidRequestError, match=f"not a valid CloudEvent.*{message}"):
        ev.from_http_request(headers, body)


# --- decode_stage_input: the three shapes ---------------------------------------------------------


@pytest.mark.parametrize("snake", [False, True], ids=["camelCase", "snake_case"])
@pytest.mark.parametrize("subscription", [True, False], ids=["eventarc", "ff-converted-push"])
def test_message_published_with_structured_event(snake: bool, subscription: bool) -> None:
    event = matched_event()
    decoded = ev.decode_stage_input(
        published(structured_message(event, snake=snake), subscription=subscription)
    )
    assert decoded == event
    assert ev.read_data(decoded) == TriggerMatched("d-1", LISTENER, TRIGGER, None, REQUEST, {"k": "v"})


def test_message_published_with_binary_mode_attributes() -> None:
    event = matched_event()
    assert ev.decode_stage_input(published(binary_message(event))) == event


def test_message_published_whose_data_arrived_as_json_text() -> None:
    event = matched_event()
    assert ev.decode_stage_input(published(structured_message(event), as_text=True)) == event


def test_structured_payload_without_attributes_is_accepted() -> None:
    event = matched_event()
    message = structured_message(event)
    del message["attributes"]
    assert ev.decode_stage_input(published(message)) == event


@pytest.mark.parametrize("snake", [False, True], ids=["camelCase", "snake_case"])
def test_raw_push_envelope_as_a_mapping(snake: bool) -> None:
    event = matched_event()
    body = {"message": structured_message(event, snake=snake), "subscription": "projects/p/subscriptions/s"}
    assert ev.decode_stage_input(body) == event
    assert ev.decode_push_envelope(body) == event


def test_direct_events_from_a_broker_in_binary_and_structured_mode() -> None:
    event = matched_event()
    binary = ev.from_http_request(*ev.to_http_binary(event))
    data, _ = ev.to_pubsub_message(event)
    structured = ev.from_http_request({"content-type": "application/cloudevents+json"}, data)
    assert ev.decode_stage_input(binary) == event
    assert ev.decode_stage_input(structured) == event


def test_a_tick_needs_no_origin_event_id() -> None:
    tick = ev.CloudEvent({"type": STATUS_TICK, "source": "//scheduler", "id": "t1"}, {"tickAt": None})
    assert ev.decode_stage_input(tick) is tick


@pytest.mark.parametrize("snake", [False, True], ids=["camelCase", "snake_case"])
def test_errors_name_the_pubsub_message_id_in_either_spelling(snake: bool) -> None:
    message = {("message_id" if snake else "messageId"): "m-77", "data": b64(b'{"not": "an event"}')}
    with pytest.raises(InvalidRequestError, match=r"message m-77.*carries no CloudEvent.*content-type"):
        ev.decode_stage_input(published(message))


def foreign_event() -> ev.CloudEvent:
    return ev.CloudEvent({"type": "com.github.push", "source": "//github.com/acme/repo", "id": "1"}, {"a": 1})


def without_extension(event: ev.CloudEvent) -> ev.CloudEvent:
    del event["kfpteventid"]
    return event


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (
            foreign_event,
            "unexpected event type 'com.github.push'; expected a kfp-triggers CloudEvent",
        ),
        (lambda: without_extension(matched_event()), "has no kfpteventid extension"),
        (
            lambda: ev.CloudEvent({"type": TRIGGER_MATCHED, "source": "s", "kfpteventid": "d"}, [1]),
            "JSON object",
        ),
        (
            lambda: ev.CloudEvent({"type": TRIGGER_MATCHED, "source": "s", "kfpteventid": "d"}, b"x"),
            "non-JSON",
        ),
        (lambda: published({"data": "%%%"}), "'data' is not valid base64"),
        (lambda: published({"data": 5}), "'data' must be a base64 string"),
        (lambda: published({"data": "", "attributes": ["x"]}), "'attributes' must be an object"),
        (
            lambda: ev.CloudEvent({"type": ev.PUBSUB_MESSAGE_PUBLISHED, "source": "s"}, {"msg": {}}),
            "no 'message'",
        ),
        (
            lambda: ev.CloudEvent({"type": ev.PUBSUB_MESSAGE_PUBLISHED, "source": "s"}, "not json"),
            "no 'message'",
        ),
        (lambda: {"subscription": "s"}, "Pub/Sub push envelope has no 'message' object"),
        (lambda: published(structured_message(foreign_event())), "unexpected event type 'com.github.push'"),
        (
            lambda: published(structured_message(without_extension(matched_event()))),
            "has no kfpteventid extension",
        ),
        (
            lambda: published({"data": b64(b"{oops"), "attributes": {"content-type": ev.CLOUDEVENTS_JSON}}),
            "holds a malformed CloudEvent",
        ),
        (
            lambda: published({"data": b64(b"x"), "attributes": {"ce-type": TRIGGER_MATCHED}}),
            "binary-mode CloudEvent lacks ce-specversion, ce-source, ce-id",
        ),
        (
            lambda: published(
                {
                    "data": "",
                    "attributes": {"ce-specversion": "9.9", "ce-type": "t", "ce-source": "s", "ce-id": "1"},
                }
            ),
            "holds a malformed CloudEvent",
        ),
        (lambda: 42, "unsupported stage input int"),
    ],
)
def test_anything_else_is_rejected_with_the_expected_shapes(given: Any, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        ev.decode_stage_input(given())


def test_events_module_re_exports_the_contract() -> None:
    from kfp_triggers.wire import eventdata, eventtypes, tracecontext

    assert ev.TriggerMatched is eventdata.TriggerMatched
    assert ev.EVENT_RECEIVED == eventtypes.EVENT_RECEIVED and ev.HOPS is eventtypes.HOPS
    assert ev.new_traceparent is tracecontext.new_traceparent
    assert all(hasattr(ev, name) for name in ev.__all__)


def test_event_received_writes_the_same_payload_as_the_generic_writer() -> None:
    from kfp_triggers.wire.eventdata import _Payload

    assert SAMPLES[0].to_data() == _Payload.to_data(SAMPLES[0])
