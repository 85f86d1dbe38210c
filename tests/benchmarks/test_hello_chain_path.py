"""The baseline chain's path runs forward only: ingest -> intercept -> render -> launch -> status -> out."""

from __future__ import annotations

from kfp_triggers.wire.eventtypes import (
    TOPIC_EVENTS,
    TOPIC_LAUNCH,
    TOPIC_MATCHED,
    TOPIC_RUN_STATES,
    TOPIC_RUNS,
)
from tests.emulator.bench_chain import HELLO_NEXT_TOPIC


def test_each_hello_stage_hands_on_to_the_next_and_status_hands_out() -> None:
    assert HELLO_NEXT_TOPIC == {
        "ingest": TOPIC_EVENTS,
        "intercept": TOPIC_MATCHED,
        "render": TOPIC_LAUNCH,
        "launch": TOPIC_RUNS,
        "status": TOPIC_RUN_STATES,  # not back to launch or intercept: the baseline must not loop
    }
