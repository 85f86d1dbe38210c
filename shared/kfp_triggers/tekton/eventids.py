"""The eventID of an incoming request: the id its sender defines for one delivery, else a new one.

A redelivery must get the same eventID as the first delivery (so it launches nothing new), and two
different events must never share one. Only the sender's own delivery id does both, and which
header carries it depends on the sender, so the id is taken by sender type, never from whatever
id-like header comes first:

========================  =======================================================================
sender (recognised by)    eventID
========================  =======================================================================
GitHub                    ``X-GitHub-Delivery``
GitLab (X-Gitlab-Event)   ``Idempotency-Key`` (kept across GitLab's retries), else ``X-Gitlab-Event-UUID``
Bitbucket (X-Event-Key)   Cloud's ``X-Request-UUID``, else Server / Data Center's ``X-Request-Id``
CloudEvent                a UUID derived from the event's ``source`` and ``id`` (binary ``Ce-*``
                          headers, or the attributes of a structured-mode body)
anything else             the ``Idempotency-Key`` header when present, else a new UUID
========================  =======================================================================

``X-Request-Id`` is only believed from Bitbucket: proxies (Envoy, Istio, Knative's ingress) add a
fresh one to every request they forward, which would turn each redelivery into a new event.
CloudEvents promises that ``source`` + ``id`` is unique, not ``id`` alone, so two sources sending
the same ``id`` must not suppress each other's runs: both attributes go into the eventID.

An id that is not a plain token (letters, digits, ``._:-``, at most 128 characters) is replaced by a
UUID derived from it, so hostile header values never reach paths, document ids or logs as written.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping

from kfp_triggers.tekton.headers import first

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_ID_NAMESPACE = uuid.UUID("5a7e7e1d-3c1b-4f57-9a55-6b1f0e7c2d10")
_CLOUDEVENT_NAMESPACE = uuid.UUID("c0d1e7a4-9b5e-4b1f-8f0a-3e6d2c9b7a41")
_STRUCTURED = "application/cloudevents+json"
_MAX_STRUCTURED_BYTES = 1024 * 1024
"""A structured CloudEvent larger than this is not parsed for its id (the body check comes later)."""

Headers = Mapping[str, list[str]]


def event_id_for(headers: Headers, body: bytes = b"") -> str:
    """The eventID for a request with these headers and body (see the module's table)."""
    delivery = sender_delivery_id(headers)
    if delivery:
        return safe_id(delivery)
    source_and_id = cloudevent_source_and_id(headers, body)
    if source_and_id is not None:
        source, event_id = source_and_id
        return str(uuid.uuid5(_CLOUDEVENT_NAMESPACE, f"{source}\n{event_id}"))
    generic = first(headers, "Idempotency-Key").strip()
    return safe_id(generic) if generic else str(uuid.uuid4())


def sender_delivery_id(headers: Headers) -> str:
    """The delivery id of a GitHub, GitLab or Bitbucket webhook; ``""`` for any other request."""
    github = first(headers, "X-Github-Delivery").strip()
    if github:
        return github
    if first(headers, "X-Gitlab-Event"):
        return (first(headers, "Idempotency-Key") or first(headers, "X-Gitlab-Event-Uuid")).strip()
    if first(headers, "X-Event-Key"):
        return (first(headers, "X-Request-Uuid") or first(headers, "X-Request-Id")).strip()
    return ""


def cloudevent_source_and_id(headers: Headers, body: bytes) -> tuple[str, str] | None:
    """``(source, id)`` of a CloudEvent request (binary or structured mode), else ``None``."""
    ce_id = first(headers, "Ce-Id").strip()
    if ce_id:
        return first(headers, "Ce-Source").strip(), ce_id
    content_type = first(headers, "Content-Type").strip().lower()
    if not content_type.startswith(_STRUCTURED) or len(body) > _MAX_STRUCTURED_BYTES:
        return None
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # a body nested past Python's stack: not one we can read
        return None
    if not isinstance(document, dict):
        return None
    event_id, source = document.get("id"), document.get("source")
    if not isinstance(event_id, str) or not event_id.strip():
        return None
    return (source if isinstance(source, str) else ""), event_id.strip()


def cloudevent_type(headers: Headers, body: bytes) -> str:
    """The ``type`` a CloudEvent request claims (binary or structured mode), else ``""``."""
    claimed = first(headers, "Ce-Type").strip()
    if claimed:
        return claimed
    content_type = first(headers, "Content-Type").strip().lower()
    if not content_type.startswith(_STRUCTURED) or len(body) > _MAX_STRUCTURED_BYTES:
        return ""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # a body nested past Python's stack: not one we can read
        return ""
    found = document.get("type") if isinstance(document, dict) else None
    return found.strip() if isinstance(found, str) else ""


def safe_id(value: str) -> str:
    """``value`` itself when it is a plain token, else a UUID derived from it."""
    return value if _SAFE_ID.match(value) else str(uuid.uuid5(_ID_NAMESPACE, value))
