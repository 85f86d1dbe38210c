"""What one event is: the id its sender defines for a delivery, never a header a proxy adds.

Attacks and accidents reproduced here:

* a proxy (Envoy, Istio, Knative's ingress) adds a fresh ``X-Request-Id`` to every request it
  forwards: a broker's redelivery of one CloudEvent must keep its eventID, or it launches again;
* two CloudEvent sources may both send ``id: 1`` (CloudEvents only promises that source + id is
  unique): their events must not share an eventID, or one suppresses the other's runs.
"""

from __future__ import annotations

import json

from kfp_triggers.golang.textproto import canonical_header_key
from kfp_triggers.tekton.eventids import event_id_for


def headers(**values: str) -> dict[str, list[str]]:
    """Header maps as the edges build them: canonical names, list values."""
    return {canonical_header_key(name.replace("_", "-")): [value] for name, value in values.items()}


def test_a_proxy_request_id_does_not_make_a_cloudevent_redelivery_a_new_event() -> None:
    first = event_id_for(headers(Ce_Id="42", Ce_Source="/broker/a", X_Request_Id="proxy-1"))
    again = event_id_for(headers(Ce_Id="42", Ce_Source="/broker/a", X_Request_Id="proxy-2"))
    assert first == again


def test_a_proxy_request_id_is_not_the_id_of_a_plain_webhook() -> None:
    one = event_id_for(headers(Content_Type="application/json", X_Request_Id="proxy-1"))
    two = event_id_for(headers(Content_Type="application/json", X_Request_Id="proxy-1"))
    assert one != two  # no id the sender vouches for: each request is its own event
    assert "proxy-1" not in (one, two)


def test_two_cloudevent_sources_with_one_id_are_two_events() -> None:
    a = event_id_for(headers(Ce_Id="1", Ce_Source="/sources/a"))
    b = event_id_for(headers(Ce_Id="1", Ce_Source="/sources/b"))
    assert a != b
    assert a == event_id_for(headers(Ce_Id="1", Ce_Source="/sources/a"))


def test_a_structured_cloudevent_is_identified_by_its_source_and_id_attributes() -> None:
    def structured(source: str, event_id: str) -> str:
        body = json.dumps({"specversion": "1.0", "id": event_id, "source": source, "type": "t"}).encode()
        return event_id_for(headers(Content_Type="application/cloudevents+json; charset=utf-8"), body)

    assert structured("/a", "1") == structured("/a", "1")
    assert structured("/a", "1") != structured("/b", "1")
    # The same event in binary and structured mode is the same event.
    assert structured("/a", "1") == event_id_for(headers(Ce_Id="1", Ce_Source="/a"))


def test_scm_senders_keep_their_own_delivery_ids() -> None:
    assert event_id_for(headers(X_GitHub_Delivery="d-1", X_Request_Id="proxy")) == "d-1"
    gitlab = headers(X_Gitlab_Event="Push Hook", Idempotency_Key="k-1", X_Gitlab_Event_UUID="u-1")
    assert event_id_for(gitlab) == "k-1"
    assert event_id_for(headers(X_Gitlab_Event="Push Hook", X_Gitlab_Event_UUID="u-1")) == "u-1"
    cloud = headers(X_Event_Key="repo:push", X_Request_UUID="c-1", X_Request_Id="proxy")
    assert event_id_for(cloud) == "c-1"
    assert event_id_for(headers(X_Event_Key="repo:refs_changed", X_Request_Id="s-1")) == "s-1"


def test_a_hostile_delivery_id_is_replaced_by_a_derived_uuid() -> None:
    hostile = event_id_for(headers(X_GitHub_Delivery="../../etc/passwd"))
    assert "/" not in hostile
    assert hostile == event_id_for(headers(X_GitHub_Delivery="../../etc/passwd"))
