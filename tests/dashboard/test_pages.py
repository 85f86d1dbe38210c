"""Every dashboard page, read with Flask's test client over a journal the engine wrote."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from werkzeug.test import Client

from kfp_triggers.adapters.store import store_from_url
from kfp_triggers.adapters.store.base import Store, TriggerDecision
from kfp_triggers.app.dashboard import dashboard_app, mounted
from tests.cli.test_events_explain import T0
from tests.dashboard.conftest import BEARER, BINARY_BODY, HOSTILE_BODY, HOSTILE_HEADER, WRONG_TOKEN, Journal
from tests.dashboard.pages import links, visible


@pytest.fixture
def client(store: Store) -> FlaskClient:
    """The dashboard without replay, as ``kfp-triggers dashboard`` without ``-c`` serves it."""
    return dashboard_app(store, environ={}).test_client()


def get(client: FlaskClient, path: str, status: int = 200) -> str:
    """The page at ``path`` (under ``/dashboard``), after checking its status."""
    response = client.get(f"/dashboard{path}")
    assert response.status_code == status, response.text
    return response.text


# -- events ---------------------------------------------------------------------------------------


def test_the_event_list_shows_each_trigger_verdict_and_links_events_and_runs(
    client: FlaskClient, journal: Journal
) -> None:
    html = get(client, "/events")
    text = visible(html)
    for event_id in (journal.tag, journal.gitlab, journal.refused, journal.hostile, journal.binary):
        assert f"/dashboard/events/{event_id}" in links(html)
    assert "train-on-main: accepted" in text
    assert "release-on-tag: rejected" in text
    assert "broken-binding: error" in text
    assert "not-a-run: error" in text
    assert "GitHub push · acme-ml/fraud-model · refs/heads/main · c0ffee1" in text
    assert "GitLab Push Hook · acme/platform · refs/heads/main · da15608" in text
    assert "/dashboard/runs/run-1" in links(html)
    # Newest first.
    assert text.index("binary-1") < text.index("hostile-1") < text.index("gl-refused")


def test_the_event_list_filters_refused_and_errored_events_and_by_trigger(
    client: FlaskClient, journal: Journal
) -> None:
    errors = links(get(client, "/events?view=errors"))
    assert f"/dashboard/events/{journal.gitlab}" in errors
    assert f"/dashboard/events/{journal.push}" not in errors
    by_trigger = links(get(client, "/events?trigger=release-on-tag"))
    assert f"/dashboard/events/{journal.push}" in by_trigger
    assert f"/dashboard/events/{journal.gitlab}" not in by_trigger
    only_two = [href for href in links(get(client, "/events?limit=2")) if "/events/" in href]
    assert only_two == [f"/dashboard/events/{journal.conflict}", f"/dashboard/events/{journal.binary}"]


def test_the_problems_page_lists_events_with_errors_apart_from_refused_ones(
    client: FlaskClient, journal: Journal
) -> None:
    html = get(client, "/problems")
    errors, _, rejected = html.partition('id="rejected"')
    assert f"/dashboard/events/{journal.gitlab}" in links(errors)
    assert f"/dashboard/events/{journal.push}" not in links(errors)
    assert f"/dashboard/events/{journal.tag}" in links(rejected)
    assert "release-on-tag: rejected" not in visible(errors)


def test_an_event_is_explained_as_events_explain_tells_it(client: FlaskClient, journal: Journal) -> None:
    html = get(client, f"/events/{journal.push}")
    text = visible(html)
    assert f"Event {journal.push}" in text
    assert "GitHub push · acme-ml/fraud-model · refs/heads/main · c0ffee1" in text
    assert "listener default/github-push" in text
    assert "received 2026-12-01 12:00:05 UTC" in text
    assert "train-on-main: accepted" in text
    assert "stopped by only version tags (9 FAILED_PRECONDITION)" in text
    assert "filter body.ref.startsWith('refs/tags/v') && body.created saw:" in text
    assert 'body.ref "refs/heads/main"' in text
    assert "short_sha c0ffee1" in text
    assert "renders Run train acme-ml/fraud-model@c0ffee1 · pipeline ../pipelines/train.yaml" in text
    assert "run run-1 on kfp: SUCCEEDED" in text
    assert "/dashboard/runs/run-1" in links(html)
    assert "https://kfp.example/#/runs/details/run-1" in links(html)
    # The text form is events explain's own.
    assert f"event {journal.push} for listener default/github-push, received 2026-12-01 12:00:05 UTC" in text


def test_the_body_is_decoded_and_pretty_never_base64(
    client: FlaskClient, store: Store, journal: Journal
) -> None:
    text = visible(get(client, f"/events/{journal.push}"))
    assert "Body application/json, 5855 bytes" in text
    assert '"full_name": "acme-ml/fraud-model",' in text
    record = store.get_event(journal.push)
    assert record is not None and record.request is not None
    assert record.request["bodyBase64"][:40] not in text
    binary = visible(get(client, f"/events/{journal.binary}"))
    assert f"(binary body of {len(BINARY_BODY)} bytes, not UTF-8 text: not shown)" in binary
    assert base64.b64encode(BINARY_BODY).decode() not in binary


def test_what_the_sender_wrote_is_shown_as_text_never_as_markup(
    client: FlaskClient, journal: Journal
) -> None:
    html = get(client, f"/events/{journal.hostile}")
    assert "<script" not in html
    assert "<img" not in html
    assert "&lt;script&gt;alert(&#39;body&#39;)&lt;/script&gt;" in html
    text = visible(html)
    assert json.dumps(HOSTILE_BODY["note"]) in text
    assert f"X-Gitlab-Event {HOSTILE_HEADER}" in text
    listing = get(client, "/events")
    assert "<img" not in listing and "<b>main</b>" not in listing


def test_credentials_are_redacted_on_every_page(client: FlaskClient, journal: Journal) -> None:
    pages = [get(client, f"/events/{journal.hostile}"), get(client, f"/events/{journal.refused}")]
    pages += [get(client, "/events"), get(client, "/problems"), get(client, f"/search?q={journal.refused}")]
    for html in pages:
        assert BEARER not in html
        assert WRONG_TOKEN not in html
    assert "Authorization [redacted]" in visible(pages[0])
    assert "X-Gitlab-Token [redacted]" in visible(pages[1])


def test_a_request_journalled_under_an_id_of_its_own_says_which_id_it_claimed(
    client: FlaskClient, journal: Journal
) -> None:
    assert journal.conflict.startswith(f"{journal.gitlab}~")
    text = visible(get(client, f"/events/{journal.conflict}"))
    assert f"It claimed event id {journal.gitlab} , which another request already held" in text


def test_a_trigger_not_reached_and_bodies_not_in_the_journal(tmp_path: Path) -> None:
    """A render journalled before its decisions (a stage in flight); a body too large, one claim-checked."""
    store = store_from_url(f"sqlite:///{tmp_path}/state.db")
    try:
        request = {
            "method": "POST",
            "url": "/",
            "headers": {},
            "bodyOmitted": {"bytes": 700000, "sha256": "ab"},
        }
        store.record_event("ev-1", "default/el", T0, request, "v1")
        store.record_render("ev-1", "late", {"n": "1"}, [], "key-1", None)
        store.record_decisions("ev-1", [TriggerDecision("early", None, [], True, {}, None)])
        client = dashboard_app(store, environ={}).test_client()
        assert "late: not reached" in visible(get(client, "/events"))
        text = visible(get(client, "/events/ev-1"))
        assert "late: not reached" in text
        assert "early: accepted" in text
        assert "(body not in the journal: 700000 bytes; too large for the journal)" in text
        claimed = {"method": "POST", "url": "/", "headers": {}, "bodyRef": {"sha256": "cd", "bytes": 9000000}}
        store.record_event("ev-2", "default/el", T0, claimed, "v1")
        stored = visible(get(client, "/events/ev-2"))
        assert "(body not in the journal: 9000000 bytes; kept in the body store" in stored
    finally:
        store.close()


# -- runs -----------------------------------------------------------------------------------------


def test_the_run_list_shows_state_backend_link_and_group_and_refreshes_itself(
    client: FlaskClient, journal: Journal
) -> None:
    html = get(client, "/runs")
    assert '<meta http-equiv="refresh" content="10">' in html
    text = visible(html)
    assert "run-1 SUCCEEDED train-on-main" in text
    assert "run-5 RUNNING one-at-a-time default/single/main gl-accepted kfp" in text
    assert "run-4 CANCELED latest default/latest/main" in text
    assert "https://kfp.example/#/runs/details/run-5" in links(html)
    running = visible(get(client, "/runs?state=RUNNING"))
    assert "run-5" in running and "run-1 " not in running


def test_a_run_shows_its_states_its_group_and_the_event_behind_it(
    client: FlaskClient, journal: Journal
) -> None:
    html = get(client, "/runs/run-1")
    text = visible(html)
    assert "Run run-1 SUCCEEDED" in text
    assert "trigger train-on-main (default/github-push)" in text
    assert "name train acme-ml/fraud-model@c0ffee1" in text
    assert "launched 2026-12-01 12:00:05 UTC SUCCEEDED 2026-12-01 12:01:05 UTC" in text
    assert "concurrency group none" in text
    assert f"/dashboard/events/{journal.push}" in links(html)
    assert "train-on-main: accepted" in text
    assert "sha c0ffee1234567890abcdef1234567890abcdef12 short_sha c0ffee1" in text
    grouped = visible(get(client, "/runs/run-5"))
    assert "concurrency group default/single/main" in grouped


def test_unknown_ids_are_404_with_the_id_escaped(client: FlaskClient) -> None:
    assert "nothing is recorded under 'nope'" in visible(get(client, "/events/nope", 404))
    assert "nothing is recorded under 'run-nope'" in visible(get(client, "/runs/run-nope", 404))
    hostile = get(client, "/events/%3Cscript%3Ex%3C%2Fscript%3E", 404)
    assert "<script>" not in hostile and "&lt;script&gt;" in hostile
    get(client, "/nowhere", 404)
    assert client.get("/elsewhere").status_code == 404


# -- search ---------------------------------------------------------------------------------------


def test_search_finds_events_runs_deliveries_and_commits(client: FlaskClient, journal: Journal) -> None:
    assert visible(get(client, f"/search?q={journal.tag}")).count("event id") == 1
    run = get(client, "/search?q=run-5")
    assert "/dashboard/runs/run-5" in links(run)
    assert "run of trigger one-at-a-time: RUNNING" in visible(run)
    delivery = get(client, f"/search?q={journal.gitlab}")
    assert f"/dashboard/events/{journal.gitlab}" in links(delivery)
    assert "delivery gl-accepted" in visible(delivery)
    assert f"/dashboard/events/{journal.conflict}" in links(delivery)
    commit = get(client, "/search?q=C0FFEE1")
    assert f"/dashboard/events/{journal.push}" in links(commit)
    assert f"/dashboard/events/{journal.tag}" in links(commit)
    assert f"/dashboard/events/{journal.gitlab}" not in links(commit)
    assert "Nothing matches c0f" in visible(get(client, "/search?q=c0f"))
    assert "Search for an event id" in visible(get(client, "/search?q=+"))


# -- the application ------------------------------------------------------------------------------


def test_pages_forbid_scripts_and_framing(client: FlaskClient) -> None:
    response = client.get("/dashboard/events")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/dashboard/").headers["Location"].endswith("/dashboard/events")
    with client.get("/dashboard/static/dashboard.css") as css:
        assert css.status_code == 200
        assert css.mimetype == "text/css"


def test_another_prefix_and_mounting_beside_another_application(store: Store) -> None:
    app = dashboard_app(store, environ={}, prefix="/ops/triggers")
    assert app.test_client().get("/ops/triggers/runs").status_code == 200
    assert app.test_client().get("/dashboard/runs").status_code == 404

    def edge(environ: dict[str, object], start_response: object) -> list[bytes]:
        start_response("202 Accepted", [("Content-Type", "text/plain")])  # type: ignore[operator]
        return [b"edge"]

    both = Client(mounted(dashboard_app(store, environ={}), edge, "/dashboard"))
    assert both.get("/dashboard/runs").status_code == 200
    assert both.post("/hooks").text == "edge"
    assert both.get("/dashboards").text == "edge"
    for bad in ("dashboard", "/dashboard/"):
        with pytest.raises(ValueError):
            dashboard_app(store, environ={}, prefix=bad)
    with pytest.raises(ValueError):
        mounted(app, edge, "")
