"""What the stages count and time, and where those numbers go.

The catalog below is the whole list of metrics, named as Prometheus and OpenTelemetry name them
(``kfpt_`` prefix, ``_total`` on counters, base units in the name). Stages record through the
:class:`Metrics` their context carries; it hands each value to the sinks ``KFPT_METRICS`` chose:

* ``prometheus``: kept in this process (:class:`Tally`) and exposed in Prometheus' text format by
  ``serve`` at ``/metrics`` and by each Knative Service on its own port (see :mod:`.app.scrape`);
* ``log``: one structured log line per value, from which Cloud Logging's log-based metrics count
  (a Cloud Run function's instances are short-lived, scaled to zero and throttled between requests,
  so nothing can scrape them and an exporter's periodic flush would be lost; a log line costs the
  function nothing at start and is never lost with the instance);
* ``off``: nothing is recorded (each call returns at once).

Recording never imports a metrics library: a value is a dict update under a lock, so a stage's
cold start and hot path pay nothing. ``prometheus_client`` is imported only to answer a scrape.
Label values come from the configuration (listener, trigger and interceptor names), from fixed
sets (stage, outcome, HTTP status) or from the launcher (backend, state), never from a request, so
a sender cannot grow the number of series.
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from kfp_triggers.logs import RECORD_FIELDS

log = logging.getLogger(__name__)

Kind = Literal["counter", "histogram"]

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Bucket bounds, in seconds, of the stage and end-to-end latency histograms."""


@dataclass(frozen=True)
class Metric:
    """One metric of the catalog: its name, what it counts and the names of its labels."""

    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...] = ()


EVENTS_RECEIVED = Metric(
    "kfpt_events_received_total", "counter",
    "Webhook requests ingest answered, by listener (empty when none was addressed) and HTTP status.",
    ("listener", "code"),
)  # fmt: skip
TRIGGER_DECISIONS = Metric(
    "kfpt_trigger_decisions_total", "counter",
    "Trigger verdicts on events: accepted, rejected (by the interceptor that stopped the chain) or error.",
    ("listener", "trigger", "decision", "interceptor"),
)  # fmt: skip
RUN_LAUNCHES = Metric(
    "kfpt_run_launches_total", "counter",
    "Run requests launch settled, by backend and outcome: created, deduplicated (already launched), "
    "held (by a concurrency group) or failed.",
    ("backend", "outcome"),
)  # fmt: skip
RUN_STATES = Metric(
    "kfpt_run_state_transitions_total", "counter",
    "Run state changes the status stage recorded, by backend and new state.",
    ("backend", "state"),
)  # fmt: skip
MESSAGES_DROPPED = Metric(
    "kfpt_messages_dropped_total", "counter",
    "Messages a stage gave up on without retry: permanent error, too old, or signature refused.",
    ("stage", "reason"),
)  # fmt: skip
MESSAGES_RETRIED = Metric(
    "kfpt_messages_retried_total", "counter",
    "Messages a stage failed on and handed back to the transport for redelivery.",
    ("stage",),
)  # fmt: skip
DEAD_LETTERS = Metric(
    "kfpt_dead_letters_total", "counter",
    "Messages the in-process bus moved to a dead-letter topic after its last delivery attempt "
    "(on Pub/Sub, the dead-letter subscriptions' own metrics count them).",
    ("topic",),
)  # fmt: skip
STAGE_DURATION = Metric(
    "kfpt_stage_duration_seconds", "histogram",
    "Time a stage spent on one request or message.",
    ("stage",), LATENCY_BUCKETS_S,
)  # fmt: skip
WEBHOOK_TO_RUN = Metric(
    "kfpt_webhook_to_run_seconds", "histogram",
    "Time from ingest receiving a webhook to its run being created on the backend.",
    ("listener", "trigger"), LATENCY_BUCKETS_S,
)  # fmt: skip

