"""An in-process bus with Pub/Sub's delivery rules, for ``make run``, the CLI and tests.

Each ``subscribe`` call is one subscription: every message published on its topic is handed to
its handler, independently of the other subscriptions. A handler that raises has not
acknowledged: the message is delivered again, up to ``max_delivery_attempts`` times in all, and
then published on ``<topic>-dead-letter`` with the attributes Pub/Sub adds there. Messages travel
encoded exactly as on Pub/Sub (structured mode), so a handler gets its own copy of the event and
an unserialisable payload fails at publish time, as it would in the cloud.

Two delivery modes: synchronous (``publish`` delivers before it returns, so a whole chain runs
inside the first ``publish``) and queued (``publish`` only enqueues; ``drain()`` delivers until
idle, or ``start()`` runs a worker thread that does so). The latest messages and delivery failures
are kept for inspection, so a long-running ``serve`` does not grow: at most ``record_limit`` of
each, and messages only while their encoded sizes add up to at most ``record_bytes`` (the oldest
are let go first; a message larger than that on its own is delivered but not kept). In queued
mode, undelivered messages may add up to ``queue_bytes``; a publish beyond that raises
:class:`~kfp_triggers.adapters.transports.base.TransportError` (ingest answers 503, a stage's input is
delivered again later), where Pub/Sub would keep a backlog in the cloud.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from kfp_triggers.adapters.transports.base import (
    MAX_PUBLISH_BYTES,
    MessageTooLargeError,
    TransportError,
    publish_request_size,
)
from kfp_triggers.wire.events import CloudEvent, from_pubsub_message, to_pubsub_message
from kfp_triggers.wire.eventtypes import dead_letter_topic

log = logging.getLogger(__name__)

#: How many bytes of published messages the bus keeps for inspection, by default.
RECORD_BYTES = 16 * 1024 * 1024
#: How many bytes of undelivered messages the queued mode holds, by default.
QUEUE_BYTES = 256 * 1024 * 1024
#: A delivery failure keeps at most this many characters of the error.
_ERROR_CHARS = 2000

Handler = Callable[[CloudEvent], object]


@dataclass(frozen=True)
class BusMessage:
    """One published message, as it was encoded on the wire."""

    topic: str
    message_id: str
    data: bytes
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Bytes the recorded message holds: its data and its attributes."""
        return len(self.data) + sum(len(k) + len(v) for k, v in self.attributes.items())

    @property
    def event(self) -> CloudEvent:
        """A fresh decoded copy of the event."""
        return from_pubsub_message(self.data, self.attributes, message_id=self.message_id)


@dataclass(frozen=True)
class DeliveryFailure:
    """A delivery whose handler raised."""

    subscription: str
    message_id: str
    attempt: int
    error: str


@dataclass(frozen=True)
class _Subscription:
    name: str
    topic: str
    handler: Handler


