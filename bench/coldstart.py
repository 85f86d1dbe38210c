"""Cold start: from spawning a function to its first durable hand-off, next to hello-world's cold start.

Each sample spawns ``functions-framework`` for one function (see :mod:`bench.servers`) and times
its first real request: ingest gets the signed push, intercept a binary-mode ``event.received``,
render a binary-mode ``trigger.matched``, hello the push. A stage answers only after handing its
output on, so the answer marks the hand-off:

* **in-process** (``KFPT_TRANSPORT=memory``): the figure the bench has always reported;
* **Pub/Sub** (``KFPT_TRANSPORT=pubsub`` on the emulator): the deployed transport, where the answer
  waits for the emulator to accept the message, so the client library (gRPC) loads and connects
  inside the first request. Each hand-off is then pulled back from the topic to prove it landed.

Rounds are taken round-robin over every variant, so drift on a shared machine falls on all of
them; each figure is the median of its rounds, with its ratio to hello and, on Pub/Sub, to the
same function in-process.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from bench.common import fmt_ms, fmt_ratio, ratio
from bench.pubsub import HandOffCounter, PubSubTarget
from bench.servers import FUNCTIONS, Server, first_request, pubsub_env, read_response
from kfp_triggers.wire.eventtypes import TOPIC_EVENTS, TOPIC_LAUNCH, TOPIC_MATCHED

STAGES = ("ingest", "intercept", "render")
TRANSPORT_NAMES = {"memory": "in-process", "pubsub": "Pub/Sub"}
#: The topic each stage's first request hands its output to.
OUTPUT_TOPIC = {"ingest": TOPIC_EVENTS, "intercept": TOPIC_MATCHED, "render": TOPIC_LAUNCH}


def cold_start_once(name: str, settings: dict[str, str] | None = None) -> tuple[float, float]:
    """Spawn the server of ``name`` (with ``settings``) and send its first request.

    Returns milliseconds from spawning to the answer, and from spawning to the moment the server
    accepted a connection (module imported, socket bound); the rest is the worker's first request,
    which includes building the stage context and the hand-off.
    """
    function = FUNCTIONS[name]
    request = first_request(name)
    server = Server(function, settings=settings)
    try:
        server.start()
        with server.connect() as sock:
            listening = time.perf_counter()
            sock.sendall(request.wire(server.port))
            status, _ = read_response(sock)
            answered = time.perf_counter()
        if status != function.expect_status:
            raise RuntimeError(f"{name} answered {status} to its first request: {server.log_tail()}")
        return (answered - server.started_at) * 1e3, (listening - server.started_at) * 1e3
    finally:
        server.stop()


def _figures(values: list[tuple[float, float]]) -> dict[str, Any]:
    return {
        "median_ms": statistics.median(total for total, _ in values),
        "listening_median_ms": statistics.median(listen for _, listen in values),
        "first_answer_median_ms": statistics.median(total - listen for total, listen in values),
        "samples_ms": [total for total, _ in values],
    }


def cold_starts(
    rounds: int, pubsub: PubSubTarget | None, pubsub_skipped: str | None = None
) -> dict[str, Any]:
    """Median cold starts of hello and of each stage in-process and (with ``pubsub``) on Pub/Sub."""
    variants: list[tuple[str, str]] = [("hello", "memory")]
    for stage in STAGES:
        variants += [(stage, "memory")] + ([(stage, "pubsub")] if pubsub else [])
    settings = {"memory": {}, "pubsub": pubsub_env(pubsub.host, pubsub.project) if pubsub else {}}
    counter = HandOffCounter(pubsub) if pubsub else None
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {v: [] for v in variants}
    try:
        if counter:
            counter.drain()
            counter.counts = dict.fromkeys(counter.counts, 0)
        for _ in range(rounds):
            for name, transport in variants:
                samples[(name, transport)].append(cold_start_once(name, settings[transport]))
        landed = counter.wait_for({OUTPUT_TOPIC[s]: rounds for s in STAGES}) if counter else {}
    finally:
        if counter:
            counter.close()
    hello = _figures(samples[("hello", "memory")])
    out: dict[str, Any] = {
        "rounds": rounds,
        "pubsub": {"measured": pubsub is not None, "skipped": pubsub_skipped},
        "hello": hello,
        "functions": {},
    }
    for stage in STAGES:
        entry: dict[str, Any] = {}
        for transport in ("memory", "pubsub"):
            if (stage, transport) not in samples:
                continue
            figures = _figures(samples[(stage, transport)])
            figures["ratio_to_hello"] = ratio(figures["median_ms"], hello["median_ms"])
            if transport == "pubsub":
                figures["ratio_to_in_process"] = ratio(figures["median_ms"], entry["memory"]["median_ms"])
                figures["handoffs_sent"] = rounds
                figures["handoffs_landed"] = landed[OUTPUT_TOPIC[stage]]
                figures["topic"] = OUTPUT_TOPIC[stage]
            entry[transport] = figures
        out["functions"][stage] = entry
    return out


def report(result: dict[str, Any]) -> list[str]:
    """Plain-text lines for the cold-start section."""
    lines = [
        f"spawn to first answered request = first hand-off, median of {result['rounds']}; "
        "split into spawn -> "
        "listening (imports) and listening -> answer (worker start, stage context, first request, hand-off)"
    ]
    head = (
        f"{'function':<10} {'transport':<10} {'total ms':>9} {'x hello':>8} {'x in-proc':>9} "
        f"{'listening':>10} {'answer':>8}  samples ms"
    )
    lines.append(head)

    def row(name: str, transport: str, r: dict[str, Any]) -> str:
        samples = ", ".join(fmt_ms(v) for v in r["samples_ms"])
        vs_hello = fmt_ratio(r["ratio_to_hello"]) if "ratio_to_hello" in r else "1.00x"
        vs_memory = fmt_ratio(r["ratio_to_in_process"]) if "ratio_to_in_process" in r else ""
        return (
            f"{name:<10} {transport:<10} {fmt_ms(r['median_ms']):>9} {vs_hello:>8} {vs_memory:>9} "
            f"{fmt_ms(r['listening_median_ms']):>10} {fmt_ms(r['first_answer_median_ms']):>8}  [{samples}]"
        )

    lines.append(row("hello", "-", result["hello"]))
    for stage, entry in result["functions"].items():
        for transport, r in entry.items():
            lines.append(row(stage, TRANSPORT_NAMES[transport], r))
    if result["pubsub"]["measured"]:
        landed = ", ".join(
            f"{stage} {p['handoffs_landed']}/{p['handoffs_sent']} on {p['topic']}"
            for stage, p in ((s, e["pubsub"]) for s, e in result["functions"].items())
        )
        lines.append(f"Pub/Sub hand-offs pulled back from the emulator: {landed}")
    else:
        lines.append(f"Pub/Sub cold starts not measured: {result['pubsub']['skipped']}")
    return lines
