"""Ingest under load and start-up imports, each next to a hello-world baseline.

Two measurements, all of real functions-framework servers (see :mod:`bench.servers`); cold starts
are :mod:`bench.coldstart`:

* **throughput**: ``functions/ingest`` (``KFPT_CONFIG=examples/github-push``, ``KFPT_TRANSPORT=memory``)
  and ``bench/hello`` under the same command and default server settings, loaded with the sample
  signed push (its exact body and headers) by :mod:`bench.loadgen` in a separate process, at each
  concurrency. Every run gets a fresh server, because the in-memory transport keeps every published
  message. Runs alternate hello, ingest, ingest, hello (when repeated) so drift on a noisy machine
  falls on both sides equally; ratios are ingest over hello.
* **imports**: which heavy modules are in ``sys.modules`` after functions-framework has loaded each
  function module, and again after it has answered its first request (an in-process test client),
  each in a fresh interpreter.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import fmt_ms, fmt_ratio, ratio, run_importtime, run_json
from bench.servers import FUNCTIONS, HttpRequest, Server, first_request, function_env, push_request

HEAVY_MODULES = ("kfp", "google.cloud.pubsub_v1", "grpc", "celpy", "cel_expr_python", "lark", "yaml")
MEASURED_FUNCTIONS = ("hello", "ingest", "intercept", "render")


# ------------------------------------------------------------------------------------ throughput


def load_run(
    name: str,
    concurrency: int,
    duration: float,
    warmup: float,
    request: HttpRequest | None = None,
    settings: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Serve function ``name`` on a fresh server and load it with ``request`` (the sample push)."""
    function = FUNCTIONS[name]
    request = request or push_request()
    with (
        Server(function, settings=settings) as server,
        tempfile.TemporaryDirectory(prefix="kfpt-bench-load-") as tmp,
    ):
        status, _ = server.send(request, timeout=60)
        if status != function.expect_status:
            raise RuntimeError(f"{name} answered {status} to the sample push: {server.log_tail()}")
        wire = Path(tmp) / "request.bin"
        wire.write_bytes(request.wire(server.port))
        args = ["-m", "bench.loadgen", f"--port={server.port}", f"--concurrency={concurrency}",
                f"--duration={duration}", f"--warmup={warmup}", f"--request={wire}",
                f"--expect={function.expect_status}"]  # fmt: skip
        return dict(run_json(args, timeout=duration + warmup + 120))


