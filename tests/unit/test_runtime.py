"""The runtime wiring: settings checked up front, failures logged with their event's context."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from kfp_triggers import logs
from kfp_triggers.adapters.transports.memory import MemoryBus
from kfp_triggers.app.runtime import Settings, build_context, handle_event
from kfp_triggers.errors import KfptError
from kfp_triggers.stages.context import StageContext
from kfp_triggers.wire.eventdata import RunCreated
from kfp_triggers.wire.events import event_for
from tests.conftest import EXAMPLES

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _context(tmp_path: Path, environ: dict[str, str]) -> StageContext:
    settings = Settings.from_env(
        {"KFPT_CONFIG": str(EXAMPLES / "github-push"), "KFPT_STORE": f"sqlite:///{tmp_path}/s.db", **environ}
    )
    return build_context(settings, MemoryBus(), environ)


def test_a_bad_notifier_setting_fails_the_stage_at_start_not_at_the_first_state_change(
    tmp_path: Path,
) -> None:
    environ = {"KFPT_GITHUB_TOKEN_SECRET": "github-token/token", "KFPT_GITHUB_CANCELED_AS": "cancelled"}
    with pytest.raises(KfptError, match="KFPT_GITHUB_CANCELED_AS must be 'error' or 'failure'"):
        _context(tmp_path, environ)
    ctx = _context(tmp_path, {"KFPT_GITHUB_TOKEN_SECRET": "github-token/token"})
    assert [type(n).__name__ for n in ctx.notifiers] == ["GitHubStatusNotifier"]
    assert _context(tmp_path, {}).notifiers == []


def test_github_enterprise_hosts_reach_the_interceptors_and_a_malformed_one_fails_at_start(
    tmp_path: Path,
) -> None:
    with pytest.raises(KfptError, match="KFPT_GITHUB_ENTERPRISE_HOSTS"):
        _context(tmp_path, {"KFPT_GITHUB_ENTERPRISE_HOSTS": "https://ghe.example.com/evil"})
    ctx = _context(tmp_path, {"KFPT_GITHUB_ENTERPRISE_HOSTS": "GHE.example.com, ghe2.example.com:8443"})
    allowed = ctx.processor.interceptors.github_enterprise_hosts
    assert allowed == {"ghe.example.com", "ghe2.example.com:8443"}
    assert _context(tmp_path, {}).processor.interceptors.github_enterprise_hosts == frozenset()


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """The engine's records, formatted as they are emitted (the log context is read then)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.CloudLoggingFormatter(project="proj"))
    engine = logging.getLogger(logs.ENGINE_LOGGER)
    engine.addHandler(handler)
    try:
        yield stream
    finally:
        engine.removeHandler(handler)


def test_a_stage_that_gives_up_says_so_with_the_events_context(
    tmp_path: Path, json_lines: io.StringIO
) -> None:
    ctx = _context(tmp_path, {"KFPT_LAUNCHER": "dry-run"})
    created = RunCreated("delivery-9", "kfpt-key", "run-9", "dry-run", "PENDING", None)
    event = event_for(created, source="//test/launch", traceparent=PARENT)
    assert handle_event("launch", event, ctx) is None  # launch does not take run.created: given up
    [line] = [json.loads(x) for x in json_lines.getvalue().splitlines() if "giving up" in x]
    assert line["severity"] == "ERROR"
    assert (line["stage"], line["eventID"]) == ("launch", "delivery-9")
    assert line["logging.googleapis.com/trace"] == "projects/proj/traces/4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.mark.parametrize(("annotation", "status"), [(None, 202), ("200", 200), ("201", 201), ("204", 204)])
def test_a_listener_can_choose_the_status_of_an_accepted_webhook(
    tmp_path: Path, annotation: str | None, status: int
) -> None:
    """Slack and some brokers redeliver anything but 200; Tekton always answers 202."""
    import shutil

    from kfp_triggers.app.runtime import handle_http
    from kfp_triggers.tekton.request import read_http_request

    config = tmp_path / "config"
    shutil.copytree(EXAMPLES / "github-push", config)
    listener = config / "listener.yaml"
    if annotation is not None:
        text = listener.read_text()
        anchor = "kind: EventListener\nmetadata:\n  name: github-push\n"
        assert text.count(anchor) == 1
        annotated = anchor + f'  annotations: {{kfp-triggers.dev/accepted-status: "{annotation}"}}\n'
        listener.write_text(text.replace(anchor, annotated))
    settings = Settings.from_env({"KFPT_CONFIG": str(config), "KFPT_SECRETS_DIR": str(config / "secrets")})
    ctx = build_context(settings, MemoryBus(), {})
    answer = handle_http(read_http_request(config / "requests" / "push.http"), ctx)
    assert answer.status == status
    if status == 204:
        assert answer.body == b""
    else:
        assert json.loads(answer.body)["eventListener"] == "github-push"
    assert len(ctx.publisher.published) == 1  # type: ignore[attr-defined]  # handed on either way
