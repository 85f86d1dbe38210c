"""``kfp-triggers dashboard``: where it listens, and what it says when it cannot."""

from __future__ import annotations

import socket
import threading
import urllib.request
from typing import Any

from kfp_triggers.adapters.store.base import Store
from kfp_triggers.app.dashboard.server import start_dashboard
from tests.dashboard.conftest import Journal


def test_it_binds_loopback_unless_told_otherwise_and_serves_on_the_bounded_server(
    store: Store, journal: Journal
) -> None:
    server = start_dashboard(store, {}, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        assert host == "127.0.0.1"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/dashboard/runs/run-1", timeout=5) as answer:
            assert answer.status == 200
            assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'")
            assert b"SUCCEEDED" in answer.read()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_port_in_use_exits_1_saying_so(cli: Any, journal: Journal) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli(["dashboard", "--store", journal.url, "--port", str(port)])
    assert result.code == 1
    assert result.json()["error"].startswith(f"cannot listen on 127.0.0.1:{port}: ")
