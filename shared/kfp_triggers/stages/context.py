"""What every stage is handed: the loaded configuration and the ports, built once per instance."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from kfp_triggers.errors import KfptError
from kfp_triggers.metrics import OFF, Metrics

if TYPE_CHECKING:
    from cloudevents.http import CloudEvent

    from kfp_triggers.adapters.bodies import BodyStore
    from kfp_triggers.adapters.launchers.base import Launcher
    from kfp_triggers.adapters.notifiers import Notifier
    from kfp_triggers.adapters.store.base import Store
    from kfp_triggers.adapters.transports.base import Publisher
    from kfp_triggers.config import Configuration, EventListener, ResolvedTrigger
    from kfp_triggers.tekton.processing import EventProcessor


T = TypeVar("T")


class PermanentStageError(KfptError):
    """The input can never be processed (unknown listener or trigger, malformed payload)."""


def utc_now() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


def default_owner() -> str:
    """An id unique to this process instance (each invocation's ledger owner starts with it)."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _no_notifiers() -> list[Notifier]:
    return []


def _no_body_store() -> BodyStore:
    from kfp_triggers.adapters.bodies import BodyStoreConfigError

    raise BodyStoreConfigError("no body store is configured (KFPT_BODY_STORE)")


@dataclass
class StageContext:
    """Configuration plus ports, each port created on first use by its factory.

    Being lazy keeps every stage's cold start to what it uses: ingest never builds the event
    processor (interceptors, bindings), only status builds notifiers (an HTTP client), only
    launch and status open the store and the launcher.

    ``publisher`` carries stage outputs; ``source`` names this deployment in CloudEvent ``source``.
    ``lease_s`` and ``claim_wait_s`` govern launch claims (see :mod:`kfp_triggers.stages.lease`).
    With a ``message_key``, what the stages publish is signed (see :mod:`kfp_triggers.wire.messageauth`).
    ``metrics`` takes the counts and latencies the stages record (see :mod:`kfp_triggers.metrics`).
    A run request signed with ``dispatch_key`` (not the message key) is a manual run: launch takes
    it with an origin of its own (see :func:`kfp_triggers.stages.runs.launch`).
    A body over ``claim_check_bytes`` (0: never) travels as a reference to the ``body_store``.
    """

    config: Configuration
    processor_factory: Callable[[], EventProcessor]
    publisher: Publisher
    store_factory: Callable[[], Store]
    launcher_factory: Callable[[], Launcher]
    config_root: Path = Path()
    max_body_bytes: int = 10 * 1024 * 1024
    lease_s: float = 15.0
    claim_wait_s: float = 30.0
    retention_s: float | None = 30 * 86400.0
    purge_every_s: float = 3600.0
    owner: str = field(default_factory=default_owner)
    clock: Callable[[], datetime] = utc_now
    source: str = "//kfp-triggers"
    notifiers_factory: Callable[[], list[Notifier]] = _no_notifiers
    message_key: bytes | None = field(default=None, repr=False)
    dispatch_key: bytes | None = field(default=None, repr=False)
    backend_name: str = ""
    """The launcher the settings name (``KFPT_LAUNCHER``), for labels, without building it."""
    metrics: Metrics = OFF
    claim_check_bytes: int = 0
    body_store_factory: Callable[[], BodyStore] = _no_body_store
    _last_purge: datetime | None = None
    _processor: EventProcessor | None = None
    _notifiers: list[Notifier] | None = None
    _store: Store | None = None
    _launcher: Launcher | None = None
    _body_store: BodyStore | None = None
    # Threads of one instance (gunicorn's) share the context: each port is built once.
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    def _once(self, attribute: str, factory: Callable[[], T]) -> T:
        value: T | None = getattr(self, attribute)
        if value is None:
            with self._lock:
                value = getattr(self, attribute)
                if value is None:
                    value = factory()
                    setattr(self, attribute, value)
        return value

    @property
    def processor(self) -> EventProcessor:
        """The interceptor chain, bindings and templates over the configuration (intercept, render)."""
        return self._once("_processor", self.processor_factory)

    @property
    def notifiers(self) -> list[Notifier]:
        """The notifiers the settings turn on (status)."""
        return self._once("_notifiers", self.notifiers_factory)

    @property
    def store(self) -> Store:
        """The store, opened on first use (ingest never needs it)."""
        return self._once("_store", self.store_factory)

    @property
    def body_store(self) -> BodyStore:
        """Where bodies over ``claim_check_bytes`` wait (see :mod:`kfp_triggers.stages.bodies`)."""
        return self._once("_body_store", self.body_store_factory)

    @property
    def launcher(self) -> Launcher:
        """The launcher, created on first use (only launch and status need it)."""
        return self._once("_launcher", self.launcher_factory)

    def publish(self, topic: str, event: CloudEvent) -> str:
        """Hand ``event`` to the transport, signed with the message key when there is one."""
        if self.message_key is not None:
            from kfp_triggers.wire.messageauth import sign

            sign(event, self.message_key)
        return self.publisher.publish(topic, event)

    def expiry(self) -> datetime | None:
        """When a journal entry or completed ledger record written now may be forgotten."""
        if self.retention_s is None:
            return None
        return self.clock() + timedelta(seconds=self.retention_s)

    def purge_if_due(self) -> int:
        """Purge expired records at most once per ``purge_every_s`` in this instance; how many went."""
        now = self.clock()
        if self._last_purge is not None and (now - self._last_purge).total_seconds() < self.purge_every_s:
            return 0
        self._last_purge = now
        if self.retention_s is None:
            return self.store.purge(now)
        cutoff = now - timedelta(seconds=self.retention_s)
        purged = self.store.purge(now, unstamped_before=cutoff)
        if self.claim_check_bytes:  # bodies outlive no journal entry that could name them
            purged += self.body_store.purge(cutoff)
        return purged

    def listener(self, namespace: str, name: str) -> EventListener:
        """The listener named by an event, or a permanent error when the configuration lacks it."""
        found = self.config.listeners.get((namespace, name))
        if found is None:
            raise PermanentStageError(f"no EventListener {namespace}/{name} in the configuration")
        return found

    def trigger(self, listener: EventListener, namespace: str, name: str) -> ResolvedTrigger:
        """A trigger of ``listener`` (directly or through a group) by namespace and name."""
        for trigger in self.config.triggers_for(listener):
            if trigger.namespace == namespace and trigger.name == name:
                return trigger
        for group in self.config.groups_for(listener):
            for trigger in group.triggers:
                if trigger.namespace == namespace and trigger.name == name:
                    return trigger
        raise PermanentStageError(f"listener {listener.name} has no trigger {namespace}/{name}")
