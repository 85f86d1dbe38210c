"""Metrics of a deployed stage, in a real functions-framework process.

``KFPT_METRICS=log`` (Cloud Run functions): each value is a JSON log line whose ``metric`` field
the Terraform log-based metrics extract. ``KFPT_METRICS=prometheus`` with ``KFPT_METRICS_PORT``
(Knative): the stage answers a scrape on that port while the function serves its own.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from kfp_triggers.tekton.request import read_http_request
from kfp_triggers.wire.events import EventReceived, HttpRequestData, ObjectRef, event_for, to_http_binary
from tests.conftest import EXAMPLES
from tests.functions.ff_process import example_settings, running_function

EXAMPLE = EXAMPLES / "github-push"


def _post_push(url: str, event_id: str) -> None:
    push = read_http_request(EXAMPLE / "requests" / "push.http")
    received = EventReceived(
        event_id,
        ObjectRef("default", "github-push"),
        HttpRequestData(push.method, push.url, push.headers, push.body),
        "2026-11-24T00:00:00Z",
    )
    headers, body = to_http_binary(event_for(received, source="//test/ingest", traceparent=None))
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


def _json_lines(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.read_text(errors="replace").splitlines() if line.startswith("{")]


def test_a_cloud_function_writes_each_value_as_a_log_line_for_log_based_metrics(tmp_path: Path) -> None:
    settings = example_settings(tmp_path, K_SERVICE="kfpt-intercept", KFPT_METRICS="log")
    with running_function("intercept", "intercept_event", settings, tmp_path, signature="cloudevent") as (
        port,
        out,
    ):
        _post_push(f"http://127.0.0.1:{port}/", "delivery-metrics-log")
        deadline = time.monotonic() + 10
        while not [e for e in _json_lines(out) if "metric" in e]:
            assert time.monotonic() < deadline, out.read_text()
            time.sleep(0.05)
        time.sleep(0.2)  # the stage's duration is written as it returns
        metrics = [e for e in _json_lines(out) if "metric" in e]
    decisions = {
        e["metric"]["labels"]["trigger"]: e["metric"]["labels"]
        for e in metrics
        if e["metric"]["name"] == "kfpt_trigger_decisions_total"
    }
    assert decisions["train-on-main"] == {
        "listener": "github-push",
        "trigger": "train-on-main",
        "decision": "accepted",
        "interceptor": "",
    }
    assert decisions["release-on-tag"]["decision"] == "rejected"
    assert decisions["release-on-tag"]["interceptor"] == "only version tags"
    [accepted] = [e for e in metrics if e["metric"]["labels"].get("trigger") == "train-on-main"]
    assert accepted["metric"]["value"] == 1
    assert (accepted["severity"], accepted["stage"], accepted["eventID"]) == (
        "INFO",
        "intercept",
        "delivery-metrics-log",
    )
    [duration] = [e for e in metrics if e["metric"]["name"] == "kfpt_stage_duration_seconds"]
    assert duration["metric"]["labels"] == {"stage": "intercept"}
    assert 0 < duration["metric"]["value"] < 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_knative_stage_answers_a_scrape_on_its_metrics_port(tmp_path: Path) -> None:
    metrics_port = _free_port()
    settings = example_settings(
        tmp_path, K_SERVICE="kfpt-intercept", KFPT_METRICS="prometheus", KFPT_METRICS_PORT=str(metrics_port)
    )
    with running_function("intercept", "intercept_event", settings, tmp_path, signature="cloudevent") as (
        port,
        _out,
    ):
        _post_push(f"http://127.0.0.1:{port}/", "delivery-metrics-scrape")
        scrape = f"http://127.0.0.1:{metrics_port}/metrics"
        with urllib.request.urlopen(scrape, timeout=10) as response:
            text = response.read().decode()
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/", timeout=10)
            raise AssertionError("the metrics port answered a path other than /metrics")
        except urllib.error.HTTPError as exc:
            assert exc.code == 404
    samples = {
        (s.name, s.labels.get("trigger", s.labels.get("stage", ""))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("kfpt_trigger_decisions_total", "train-on-main")] == 1
    assert samples[("kfpt_trigger_decisions_total", "release-on-tag")] == 1
    assert samples[("kfpt_stage_duration_seconds_count", "intercept")] == 1