CATALOG: tuple[Metric, ...] = (
    EVENTS_RECEIVED,
    TRIGGER_DECISIONS,
    RUN_LAUNCHES,
    RUN_STATES,
    MESSAGES_DROPPED,
    MESSAGES_RETRIED,
    DEAD_LETTERS,
    STAGE_DURATION,
    WEBHOOK_TO_RUN,
)
SINKS = ("off", "log", "prometheus")


class Sink(Protocol):
    """Where recorded values go."""

    def record(self, metric: Metric, labels: tuple[str, ...], value: float) -> None:
        """Take one value: a counter's increment or a histogram's observation."""


@dataclass
class Series:
    """One label combination's state: a counter's total, or a histogram's buckets, count and sum."""

    value: float = 0.0
    buckets: list[int] = field(default_factory=list)
    count: int = 0


class Tally:
    """Every series recorded in this process, kept for a scrape."""

    def __init__(self) -> None:
        self._series: dict[tuple[Metric, tuple[str, ...]], Series] = {}
        self._lock = threading.Lock()

    def record(self, metric: Metric, labels: tuple[str, ...], value: float) -> None:
        with self._lock:
            series = self._series.get((metric, labels))
            if series is None:
                series = Series(buckets=[0] * len(metric.buckets))
                self._series[(metric, labels)] = series
            if metric.kind == "counter":
                series.value += value
                return
            index = bisect.bisect_left(metric.buckets, value)
            if index < len(series.buckets):
                series.buckets[index] += 1  # cumulated when read
            series.count += 1
            series.value += value

    def snapshot(self) -> Iterator[tuple[Metric, tuple[str, ...], Series]]:
        """A copy of every series, metric by metric in catalog order."""
        with self._lock:
            items = [
                (metric, labels, Series(series.value, list(series.buckets), series.count))
                for (metric, labels), series in self._series.items()
            ]
        order = {metric.name: i for i, metric in enumerate(CATALOG)}
        items.sort(key=lambda item: (order.get(item[0].name, len(order)), item[1]))
        return iter(items)

    def value(self, metric: Metric, **labels: str) -> float:
        """A counter's total, or a histogram's count, for one label combination (0 when never seen)."""
        key = tuple(labels.get(name, "") for name in metric.labels)
        with self._lock:
            series = self._series.get((metric, key))
            if series is None:
                return 0.0
            return float(series.count) if metric.kind == "histogram" else series.value


class LogSink:
    """One INFO line per value, with the metric in structured fields (``jsonPayload.metric``)."""

    def record(self, metric: Metric, labels: tuple[str, ...], value: float) -> None:
        named = dict(zip(metric.labels, labels, strict=True))
        fields = {"name": metric.name, "value": value, "labels": named}
        shown = ",".join(f'{k}="{v}"' for k, v in named.items())
        log.info("metric %s{%s} %s", metric.name, shown, value, extra={RECORD_FIELDS: {"metric": fields}})


class Metrics:
    """The recorder a stage context carries; with no sink every call returns at once."""

    def __init__(self, sinks: Sequence[Sink] = (), tally: Tally | None = None) -> None:
        self.sinks = tuple(sinks)
        self.tally = tally
        """The in-process series, when the ``prometheus`` sink is on (what a scrape reads)."""

    @classmethod
    def of(cls, kind: str) -> Metrics:
        """The recorder for a ``KFPT_METRICS`` value: ``off``, ``log`` or ``prometheus``."""
        if kind == "prometheus":
            tally = Tally()
            return cls([tally], tally)
        if kind == "log":
            return cls([LogSink()])
        if kind == "off":
            return cls()
        raise ValueError(f"KFPT_METRICS must be one of {', '.join(SINKS)}, not {kind!r}")

    def count(self, metric: Metric, *labels: str, value: float = 1.0) -> None:
        """Add ``value`` to a counter; ``labels`` in the order the metric names them."""
        for sink in self.sinks:
            sink.record(metric, labels, value)

    def observe(self, metric: Metric, seconds: float, *labels: str) -> None:
        """Record one observation of a histogram."""
        for sink in self.sinks:
            sink.record(metric, labels, seconds)


OFF = Metrics()
"""The recorder that records nothing (the default of a context built without settings)."""
