"""``kfp-triggers dashboard``: the dashboard alone, on the project's bounded WSGI server.

It binds ``127.0.0.1`` unless told otherwise: the dashboard has no authentication, so exposing it
on another interface gives whoever reaches it the journal (credentials redacted) and, with a
configuration, the replay button. Put an authenticating proxy in front of it to share it.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from kfp_triggers.adapters.store.base import Store
from kfp_triggers.app.dashboard._app import DEFAULT_PREFIX, dashboard_app
from kfp_triggers.app.wsgi_server import ServerLimits, WsgiServer

DEFAULT_PORT = 8090
"""The dashboard's port unless ``--port`` says otherwise (``serve`` takes 8080)."""
LOOPBACK = "127.0.0.1"


def start_dashboard(
    store: Store,
    environ: Mapping[str, str],
    *,
    host: str = LOOPBACK,
    port: int = DEFAULT_PORT,
    config: list[Path] | None = None,
    limits: ServerLimits | None = None,
) -> WsgiServer:
    """The dashboard over ``store`` on a bound server, not yet serving (call ``serve_forever``).

    Replay is offered when ``config`` is given. ``port`` 0 picks a free port
    (``server.server_address`` says which).

    Raises:
        OSError: the address cannot be bound.
    """
    app = dashboard_app(
        store, config=config, environ=environ, allow_replay=bool(config), trusted_hosts=loopback_names(host)
    )
    return WsgiServer((host, port), app, limits)


def loopback_names(host: str) -> list[str] | None:
    """The ``Host`` names a server bound to ``host`` answers: loopback's own, or any (``None``)."""
    if host in ("127.0.0.1", "localhost", "::1"):
        return ["127.0.0.1", "localhost", "::1", "[::1]"]
    return None


def run_dashboard(server: WsgiServer) -> None:
    """Serve until interrupted, then close the server; says where on stderr."""
    host, port = server.server_address[:2]
    print(
        f"kfp-triggers: dashboard on http://{host!s}:{port}{DEFAULT_PREFIX}/ ; Ctrl-C stops.", file=sys.stderr
    )
    if host not in (LOOPBACK, "::1", "localhost"):
        print(
            "kfp-triggers: the dashboard has no authentication and is reachable beyond this machine; "
            "put an authenticating proxy in front of it.",
            file=sys.stderr,
        )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
