"""``serve``'s ``/metrics``: counters and latencies after a scripted sequence, scraped over HTTP.

Everything is real: the HTTP server, the in-process bus, SQLite, the interceptors and kfp.local
running the example pipeline; the scrape is parsed with ``prometheus_client``'s own text parser,
so a malformed exposition fails here as it would fail a Prometheus server.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kfp_triggers.app.serve import Server, send_request, wait_for
from kfp_triggers.tekton.request import read_http_request
from tests.chain.serving import EXAMPLE, serving

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.chdir(tmp_path)
    with serving(tmp_path, {"KFPT_LAUNCHER": "local"}, max_body_bytes=64 * 1024) as srv:
        yield srv


def _scrape(srv: Server, accept: str = "") -> tuple[str, str]:
    request = urllib.request.Request(srv.url + "metrics", headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return resp.headers["Content-Type"], resp.read().decode()


def _samples(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def _post(srv: Server, body: bytes, headers: dict[str, str], path: str = "") -> int:
    request = urllib.request.Request(srv.url + path, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _tampered_push() -> tuple[bytes, dict[str, str]]:
    """The example push with one body byte changed: its signature no longer matches."""
    raw = read_http_request(EXAMPLE / "requests" / "push.http")
    headers = {k: ", ".join(v) for k, v in raw.headers.items() if k not in ("Host", "Content-Length")}
    headers["X-Github-Delivery"] = "5d0c7a1e-0000-4000-8000-000000000001"
    return raw.body.replace(b"main", b"mainx", 1), headers


def test_metrics_count_a_scripted_sequence(server: Server) -> None:
    status, body = send_request(server.url, EXAMPLE / "requests" / "push.http")
    assert status == 202, body
    event_id = json.loads(body)["eventID"]

    def succeeded() -> bool:
        runs = [r for r in server.ctx.store.list_runs(10) if r.event_id == event_id]
        return bool(runs) and all(r.state == "SUCCEEDED" for r in runs)

    assert wait_for(succeeded, 90)
    # The same delivery again: journalled once, launched once.
    assert send_request(server.url, EXAMPLE / "requests" / "push.http")[0] == 202
    assert _post(server, *_tampered_push()) == 202  # Tekton answers 202; the triggers reject it
    assert _post(server, b"x" * (64 * 1024 + 1), {"Content-Type": "application/json"}) == 413

    def settled() -> bool:
        samples = _samples(_scrape(server)[1])
        rejected = _value(
            samples,
            "kfpt_trigger_decisions_total",
            listener="github-push",
            trigger="train-on-main",
            decision="rejected",
            interceptor="github",
        )
        deduplicated = _value(samples, "kfpt_run_launches_total", backend="local", outcome="deduplicated")
        return rejected == 1 and deduplicated == 1

    assert wait_for(settled, 30)
    content_type, text = _scrape(server)
    assert content_type.startswith("text/plain; version=0.0.4")
    samples = _samples(text)
    assert _value(samples, "kfpt_events_received_total", listener="github-push", code="202") == 3
    assert _value(samples, "kfpt_events_received_total", listener="", code="413") == 1
    decisions = {
        labels: value for (name, labels), value in samples.items() if name == "kfpt_trigger_decisions_total"
    }
    accepted = frozenset(
        {
            "listener": "github-push",
            "trigger": "train-on-main",
            "decision": "accepted",
            "interceptor": "",
        }.items()
    )
    assert decisions[accepted] == 2  # each delivery is decided on; the redelivery launches nothing new
    tag_rule = frozenset(
        {
            "listener": "github-push",
            "trigger": "release-on-tag",
            "decision": "rejected",
            "interceptor": "only version tags",
        }.items()
    )
    assert decisions[tag_rule] == 2
    assert _value(samples, "kfpt_run_launches_total", backend="local", outcome="created") == 1
    assert _value(samples, "kfpt_run_launches_total", backend="local", outcome="deduplicated") == 1
    assert _value(samples, "kfpt_run_state_transitions_total", backend="local", state="SUCCEEDED") == 1
    assert (
        _value(samples, "kfpt_webhook_to_run_seconds_count", listener="github-push", trigger="train-on-main")
        == 1
    )
    # The 413 was answered before ingest; launch took the first delivery and the redelivery.
    assert _value(samples, "kfpt_stage_duration_seconds_count", stage="ingest") == 3
    assert _value(samples, "kfpt_stage_duration_seconds_count", stage="launch") == 2
    for bucket_le in ("0.005", "1", "60", "+Inf"):
        assert (
            "kfpt_stage_duration_seconds_bucket",
            frozenset({"stage": "ingest", "le": bucket_le}.items()),
        ) in samples


def test_metrics_answer_openmetrics_when_asked_and_only_on_get(server: Server) -> None:
    send_request(server.url, EXAMPLE / "requests" / "push-tag.http")
    content_type, text = _scrape(server, "application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    assert text.rstrip().endswith("# EOF")
    # A POST to /metrics is a webhook like any other path, not a scrape.
    assert _post(server, b"{}", {"Content-Type": "application/json"}, "metrics") == 202
    assert _scrape(server)[1].count('kfpt_events_received_total{code="202",listener="github-push"}') == 1