def _mean(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.fmean(r[key] for r in runs)


def throughput(
    concurrencies: tuple[int, ...], duration: float, warmup: float, repeats: int
) -> dict[str, Any]:
    """Hello and ingest at each concurrency, alternating; ratios of the means of the runs."""
    out: dict[str, Any] = {
        "load_generator": "python asyncio (bench/loadgen.py), separate process",
        "levels": [],
    }
    for c in concurrencies:
        runs: dict[str, list[dict[str, Any]]] = {"hello": [], "ingest": []}
        order = ["hello", "ingest", "ingest", "hello"] * repeats
        for name in order[: 2 * repeats]:
            runs[name].append(load_run(name, c, duration, warmup))
        level: dict[str, Any] = {"concurrency": c}
        for name, results in runs.items():
            level[name] = {
                "rps": _mean(results, "rps"),
                "p50_ms": _mean(results, "p50_ms"),
                "p99_ms": _mean(results, "p99_ms"),
                "errors": sum(r["errors"] for r in results),
                "client_cpu": max(r["client_cpu"] for r in results),
                "runs": results,
            }
        level["throughput_ratio"] = ratio(level["ingest"]["rps"], level["hello"]["rps"])
        level["p50_ratio"] = ratio(level["ingest"]["p50_ms"], level["hello"]["p50_ms"])
        level["p99_ratio"] = ratio(level["ingest"]["p99_ms"], level["hello"]["p99_ms"])
        out["levels"].append(level)
    return out


# --------------------------------------------------------------------------------------- imports


def _heavy(modules: set[str]) -> list[str]:
    return [h for h in HEAVY_MODULES if any(m == h or m.startswith(h + ".") for m in modules)]


def imports_worker(name: str) -> dict[str, Any]:
    """In this (fresh) interpreter: load function ``name`` as functions-framework does, then answer once."""
    before = set(sys.modules)
    started = time.perf_counter()
    from functions_framework import create_app

    function = FUNCTIONS[name]
    app = create_app(function.target, str(function.source), function.signature)  # type: ignore[no-untyped-call]
    load_ms = (time.perf_counter() - started) * 1e3
    at_start = set(sys.modules) - before
    request = first_request(name)
    response = app.test_client().post(request.path, headers=list(request.headers), data=request.body)
    after_first = set(sys.modules) - before
    return {
        "function": name,
        "load_ms": load_ms,
        "modules_at_start": len(at_start),
        "heavy_at_start": _heavy(at_start),
        "first_status": response.status_code,
        "heavy_after_first_request": _heavy(after_first),
    }


_LOAD_ONLY = "from functions_framework import create_app; create_app({target!r}, {source!r}, {signature!r})"


def import_times(name: str, env: dict[str, str], rounds: int = 1) -> dict[str, float]:
    """Self import time in ms of each module loaded with function ``name`` (``python -X importtime``).

    With several rounds, each module keeps its smallest time: noise only ever adds time.
    """
    f = FUNCTIONS[name]
    code = _LOAD_ONLY.format(target=f.target, source=str(f.source), signature=f.signature)
    times: dict[str, float] = {}
    for _ in range(rounds):
        proc = run_importtime(["-c", code], env)
        if proc.returncode != 0:
            raise RuntimeError(f"loading {name} exited {proc.returncode}: {proc.stderr[-2000:]}")
        for line in proc.stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            self_us, _cumulative, module = line[len("import time:") :].split("|")
            ms = int(self_us) / 1e3
            times[module.strip()] = min(ms, times.get(module.strip(), ms))
    return times


def _group(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "kfp_triggers" else parts[0]


def extra_imports(times: dict[str, float], baseline: dict[str, float], top: int = 6) -> list[list[Any]]:
    """The packages whose modules ``times`` has and ``baseline`` lacks, by total self time, largest first."""
    groups: dict[str, float] = {}
    for module, ms in times.items():
        if module not in baseline:
            groups[_group(module)] = groups.get(_group(module), 0.0) + ms
    ranked = sorted(groups.items(), key=lambda kv: kv[1], reverse=True)
    return [[name, ms] for name, ms in ranked[:top]]


def imports(rounds: int = 3) -> dict[str, Any]:
    """For each function, in fresh interpreters: heavy modules, and import time it adds over hello."""
    out: dict[str, Any] = {"watched": list(HEAVY_MODULES), "functions": {}}
    with tempfile.TemporaryDirectory(prefix="kfpt-bench-imports-") as tmp:
        env = function_env(Path(tmp))
        baseline = import_times("hello", env, rounds)
        for name in MEASURED_FUNCTIONS:
            result = run_json(["-m", "bench.ingest", f"--imports-worker={name}"], env=env)
            times = baseline if name == "hello" else import_times(name, env, rounds)
            extra = [] if name == "hello" else extra_imports(times, baseline)
            result["importtime_total_ms"] = sum(times.values())
            result["importtime_extra_ms"] = sum(ms for m, ms in times.items() if m not in baseline)
            result["importtime_extra_top"] = extra
            out["functions"][name] = result
    return out


# ---------------------------------------------------------------------------------------- report


def run(
    concurrencies: tuple[int, ...] = (1, 8, 32), duration: float = 3.0, warmup: float = 1.0, repeats: int = 2
) -> dict[str, Any]:
    """Throughput and imports (cold starts are :mod:`bench.coldstart`)."""
    return {"throughput": throughput(concurrencies, duration, warmup, repeats), "imports": imports()}


def report_throughput(result: dict[str, Any]) -> list[str]:
    """Plain-text lines for the throughput section."""
    busiest = max((lv[n]["client_cpu"] for lv in result["levels"] for n in ("hello", "ingest")), default=0.0)
    lines = [
        f"load generator: {result['load_generator']}, busiest at {busiest:.0%} of one CPU; "
        "ratios are ingest / hello"
    ]
    columns = ["c", "hello rps", "ingest rps", "rps ratio", "hello p50/p99 ms", "ingest p50/p99 ms",
               "p50 ratio", "p99 ratio", "errors"]  # fmt: skip
    widths = [3, 10, 11, 10, 18, 18, 10, 10, 7]
    lines.append(" ".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)))
    for level in result["levels"]:
        h, i = level["hello"], level["ingest"]
        cells = [
            str(level["concurrency"]),
            f"{h['rps']:.0f}",
            f"{i['rps']:.0f}",
            fmt_ratio(level["throughput_ratio"]),
            f"{fmt_ms(h['p50_ms'])} / {fmt_ms(h['p99_ms'])}",
            f"{fmt_ms(i['p50_ms'])} / {fmt_ms(i['p99_ms'])}",
            fmt_ratio(level["p50_ratio"]),
            fmt_ratio(level["p99_ratio"]),
            str(h["errors"] + i["errors"]),
        ]
        lines.append(" ".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True)))
    return lines


def report_imports(result: dict[str, Any]) -> list[str]:
    """Plain-text lines for the imports section."""
    lines = [f"watched: {', '.join(result['watched'])}"]
    for name, r in result["functions"].items():
        start = ", ".join(r["heavy_at_start"]) or "none"
        first = ", ".join(r["heavy_after_first_request"]) or "none"
        lines.append(
            f"{name:<10} at start: {start:<14} after first request ({r['first_status']}): {first}; "
            f"{r['modules_at_start']} modules, {fmt_ms(r['load_ms'])} ms to load"
        )
    lines.append(
        "import time each function adds over hello (python -X importtime, self ms summed by package):"
    )
    for name, r in result["functions"].items():
        if name == "hello":
            continue
        top = ", ".join(f"{pkg} {fmt_ms(ms)}" for pkg, ms in r["importtime_extra_top"])
        lines.append(f"{name:<10} +{fmt_ms(r['importtime_extra_ms'])} ms: {top}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Command line: run everything and print the report, or act as the imports worker."""
    parser = argparse.ArgumentParser(description="ingest throughput, cold starts and imports")
    parser.add_argument("--imports-worker", metavar="FUNCTION", help="report imports of one function as JSON")
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    if args.imports_worker:
        print(json.dumps(imports_worker(args.imports_worker)))
        return 0
    result = run(duration=args.duration, repeats=args.repeats)
    print("\n".join([*report_throughput(result["throughput"]), *report_imports(result["imports"])]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
