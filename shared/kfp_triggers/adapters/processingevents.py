"""Tekton's trigger-processing CloudEvents, posted to an EventListener's ``spec.cloudEventURI``.

A Tekton EventListener with ``cloudEventURI`` posts, in binary mode, an event of type
``dev.tekton.event.triggers.started.v1`` when a request comes in, ``...successful.v1`` for each
trigger whose resources it created, ``...failed.v1`` when it cannot process the request at all,
and ``...done.v1`` once it has answered. Every one has the request's eventID as ``id``, the
subject ``<listener> processing <eventID>``, the source
``/apis/triggers.tekton.dev/v1beta1/namespaces/<namespace>/EventListener/<listener>``, and as data
the request's headers as JSON (``null`` for ``done``), credentials redacted (see
:data:`kfp_triggers.tekton.headers.CREDENTIAL_HEADERS`). Sending is best effort, as in Tekton: a few
quick retries, then a warning; processing never waits on or fails for the receiver.

Here the intercept stage sends ``started``, ``done`` and ``failed`` (it is where processing of
the request begins and ends), and the launch stage ``successful`` once the run exists. A stage
delivered twice sends its events twice; receivers can recognise them by ``id`` and ``type``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence

from kfp_triggers.adapters.transports.http import post_binary
from kfp_triggers.config import EventListener
from kfp_triggers.errors import KfptError
from kfp_triggers.golang.json import GoJsonError, marshal
from kfp_triggers.tekton.headers import without_credentials

log = logging.getLogger(__name__)

STARTED = "dev.tekton.event.triggers.started.v1"
SUCCESSFUL = "dev.tekton.event.triggers.successful.v1"
FAILED = "dev.tekton.event.triggers.failed.v1"
DONE = "dev.tekton.event.triggers.done.v1"

ATTEMPTS = 3
TIMEOUT_S = 2.0  # per attempt: a stage waits at most ATTEMPTS x this on a receiver that hangs


def processing_request(
    listener: EventListener, event_id: str, event_type: str, headers: Mapping[str, Sequence[str]] | None
) -> tuple[dict[str, str], bytes]:
    """The binary-mode HTTP request (headers, body) Tekton's sink posts for one processing event."""
    try:
        # Tekton sends the credentials on with the rest; here the receiver gets them redacted.
        body = marshal(None if headers is None else without_credentials(headers))
    except GoJsonError:
        body = "null"
    source = (
        f"/apis/triggers.tekton.dev/v1beta1/namespaces/{listener.namespace}/EventListener/{listener.name}"
    )
    return {
        "Ce-Specversion": "1.0",
        "Ce-Id": event_id,
        "Ce-Type": event_type,
        "Ce-Source": source,
        "Ce-Subject": f"{listener.name} processing {event_id}",
        "Content-Type": "application/json",
    }, body.encode("utf-8")


def send(
    listener: EventListener,
    event_id: str,
    event_type: str,
    headers: Mapping[str, Sequence[str]] | None,
    *,
    attempts: int = ATTEMPTS,
    timeout_s: float = TIMEOUT_S,
) -> bool:
    """Post one processing event when the listener has a ``cloudEventURI``; True once it was taken.

    Never raises: a receiver that fails after ``attempts`` tries (10 ms, 20 ms, ... apart) is
    logged and left alone.
    """
    uri = listener.cloud_event_uri
    if not uri:
        return False
    request_headers, body = processing_request(listener, event_id, event_type, headers)
    problem = ""
    for attempt in range(attempts):
        if attempt:
            time.sleep(0.01 * 2 ** (attempt - 1))
        try:
            post_binary(uri, request_headers, body, timeout_s, what=f"{event_type} {event_id!r}")
        except KfptError as exc:  # TransportError, MessageTooLargeError
            problem = str(exc)
            continue
        return True
    log.warning("listener %s: processing event not delivered: %s", listener.name, problem)
    return False
