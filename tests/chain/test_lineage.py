"""``kfp-triggers lineage`` from each entry point over a real chain's store.

A signed push runs the example pipeline with kfp.local; the installed console script then walks
the store from the event, the run, the commit and an artifact the run wrote.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.chain.serving import example_run
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    store, event_id, run = example_run(tmp_path_factory.mktemp("lineage"))
    return {"store": store, "event": event_id, "run": run}


def _lineage(journal: dict[str, Any], ref: str) -> dict[str, Any]:
    result = run_cli(["lineage", ref, "--store", journal["store"], "--output", "json"])
    assert result.code == 0, result.stderr
    found: dict[str, Any] = json.loads(result.stdout)
    return found


def test_every_entry_point_leads_to_the_same_chain(journal: dict[str, Any]) -> None:
    run = journal["run"]
    github = run.details["origin"]["github"]
    dataset = next(o["uri"] for o in run.details["outputs"] if o["name"] == "config")
    chains = {}
    for ref, kind in (
        (journal["event"], "event"),
        (run.run_id, "run"),
        (github["sha"][:10], "commit"),
        (dataset, "artifact"),
    ):
        found = _lineage(journal, ref)
        assert found["foundAs"] == kind, ref
        [chain] = found["chains"]
        chains[kind] = chain
    first = chains["event"]
    assert all(chain == first for chain in chains.values())
    assert first["commit"] == {
        "repository": f"{github['owner']}/{github['repo']}",
        "sha": github["sha"],
        "verifiedBy": "github",
    }
    assert first["request"]["sender"] == "GitHub" and first["request"]["eventType"] == "push"
    assert first["event"]["eventID"] == journal["event"] and first["trigger"] == "train-on-main"
    assert first["run"]["runID"] == run.run_id and first["run"]["state"] == "SUCCEEDED"
    assert {(a["task"], a["name"]) for a in first["artifacts"]} == {
        ("triggering-event", "event"),
        ("prepare", "config"),
        ("train", "model"),
    }


def test_the_text_form_reads_from_commit_to_artifact(journal: dict[str, Any]) -> None:
    run = journal["run"]
    result = run_cli(["lineage", run.run_id, "--store", journal["store"]])
    assert result.code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == f"{run.run_id} is a run"
    kinds = [line.split()[0] for line in lines[2:]]
    assert kinds == ["commit", "sender", "event", "trigger", "run", "artifact", "artifact", "artifact"]


def test_an_unknown_reference_is_a_clear_error(journal: dict[str, Any]) -> None:
    result = run_cli(["lineage", "no-such-thing", "--store", journal["store"]])
    assert result.code == 1
    assert "is no event id, run id, commit of a run or artifact URI" in json.loads(result.stdout)["error"]
