"""``events show`` and ``runs show``: JSON when piped (as before), a readable account on request.

A real chain journals a signed push and runs the example pipeline with kfp.local; the commands are
the installed console script reading that store.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kfp_triggers.app.serve import send_request, wait_for
from tests.chain.serving import EXAMPLE, serving
from tests.conftest import run_cli


def test_show_tells_an_event_and_its_run_for_people(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with serving(tmp_path, {"KFPT_LAUNCHER": "local"}) as server:
        status, answer = send_request(server.url, EXAMPLE / "requests" / "push.http")
        assert status == 202
        event_id = json.loads(answer)["eventID"]

        def finished() -> bool:
            runs = [r for r in server.ctx.store.list_runs(5) if r.event_id == event_id]
            return bool(runs) and runs[0].terminal and bool(runs[0].details.get("outputs"))

        assert wait_for(finished, 90)
        [run] = [r for r in server.ctx.store.list_runs(5) if r.event_id == event_id]
    store = f"sqlite:///{tmp_path}/state.db"

    piped = run_cli(["events", "show", event_id, "--store", store])
    assert piped.code == 0 and json.loads(piped.stdout)["eventID"] == event_id  # scripts keep the JSON

    told = run_cli(["events", "show", event_id, "--store", store, "--output", "text"])
    assert told.code == 0
    assert told.stdout.startswith(f"event {event_id} for listener default/github-push")
    assert "[accepted] train-on-main" in told.stdout and "[rejected] release-on-tag" in told.stdout

    shown = run_cli(["runs", "show", run.run_id, "--store", store, "--output", "text"])
    assert shown.code == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == f"run {run.run_id} on local: SUCCEEDED"
    github = run.details["origin"]["github"]
    assert f"  from {github['owner']}/{github['repo']} commit {github['sha']} (verified by github)" in lines
    assert any(line.startswith("    prepare/config: ") for line in lines)
    assert f"    prepare/Output = {github['sha'][:7]}" in lines
    assert json.loads(run_cli(["runs", "show", run.run_id, "--store", store]).stdout)["runID"] == run.run_id
