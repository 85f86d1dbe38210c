"""Ingest by body size: 1 KB, 1 MB and 20 MB signed GitHub pushes, next to a baseline that reads them.

A large webhook costs its bytes before it costs anything else, so the baseline here is the naive
receiver: a hello-world function under the same functions-framework command that reads the whole
body and answers 200 (``bench/hello``'s ``hello_body``). Ingest runs as deployed for the example
listener, with the claim check on (bodies over 256 KiB go to the body store, a local directory
here: on Google Cloud a bucket) and its limit raised to 25 MiB, GitHub's largest delivery. Each
size is loaded by :mod:`bench.loadgen` in its own process; the same signed body every time, so after
the first delivery ingest's work is the request, the check-in and the hand-off.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from bench.common import fmt_ms, fmt_ratio, ratio
from bench.ingest import load_run
from bench.servers import EXAMPLE, HttpRequest

SIZES = {"1 KB": 1024, "1 MB": 1024 * 1024, "20 MB": 20 * 1024 * 1024}
MAX_BODY_BYTES = 25 * 1024 * 1024
SETTINGS = {"KFPT_MAX_BODY_BYTES": str(MAX_BODY_BYTES)}


def sized_push(size: int) -> HttpRequest:
    """A push to main of about ``size`` bytes (padded with commits), signed with the example secret."""
    full = json.loads((EXAMPLE / "payloads" / "push.json").read_text())
    # What the example's triggers and bindings read, so even 1 KB is a push they accept.
    payload = {k: full[k] for k in ("ref", "before", "after", "created", "deleted", "forced")}
    payload["repository"] = {"full_name": full["repository"]["full_name"], "name": full["repository"]["name"]}
    payload["pusher"] = {"name": full["pusher"]["name"]}
    payload["head_commit"] = {"id": full["head_commit"]["id"], "message": full["head_commit"]["message"]}
    payload["commits"] = []
    base = len(json.dumps(payload))
    filler = {"id": "0" * 40, "message": "", "added": [], "removed": [], "modified": []}
    one = len(json.dumps(filler)) + 2
    commits: list[dict[str, Any]] = payload["commits"]
    while base < size - one:
        message = "x" * min(1000, size - base - one)
        commits.append(dict(filler, id=f"{len(commits):040x}", message=message))
        base += one + len(message)
    payload["commits"] = commits
    body = json.dumps(payload).encode()
    secret = (EXAMPLE / "secrets" / "github-webhook" / "secret").read_bytes()
    headers = (
        ("Content-Type", "application/json"),
        ("X-GitHub-Event", "push"),
        ("X-GitHub-Delivery", f"bench-size-{size}"),
        ("X-Hub-Signature-256", "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()),
    )
    return HttpRequest("POST", "/", headers, body)


def run(duration: float, warmup: float, concurrency: int = 2) -> dict[str, Any]:
    """Each size: the baseline and ingest, rps and latency, ingest over the baseline."""
    out: dict[str, Any] = {"concurrency": concurrency, "sizes": []}
    for label, size in SIZES.items():
        request = sized_push(size)
        entry: dict[str, Any] = {"size": label, "bytes": len(request.body)}
        for name in ("hello-body", "ingest"):
            entry[name] = load_run(name, concurrency, duration, warmup, request, SETTINGS)
        entry["rps_ratio"] = ratio(entry["ingest"]["rps"], entry["hello-body"]["rps"])
        entry["p50_ratio"] = ratio(entry["ingest"]["p50_ms"], entry["hello-body"]["p50_ms"])
        out["sizes"].append(entry)
    return out


def report(result: dict[str, Any]) -> list[str]:
    """Plain-text lines for the body-size section."""
    lines = [
        f"closed loop, {result['concurrency']} connections; baseline: hello-world that reads the whole body; "
        "ratios are ingest / baseline"
    ]
    columns = [
        "body",
        "base rps",
        "ingest rps",
        "rps ratio",
        "base p50/p99 ms",
        "ingest p50/p99 ms",
        "p50 ratio",
    ]
    widths = [6, 9, 11, 10, 17, 19, 10]
    lines.append(" ".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)))
    for entry in result["sizes"]:
        b, i = entry["hello-body"], entry["ingest"]
        cells = [
            entry["size"],
            f"{b['rps']:.1f}",
            f"{i['rps']:.1f}",
            fmt_ratio(entry["rps_ratio"]),
            f"{fmt_ms(b['p50_ms'])} / {fmt_ms(b['p99_ms'])}",
            f"{fmt_ms(i['p50_ms'])} / {fmt_ms(i['p99_ms'])}",
            fmt_ratio(entry["p50_ratio"]),
        ]
        lines.append(" ".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True)))
    errors = sum(e[n]["errors"] for e in result["sizes"] for n in ("hello-body", "ingest"))
    if errors:
        lines.append(f"errors: {errors}")
    return lines


if __name__ == "__main__":
    import sys

    quick = "--quick" in sys.argv
    found = run(0.3 if quick else 3.0, 0.1 if quick else 1.0)
    print("\n".join(report(found)))
