"""The Pub/Sub emulator as the benchmarks use it: a project with the chain's topics, and hand-offs counted.

A function on ``KFPT_TRANSPORT=pubsub`` answers only once the emulator has accepted what it
published, so its answer marks a durable hand-off. To prove the hand-offs really landed, every
topic of the chain gets a pull subscription (``<topic>-sub``, made by the engine's own
:func:`~kfp_triggers.adapters.transports.pubsub.ensure_topology`), and :class:`HandOffCounter`
pulls and counts what arrived on each, outside any timed window.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from kfp_triggers.wire.eventtypes import TOPICS


@dataclass(frozen=True)
class PubSubTarget:
    """A running emulator and the project (with the chain's topics) the benchmark functions publish in."""

    host: str
    project: str

    @property
    def environ(self) -> dict[str, str]:
        """What points a Pub/Sub client at the emulator."""
        return {"PUBSUB_EMULATOR_HOST": self.host}


def prepare(host: str) -> PubSubTarget:
    """A fresh project on the emulator at ``host`` with every chain topic and a pull subscription on each."""
    from kfp_triggers.adapters.transports.pubsub import ensure_topology

    target = PubSubTarget(host, f"kfpt-bench-{uuid.uuid4().hex[:8]}")
    ensure_topology(target.project, TOPICS, environ=target.environ)
    return target


class HandOffCounter:
    """Pulls (and acknowledges) every message on the chain's topics, counting them per topic."""

    def __init__(self, target: PubSubTarget) -> None:
        """Count on ``target``'s subscriptions; nothing is pulled yet."""
        from kfp_triggers.adapters.transports.pubsub import subscriber_client, subscription_path

        self._client: Any = subscriber_client(target.environ)
        self._paths = {topic: subscription_path(target.project, f"{topic}-sub") for topic in TOPICS}
        self.counts = dict.fromkeys(TOPICS, 0)

    def _pull(self, topic: str) -> int:
        import warnings

        with warnings.catch_warnings():  # return_immediately is deprecated; we poll, so it is harmless
            warnings.simplefilter("ignore", DeprecationWarning)
            response = self._client.pull(
                subscription=self._paths[topic], max_messages=100, return_immediately=True, timeout=10
            )
        received = response.received_messages
        if received:
            self._client.acknowledge(subscription=self._paths[topic], ack_ids=[m.ack_id for m in received])
        return len(received)

    def drain(self) -> None:
        """Pull whatever is there now on every topic."""
        for topic in TOPICS:
            self.counts[topic] += self._pull(topic)

    def wait_for(self, expected: dict[str, int], limit_s: float = 15.0) -> dict[str, int]:
        """Pull until each topic counted at least ``expected[topic]`` messages, or ``limit_s`` passed."""
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            self.drain()
            if all(self.counts[t] >= n for t, n in expected.items()):
                break
            time.sleep(0.1)
        return {topic: self.counts[topic] for topic in expected}

    def close(self) -> None:
        """Release the client."""
        self._client.close()
