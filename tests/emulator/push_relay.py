"""Push delivery as Cloud Pub/Sub does it, for the Pub/Sub emulator, which pushes only two at a time.

The emulator keeps at most two pushes in flight per push subscription (an endpoint that takes D
seconds gets 2/D messages a second), whereas Cloud Pub/Sub's push delivery ramps its concurrency
up to hundreds of requests in flight. A chain measured on emulator push therefore measures that
cap. :class:`PushRelay` stands in for Cloud Pub/Sub's push: it reads a *pull* subscription through
streaming pull, ``in_flight`` messages at a time, and POSTs each to the function exactly as a
wrapped, unauthenticated push subscription would (body below), acknowledging on Pub/Sub push's
success codes and nacking otherwise, so the emulator redelivers and dead-letters as before::

    {"message": {"attributes": {...}, "data": "<base64>", "messageId": "1", "message_id": "1",
                 "publishTime": "2024-01-01T00:00:00.000Z", "publish_time": "..."},
     "subscription": "projects/p/subscriptions/s", "deliveryAttempt": 1}

``deliveryAttempt`` is present only when the subscription has a dead-letter policy, as on Pub/Sub.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import urllib.parse
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import urllib3

from kfp_triggers.adapters.transports.pubsub import subscriber_client

#: Messages relayed at once per subscription. Cloud Pub/Sub push ramps up well beyond this; 16
#: keeps the relay from being the limit on 2 cores.
DEFAULT_IN_FLIGHT = 16

#: The answers Pub/Sub push takes as an acknowledgement; anything else (or no answer) is a nack.
PUSH_SUCCESS = frozenset({102, 200, 201, 202, 204})

#: What Cloud Pub/Sub's push requests identify themselves as.
PUSH_USER_AGENT = "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)"

STOP_LIMIT_S = 30.0


@dataclass
class RelayStats:
    """What one relay did so far: POSTs, acks, nacks (error answers or none), peak concurrency."""

    posted: int = 0
    acked: int = 0
    nacked: int = 0
    failed: int = 0  # of the nacks: no HTTP answer (connection refused, reset, timeout)
    in_flight: int = 0
    peak_in_flight: int = 0


def push_body(message: Any, subscription: str) -> dict[str, Any]:
    """The JSON body Cloud Pub/Sub's wrapped push sends for a pulled ``message`` of ``subscription``."""
    published = message.publish_time.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    body: dict[str, Any] = {
        "message": {
            "attributes": dict(message.attributes),
            "data": base64.b64encode(message.data).decode("ascii"),
            "messageId": message.message_id,
            "message_id": message.message_id,
            "publishTime": published,
            "publish_time": published,
        },
        "subscription": subscription,
    }
    if message.delivery_attempt is not None:
        body["deliveryAttempt"] = message.delivery_attempt
    return body


class _Endpoint:
    """One push endpoint with its own pool of keep-alive connections."""

    def __init__(self, url: str, size: int, timeout_s: float) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"the relay pushes to plain http endpoints only, not {url!r}")
        self.url = url
        self.path = parts.path or "/"
        if parts.query:
            self.path += f"?{parts.query}"
        self.pool = urllib3.HTTPConnectionPool(
            parts.hostname,
            parts.port or 80,
            maxsize=size,
            block=True,  # never more connections than requests in flight
            timeout=urllib3.Timeout(connect=min(5.0, timeout_s), read=timeout_s),
            retries=False,  # a failed push is Pub/Sub's to redeliver, not ours to repeat
        )

    def post(self, body: bytes) -> int:
        headers = {"Content-Type": "application/json", "User-Agent": PUSH_USER_AGENT}
        response = self.pool.urlopen("POST", self.path, body=body, headers=headers, preload_content=True)
        return int(response.status)


class PushRelay:
    """Relays one pull subscription to one push endpoint, ``in_flight`` messages at a time.

    ``timeout_s`` bounds each POST, as the subscription's ack deadline bounds a push on Pub/Sub:
    an endpoint that has not answered by then is nacked and the message delivered again.
    """

    def __init__(
        self,
        subscription: str,
        endpoint: str,
        environ: Mapping[str, str],
        in_flight: int = DEFAULT_IN_FLIGHT,
        timeout_s: float = 60.0,
    ) -> None:
        """Relay ``subscription`` (a full path) to ``endpoint``; nothing is pulled before :meth:`start`."""
        if in_flight < 1:
            raise ValueError("in_flight must be at least 1")
        self.subscription = subscription
        self.in_flight = in_flight
        self.timeout_s = timeout_s
        self.stats = RelayStats()
        self._environ = dict(environ)
        self._lock = threading.Lock()
        self._endpoint = _Endpoint(endpoint, in_flight, timeout_s)
        self._retired: list[_Endpoint] = []
        self._client: Any = None
        self._future: Any = None
        self._executor: ThreadPoolExecutor | None = None

    @property
    def endpoint(self) -> str:
        """Where messages are pushed now."""
        return self._endpoint.url

    def start(self) -> PushRelay:
        """Open the streaming pull; messages flow to the endpoint from now on."""
        from google.cloud import pubsub_v1

        if self._future is not None:
            raise RuntimeError("the relay is already running")
        self._client = subscriber_client(self._environ)
        self._executor = ThreadPoolExecutor(self.in_flight, thread_name_prefix="push-relay")
        self._future = self._client.subscribe(
            self.subscription,
            callback=self._deliver,
            flow_control=pubsub_v1.types.FlowControl(max_messages=self.in_flight),
            scheduler=pubsub_v1.subscriber.scheduler.ThreadScheduler(executor=self._executor),
            await_callbacks_on_shutdown=True,  # a push under way is answered and acked or nacked
        )
        return self

    def retarget(self, endpoint: str) -> None:
        """Push to ``endpoint`` from now on (a replaced instance); pushes under way finish where they are."""
        replacement = _Endpoint(endpoint, self.in_flight, self.timeout_s)
        with self._lock:
            self._retired.append(self._endpoint)
            self._endpoint = replacement

    def _deliver(self, message: Any) -> None:
        """Push one message and settle it by the answer (runs on one of the ``in_flight`` workers)."""
        body = json.dumps(push_body(message, self.subscription)).encode()
        with self._lock:
            endpoint = self._endpoint
            self.stats.posted += 1
            self.stats.in_flight += 1
            self.stats.peak_in_flight = max(self.stats.peak_in_flight, self.stats.in_flight)
        status = 0
        try:
            status = endpoint.post(body)
        except (urllib3.exceptions.HTTPError, OSError):
            pass  # no answer: the same as an error answer, the message is nacked
        finally:
            with self._lock:
                self.stats.in_flight -= 1
                if status in PUSH_SUCCESS:
                    self.stats.acked += 1
                else:
                    self.stats.nacked += 1
                    self.stats.failed += status == 0
        if status in PUSH_SUCCESS:
            message.ack()
        else:
            message.nack()

    def stop(self) -> None:
        """Cancel the streaming pull, let pushes under way settle, release the client and the pools.

        Messages pulled but not yet pushed are nacked by the client library, so they go back to the
        subscription at once.
        """
        future, self._future = self._future, None
        if future is not None:
            future.cancel()
            with contextlib.suppress(Exception):  # the stream's own error, if any: it is closed now
                future.result(timeout=STOP_LIMIT_S)
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        if self._client is not None:
            self._client.close()
            self._client = None
        with self._lock:
            for endpoint in [*self._retired, self._endpoint]:
                endpoint.pool.close()
            self._retired.clear()
