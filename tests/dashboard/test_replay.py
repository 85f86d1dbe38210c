"""Replay from the dashboard: off without a configuration, a dry run first, a real one on confirmation.

Every replay is a POST carrying the process's token; a GET, a missing or foreign token is refused
before anything is read or run.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from kfp_triggers.adapters.store import store_from_url
from kfp_triggers.adapters.store.base import Store
from kfp_triggers.adapters.transports.memory import MemoryBus
from kfp_triggers.app.dashboard import dashboard_app
from kfp_triggers.app.runtime import context, reset_context
from kfp_triggers.wire.eventtypes import TOPIC_MATCHED
from tests.dashboard.conftest import Journal
from tests.dashboard.pages import visible


def replaying(store: Store, journal: Journal) -> FlaskClient:
    """A dashboard offering replay against the journal's own configuration."""
    environ = {"KFPT_SECRETS_DIR": str(journal.secrets)}
    return dashboard_app(store, config=[journal.config], environ=environ, allow_replay=True).test_client()


def token_of(client: FlaskClient, event_id: str) -> str:
    """The token the event page's replay form carries."""
    html = client.get(f"/dashboard/events/{event_id}").text
    found = re.search(r'name="token" value="([^"]+)"', html)
    assert found, "no replay form on the event page"
    return found.group(1)


def test_without_a_configuration_there_is_no_replay(store: Store, journal: Journal) -> None:
    for client in (
        dashboard_app(store, environ={}).test_client(),
        dashboard_app(store, environ={}, allow_replay=True).test_client(),
        dashboard_app(store, config=[journal.config], environ={}, allow_replay=False).test_client(),
    ):
        page = client.get(f"/dashboard/events/{journal.push}").text
        assert 'name="token"' not in page and "Replay" not in visible(page)
        assert client.post(f"/dashboard/events/{journal.push}/replay").status_code == 404


def test_a_replay_without_the_process_token_is_refused(store: Store, journal: Journal) -> None:
    client = replaying(store, journal)
    url = f"/dashboard/events/{journal.push}/replay"
    other = token_of(replaying(store, journal), journal.push)
    assert other != token_of(client, journal.push)
    for form in ({}, {"token": ""}, {"token": "guessed"}, {"token": other, "confirm": "replay"}):
        refused = client.post(url, data=form)
        assert refused.status_code == 403
        assert "token is missing or stale" in visible(refused.text)
    assert client.post(url, data={"token": "x" * 20_000}).status_code == 413
    looked = client.get(url)  # a GET never replays: it asks for an event that does not exist
    assert looked.status_code == 404
    assert "Replay of" not in visible(looked.text)


def test_the_dry_run_says_what_each_trigger_would_decide_and_asks_before_replaying(
    store: Store, journal: Journal
) -> None:
    client = replaying(store, journal)
    runs_before = len(store.list_runs(100))
    answer = client.post(
        f"/dashboard/events/{journal.push}/replay", data={"token": token_of(client, journal.push)}
    )
    assert answer.status_code == 200
    text = visible(answer.text)
    assert "Dry run: nothing was launched." in text
    assert "train-on-main True True" in text
    assert "release-on-tag False False" in text
    assert re.search(r'name="confirm" value="replay"', answer.text)
    assert "Replay for real" in text
    assert len(store.list_runs(100)) == runs_before


def test_an_event_without_a_journalled_request_cannot_be_replayed(store: Store, journal: Journal) -> None:
    client = replaying(store, journal)
    token = token_of(client, journal.push)
    answer = client.post("/dashboard/events/nope/replay", data={"token": token})
    assert answer.status_code == 400
    assert "no journalled request for event 'nope'" in visible(answer.text)


@pytest.fixture
def copy_of_journal(journal: Journal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """A copy of the journal, configured as this process's chain (a real replay runs through it)."""
    copy = tmp_path / "copy.db"
    with sqlite3.connect(journal.url.removeprefix("sqlite:///")) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    for name, value in {
        "KFPT_STORE": f"sqlite:///{copy}",
        "KFPT_CONFIG": str(journal.config),
        "KFPT_SECRETS_DIR": str(journal.secrets),
        "KFPT_LAUNCHER": "dry-run",
        "KFPT_LOCAL_OUTPUT_ROOT": str(tmp_path / "runs"),
        "KFPT_TRANSPORT": "memory",
    }.items():
        monkeypatch.setenv(name, value)
    reset_context()
    store = store_from_url(f"sqlite:///{copy}")
    yield store
    store.close()
    reset_context()


def test_a_confirmed_replay_goes_through_the_chain_under_the_original_event_id(
    copy_of_journal: Store, journal: Journal
) -> None:
    store = copy_of_journal
    client = replaying(store, journal)
    runs_before = {r.run_id for r in store.list_runs(100)}
    answer = client.post(
        f"/dashboard/events/{journal.push}/replay",
        data={"token": token_of(client, journal.push), "confirm": "replay"},
    )
    assert answer.status_code == 200
    text = visible(answer.text)
    assert "Replayed: HTTP 202: {" in text
    assert f'"eventID":"{journal.push}"' in text
    assert "Replay for real" not in text
    # The trigger that launched already launches nothing new: same idempotency key.
    assert {r.run_id for r in store.list_runs(100)} == runs_before


def test_each_replay_runs_every_stage_once_however_many_the_process_has_made(
    copy_of_journal: Store, journal: Journal
) -> None:
    """The dashboard lives on: its second replay must not find the chain subscribed twice."""
    client = replaying(copy_of_journal, journal)
    for _ in range(2):
        answer = client.post(
            f"/dashboard/events/{journal.push}/replay",
            data={"token": token_of(client, journal.push), "confirm": "replay"},
        )
        assert answer.status_code == 200
    bus = context().publisher
    assert isinstance(bus, MemoryBus)
    matched = [e for e in bus.events(TOPIC_MATCHED) if e.data["trigger"]["name"] == "train-on-main"]
    assert len(matched) == 2
