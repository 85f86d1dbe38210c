"""A closed-loop HTTP/1.1 load generator, run as its own process next to the server it loads.

``C`` keep-alive connections each send the same pre-framed request, wait for the whole response and
send the next one, like ``wrk -c C`` (which may not be installed). It is a single asyncio loop with
no HTTP library in the way, so its own cost per request stays a few tens of microseconds, and it is
the same for a measurement and its baseline.

A warm-up period is sent first and discarded. Latency is measured from writing a request to reading
the last byte of its response, for requests started inside the measured window; throughput counts
the responses completed inside it. A status other than the expected one counts as an error.

Usage: ``python -m bench.loadgen --port P --concurrency C --duration S --warmup S --request FILE
--expect 202``, where FILE holds the exact request bytes; prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import summary


@dataclass
class Tally:
    """What all connections observed in the measured window."""

    start_ns: int
    end_ns: int
    latencies_ms: list[float] = field(default_factory=list)
    completed: int = 0
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; return its status and whether the server will close the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = -1
    chunked = close = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        key = name.strip().lower()
        if key == "content-length":
            length = int(value)
        elif key == "transfer-encoding":
            chunked = "chunked" in value.lower()
        elif key == "connection":
            close = value.strip().lower() == "close"
    if length >= 0:
        await reader.readexactly(length)
    elif chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.read()
        close = True
    return status, close


async def _connection(port: int, payload: bytes, expect: int, tally: Tally) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while True:
            sent = time.perf_counter_ns()
            if sent >= tally.end_ns:
                return
            writer.write(payload)
            status, close = await _read_response(reader)
            done = time.perf_counter_ns()
            if sent >= tally.start_ns:
                tally.latencies_ms.append((done - sent) / 1e6)
                tally.statuses[status] = tally.statuses.get(status, 0) + 1
                if status != expect:
                    tally.errors += 1
            if tally.start_ns <= done <= tally.end_ns:
                tally.completed += 1
            if close:
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
    finally:
        writer.close()


async def _run(
    port: int, payload: bytes, expect: int, concurrency: int, duration: float, warmup: float
) -> Tally:
    now = time.perf_counter_ns()
    start = now + int(warmup * 1e9)
    tally = Tally(start, start + int(duration * 1e9))
    await asyncio.gather(*(_connection(port, payload, expect, tally) for _ in range(concurrency)))
    return tally


def load(
    port: int, payload: bytes, expect: int, concurrency: int, duration: float, warmup: float
) -> dict[str, Any]:
    """Load ``127.0.0.1:port`` and return throughput, latency percentiles and error counts."""
    cpu, wall = time.process_time(), time.perf_counter()
    tally = asyncio.run(_run(port, payload, expect, concurrency, duration, warmup))
    client_cpu = (time.process_time() - cpu) / (time.perf_counter() - wall)
    lat = summary(tally.latencies_ms)
    return {
        "concurrency": concurrency,
        "duration_s": duration,
        "requests": tally.completed,
        "rps": tally.completed / duration,
        "p50_ms": lat["median"],
        "p90_ms": lat["p90"],
        "p99_ms": lat["p99"],
        "errors": tally.errors,
        "client_cpu": client_cpu,
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
    }


def main(argv: list[str] | None = None) -> int:
    """Command line; see the module docstring."""
    parser = argparse.ArgumentParser(description="closed-loop HTTP/1.1 load generator")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--request", type=Path, required=True, help="file with the exact request bytes")
    parser.add_argument("--expect", type=int, default=200, help="the status every response should have")
    args = parser.parse_args(argv)
    payload = args.request.read_bytes()
    print(json.dumps(load(args.port, payload, args.expect, args.concurrency, args.duration, args.warmup)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
