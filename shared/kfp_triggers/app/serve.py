"""``kfp-triggers serve``: the whole chain in one process.

An HTTP server answers webhooks with the ingest edge the deployed function runs
(:mod:`kfp_triggers.app.edge`), hosted by a server bounded in threads, time and bytes
(:mod:`kfp_triggers.app.wsgi_server`), and the other four stages are subscribed to
their topics: on the in-process bus by default, or on real Pub/Sub topics (streaming pull) when
``KFPT_TRANSPORT=pubsub`` (``PUBSUB_EMULATOR_HOST`` is honoured). A ticker publishes
``status.tick`` every few seconds so runs are followed to the end without Cloud Scheduler.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kfp_triggers import settings as registry
from kfp_triggers.app.edge import WsgiApp, wsgi_app
from kfp_triggers.app.runtime import Settings, build_context, handle_event
from kfp_triggers.app.scrape import metrics_route
from kfp_triggers.app.wsgi_server import ServerLimits, WsgiServer
from kfp_triggers.errors import SettingError
from kfp_triggers.metrics import DEAD_LETTERS
from kfp_triggers.stages import StageContext
from kfp_triggers.tekton.request import read_http_request
from kfp_triggers.wire.events import StatusTick, event_for, from_pubsub_message
from kfp_triggers.wire.eventtypes import (
    TOPIC_EVENTS,
    TOPIC_LAUNCH,
    TOPIC_MATCHED,
    TOPIC_RUNS,
    TOPICS,
    prefixed,
)

log = logging.getLogger(__name__)

STAGE_TOPICS = {
    "intercept": TOPIC_EVENTS,
    "render": TOPIC_MATCHED,
    "launch": TOPIC_LAUNCH,
    "status": TOPIC_RUNS,
}


@dataclass
class Server:
    """A running chain: the HTTP server, the context and whatever stops the subscribers."""

    httpd: WsgiServer
    ctx: StageContext
    stoppers: list[Callable[[], None]]

    @property
    def url(self) -> str:
        """Base URL of the ingest endpoint."""
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}/"

    def serve_forever(self) -> None:
        """Answer requests until interrupted."""
        try:
            self.httpd.serve_forever()
        finally:
            self.close()

    def close(self) -> None:
        """Stop the subscribers, the ticker and the HTTP server."""
        for stop in self.stoppers:
            stop()
        self.stoppers.clear()
        self.httpd.server_close()


def start(
    settings: Settings, environ: Mapping[str, str], *, host: str = "127.0.0.1", port: int = 8080,
    tick_s: float = 2.0, limits: ServerLimits | None = None, dashboard: bool = False,
) -> Server:  # fmt: skip
    """Build the chain and start its subscribers and ticker; the HTTP server is bound, not yet serving.

    ``limits`` bounds what clients can make the HTTP server hold (connections, timeouts, header sizes).
    With ``dashboard`` the read-only dashboard answers under ``/dashboard`` on the same port.
    """
    transport = registry.value(environ, registry.TRANSPORT)
    if registry.value(environ, registry.METRICS) is None and importlib.util.find_spec("prometheus_client"):
        settings = dataclasses.replace(settings, metrics="prometheus")  # serve's default: /metrics
    stoppers: list[Callable[[], None]] = []
    if transport == "pubsub":
        from kfp_triggers.adapters.transports.factory import publisher_from_env

        publisher: Any = publisher_from_env(environ)  # the stages' own publisher; pulls stay on gRPC
    elif transport == "memory":
        from kfp_triggers.adapters.transports.memory import MemoryBus

        publisher = MemoryBus(synchronous=False)
    else:
        raise ValueError(f"serve runs the chain with KFPT_TRANSPORT=memory or pubsub, not {transport!r}")
    ctx = build_context(settings, publisher, environ)
    if transport == "pubsub":
        stoppers.append(_subscribe_pubsub(ctx, environ))
    else:
        for stage, topic in STAGE_TOPICS.items():
            publisher.subscribe(topic, _stage_handler(stage, ctx), name=f"{topic}-{stage}")
        publisher.on_dead_letter = lambda topic: ctx.metrics.count(DEAD_LETTERS, topic)
        publisher.start()
        stoppers.append(publisher.stop)
    stoppers.append(_start_ticker(ctx, tick_s))
    try:
        app = wsgi_app(ctx)
        if ctx.metrics.tally is not None:
            app = metrics_route(ctx.metrics.tally, app)
        if dashboard:
            app = _with_dashboard(ctx, environ, app, host)
        httpd = WsgiServer((host, port), app, limits)
    except BaseException:
        for stop in stoppers:
            stop()
        raise
    return Server(httpd, ctx, stoppers)


def _with_dashboard(ctx: StageContext, environ: Mapping[str, str], app: WsgiApp, host: str) -> WsgiApp:
    """The dashboard under its prefix in front of ``app``, read-only (no replay: see the README)."""
    from kfp_triggers.app.dashboard import DEFAULT_PREFIX, dashboard_app, mounted

    hidden = [name for (_ns, name) in ctx.config.listeners if f"/{name}" == DEFAULT_PREFIX]
    if hidden:
        raise SettingError(f"the dashboard's {DEFAULT_PREFIX} would hide listener {hidden[0]!r}")
    from kfp_triggers.app.dashboard.server import loopback_names

    pages = dashboard_app(ctx.store, environ=environ, allow_replay=False, trusted_hosts=loopback_names(host))
    return mounted(pages, app, DEFAULT_PREFIX)


def _stage_handler(stage: str, ctx: StageContext) -> Callable[[Any], object]:
    def handle(event: Any) -> object:
        return handle_event(stage, event, ctx)

    return handle


def _start_ticker(ctx: StageContext, every_s: float) -> Callable[[], None]:
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(every_s):
            tick = StatusTick(tick_at=datetime.now(UTC).isoformat().replace("+00:00", "Z"))
            try:
                ctx.publish(TOPIC_RUNS, event_for(tick, source=f"{ctx.source}/ticker", traceparent=None))
            except Exception as exc:  # keep ticking: one failed publish must not stop run tracking
                log.warning("status tick not published: %s", exc)

    thread = threading.Thread(target=run, name="kfpt-ticker", daemon=True)
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join(timeout=5)

    return halt


def _subscribe_pubsub(ctx: StageContext, environ: Mapping[str, str]) -> Callable[[], None]:
    """Create the topology if needed and stream-pull each stage's subscription."""
    from kfp_triggers.adapters.transports.pubsub import (
        ensure_topology,
        project_from_env,
        subscriber_client,
        subscription_path,
        topic_prefix_from_env,
    )

    project = project_from_env(environ)
    prefix = topic_prefix_from_env(environ)
    subs = ensure_topology(project, [prefixed(t, prefix) for t in TOPICS], environ=environ)
    client = subscriber_client(environ)
    futures = []
    for stage, topic in STAGE_TOPICS.items():
        handler = _stage_handler(stage, ctx)

        def callback(message: Any, handler: Callable[[Any], object] = handler) -> None:
            try:
                event = from_pubsub_message(
                    message.data, dict(message.attributes), message_id=message.message_id
                )
                handler(event)
            except Exception:
                log.exception("message %s not handled; it will be redelivered", message.message_id)
                message.nack()
                return
            message.ack()

        physical = prefixed(topic, prefix)
        name = subs.get(f"{physical}-sub") or subscription_path(project, f"{physical}-sub")
        futures.append(client.subscribe(name, callback=callback))

    def stop() -> None:
        for future in futures:
            future.cancel()
        client.close()

    return stop


