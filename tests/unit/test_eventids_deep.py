"""A structured CloudEvent nested deeper than Python's stack is read as no CloudEvent, never a crash."""

from __future__ import annotations

from kfp_triggers.tekton.eventids import cloudevent_source_and_id, cloudevent_type

DEEP = b'{"type": "x", "id": "1", "data": ' + b"[" * 5000 + b"]" * 5000 + b"}"
HEADERS = {"Content-Type": ["application/cloudevents+json"]}


def test_a_deep_structured_event_has_no_type_or_id_rather_than_an_error() -> None:
    assert cloudevent_type(HEADERS, DEEP) == ""
    assert cloudevent_source_and_id(HEADERS, DEEP) is None
    shallow = b'{"type": "dev.example.ping", "id": "1", "source": "//s", "data": [[1]]}'
    assert cloudevent_type(HEADERS, shallow) == "dev.example.ping"
