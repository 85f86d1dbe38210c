"""The in-process bus holds bounded bytes: what it keeps for inspection, and what waits for delivery."""

from __future__ import annotations

import pytest

from kfp_triggers.adapters.transports.base import TransportError
from kfp_triggers.adapters.transports.memory import MemoryBus
from kfp_triggers.wire.events import CloudEvent

TOPIC = "kfpt-events"


def blob(n: int, size: int) -> CloudEvent:
    """An event carrying ``size`` bytes of data."""
    return CloudEvent({"type": "test.blob", "source": "//tests", "id": f"e-{n}"}, {"blob": "x" * size})


def test_recorded_messages_are_bounded_by_bytes_and_every_one_is_delivered() -> None:
    bus = MemoryBus(record_bytes=250_000)
    received: list[CloudEvent] = []
    bus.subscribe(TOPIC, received.append)
    for n in range(5):
        bus.publish(TOPIC, blob(n, 100_000))
    assert [e["id"] for e in received] == [f"e-{n}" for n in range(5)]
    assert [e["id"] for e in bus.events(TOPIC)] == ["e-3", "e-4"]  # the latest that fit
    assert sum(m.size for m in bus.published) <= 250_000


def test_a_message_larger_than_the_record_budget_is_delivered_not_kept() -> None:
    bus = MemoryBus(record_bytes=1000)
    received: list[CloudEvent] = []
    bus.subscribe(TOPIC, received.append)
    bus.publish(TOPIC, blob(1, 10))
    bus.publish(TOPIC, blob(2, 5000))
    assert [e["id"] for e in received] == ["e-1", "e-2"]
    assert [e["id"] for e in bus.events(TOPIC)] == []
    bus.publish(TOPIC, blob(3, 10))
    assert [e["id"] for e in bus.events(TOPIC)] == ["e-3"]


def test_the_default_budget_does_not_keep_a_thousand_large_bodies() -> None:
    bus = MemoryBus()
    for n in range(40):
        bus.publish(TOPIC, blob(n, 1_000_000))
    assert sum(m.size for m in bus.published) <= 16 * 1024 * 1024
    assert len(bus.published) < 40


def test_undelivered_messages_are_bounded_and_the_publisher_is_told_to_retry() -> None:
    bus = MemoryBus(synchronous=False, queue_bytes=350_000)
    received: list[CloudEvent] = []
    bus.subscribe(TOPIC, received.append)
    for n in range(3):
        bus.publish(TOPIC, blob(n, 100_000))
    with pytest.raises(TransportError, match=r"holds \d+ bytes of undelivered messages") as info:
        bus.publish(TOPIC, blob(3, 100_000))
    assert info.value.retryable is True
    assert bus.drain() == 3
    bus.publish(TOPIC, blob(3, 100_000))  # room again once delivered
    bus.drain()
    assert [e["id"] for e in received] == ["e-0", "e-1", "e-2", "e-3"]


def test_one_message_over_the_queue_budget_still_goes_through_an_empty_queue() -> None:
    bus = MemoryBus(synchronous=False, queue_bytes=1000)
    received: list[CloudEvent] = []
    bus.subscribe(TOPIC, received.append)
    bus.publish(TOPIC, blob(1, 5000))
    bus.drain()
    assert [e["id"] for e in received] == ["e-1"]


def test_redeliveries_are_counted_and_a_failure_keeps_a_bounded_error() -> None:
    bus = MemoryBus(synchronous=False, max_delivery_attempts=2, queue_bytes=200_000)

    def refuse(event: CloudEvent) -> None:
        raise RuntimeError("no " + "y" * 100_000)

    bus.subscribe(TOPIC, refuse)
    bus.publish(TOPIC, blob(1, 100_000))
    bus.drain()
    assert [f.attempt for f in bus.failures] == [1, 2]
    assert all(len(f.error) <= 2000 for f in bus.failures)
    assert bus.pending == 0
    bus.publish(TOPIC, blob(2, 100_000))  # the dead-lettered message no longer counts as queued