def send_request(url: str, request_file: Path, timeout_s: float = 10.0) -> tuple[int, bytes]:
    """POST a raw HTTP request file's headers and body to ``url`` (what ``kfp-triggers send`` does)."""
    raw = read_http_request(request_file)
    headers = {name: ", ".join(values) for name, values in raw.headers.items() if name not in _HOP_HEADERS}
    req = urllib.request.Request(url, data=raw.body, headers=headers, method=raw.method)
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


_HOP_HEADERS = frozenset({"Host", "Content-Length", "Connection", "Transfer-Encoding"})


def wait_for(predicate: Callable[[], bool], timeout_s: float, every_s: float = 0.2) -> bool:
    """Poll ``predicate`` until it holds or the time is up."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every_s)
    return predicate()


def run_server(
    settings: Settings, environ: Mapping[str, str], *, host: str, port: int, tick_s: float,
    send: Path | None, exit_when_done: bool, timeout_s: float, dashboard: bool = False,
) -> int:  # fmt: skip
    """Start the chain and serve. With ``send``, post that request once up and report its runs."""
    server = start(settings, environ, host=host, port=port, tick_s=tick_s, dashboard=dashboard)
    print(f"kfp-triggers: listening on {server.url} (config {settings.config})", file=sys.stderr)
    if dashboard:
        print(f"kfp-triggers: dashboard on {server.url}dashboard/events", file=sys.stderr)
    thread = threading.Thread(target=server.httpd.serve_forever, name="kfpt-http", daemon=True)
    thread.start()
    code = 0
    try:
        if send is not None:
            code = _send_and_follow(server, send, timeout_s)
            if exit_when_done:
                return code
        print(
            f"kfp-triggers: send a webhook with `kfp-triggers send REQUEST.http --url {server.url}`;"
            " Ctrl-C stops.",
            file=sys.stderr,
        )
        thread.join()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.shutdown()
        server.close()
    return code


def _send_and_follow(server: Server, request_file: Path, timeout_s: float) -> int:
    status, body = send_request(server.url, request_file)
    print(
        f"kfp-triggers: sent {request_file}: HTTP {status} {body.decode(errors='replace').strip()}",
        file=sys.stderr,
    )
    if status != 202:
        return 1
    event_id = json.loads(body).get("eventID", "")
    store = server.ctx.store

    def runs() -> list[Any]:
        return [r for r in store.list_runs(100) if r.event_id == event_id]

    def settled() -> bool:
        record = store.get_event(event_id)
        if record is None or not record.triggers:
            return False
        pending = [t for t in record.triggers if t.accepted and not (t.launched or t.error)]
        return not pending and all(r.terminal for r in runs())

    if not wait_for(settled, timeout_s):
        print(f"kfp-triggers: event {event_id} not settled after {timeout_s:.0f} s", file=sys.stderr)
        return 1
    for run in runs():
        print(json.dumps(run.to_json(), indent=2), file=sys.stderr)
    print(f"kfp-triggers: event {event_id}: see `kfp-triggers events show {event_id}`", file=sys.stderr)
    return 0 if all(r.state == "SUCCEEDED" for r in runs()) else 1
