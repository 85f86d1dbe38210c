"""The stage context builds each port once, on first use, even when threads race for it."""

from __future__ import annotations

import threading
import time
from typing import Any

from kfp_triggers.adapters.transports.memory import MemoryBus
from kfp_triggers.stages.context import StageContext


class CountingFactory:
    """A slow factory that counts its calls, so racing threads would show as several calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> Any:
        self.calls += 1
        time.sleep(0.02)
        return object()


def test_each_port_is_built_once_under_racing_threads() -> None:
    factories = {name: CountingFactory() for name in ("processor", "store", "launcher", "notifiers")}
    ctx = StageContext(
        config=None,  # type: ignore[arg-type]  # no port here reads it
        processor_factory=factories["processor"],
        publisher=MemoryBus(),
        store_factory=factories["store"],
        launcher_factory=factories["launcher"],
        notifiers_factory=factories["notifiers"],
    )
    seen: dict[str, set[int]] = {name: set() for name in factories}
    barrier = threading.Barrier(8)

    def use() -> None:
        barrier.wait()
        for name in factories:
            seen[name].add(id(getattr(ctx, name)))

    threads = [threading.Thread(target=use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {name: f.calls for name, f in factories.items()} == dict.fromkeys(factories, 1)
    assert all(len(ids) == 1 for ids in seen.values())


def test_nothing_is_built_before_it_is_used() -> None:
    store = CountingFactory()
    ctx = StageContext(
        config=None,  # type: ignore[arg-type]
        processor_factory=CountingFactory(),
        publisher=MemoryBus(),
        store_factory=store,
        launcher_factory=CountingFactory(),
    )
    assert store.calls == 0
    assert ctx.notifiers == []
    first = ctx.store
    assert ctx.store is first and store.calls == 1
