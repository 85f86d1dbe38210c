"""Answer a Prometheus scrape from the series this process recorded.

``serve`` mounts :func:`metrics_route` in front of the ingest edge, so ``GET /metrics`` on its
port answers the scrape. A deployed stage with ``KFPT_METRICS=prometheus`` (the Knative Services)
answers on a port of its own (``KFPT_METRICS_PORT``, :func:`start_metrics_server`), as Tekton's
EventListener serves its metrics on a port beside the webhook one: the scrape never shares the
public listener URL, and CloudEvent functions, whose framework routes only POST, are scraped too.

The text is written by ``prometheus_client`` (imported on the first scrape, never at start), which
also picks the OpenMetrics format when the scraper asks for it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from kfp_triggers.app.edge import StartResponse, WsgiApp, status_line
from kfp_triggers.app.wsgi_server import ServerLimits, WsgiServer
from kfp_triggers.metrics import Tally

log = logging.getLogger(__name__)

METRICS_PATH = "/metrics"


def exposition(tally: Tally, accept: str = "") -> tuple[bytes, str]:
    """The scrape's body and content type: Prometheus text, or OpenMetrics when ``accept`` asks."""
    from prometheus_client.exposition import choose_encoder
    from prometheus_client.registry import CollectorRegistry

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_TallyCollector(tally))
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type


class _TallyCollector:
    """Presents a :class:`Tally` to ``prometheus_client`` as metric families, at scrape time."""

    def __init__(self, tally: Tally) -> None:
        self.tally = tally

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

        families: dict[str, Any] = {}
        for metric, labels, series in self.tally.snapshot():
            family: Any = families.get(metric.name)
            if family is None:
                if metric.kind == "counter":
                    family = CounterMetricFamily(metric.name, metric.help, labels=list(metric.labels))
                else:
                    family = HistogramMetricFamily(metric.name, metric.help, labels=list(metric.labels))
                families[metric.name] = family
            if metric.kind == "counter":
                family.add_metric(list(labels), series.value)
                continue
            cumulative, buckets = 0, []
            for bound, count in zip(metric.buckets, series.buckets, strict=True):
                cumulative += count
                buckets.append((_bound(bound), cumulative))
            buckets.append(("+Inf", series.count))
            family.add_metric(list(labels), buckets, sum_value=series.value)
        return iter(families.values())

    def describe(self) -> Iterable[Any]:
        return ()


def _bound(value: float) -> str:
    """A bucket's ``le`` as Prometheus' Go client writes it (``0.005``, ``1``, ``30``)."""
    return str(int(value)) if value == int(value) else repr(value)


def metrics_route(tally: Tally, fallback: WsgiApp, path: str = METRICS_PATH) -> WsgiApp:
    """``GET``/``HEAD`` ``path`` answers the scrape; every other request goes to ``fallback``."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD") or "")
        if environ.get("PATH_INFO") != path or method not in ("GET", "HEAD"):
            return fallback(environ, start_response)
        body, content_type = exposition(tally, str(environ.get("HTTP_ACCEPT") or ""))
        start_response(status_line(200), [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [b"" if method == "HEAD" else body]

    return app


def _not_found(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    body = b'{"error": "only GET /metrics is served on this port"}\n'
    start_response(
        status_line(404), [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


def start_metrics_server(tally: Tally, host: str, port: int) -> WsgiServer:
    """Serve ``GET /metrics`` on ``host:port`` from a daemon thread; returns the bound server."""
    limits = ServerLimits(max_connections=8)
    server = WsgiServer((host, port), metrics_route(tally, _not_found), limits)
    thread = threading.Thread(target=server.serve_forever, name="kfpt-metrics", daemon=True)
    thread.start()
    log.info("metrics on http://%s:%s%s", host, server.server_address[1], METRICS_PATH)
    return server
