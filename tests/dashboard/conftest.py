"""A journal written by the engine itself, shared by the dashboard's tests.

Signed and unsigned requests go through the real intercept, render, launch and status stages in
this process (``events explain``'s test chain: an in-process bus, an SQLite store, a stand-in
backend whose runs have links). One configuration holds the github-push example listener and the
``hooks`` listener of one trigger per core interceptor, so the journal has accepted, rejected and
errored triggers, runs in a concurrency group, a run that ended, a hostile body and a binary one.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kfp_triggers.adapters.launchers.base import RunState
from kfp_triggers.adapters.store import store_from_url
from kfp_triggers.adapters.store.base import Store
from tests.cli.test_events_explain import (
    BITBUCKET_SECRET,
    GITHUB_PUSH,
    GITLAB_TOKEN,
    PUSH,
    PUSH_TAG,
    Chain,
    gitlab_push,
    hooks_config,
    raw_request,
)
from tests.conftest import EXAMPLES

HOSTILE_BODY = {"note": "<script>alert('body')</script>", "ref": "refs/heads/<b>main</b>"}
"""A body whose text would be markup if it were not escaped."""
HOSTILE_HEADER = "<img src=x onerror=alert(1)>"
BEARER = "bearer-credential-value"
"""An ``Authorization`` credential sent with a request: it must never appear on a page."""
WRONG_TOKEN = "not-the-gitlab-token"
BINARY_BODY = b"\xff\xfe\x00binary\x80payload"
"""A body that is not UTF-8: described, never shown (not as base64 either)."""


@dataclass
class Journal:
    """The filled store's URL and the ids of what was sent."""

    url: str
    push: str = ""
    tag: str = ""
    gitlab: str = ""
    refused: str = ""
    hostile: str = ""
    binary: str = ""
    conflict: str = ""
    """A request that claimed ``gitlab``'s id with another body, journalled under an id of its own."""
    runs: dict[str, str] = field(default_factory=dict)
    """Run ids by ``<event>/<trigger>``."""
    config: Path = Path()
    secrets: Path = Path()


def _layout(base: Path) -> tuple[Path, Path]:
    """Both listeners in one configuration directory, with their secrets (relative paths kept)."""
    config, secrets = base / "config", base / "secrets"
    config.mkdir()
    shutil.copy(GITHUB_PUSH / "listener.yaml", config / "github-push.yaml")
    shutil.copytree(EXAMPLES / "pipelines", base / "pipelines")
    (config / "hooks.yaml").write_text(hooks_config(), encoding="utf-8")
    shutil.copytree(GITHUB_PUSH / "secrets", secrets)
    (secrets / "gitlab").mkdir()
    (secrets / "gitlab" / "token").write_text(GITLAB_TOKEN)
    (secrets / "bitbucket").mkdir()
    (secrets / "bitbucket" / "secret").write_bytes(BITBUCKET_SECRET)
    return config, secrets


def _to_listener(raw: bytes, name: str) -> bytes:
    """A request file addressed to listener ``name`` (the example's requests post to ``/``)."""
    return raw.replace(b"POST / HTTP/1.1", f"POST /{name} HTTP/1.1".encode(), 1)


def _runs(store: Store, event_id: str) -> dict[str, str]:
    record = store.get_event(event_id)
    assert record is not None
    return {f"{event_id}/{t.trigger}": t.run_id for t in record.triggers if t.run_id}


@pytest.fixture(scope="session")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Journal]:
    """Send every kind of request through the chain once; yields the store URL and the ids."""
    base = tmp_path_factory.mktemp("dashboard")
    config, secrets = _layout(base)
    chain = Chain(base, config, secrets)
    found = Journal(url=chain.url, config=config, secrets=secrets)
    try:
        found.push = chain.send(_to_listener(PUSH, "github-push"))
        found.tag = chain.send(_to_listener(PUSH_TAG, "github-push"))
        found.gitlab = chain.send(gitlab_push(GITLAB_TOKEN, "gl-accepted"))
        found.refused = chain.send(gitlab_push(WRONG_TOKEN, "gl-refused"))
        hostile = {
            "Content-Type": "application/json",
            "Idempotency-Key": "hostile-1",
            "X-Gitlab-Event": HOSTILE_HEADER,
            "Authorization": f"Bearer {BEARER}",
        }
        found.hostile = chain.send(raw_request("/hooks", hostile, json.dumps(HOSTILE_BODY).encode()))
        binary = {"Content-Type": "application/octet-stream", "Idempotency-Key": "binary-1"}
        found.binary = chain.send(raw_request("/hooks", binary, BINARY_BODY))
        claimed = {"Content-Type": "application/json", "Idempotency-Key": found.gitlab}
        chain.send(raw_request("/hooks", claimed, b'{"other": "body"}'))
        newest = chain.ctx.store.list_events(1)[0].event_id
        assert newest.startswith(f"{found.gitlab}~"), newest
        found.conflict = newest
        for event_id in (found.push, found.tag, found.gitlab):
            found.runs.update(_runs(chain.ctx.store, event_id))
        chain.end(found.runs[f"{found.push}/train-on-main"], RunState.SUCCEEDED)
        yield found
    finally:
        chain.close()


@pytest.fixture
def store(journal: Journal) -> Iterator[Store]:
    """The filled store, opened as the ``dashboard`` command opens it."""
    opened = store_from_url(journal.url)
    yield opened
    opened.close()
