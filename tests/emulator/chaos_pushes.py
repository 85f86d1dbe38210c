"""Signed GitHub pushes for the chaos harness, each delivered several times, some concurrently.

Every event is the example push (``examples/github-push/payloads/push.json``) with its own commit
sha and delivery id, signed with the example secret by the example's own request writer. GitHub
redelivers a webhook with the same delivery id, and so does this sender: each event is posted
``deliveries`` times, each repeat either together with the first delivery (from another thread,
so both race through the chain) or a little later (the chain may be half-way through the first).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import random
import threading
import time
import urllib.error
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from kfp_triggers.app.serve import send_request
from tests.emulator.chain_support import EXAMPLE

SENDER_THREADS = 16


def _example_request_writer() -> ModuleType:
    """``examples/github-push/make_requests.py`` (its directory is not a package)."""
    spec = importlib.util.spec_from_file_location("github_push_requests", EXAMPLE / "make_requests.py")
    if spec is None or spec.loader is None:
        raise RuntimeError("examples/github-push/make_requests.py cannot be loaded")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Push:
    """One event: its delivery id (the chain's eventID) and the request file that carries it."""

    event_id: str
    sha: str
    request_file: Path


def write_pushes(count: int, folder: Path, rng: random.Random) -> list[Push]:
    """Write ``count`` signed push requests into ``folder``, each with its own delivery id and sha."""
    writer = _example_request_writer()
    secret = (EXAMPLE / "secrets" / "github-webhook" / "secret").read_bytes()
    payload = json.loads((EXAMPLE / "payloads" / "push.json").read_bytes())
    folder.mkdir(parents=True, exist_ok=True)
    pushes = []
    for index in range(count):
        event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        sha = hashlib.sha1(event_id.encode(), usedforsecurity=False).hexdigest()
        payload["after"] = sha
        payload["head_commit"]["id"] = sha
        body = json.dumps(payload, indent=2).encode()
        path = folder / f"push-{index:05d}.http"
        path.write_bytes(writer.signed_request(body, secret, event_id))
        pushes.append(Push(event_id, sha, path))
    return pushes


@dataclass(frozen=True)
class Delivery:
    """One POST of one event: when it was due (seconds from the start) and what ingest answered."""

    event_id: str
    due_s: float
    concurrent: bool
    status: int  # 0: no HTTP answer (connection refused, timeout)


@dataclass
class DeliveryPlan:
    """When each delivery of each event is sent."""

    rate_per_s: float
    deliveries: int
    concurrent_share: float = 0.5
    redelivery_window_s: float = 10.0

    def schedule(self, pushes: list[Push], rng: random.Random) -> list[tuple[float, Push, bool]]:
        """``(due seconds, push, concurrent?)`` for every delivery, ordered by due time."""
        due: list[tuple[float, Push, bool]] = []
        for index, push in enumerate(pushes):
            first = index / self.rate_per_s
            due.append((first, push, False))
            for _ in range(self.deliveries - 1):
                if rng.random() < self.concurrent_share:
                    due.append((first, push, True))
                else:
                    due.append((first + rng.uniform(0.5, self.redelivery_window_s), push, False))
        return sorted(due, key=lambda item: item[0])


@dataclass
class Sender:
    """Posts every scheduled delivery to ingest on a pool of threads and keeps ingest's answers."""

    url: str
    deliveries: list[Delivery] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, schedule: list[tuple[float, Push, bool]]) -> None:
        """Send everything at its due time (or when a thread is free); return when all are answered."""
        start = time.monotonic()
        with ThreadPoolExecutor(SENDER_THREADS, thread_name_prefix="chaos-send") as pool:
            for due_s, push, concurrent in schedule:
                time.sleep(max(0.0, start + due_s - time.monotonic()))
                pool.submit(self._post, push, due_s, concurrent)

    def _post(self, push: Push, due_s: float, concurrent: bool) -> None:
        try:
            status, _ = send_request(self.url, push.request_file)
        except (OSError, urllib.error.URLError):
            status = 0
        with self._lock:
            self.deliveries.append(Delivery(push.event_id, due_s, concurrent, status))

    def acknowledged(self) -> set[str]:
        """Event ids that ingest answered 2xx at least once."""
        return {d.event_id for d in self.deliveries if 200 <= d.status < 300}

    def statuses(self) -> dict[str, int]:
        """How many deliveries got each answer (``"0"``: none)."""
        return {str(status): n for status, n in sorted(Counter(d.status for d in self.deliveries).items())}
