"""The CloudEvent types that chain the stages, and the topic each one travels on.

This module imports nothing heavy, so infrastructure code (topology set-up, Terraform
generators) and tests can read the table without loading the cloudevents SDK.

::

    type                                   producer -> consumer      topic (default)
    dev.kfptriggers.event.received.v1      ingest   -> intercept     kfpt-events
    dev.kfptriggers.trigger.matched.v1     intercept -> render       kfpt-matched
    dev.kfptriggers.run.requested.v1       render   -> launch        kfpt-launch
    dev.kfptriggers.run.created.v1         launch   -> status        kfpt-runs
    dev.kfptriggers.status.tick.v1         scheduler -> status       kfpt-runs
    dev.kfptriggers.run.requested.v1       status   -> launch        kfpt-launch
    dev.kfptriggers.run.state.v1           status   -> anyone        kfpt-run-states
    dev.kfptriggers.event.completed.v1     status   -> anyone        kfpt-run-states
    dev.kfptriggers.event.received.v1      status   -> intercept     kfpt-events

Every topic has a dead-letter topic named ``<topic>-dead-letter``. The periodic tick shares the
status stage's input topic, so the status function has one subscription and one trigger.

A type may have more than one producer but always travels on one topic: run.requested comes from
render, and from status, which hands a queued run request back to launch when a concurrency slot
frees (launch re-renders and verifies every run request, whoever sent it); event.received comes
from ingest, and from status, which hands run ends to the listeners that chain pipelines (intercept
believes an event.received no more than a request from the internet). So a stage may publish on
more than one topic: status on ``kfpt-run-states``, ``kfpt-launch`` and ``kfpt-events``.

The names above are the logical ones the stages use. On Pub/Sub a deployment may carry its own
prefix (``KFPT_TOPIC_PREFIX``, see :func:`prefixed`), so several deployments can share a project:
with prefix ``staging`` the events travel on ``staging-events``, ``staging-matched``, ...
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

TYPE_PREFIX: Final = "dev.kfptriggers."

EVENT_RECEIVED: Final = "dev.kfptriggers.event.received.v1"
TRIGGER_MATCHED: Final = "dev.kfptriggers.trigger.matched.v1"
RUN_REQUESTED: Final = "dev.kfptriggers.run.requested.v1"
RUN_CREATED: Final = "dev.kfptriggers.run.created.v1"
RUN_STATE: Final = "dev.kfptriggers.run.state.v1"
STATUS_TICK: Final = "dev.kfptriggers.status.tick.v1"
EVENT_COMPLETED: Final = "dev.kfptriggers.event.completed.v1"

TOPIC_EVENTS: Final = "kfpt-events"
TOPIC_MATCHED: Final = "kfpt-matched"
TOPIC_LAUNCH: Final = "kfpt-launch"
TOPIC_RUNS: Final = "kfpt-runs"
TOPIC_RUN_STATES: Final = "kfpt-run-states"

DEAD_LETTER_SUFFIX: Final = "-dead-letter"


@dataclass(frozen=True)
class Hop:
    """One link of the chain: an event type, who sends it, who reads it, and its default topic."""

    event_type: str
    producer: str
    consumer: str
    topic: str

    @property
    def dead_letter_topic(self) -> str:
        """The topic that keeps messages the consumer failed on too often."""
        return dead_letter_topic(self.topic)


HOPS: Final[tuple[Hop, ...]] = (
    Hop(EVENT_RECEIVED, "ingest", "intercept", TOPIC_EVENTS),
    Hop(TRIGGER_MATCHED, "intercept", "render", TOPIC_MATCHED),
    Hop(RUN_REQUESTED, "render", "launch", TOPIC_LAUNCH),
    Hop(RUN_CREATED, "launch", "status", TOPIC_RUNS),
    Hop(STATUS_TICK, "scheduler", "status", TOPIC_RUNS),
    # Status hands a queued run request back to launch when a concurrency slot frees.
    Hop(RUN_REQUESTED, "status", "launch", TOPIC_LAUNCH),
    Hop(RUN_STATE, "status", "anyone", TOPIC_RUN_STATES),
    # Once every run of an event has ended: the event's one outcome (see kfp_triggers.stages.outcome).
    Hop(EVENT_COMPLETED, "status", "anyone", TOPIC_RUN_STATES),
    # Run ends and event completions, as events of the listeners that ask for them
    # (see kfp_triggers.stages.chaining): pipelines started by other pipelines.
    Hop(EVENT_RECEIVED, "status", "intercept", TOPIC_EVENTS),
)

EVENT_TYPES: Final[frozenset[str]] = frozenset(hop.event_type for hop in HOPS)

#: The default topic of each event type (a type with two producers still travels on one topic).
TOPIC_FOR_TYPE: Final[dict[str, str]] = {hop.event_type: hop.topic for hop in HOPS}

#: Every stage-input topic, in chain order, without duplicates.
TOPICS: Final[tuple[str, ...]] = tuple(dict.fromkeys(hop.topic for hop in HOPS))

#: Every topic including the dead-letter ones.
ALL_TOPICS: Final[tuple[str, ...]] = TOPICS + tuple(t + DEAD_LETTER_SUFFIX for t in TOPICS)


def dead_letter_topic(topic: str) -> str:
    """Name of the dead-letter topic paired with ``topic``."""
    return topic + DEAD_LETTER_SUFFIX


def topic_for(event_type: str) -> str:
    """The default topic an event of ``event_type`` is published on.

    Raises:
        KeyError: ``event_type`` is not one of our types.
    """
    try:
        return TOPIC_FOR_TYPE[event_type]
    except KeyError:
        raise KeyError(f"not a kfp-triggers event type: {event_type!r}") from None


DEFAULT_TOPIC_PREFIX: Final = "kfpt"
_PREFIX = re.compile(r"^[a-z][a-z0-9-]{0,14}$")


def check_topic_prefix(prefix: str) -> str:
    """``prefix`` when it can start a topic name (the Terraform module's rule), else ValueError."""
    if not _PREFIX.match(prefix):
        raise ValueError(
            f"topic prefix {prefix!r} must be 1-15 lowercase letters, digits or dashes, "
            "starting with a letter"
        )
    return prefix


def prefixed(topic: str, prefix: str = DEFAULT_TOPIC_PREFIX) -> str:
    """The topic a deployment with ``prefix`` uses for the logical ``topic`` (``kfpt-events``, ...).

    Names outside the chain's own (a full topic path, another team's topic) are left alone.
    """
    own = DEFAULT_TOPIC_PREFIX + "-"
    if prefix == DEFAULT_TOPIC_PREFIX or not topic.startswith(own):
        return topic
    return f"{prefix}-{topic[len(own) :]}"
