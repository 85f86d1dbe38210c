"""The whole chain in this process on real parts: the stages' own wiring, SQLite, kfp.local.

Attack tests drive ingest as a sender would (raw requests through the engine's ingest stage) and
let the in-process bus deliver to intercept, render, launch and status with the deployed wiring
(:func:`kfp_triggers.app.runtime.build_context`, :func:`kfp_triggers.app.runtime.handle_event`).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from kfp_triggers.adapters.store.base import RunRecord
from kfp_triggers.adapters.transports.memory import MemoryBus
from kfp_triggers.app.runtime import Settings, build_context, handle_event
from kfp_triggers.app.serve import STAGE_TOPICS
from kfp_triggers.stages import StageContext
from kfp_triggers.stages.ingest import HttpAnswer, ingest
from kfp_triggers.tekton.request import RawRequest
from kfp_triggers.wire.events import StatusTick, event_for
from tests.conftest import EXAMPLES

SECRET = (EXAMPLES / "github-push" / "secrets" / "github-webhook" / "secret").read_bytes()


def copy_example(tmp_path: Path) -> Path:
    """A copy of the example listener and its pipelines under ``tmp_path``; returns the config folder."""
    config = tmp_path / "config"
    shutil.copytree(EXAMPLES / "github-push", config)
    shutil.copytree(EXAMPLES / "pipelines", tmp_path / "pipelines")
    return config


@dataclass
class Chain:
    """A context whose bus runs every stage synchronously, as ``serve`` wires it."""

    ctx: StageContext

    def post(self, path: str, headers: Mapping[str, str], body: bytes) -> HttpAnswer:
        """Send one request to ingest, as a sender would."""
        header_map = {name: [value] for name, value in headers.items()}
        return ingest(self.ctx, RawRequest("POST", path, header_map, body))

    def tick(self) -> None:
        """One status tick: poll every unfinished run."""
        tick = StatusTick(tick_at=datetime.now(UTC).isoformat().replace("+00:00", "Z"))
        handle_event("status", event_for(tick, source="//test/ticker", traceparent=None), self.ctx)

    def runs(self) -> list[RunRecord]:
        return self.ctx.store.list_runs(100)

    def settle(self, done: Callable[[], bool], timeout_s: float = 90) -> bool:
        """Tick until ``done()`` (or the time is up)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if done():
                return True
            self.tick()
            time.sleep(0.2)
        return done()


def start_chain(tmp_path: Path, config: Path, environ: Mapping[str, str]) -> Chain:
    full = {
        "KFPT_CONFIG": str(config),
        "KFPT_SECRETS_DIR": str(config / "secrets"),
        "KFPT_STORE": f"sqlite:///{tmp_path}/state.db",
        "KFPT_LOCAL_OUTPUT_ROOT": str(tmp_path / "runs"),
        "KFPT_LAUNCHER": "local",
        **environ,
    }
    bus = MemoryBus()
    ctx = build_context(Settings.from_env(full), bus, full)
    for stage, topic in STAGE_TOPICS.items():
        bus.subscribe(topic, functools.partial(handle_event, stage, ctx=ctx))
    return Chain(ctx)


def github_headers(
    body: bytes, delivery: str, *, secret: bytes = SECRET, event: str = "push"
) -> dict[str, str]:
    """The headers GitHub sends with a signed webhook."""
    signature = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Github-Event": event,
        "X-Github-Delivery": delivery,
        "X-Hub-Signature-256": f"sha256={signature}",
    }