class MemoryBus:
    """In-process publisher and dispatcher; see the module docstring for the delivery rules."""

    def __init__(
        self, *, max_delivery_attempts: int = 5, synchronous: bool = True, record_limit: int = 1000,
        record_bytes: int = RECORD_BYTES, queue_bytes: int = QUEUE_BYTES,
    ) -> None:  # fmt: skip
        if max_delivery_attempts < 1:
            raise ValueError("max_delivery_attempts must be at least 1")
        if record_bytes < 0:
            raise ValueError("record_bytes cannot be negative")
        self.max_delivery_attempts = max_delivery_attempts
        self.on_dead_letter: Callable[[str], None] | None = None
        """Called with a message's topic when it is moved to that topic's dead-letter topic."""
        self.synchronous = synchronous
        self.record_bytes = record_bytes
        self.queue_bytes = queue_bytes
        self._queued_bytes = 0
        self.published: deque[BusMessage] = deque(maxlen=record_limit)
        self._published_bytes = 0
        self.failures: deque[DeliveryFailure] = deque(maxlen=record_limit)
        self._subscriptions: list[_Subscription] = []
        self._queue: deque[tuple[_Subscription, BusMessage, int]] = deque()
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._wakeup = threading.Condition(self._lock)
        self._worker: threading.Thread | None = None
        self._stopping = False

    # --- publishing -------------------------------------------------------------------------

    def subscribe(self, topic: str, handler: Handler, *, name: str | None = None) -> str:
        """Attach ``handler`` to ``topic`` as a new subscription and return its name.

        Only messages published after this call are delivered to it, as on Pub/Sub.
        """
        with self._lock:
            sub = _Subscription(name or f"{topic}-sub-{len(self._subscriptions) + 1}", topic, handler)
            self._subscriptions.append(sub)
            return sub.name

    def publish(self, topic: str, event: CloudEvent) -> str:
        """Record and deliver (or enqueue) ``event``; returns the message id.

        Raises:
            TypeError: the event's data cannot be encoded as JSON.
            MessageTooLargeError: the encoded event is over Pub/Sub's size limit.
            TransportError: in queued mode, undelivered messages already fill ``queue_bytes``.
        """
        data, attributes = to_pubsub_message(event)
        size = publish_request_size(topic, data, attributes)
        if size > MAX_PUBLISH_BYTES:
            raise MessageTooLargeError.for_event(event["id"], size)
        with self._lock:
            if self._queued_bytes and self._queued_bytes + size > self.queue_bytes:
                raise TransportError(
                    f"the in-process bus already holds {self._queued_bytes} bytes of undelivered messages"
                    f" (its limit is {self.queue_bytes}); publish again once they are delivered"
                )
        return self._publish_encoded(topic, data, attributes)

    def _publish_encoded(self, topic: str, data: bytes, attributes: dict[str, str]) -> str:
        with self._lock:
            message = BusMessage(topic, str(next(self._ids)), data, dict(attributes))
            self._record(message)
            targets = [s for s in self._subscriptions if s.topic == topic]
            if not self.synchronous:
                for sub in targets:
                    self._enqueue(sub, message, 1)
                self._wakeup.notify_all()
        if self.synchronous:
            for sub in targets:
                self._deliver_until_done(sub, message)
        return message.message_id

    def _record(self, message: BusMessage) -> None:
        """Keep ``message`` for inspection, letting the oldest go to stay within both limits."""
        if self.published.maxlen == 0:
            return
        if len(self.published) == self.published.maxlen:
            self._published_bytes -= self.published.popleft().size
        self.published.append(message)
        self._published_bytes += message.size
        while self.published and self._published_bytes > self.record_bytes:
            self._published_bytes -= self.published.popleft().size

    # --- delivering -------------------------------------------------------------------------

    def _attempt(self, sub: _Subscription, message: BusMessage, attempt: int) -> bool:
        """One delivery; True when the handler returned (acknowledged)."""
        try:
            sub.handler(message.event)
        except Exception as exc:
            log.warning(
                "delivery %s of message %s to %s failed: %s", attempt, message.message_id, sub.name, exc
            )
            with self._lock:
                error = repr(exc)[:_ERROR_CHARS]
                self.failures.append(DeliveryFailure(sub.name, message.message_id, attempt, error))
            return False
        return True

    def _dead_letter(self, sub: _Subscription, message: BusMessage, attempts: int) -> None:
        attributes = dict(message.attributes)
        attributes["CloudPubSubDeadLetterSourceDeliveryCount"] = str(attempts)
        attributes["CloudPubSubDeadLetterSourceSubscription"] = sub.name
        log.error("message %s exhausted %s deliveries to %s", message.message_id, attempts, sub.name)
        self._publish_encoded(dead_letter_topic(message.topic), message.data, attributes)
        if self.on_dead_letter is not None:
            self.on_dead_letter(message.topic)

    def _deliver_until_done(self, sub: _Subscription, message: BusMessage) -> None:
        for attempt in range(1, self.max_delivery_attempts + 1):
            if self._attempt(sub, message, attempt):
                return
        self._dead_letter(sub, message, self.max_delivery_attempts)

    def _enqueue(self, sub: _Subscription, message: BusMessage, attempt: int) -> None:
        """Queue one delivery attempt (the lock is held)."""
        self._queue.append((sub, message, attempt))
        self._queued_bytes += message.size

    def _step(self) -> bool:
        """Deliver one queued message once; False when the queue is empty."""
        with self._lock:
            if not self._queue:
                return False
            sub, message, attempt = self._queue.popleft()
            self._queued_bytes -= message.size
        if not self._attempt(sub, message, attempt):
            if attempt < self.max_delivery_attempts:
                with self._lock:
                    self._enqueue(sub, message, attempt + 1)
            else:
                self._dead_letter(sub, message, attempt)
        return True

    def drain(self) -> int:
        """Deliver queued messages (and what their handlers publish) until idle; returns deliveries made."""
        count = 0
        while self._step():
            count += 1
        return count

    @property
    def pending(self) -> int:
        """Deliveries waiting in the queue."""
        with self._lock:
            return len(self._queue)

    def start(self) -> None:
        """Run queued deliveries on a background thread until :meth:`stop`."""
        with self._lock:
            if self._worker is not None:
                return
            self._stopping = False
            self._worker = threading.Thread(target=self._run, name="kfpt-memory-bus", daemon=True)
            self._worker.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop the background worker after the delivery in progress."""
        with self._lock:
            worker, self._worker = self._worker, None
            self._stopping = True
            self._wakeup.notify_all()
        if worker is not None:
            worker.join(timeout)

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._stopping:
                    self._wakeup.wait()
                if self._stopping:
                    return
            self.drain()

    # --- inspection ---------------------------------------------------------------------------

    def messages(self, topic: str) -> list[BusMessage]:
        """The recorded messages published on ``topic``, in order (see the limits above)."""
        with self._lock:
            return [m for m in self.published if m.topic == topic]

    def events(self, topic: str) -> list[CloudEvent]:
        """Decoded copies of the recorded events published on ``topic``, in order."""
        return [m.event for m in self.messages(topic)]

    def dead_letters(self, topic: str) -> list[BusMessage]:
        """Messages that exhausted their deliveries on ``topic``."""
        return self.messages(dead_letter_topic(topic))
