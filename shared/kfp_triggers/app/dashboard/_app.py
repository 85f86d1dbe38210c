"""The dashboard's WSGI application: routes, security headers and error pages.

Every page is rendered on the server from the store, with Jinja's autoescaping on: whatever a sender
wrote (headers, bodies, refs) reaches the browser as text. A Content-Security-Policy allows no
script at all and styles only from the dashboard itself, so even a markup mistake could not run
code. The only requests that change anything are the replay POSTs, behind a per-process token.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from kfp_triggers.adapters.store.base import Store
from kfp_triggers.app import operations as ops
from kfp_triggers.app.dashboard import _search, _views
from kfp_triggers.app.dashboard._present import FILTERS
from kfp_triggers.app.dashboard._replay import ReplayGate

DEFAULT_PREFIX = "/dashboard"
"""Where the pages are served unless ``dashboard_app`` is given another prefix."""
DEFAULT_LIMIT = 50
"""Rows a list page shows without ``?limit=``."""
RUNS_REFRESH_S = 10
"""Seconds between the run list's reloads (a meta refresh; no script)."""
MAX_FORM_BYTES = 16 * 1024
"""The largest request body read (a replay form is a few dozen bytes); larger ones get 413."""

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def dashboard_app(
    store: Store,
    *,
    config: list[Path] | None = None,
    environ: Mapping[str, str],
    allow_replay: bool = False,
    prefix: str = DEFAULT_PREFIX,
    trusted_hosts: Sequence[str] | None = None,
) -> Flask:
    """The read-only dashboard over ``store``, as a WSGI application serving under ``prefix``.

    Args:
        store: the store to read (the app never closes it).
        config: the listener configuration replay runs against.
        environ: the ``KFPT_*`` settings (replay reads ``KFPT_SECRETS_DIR`` from it).
        allow_replay: offer replay (dry run, then a confirmed real replay); needs ``config``.
        prefix: the path the pages live under, ``/dashboard`` by default; ``""`` serves them at ``/``.
        trusted_hosts: the only ``Host`` names answered (400 otherwise); a dashboard bound to
            loopback names only loopback, so a web page cannot reach it by rebinding its own domain
            to 127.0.0.1. ``None`` answers any host (behind an authenticating proxy).

    Returns:
        A Flask application: call it as any WSGI application, ``app(environ, start_response)``.
        It answers only paths under ``prefix`` (404 elsewhere).

    Raises:
        ValueError: ``prefix`` is not empty and does not start with ``/``, or ends with one.
    """
    if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
        raise ValueError(f"the dashboard prefix must be empty or start, not end, with '/': {prefix!r}")
    app = Flask(__name__.rpartition(".")[0], static_url_path=f"{prefix}/static")
    app.config["MAX_CONTENT_LENGTH"] = MAX_FORM_BYTES
    if trusted_hosts is not None:
        app.wsgi_app = _only_for_hosts(app.wsgi_app, trusted_hosts)  # type: ignore[method-assign]
    app.jinja_env.filters.update(FILTERS)
    gate = ReplayGate.from_options(config, environ, allow=allow_replay)
    _routes(app, store, gate, prefix)
    return app


def _only_for_hosts(inner: Callable[..., Any], names: Sequence[str]) -> Callable[..., Any]:
    """``inner`` answering only requests whose ``Host`` (port aside) is one of ``names``."""
    allowed = {name.lower() for name in names}

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        host = str(environ.get("HTTP_HOST") or "").lower()
        name = host.partition("]")[0] + "]" if host.startswith("[") else host.partition(":")[0]
        if name in allowed:
            return inner(environ, start_response)
        body = b"this dashboard answers only on its loopback address\n"
        start_response(
            "400 Bad Request",
            [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
        )
        return [body]

    return guarded


def _routes(app: Flask, store: Store, gate: ReplayGate, prefix: str) -> None:
    """Register every page; each is a closure over the store and the replay gate."""

    def page(template: str, status: int = 200, **values: Any) -> tuple[str, int]:
        return render_template(template, gate=gate, **values), status

    @app.after_request
    def harden(response: Response) -> Response:
        response.headers.update(SECURITY_HEADERS)
        return response

    @app.errorhandler(HTTPException)
    def failed(error: HTTPException) -> tuple[str, int]:
        return page("error.html", error.code or 500, error=error)

    @app.get(f"{prefix}/")
    def home() -> Any:
        return redirect(url_for("events"))

    @app.get(f"{prefix}/events")
    def events() -> tuple[str, int]:
        view = request.args.get("view", "all")
        only = ops.EventFilter(
            trigger=request.args.get("trigger") or None,
            rejected=view == "rejected",
            errors=view == "errors",
        )
        rows = _views.event_rows(store, _limit(), only, request.args.get("listener") or None)
        return page("events.html", rows=rows, view=view, only=only)

    @app.get(f"{prefix}/events/<path:event_id>")
    def event(event_id: str) -> tuple[str, int]:
        return page("event.html", **_found(_views.event_page, store, event_id))

    @app.post(f"{prefix}/events/<path:event_id>/replay")
    def replay(event_id: str) -> tuple[str, int]:
        if not gate.enabled:
            abort(404)
        if not gate.admits(request.form.get("token")):
            abort(403, "the form's token is missing or stale: reload the event's page and try again")
        real = request.form.get("confirm") == "replay"
        result, problem = gate.replay(store, event_id, dry_run=not real)
        return page("replay.html", 400 if problem else 200, event_id=event_id, result=result, problem=problem)

    @app.get(f"{prefix}/runs")
    def runs() -> tuple[str, int]:
        state = request.args.get("state") or None
        rows = _views.run_rows(store, _limit(), state)
        return page("runs.html", rows=rows, state=state, refresh_s=RUNS_REFRESH_S)

    @app.get(f"{prefix}/runs/<path:run_id>")
    def run(run_id: str) -> tuple[str, int]:
        return page("run.html", **_found(_views.run_page, store, run_id))

    @app.get(f"{prefix}/problems")
    def problems() -> tuple[str, int]:
        limit = _limit()
        rejected = _views.event_rows(store, limit, ops.EventFilter(rejected=True))
        errors = _views.event_rows(store, limit, ops.EventFilter(errors=True))
        return page("problems.html", rejected=rejected, errors=errors)

    @app.get(f"{prefix}/search")
    def search() -> tuple[str, int]:
        query = request.args.get("q", "")
        return page("search.html", query=query, hits=_search.search(store, query))


def _found(view: Callable[[Store, str], dict[str, Any]], store: Store, key: str) -> dict[str, Any]:
    """``view(store, key)``, or a 404 page when the store does not know ``key``."""
    try:
        return view(store, key)
    except _views.NotFoundError:
        abort(404, f"nothing is recorded under {key!r}")


def _limit() -> int:
    """``?limit=`` as a number of rows (the default when absent or not a number)."""
    raw = request.args.get("limit", "")
    return int(raw) if raw.isdigit() else DEFAULT_LIMIT
