"""The run-control section in quick mode: its figures have their shape and the policies held.

The section reports figures rather than asserting them, so this smoke test is where its
invariants are checked: under ``cancel-in-progress`` exactly one run SUCCEEDED and every other
push was cancelled or superseded; under ``queue`` with ``max-running: 2`` never more than two runs
went at once (sampled and exact) and every run SUCCEEDED; in both, no push was lost and the
group was left empty. Both scenarios run side by side on their own ``serve`` and KFP stand-in,
as ``bench/run.py --quick`` runs them, which keeps this to a few seconds. Timings are not
compared with anything: only the counts the engine must get right whatever the machine's load.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from bench import runcontrol
from bench.kfp_timed import max_overlap

FIGURES = {
    "policy": str,
    "run_s": float,
    "pushes": int,
    "sent": int,
    "acknowledged": int,
    "runs_created": int,
    "runs_succeeded": int,
    "runs_canceled": int,
    "superseded": int,
    "skipped": int,
    "max_running_sampled": int,
    "max_running_exact": int,
    "members_left": int,
    "lost": int,
    "duplicates": int,
    "samples": int,
    "contract_violations": int,
    "settled": bool,
    "quiet_s": float,
    "push_span_s": float,
    "wall_s": float,
}


@pytest.fixture(scope="module")
def quick() -> dict[str, Any]:
    return runcontrol.run(runcontrol.QUICK_PLAN, concurrently=True)


def _explain(figures: dict[str, Any]) -> str:
    """What to look at when an invariant fails: the report's lines for the scenario."""
    return "\n".join(runcontrol.report_scenario(figures["policy"], figures))


def test_each_scenario_reports_every_figure(quick: dict[str, Any]) -> None:
    assert quick["measured"] is True
    assert quick["plan"]["pushes"] == runcontrol.QUICK_PLAN.pushes
    for key in (runcontrol.CANCEL, runcontrol.QUEUE):
        figures = quick[key]
        for name, kind in FIGURES.items():
            assert isinstance(figures[name], kind), (key, name, figures[name])
        assert figures["sent"] == figures["acknowledged"] == figures["pushes"], _explain(figures)
        assert figures["samples"] > 0 and figures["contract_violations"] == 0, _explain(figures)
        assert figures["duplicates"] == 0 and not figures["runs_not_in_journal"], _explain(figures)
        assert 0 <= figures["max_running_sampled"] <= figures["max_running_exact"], _explain(figures)
        assert math.isfinite(figures["push_to_run_ms"]["p50"]), figures["push_to_run_ms"]
        assert set(figures["expectations"]) >= {"none_lost", "group_empty", "settled"}
    lines = runcontrol.report(quick)
    assert any(line.startswith("cancel-in-progress (runs take 3 s)") for line in lines), lines
    assert any(line.startswith("queue, max-running 2") for line in lines), lines


def test_cancel_in_progress_leaves_one_run_and_loses_nothing(quick: dict[str, Any]) -> None:
    figures = quick[runcontrol.CANCEL]
    assert figures["settled"], _explain(figures)
    assert figures["runs_succeeded"] == 1, _explain(figures)
    assert figures["succeeded_pushes"] == [figures["pushes"] - 1], _explain(figures)  # the newest push
    outcomes = figures["outcomes"]
    assert outcomes.get("cancelled", 0) + outcomes.get("superseded", 0) == figures["pushes"] - 1, outcomes
    assert figures["runs_canceled"] == outcomes.get("cancelled", 0), _explain(figures)
    assert figures["lost"] == 0 and figures["members_left"] == 0, _explain(figures)
    assert all(figures["expectations"].values()), figures["expectations"]


def test_queue_never_runs_more_than_two_and_runs_every_push(quick: dict[str, Any]) -> None:
    figures = quick[runcontrol.QUEUE]
    assert figures["settled"], _explain(figures)
    assert figures["max_running_limit"] == 2
    assert figures["max_running_exact"] <= 2 and figures["max_running_sampled"] <= 2, _explain(figures)
    assert figures["runs_succeeded"] == figures["runs_created"] == figures["pushes"], _explain(figures)
    assert figures["superseded"] == figures["skipped"] == 0, _explain(figures)
    assert figures["lost"] == 0 and figures["members_left"] == 0, _explain(figures)
    assert all(figures["expectations"].values()), figures["expectations"]


def test_exact_overlap_counts_spans_that_touch_as_apart() -> None:
    assert max_overlap([]) == 0
    assert max_overlap([(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]) == 1
    assert max_overlap([(0.0, 2.0), (1.0, 3.0), (1.5, None)]) == 3
    assert max_overlap([(0.0, 1.0), (0.5, 1.5), (1.0, 2.0)]) == 2
