"""Logs of deployed functions: JSON lines Cloud Logging reads, tied to the event and its trace."""

from __future__ import annotations

import io
import json
import logging
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kfp_triggers import logs
from kfp_triggers.errors import SettingError
from kfp_triggers.tekton.request import read_http_request
from kfp_triggers.wire.events import EventReceived, HttpRequestData, ObjectRef, event_for, to_http_binary
from tests.conftest import EXAMPLES
from tests.functions.ff_process import example_settings, running_function

EXAMPLE = EXAMPLES / "github-push"
PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _record(level: int, message: str, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            exc_info = sys.exc_info()
    return logging.LogRecord("kfp_triggers.stages", level, __file__, 1, message, (), exc_info)


def test_a_record_is_one_json_object_with_cloud_loggings_fields() -> None:
    formatter = logs.CloudLoggingFormatter(project="proj")
    with logs.log_context(stage="intercept", eventID="ev-1", traceparent=PARENT):
        entry = json.loads(formatter.format(_record(logging.WARNING, "careful")))
    assert entry["severity"] == "WARNING"
    assert entry["message"] == "careful"
    assert (entry["stage"], entry["eventID"], entry["logger"]) == ("intercept", "ev-1", "kfp_triggers.stages")
    assert entry["logging.googleapis.com/trace"] == "projects/proj/traces/4bf92f3577b34da6a3ce929d0e0e4736"
    assert entry["logging.googleapis.com/spanId"] == "00f067aa0ba902b7"
    assert entry["logging.googleapis.com/trace_sampled"] is True
    assert datetime.fromisoformat(entry["time"].replace("Z", "+00:00")).tzinfo == UTC


def test_tracebacks_travel_in_the_message_and_contexts_nest_and_end() -> None:
    formatter = logs.CloudLoggingFormatter()
    with logs.log_context(eventID="ev-1"):
        with logs.log_context(stage="render", traceparent="not-a-traceparent"):
            inner = json.loads(formatter.format(_record(logging.ERROR, "failed", exc=True)))
        outer = json.loads(formatter.format(_record(logging.INFO, "after")))
    after = json.loads(formatter.format(_record(logging.INFO, "outside")))
    assert inner["severity"] == "ERROR" and inner["stage"] == "render" and inner["eventID"] == "ev-1"
    assert inner["message"].startswith("failed\nTraceback") and "ValueError: boom" in inner["message"]
    assert not [k for k in inner if k.startswith("logging.googleapis.com")]  # an invalid traceparent
    assert "stage" not in outer and outer["eventID"] == "ev-1"
    assert "eventID" not in after


@pytest.mark.parametrize(
    ("environ", "message"),
    [({"KFPT_LOG_FORMAT": "xml"}, "KFPT_LOG_FORMAT"), ({"KFPT_LOG_LEVEL": "LOUD"}, "KFPT_LOG_LEVEL")],
)
def test_bad_log_settings_are_refused(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingError, match=message):
        logs.configure(environ)


def test_text_logging_is_not_installed_over_an_existing_set_up() -> None:
    assert logging.getLogger().handlers  # the test runner's
    assert logs.configure({}) is None


def test_json_lines_do_not_depend_on_what_the_root_logger_has(capsys: pytest.CaptureFixture[str]) -> None:
    """A root handler installed first (functions-framework's, a platform's) neither swallows our
    fields nor writes our records a second time."""
    root_lines = io.StringIO()
    root_handler = logging.StreamHandler(root_lines)
    logging.getLogger().addHandler(root_handler)
    engine = logging.getLogger(logs.ENGINE_LOGGER)
    saved = (engine.level, engine.propagate, list(engine.handlers))
    try:
        handler = logs.configure({"K_SERVICE": "kfpt-intercept", "KFPT_PUBSUB_PROJECT": "proj"})
        assert handler is not None and handler in engine.handlers
        assert logs.configure({"K_SERVICE": "kfpt-intercept"}) is handler  # installed once
        with logs.log_context(stage="render", eventID="ev-9", traceparent=PARENT):
            logging.getLogger("kfp_triggers.stages.pipeline").info("rendered")
    finally:
        logging.getLogger().removeHandler(root_handler)
        engine.setLevel(saved[0])
        engine.propagate = saved[1]
        engine.handlers[:] = saved[2]
    [line] = capsys.readouterr().out.splitlines()
    entry = json.loads(line)
    assert (entry["severity"], entry["stage"], entry["eventID"]) == ("INFO", "render", "ev-9")
    assert entry["logging.googleapis.com/trace"] == "projects/proj/traces/4bf92f3577b34da6a3ce929d0e0e4736"
    assert root_lines.getvalue() == ""


@pytest.fixture(params=["", "true"], ids=["plain", "LOG_EXECUTION_ID"])
def intercept_server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[str, Path, bool]]:
    """The intercept function under functions-framework as Cloud Run starts it (``K_SERVICE`` set),
    with and without functions-framework's execution-id logging, which installs a root handler."""
    settings = example_settings(
        tmp_path, K_SERVICE="kfpt-intercept", KFPT_PUBSUB_PROJECT="proj", LOG_EXECUTION_ID=request.param
    )
    with running_function("intercept", "intercept_event", settings, tmp_path, signature="cloudevent") as (
        port,
        log,
    ):
        yield f"http://127.0.0.1:{port}/", log, bool(request.param)


def test_a_deployed_stage_logs_json_lines_tied_to_the_event_and_its_trace(
    intercept_server: tuple[str, Path, bool],
) -> None:
    url, out, execution_ids = intercept_server
    push = read_http_request(EXAMPLE / "requests" / "push.http")
    received = EventReceived(
        "delivery-logs-1",
        ObjectRef("default", "github-push"),
        HttpRequestData(push.method, push.url, push.headers, push.body),
        "2026-11-24T00:00:00Z",
    )
    event = event_for(received, source="//test/ingest", traceparent=PARENT)
    headers, body = to_http_binary(event)
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200

    def entries() -> list[dict[str, Any]]:
        found = []
        for line in out.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                found.append(json.loads(line))
        return found

    deadline = time.monotonic() + 10
    while not [e for e in entries() if "triggers accepted" in e.get("message", "")]:
        assert time.monotonic() < deadline, out.read_text()
        time.sleep(0.05)
    [entry] = [e for e in entries() if "triggers accepted" in e["message"]]
    assert entry["severity"] == "INFO"
    expected = "event delivery-logs-1 for listener github-push: triggers accepted: train-on-main"
    assert entry["message"] == expected
    assert (entry["stage"], entry["eventID"]) == ("intercept", "delivery-logs-1")
    # The event carries a child span of PARENT: same trace, its own span.
    assert entry["logging.googleapis.com/trace"] == "projects/proj/traces/4bf92f3577b34da6a3ce929d0e0e4736"
    assert len(entry["logging.googleapis.com/spanId"]) == 16
    if execution_ids:
        # functions-framework's execution-id stream labelled our line and kept every field of it.
        assert entry["logging.googleapis.com/labels"]["execution_id"]
    else:
        assert "logging.googleapis.com/labels" not in entry
