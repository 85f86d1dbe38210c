"""A dashboard on loopback answers only loopback ``Host`` names: no DNS rebinding onto it."""

from __future__ import annotations

from pathlib import Path

import pytest

from kfp_triggers.adapters.store import store_from_url
from kfp_triggers.app.dashboard import dashboard_app
from kfp_triggers.app.dashboard.server import loopback_names


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("127.0.0.1:8090", 200),
        ("localhost", 200),
        ("[::1]:8090", 200),
        ("attacker.example", 400),
        ("attacker.example:8090", 400),
        ("127.0.0.1.attacker.example:8090", 400),
        ("", 400),
    ],
)
def test_only_loopback_names_are_answered(tmp_path: Path, host: str, status: int) -> None:
    store = store_from_url(f"sqlite:///{tmp_path}/state.db")
    app = dashboard_app(store, environ={}, trusted_hosts=loopback_names("127.0.0.1"))
    answer = app.test_client().get("/dashboard/events", headers={"Host": host})
    assert answer.status_code == status


def test_a_dashboard_bound_elsewhere_leaves_the_host_to_its_proxy() -> None:
    assert loopback_names("0.0.0.0") is None
    assert loopback_names("localhost") == loopback_names("::1") == ["127.0.0.1", "localhost", "::1", "[::1]"]
