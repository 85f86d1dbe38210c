"""The baseline chain: five functions that only hand each webhook on, as the real stages are chained.

Served by the same functions-framework command as the real functions, on the same topics, fed by
the same push delivery, one target per stage:

* ``hello_ingest`` (HTTP) publishes the webhook's body, keyed by its ``X-GitHub-Delivery`` id;
* ``hello_intercept`` and ``hello_render`` (CloudEvent) republish the pushed message unchanged;
* ``hello_launch`` creates one KFP run for it, with the description footer the benchmark reads its
  event back from, then republishes it;
* ``hello_status`` republishes it, as the status stage publishes a run's state.

They read no configuration, check no signature, keep no state and import nothing of the engine:
the difference between this chain and the real one is what the real stages themselves cost.
Publishing is one ``POST .../topics/<topic>:publish`` on Pub/Sub's REST API per hop, from one
pooled HTTP client per process, as the real stages publish. Settings come from the environment:
``HELLO_PUBSUB`` (the emulator's ``host:port``), ``HELLO_PROJECT``, ``HELLO_NEXT_TOPIC``, and for
launch ``HELLO_KFP`` (the KFP API's base URL) and ``HELLO_MARKER_PREFIX``.
"""

import base64
import hashlib
import json
import os
from typing import Any

import flask
import functions_framework
import urllib3

_HTTP = urllib3.PoolManager(maxsize=16, retries=False, timeout=urllib3.Timeout(connect=5.0, read=30.0))
_RUNS_PATH = "/apis/v2beta1/runs"


def _publish(data: str, attributes: dict[str, str]) -> None:
    """Publish one message (``data`` already base64) on ``HELLO_NEXT_TOPIC``; raise unless it was accepted."""
    url = (
        f"http://{os.environ['HELLO_PUBSUB']}/v1/projects/{os.environ['HELLO_PROJECT']}"
        f"/topics/{os.environ['HELLO_NEXT_TOPIC']}:publish"
    )
    body = json.dumps({"messages": [{"data": data, "attributes": attributes}]}).encode()
    answer = _HTTP.request("POST", url, body=body, headers={"Content-Type": "application/json"})
    if answer.status != 200:
        raise RuntimeError(f"publish answered {answer.status}")


def _message(event: Any) -> dict[str, Any]:
    """The Pub/Sub message a push carried (functions-framework wraps it as ``messagePublished``)."""
    message: dict[str, Any] = event.data["message"]
    return message


@functions_framework.http
def hello_ingest(request: flask.Request) -> tuple[str, int]:
    """Publish the webhook's body, keyed by its delivery id; 202 as ingest answers (``GET /live``: ok)."""
    if request.method == "GET" and request.path == "/live":
        return "ok", 200
    event_id = request.headers.get("X-GitHub-Delivery", "")
    _publish(base64.b64encode(request.get_data()).decode(), {"event_id": event_id})
    return "", 202


def _hand_on(event: Any) -> None:
    message = _message(event)
    _publish(message["data"], dict(message.get("attributes") or {}))


@functions_framework.cloud_event
def hello_intercept(event: Any) -> None:
    """Republish the pushed message unchanged."""
    _hand_on(event)


@functions_framework.cloud_event
def hello_render(event: Any) -> None:
    """Republish the pushed message unchanged."""
    _hand_on(event)


@functions_framework.cloud_event
def hello_launch(event: Any) -> None:
    """Create one KFP run for the pushed event, then republish the message."""
    message = _message(event)
    attributes = dict(message.get("attributes") or {})
    event_id = attributes["event_id"]
    marker = os.environ["HELLO_MARKER_PREFIX"] + hashlib.sha256(event_id.encode()).hexdigest()[:16]
    run = {
        "display_name": f"hello-{event_id[:8]}",
        "pipeline_spec": {},
        "runtime_config": {"parameters": {}},
        "description": f"kfp-triggers: event {event_id}, {marker}",
    }
    answer = _HTTP.request(
        "POST",
        os.environ["HELLO_KFP"] + _RUNS_PATH,
        body=json.dumps(run).encode(),
        headers={"Content-Type": "application/json"},
    )
    if answer.status != 200:
        raise RuntimeError(f"create answered {answer.status}")
    _publish(message["data"], attributes)


@functions_framework.cloud_event
def hello_status(event: Any) -> None:
    """Republish the pushed message unchanged."""
    _hand_on(event)
