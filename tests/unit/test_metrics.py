"""The metrics catalog, the in-process tally and its Prometheus exposition."""

from __future__ import annotations

import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kfp_triggers.app.scrape import exposition
from kfp_triggers.metrics import CATALOG, EVENTS_RECEIVED, OFF, STAGE_DURATION, TRIGGER_DECISIONS, Metrics


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_names_follow_prometheus_conventions() -> None:
    names = [m.name for m in CATALOG]
    assert len(set(names)) == len(names)
    for metric in CATALOG:
        assert re.fullmatch(r"kfpt_[a-z][a-z0-9_]*", metric.name), metric.name
        if metric.kind == "counter":
            assert metric.name.endswith("_total"), metric.name
        else:
            assert metric.name.endswith("_seconds") and metric.buckets == tuple(sorted(metric.buckets))
        assert all(re.fullmatch(r"[a-z][a-z_]*", label) for label in metric.labels)


def test_histogram_buckets_are_cumulative_with_inclusive_upper_bounds() -> None:
    metrics = Metrics.of("prometheus")
    for seconds in (0.005, 0.2, 100.0):  # on a bound, inside, above every bound
        metrics.observe(STAGE_DURATION, seconds, "launch")
    body, content_type = exposition(metrics.tally)  # type: ignore[arg-type]
    assert content_type.startswith("text/plain; version=0.0.4")
    samples = _samples(body.decode())

    def bucket(le: str) -> float:
        return samples[("kfpt_stage_duration_seconds_bucket", (("le", le), ("stage", "launch")))]

    assert (bucket("0.005"), bucket("0.1"), bucket("0.25"), bucket("60"), bucket("+Inf")) == (1, 1, 2, 2, 3)
    assert samples[("kfpt_stage_duration_seconds_count", (("stage", "launch"),))] == 3
    assert samples[("kfpt_stage_duration_seconds_sum", (("stage", "launch"),))] == pytest.approx(100.205)


def test_counters_add_up_per_label_set_and_label_values_are_escaped() -> None:
    metrics = Metrics.of("prometheus")
    odd = 'say "hi"\\ \nnow'
    metrics.count(TRIGGER_DECISIONS, "l", odd, "rejected", "cel")
    metrics.count(TRIGGER_DECISIONS, "l", odd, "rejected", "cel")
    metrics.count(EVENTS_RECEIVED, "l", "202", value=3)
    assert metrics.tally is not None
    assert (
        metrics.tally.value(
            TRIGGER_DECISIONS, listener="l", trigger=odd, decision="rejected", interceptor="cel"
        )
        == 2
    )
    samples = _samples(exposition(metrics.tally)[0].decode())
    key = (("decision", "rejected"), ("interceptor", "cel"), ("listener", "l"), ("trigger", odd))
    assert samples[("kfpt_trigger_decisions_total", key)] == 2
    assert samples[("kfpt_events_received_total", (("code", "202"), ("listener", "l")))] == 3


def test_off_records_nothing_and_an_unknown_sink_is_refused() -> None:
    OFF.count(EVENTS_RECEIVED, "l", "202")
    assert OFF.tally is None and OFF.sinks == ()
    assert Metrics.of("off").sinks == ()
    with pytest.raises(ValueError, match="KFPT_METRICS must be one of off, log, prometheus"):
        Metrics.of("statsd")


def test_openmetrics_is_written_when_the_scraper_asks() -> None:
    metrics = Metrics.of("prometheus")
    metrics.count(EVENTS_RECEIVED, "l", "202")
    assert metrics.tally is not None
    body, content_type = exposition(metrics.tally, "application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    assert b'kfpt_events_received_total{code="202",listener="l"} 1.0' in body
    assert body.endswith(b"# EOF\n")
