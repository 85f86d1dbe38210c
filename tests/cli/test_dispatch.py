"""``dispatch`` and ``rerun``: a run started by hand, checked, journalled as manual, launched once.

The installed console script with the in-process transport (launch and status run in its own
process) and a real kfp.local run of the example pipeline.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import EXAMPLES, run_cli

EXAMPLE = EXAMPLES / "github-push"
PARAMS = ["repo=acme/models", "sha=c0ffee1234567890abcdef1234567890abcdef12", "short_sha=c0ffee1",
          "event_id=manual-1", "trigger=train-on-main", "epochs=3"]  # fmt: skip


def _dispatch(tmp_path: Path, *extra: str, params: list[str] = PARAMS) -> Any:
    args = ["dispatch", "-c", EXAMPLE, "--store", f"sqlite:///{tmp_path}/state.db", "--by", "ops@example.com",
            "--listener", "github-push", "--trigger", "train-on-main", *extra]  # fmt: skip
    for param in params:
        args += ["--param", param]
    return run_cli(args, cwd=tmp_path)


def test_a_dispatch_runs_the_trigger_once_and_the_journal_says_who_sent_it(tmp_path: Path) -> None:
    result = _dispatch(tmp_path, "--wait", "--timeout", "120")
    assert result.code == 0, result.stdout + result.stderr
    sent = json.loads(result.stdout)
    assert sent["eventID"].startswith("dispatch-") and sent["dispatchedBy"] == "ops@example.com"
    assert sent["params"]["epochs"] == "3" and sent["params"]["pusher"] == "unknown"  # the template's default
    assert sent["run"]["state"] == "SUCCEEDED" and sent["run"]["trigger"] == "train-on-main"
    store = f"sqlite:///{tmp_path}/state.db"
    shown = json.loads(run_cli(["events", "show", sent["eventID"], "--store", store]).stdout)
    assert shown["request"]["method"] == "DISPATCH"
    assert shown["request"]["headers"]["Kfpt-Dispatched-By"] == ["ops@example.com"]
    told = run_cli(["events", "explain", sent["eventID"], "--store", store]).stdout
    assert "manual dispatch from ops@example.com" in told.splitlines()[1]

    # rerun: the same params again, a new event and key, linked to the first run.
    again = run_cli(["rerun", sent["run"]["runID"], "-c", EXAMPLE, "--store", store, "--wait"], cwd=tmp_path)
    assert again.code == 0, again.stdout + again.stderr
    rerun = json.loads(again.stdout)
    assert rerun["eventID"].startswith("rerun-") and rerun["rerunOf"] == sent["run"]["runID"]
    assert rerun["params"] == sent["params"] and rerun["idempotencyKey"] != sent["idempotencyKey"]
    assert rerun["run"]["runID"] != sent["run"]["runID"] and rerun["run"]["state"] == "SUCCEEDED"
    runs = json.loads(run_cli(["runs", "list", "--store", store, "--output", "json"]).stdout)
    assert len(runs) == 2


def test_bad_params_are_refused_with_every_problem_named_and_nothing_is_sent(tmp_path: Path) -> None:
    result = _dispatch(tmp_path, params=[*PARAMS[:2], "colour=red"])
    assert result.code == 1
    error = json.loads(result.stdout)["error"]
    assert "unknown param 'colour'" in error
    assert "param 'short_sha' is required" in error and "param 'event_id' is required" in error
    typed = _dispatch(tmp_path, params=[*PARAMS[:-1], "epochs=many"])
    assert typed.code == 1
    assert (
        "parameter 'epochs' (NUMBER_INTEGER): expected an integer, got 'many'"
        in json.loads(typed.stdout)["error"]
    )
    nothing = run_cli(["events", "list", "--store", f"sqlite:///{tmp_path}/state.db", "--output", "json"])
    assert json.loads(nothing.stdout) == []


def test_an_unknown_listener_or_trigger_lists_the_ones_there_are(tmp_path: Path) -> None:
    result = run_cli(["dispatch", "-c", EXAMPLE, "--store", f"sqlite:///{tmp_path}/s.db",
                      "--listener", "github-push", "--trigger", "deploy"], cwd=tmp_path)  # fmt: skip
    assert result.code == 1
    assert json.loads(result.stdout)["error"] == (
        "listener github-push has no trigger 'deploy' (it has: release-on-tag, train-on-main)"
    )
    missing = run_cli(
        ["rerun", "no-such-run", "-c", EXAMPLE, "--store", f"sqlite:///{tmp_path}/s.db"], cwd=tmp_path
    )
    assert missing.code == 1 and "no run 'no-such-run'" in json.loads(missing.stdout)["error"]
