"""A CloudEvent function served by functions-framework in the emulator tests.

It decodes what Pub/Sub pushes (functions-framework turns the raw push into a
``messagePublished`` CloudEvent) with the product's decoder and appends one JSON line per
delivery to ``$RECORD_FILE``. The first delivery of an event whose ``kfpteventid`` starts with
``fail-once`` raises, so the test can watch Pub/Sub redeliver it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import functions_framework

from kfp_triggers.wire import events


@functions_framework.cloud_event
def record(cloud_event: Any) -> None:
    """Record the decoded event; fail the first delivery of ``fail-once*`` events."""
    decoded = events.decode_stage_input(cloud_event)
    data, _ = events.to_pubsub_message(decoded)
    path = Path(os.environ["RECORD_FILE"])
    lines = path.read_text().splitlines() if path.exists() else []
    seen = sum(1 for text in lines if json.loads(text)["id"] == decoded["id"])
    line = {
        "id": decoded["id"],
        "outerType": cloud_event["type"],
        "outerSource": cloud_event["source"],
        "event": data.decode("utf-8"),
        "delivery": seen + 1,
    }
    with path.open("a") as out:
        out.write(json.dumps(line) + "\n")
    if events.origin_event_id(decoded).startswith("fail-once") and seen == 0:
        raise RuntimeError("failing the first delivery on purpose")
