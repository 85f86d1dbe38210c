"""Serving the dashboard beside another WSGI application (the ingest edge) on one server."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def mounted(dashboard: WsgiApp, other: WsgiApp, prefix: str) -> WsgiApp:
    """One WSGI application: paths under ``prefix`` go to ``dashboard``, every other path to ``other``.

    The environ is handed on unchanged (the dashboard's routes include the prefix), so ``other``
    sees exactly the request it would see alone. ``prefix`` is the one given to ``dashboard_app``.

    Raises:
        ValueError: ``prefix`` is empty (the dashboard would take every path) or ends with ``/``.
    """
    if not prefix.startswith("/") or prefix.endswith("/"):
        raise ValueError(f"mount the dashboard under a path such as '/dashboard', not {prefix!r}")

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO") or "")
        mine = path == prefix or path.startswith(prefix + "/")
        return (dashboard if mine else other)(environ, start_response)

    return app
