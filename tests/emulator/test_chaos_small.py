"""Exactly once under redelivery and a crash, on the deployed chain (a small ``make chaos``).

Twenty signed GitHub pushes, each delivered three times to the ingest function (some deliveries
race the first one, some come seconds later), cross the five functions-framework processes over
the Pub/Sub emulator with the Firestore emulator as the store, launching on a KFP API that records
every run. The launch function is SIGKILLed once, right after the KFP API created a run for it and
before it heard back: the run exists, the launch never recorded it, and its claim on the run
request is held by a dead invocation. A spare process takes over the push subscription.

Whatever the chain does about it, the outside world must see each event launch exactly one run:
no acknowledged event without a run, no (event, trigger) with two runs, and no dead letter for
work whose run exists.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.emulator.chaos_emulators import EmulatorHosts
from tests.emulator.chaos_run import ChaosPlan, run_chaos
from tests.emulator.firestore_fixture import firestore_emulator  # noqa: F401 - a fixture

pytestmark = pytest.mark.emulator

PLAN = ChaosPlan(
    events=20,
    deliveries=3,
    launch_kills=1,
    launch_kill_moment="after POST /apis/v2beta1/runs",
    intercept_kills=0,
    store="firestore",
    rate_per_s=10.0,
    redelivery_window_s=4.0,
    stage_timeout_s=12,
    seed=20261206,
)


def test_redelivered_pushes_and_a_killed_launch_give_one_run_per_event(
    pubsub_emulator: str,
    firestore_emulator: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    report = run_chaos(PLAN, EmulatorHosts(pubsub_emulator, firestore_emulator), tmp_path)
    print(report.summary())

    assert report.quiet, "the chain never went quiet"
    assert [k["stage"] for k in report.kills] == ["launch"], "the launch function was not killed"
    assert report.events_acknowledged == PLAN.events, report.ingest_answers
    assert report.lost_events == 0, report.samples
    assert report.duplicates == 0, report.samples
    assert report.dead_letters_for_succeeded_work == 0, report.dead_letters
    assert report.contract_violations == 0
