"""The five stage functions on the Pub/Sub emulator, with stages that can be SIGKILLed and replaced.

The chain is the deployed shape the emulator chain test runs (one ``functions-framework`` process
per stage, each stage's input topic pushed into it, a dead-letter topic per topic). A stage that may
be killed also has a *spare*: a second process already started and answering, as a platform keeps
other instances of a service. Killing a stage SIGKILLs the process group of the serving process
(gunicorn and its worker, mid-request), points the stage's push subscription at the spare, and
starts the next spare; so deliveries that were in flight on the killed process are redelivered to a
live one, and no delivery attempt is burnt on a stage that is merely restarting.

Delivery is the emulator's own push by default (what the chaos runs use). The emulator keeps at
most two pushes in flight per subscription, so ``delivery="relay"`` keeps the stage subscriptions
as pull subscriptions instead and feeds each function through a
:class:`~tests.emulator.push_relay.PushRelay`, which pushes as Cloud Pub/Sub does, ``in_flight`` at
a time; a kill then points the stage's relay at the spare.

The push subscriptions have a dead-letter policy but no retry policy (Pub/Sub then redelivers at
once; the emulator after about a second). Deployments set one (10 to 600 s), but the emulator's
retry policy stops redelivering failed pushes once several messages of a subscription fail, leaving
them neither delivered nor dead-lettered, which would hide exactly what this harness looks for.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from kfp_triggers.adapters.transports.pubsub import ensure_topology, subscriber_client, subscription_path
from kfp_triggers.errors import InvalidRequestError
from kfp_triggers.wire import events as ev
from kfp_triggers.wire.eventtypes import TOPICS, dead_letter_topic
from tests.emulator.chain_support import (
    ENTRY_POINTS,
    INPUT_TOPICS,
    FunctionServer,
    Observer,
    start_function,
    stop_all,
)
from tests.emulator.push_relay import DEFAULT_IN_FLIGHT, PushRelay

STARTUP_LIMIT_S = 90.0

#: How messages reach the stage functions: the emulator's push, or a relay that pushes as Cloud Pub/Sub.
Delivery = Literal["push", "relay"]


class ChainFailedError(RuntimeError):
    """A function could not be started or replaced."""


@dataclass(frozen=True)
class Kill:
    """One SIGKILL: which stage, when (seconds after the chain started) and at what point."""

    stage: str
    at_s: float
    moment: str


def wait_ready(servers: list[FunctionServer], limit_s: float = STARTUP_LIMIT_S) -> None:
    """Wait until every server answers HTTP."""
    deadline = time.monotonic() + limit_s
    for server in servers:
        while not server.answers():
            if time.monotonic() > deadline:
                raise ChainFailedError(f"the {server.stage} function did not answer:\n{server.log()[-2000:]}")
            time.sleep(0.1)


@dataclass
class ChaosChain:
    """Running stage functions, their spares, the topology and every kill so far."""

    project: str
    environ: dict[str, str]
    settings: dict[str, str]
    workdir: Path
    killable: tuple[str, ...]
    delivery: Delivery = "push"
    servers: dict[str, FunctionServer] = field(default_factory=dict)
    spares: dict[str, FunctionServer] = field(default_factory=dict)
    subscriptions: dict[str, str] = field(default_factory=dict)
    relays: dict[str, PushRelay] = field(default_factory=dict)
    kills: list[Kill] = field(default_factory=list)
    started_at: float = field(default_factory=time.monotonic)
    _incarnations: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _subscriber: Any = None

    @classmethod
    def start(
        cls,
        project: str,
        pubsub_host: str,
        settings: Mapping[str, str],
        workdir: Path,
        killable: tuple[str, ...],
        max_delivery_attempts: int,
        ack_deadline_s: int,
        delivery: Delivery = "push",
        in_flight: int = DEFAULT_IN_FLIGHT,
    ) -> ChaosChain:
        """Start every stage (and a spare of each killable one), create the topology, push to each stage.

        ``ack_deadline_s`` is how long a push may take before Pub/Sub delivers it again; deployments
        give each subscription its function's time limit. ``delivery`` picks the emulator's push or
        a relay per stage with ``in_flight`` pushes at a time (see the module docstring).
        """
        if delivery not in ("push", "relay"):
            raise ValueError(f"unknown delivery {delivery!r}: 'push' or 'relay'")
        environ = {"PUBSUB_EMULATOR_HOST": pubsub_host}
        chain = cls(project, environ, dict(settings), workdir, killable, delivery)
        try:
            for stage in ENTRY_POINTS:
                chain.servers[stage] = chain._start(stage)
            for stage in killable:
                chain.spares[stage] = chain._start(stage)
            wait_ready([*chain.servers.values(), *chain.spares.values()])
            chain.subscriptions = ensure_topology(
                project,
                TOPICS,
                max_delivery_attempts=max_delivery_attempts,
                ack_deadline_seconds=ack_deadline_s,
                environ=environ,
            )
            chain._subscriber = subscriber_client(environ)
            for stage, server in chain.servers.items():
                if stage in INPUT_TOPICS and delivery == "push":
                    chain._push_to(stage, server)
                elif stage in INPUT_TOPICS:
                    chain._relay_to(stage, server, in_flight, ack_deadline_s)
        except BaseException:
            chain.stop()
            raise
        chain.started_at = time.monotonic()
        return chain

    def _start(self, stage: str) -> FunctionServer:
        number = self._incarnations.get(stage, 0)
        self._incarnations[stage] = number + 1
        folder = self.workdir / f"{stage}-{number}"
        folder.mkdir(parents=True)
        return start_function(stage, self.settings, folder)

    @property
    def ingest_url(self) -> str:
        """Where webhooks are posted."""
        return self.servers["ingest"].url + "/"

    def _push_to(self, stage: str, server: FunctionServer) -> None:
        """Make the stage's input subscription push to ``server``, with no retry policy (see above)."""
        topic = INPUT_TOPICS[stage]
        subscription = {
            "name": subscription_path(self.project, f"{topic}-sub"),
            "push_config": {"push_endpoint": server.push_endpoint(self.project, topic)},
        }
        self._subscriber.update_subscription(
            request={"subscription": subscription, "update_mask": {"paths": ["push_config", "retry_policy"]}}
        )

    def _relay_to(self, stage: str, server: FunctionServer, in_flight: int, timeout_s: float) -> None:
        """Feed ``server`` from the stage's pull subscription through a relay, with no retry policy."""
        topic = INPUT_TOPICS[stage]
        name = subscription_path(self.project, f"{topic}-sub")
        self._subscriber.update_subscription(
            request={"subscription": {"name": name}, "update_mask": {"paths": ["retry_policy"]}}
        )
        endpoint = server.push_endpoint(self.project, topic)
        self.relays[stage] = PushRelay(name, endpoint, self.environ, in_flight, timeout_s).start()

    def _deliver_to(self, stage: str, server: FunctionServer) -> None:
        """Send the stage's deliveries to ``server`` from now on, however they are delivered."""
        if self.delivery == "push":
            self._push_to(stage, server)
        else:
            self.relays[stage].retarget(server.push_endpoint(self.project, INPUT_TOPICS[stage]))

    def kill(self, stage: str, moment: str) -> None:
        """Hand the ``stage`` subscription to the spare, SIGKILL the serving process, start a new spare.

        The subscription (or the relay) moves first, so no delivery is pushed to a dead port; what
        the killed process was handling is lost mid-request and redelivered to the spare.
        """
        with self._lock:
            spare = self.spares[stage]
            wait_ready([spare])
            victim = self.servers[stage]
            self._deliver_to(stage, spare)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(victim.proc.pid, signal.SIGKILL)
            victim.proc.wait(10)
            self.servers[stage] = spare
            self.spares[stage] = self._start(stage)
            self.kills.append(Kill(stage, round(time.monotonic() - self.started_at, 3), moment))

    def activity(self) -> int:
        """Bytes written so far by every function process (grows while any stage works or retries)."""
        return sum(path.stat().st_size for path in self.workdir.glob("*/*.log"))

    def dead_letters(self) -> dict[str, list[ev.CloudEvent | None]]:
        """Every message on each topic's dead-letter topic, decoded (``None``: not one of our events)."""
        letters: dict[str, list[ev.CloudEvent | None]] = {}
        for topic in TOPICS:
            observer = Observer(self.environ, self.subscriptions[f"{dead_letter_topic(topic)}-sub"])
            try:
                while observer.drain() or observer.drain():  # an empty pull can come early
                    pass
                letters[topic] = [_decoded(m) for m in observer.messages]
            finally:
                observer.close()
        return letters

    def logs(self) -> str:
        """Everything every function process wrote, killed ones included."""
        return "".join(path.read_text(errors="replace") for path in sorted(self.workdir.glob("*/*.log")))

    def stop(self) -> None:
        """Stop the relays (pushes under way settle first), every function process, the Pub/Sub client."""
        with self._lock:
            for relay in self.relays.values():
                relay.stop()
            stop_all([*self.servers.values(), *self.spares.values()])
            if self._subscriber is not None:
                self._subscriber.close()


def _decoded(message: Any) -> ev.CloudEvent | None:
    try:
        return ev.from_pubsub_message(message.data, dict(message.attributes))
    except InvalidRequestError:
        return None
