"""What the first hand-off imports: each stage's first request, in-process and on Pub/Sub.

No function imports the Pub/Sub client at start (see ``tests/benchmarks/test_imports.py``), so a
stage on Pub/Sub loads it, and gRPC under it, inside its first request. Here each stage is loaded
as functions-framework loads it, in a fresh ``python -X importtime`` interpreter, and answers its
first request through an in-process test client; markers written to stderr around that request
pick out the imports it caused. Each module keeps its smallest self time over the rounds (noise
only adds time), and the modules are summed by package.

Usage as a worker: ``python -X importtime -m bench.handoff --worker FUNCTION`` (settings in the
environment); prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import fmt_ms, run_importtime
from bench.pubsub import PubSubTarget
from bench.servers import FUNCTIONS, first_request, function_env, pubsub_env

STAGES = ("ingest", "intercept", "render")
BEGIN = "kfpt-bench: first request begins"
END = "kfpt-bench: first request ends"
TOP = 8


def worker(name: str) -> dict[str, Any]:
    """In this fresh interpreter: load ``name`` as functions-framework does, then answer its first request."""
    from functions_framework import create_app

    function = FUNCTIONS[name]
    app = create_app(function.target, str(function.source), function.signature)  # type: ignore[no-untyped-call]
    request = first_request(name)
    client = app.test_client()
    before = set(sys.modules)
    print(BEGIN, file=sys.stderr, flush=True)
    started = time.perf_counter()
    response = client.post(request.path, headers=list(request.headers), data=request.body)
    elapsed_ms = (time.perf_counter() - started) * 1e3
    print(END, file=sys.stderr, flush=True)
    return {
        "status": response.status_code,
        "first_request_ms": elapsed_ms,
        "modules": len(set(sys.modules) - before),
    }


def package(module: str) -> str:
    """The package a module counts under: ``grpc``, ``google.protobuf``, ``google.cloud.pubsub_v1``..."""
    parts = module.split(".")
    if parts[0] == "google":
        return ".".join(parts[:3] if len(parts) > 2 and parts[1] == "cloud" else parts[:2])
    if parts[0] == "kfp_triggers":
        return ".".join(parts[:2])
    return parts[0]


def first_request_imports(stderr: str) -> dict[str, tuple[float, float, bool]]:
    """``{module: (self ms, cumulative ms, top level?)}`` for every module imported between the markers.

    A top-level import is one the request's own code asked for (importtime indents the modules an
    import pulled in below it); its cumulative time includes them. Summing the self times gives
    the whole import cost of the request.
    """
    found: dict[str, tuple[float, float, bool]] = {}
    inside = False
    for line in stderr.splitlines():
        if line == BEGIN:
            inside = True
        elif line == END:
            break
        elif inside and line.startswith("import time:") and "self [us]" not in line:
            self_us, cumulative_us, field = line[len("import time:") :].split("|")
            top = len(field) - len(field.lstrip(" ")) <= 1
            found[field.strip()] = (int(self_us) / 1e3, int(cumulative_us) / 1e3, top)
    return found


def _by_package(module_ms: dict[str, float]) -> list[list[Any]]:
    groups: dict[str, float] = {}
    for module, ms in module_ms.items():
        groups[package(module)] = groups.get(package(module), 0.0) + ms
    return [[pkg, ms] for pkg, ms in sorted(groups.items(), key=lambda kv: kv[1], reverse=True)]


def measure(name: str, settings: dict[str, str], rounds: int) -> tuple[dict[str, Any], dict[str, float]]:
    """Run the worker for ``name`` ``rounds`` times under ``-X importtime``.

    Returns a summary of the imports of its first request, and each module's smallest self time.
    """
    best: dict[str, float] = {}
    roots: dict[str, float] = {}
    statuses: list[int] = []
    request_ms: list[float] = []
    for _ in range(rounds):
        proc = run_importtime(["-m", "bench.handoff", f"--worker={name}"], settings)
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        if proc.returncode != 0 or not lines:
            raise RuntimeError(f"the {name} hand-off worker exited {proc.returncode}: {proc.stderr[-2000:]}")
        answer = json.loads(lines[-1])
        statuses.append(answer["status"])
        request_ms.append(answer["first_request_ms"])
        for module, (self_ms, cumulative_ms, top) in first_request_imports(proc.stderr).items():
            best[module] = min(self_ms, best.get(module, self_ms))
            if top:
                roots[module] = min(cumulative_ms, roots.get(module, cumulative_ms))
    summary = {
        "statuses": statuses,
        "first_request_ms_min": min(request_ms),
        "modules": len(best),
        "import_ms": sum(best.values()),
        "top_packages": _by_package(best)[:TOP],
        "top_level_imports": [[m, ms] for m, ms in sorted(roots.items(), key=lambda kv: -kv[1])[:TOP]],
    }
    return summary, best


def handoff_imports(rounds: int, pubsub: PubSubTarget | None, skipped: str | None = None) -> dict[str, Any]:
    """Imports of each stage's first request, in-process and (with ``pubsub``) on Pub/Sub.

    ``extra`` is what the Pub/Sub request imports that the in-process one does not: the cost of
    the transport itself.
    """
    out: dict[str, Any] = {"rounds": rounds, "measured": pubsub is not None, "skipped": skipped}
    out["functions"] = {}
    if pubsub is None:
        return out
    with tempfile.TemporaryDirectory(prefix="kfpt-bench-handoff-") as tmp:
        memory_env = function_env(Path(tmp))
        pubsub_settings = {**memory_env, **pubsub_env(pubsub.host, pubsub.project)}
        for stage in STAGES:
            memory, memory_modules = measure(stage, memory_env, rounds)
            on_pubsub, pubsub_modules = measure(stage, pubsub_settings, rounds)
            extra = {m: ms for m, ms in pubsub_modules.items() if m not in memory_modules}
            out["functions"][stage] = {
                "memory": memory,
                "pubsub": on_pubsub,
                "extra": {
                    "modules": len(extra),
                    "import_ms": sum(extra.values()),
                    "top_packages": _by_package(extra)[:TOP],
                    "grpc": any(package(m) == "grpc" for m in extra),
                    "pubsub_client": any(m.startswith("google.cloud.pubsub_v1") for m in extra),
                },
            }
    return out


def report(result: dict[str, Any]) -> list[str]:
    """Plain-text lines for the hand-off imports section."""
    if not result["measured"]:
        return [f"not measured: {result['skipped']}"]
    lines = [
        "modules imported while answering the first request (python -X importtime, self ms, min of "
        f"{result['rounds']}; request ms is the whole first request, slowed by importtime)"
    ]
    for stage, entry in result["functions"].items():
        memory, pubsub, extra = entry["memory"], entry["pubsub"], entry["extra"]
        lines.append(
            f"{stage:<10} in-process {memory['modules']} modules {fmt_ms(memory['import_ms'])} ms "
            f"(request {fmt_ms(memory['first_request_ms_min'])} ms); Pub/Sub {pubsub['modules']} modules "
            f"{fmt_ms(pubsub['import_ms'])} ms (request {fmt_ms(pubsub['first_request_ms_min'])} ms); "
            f"Pub/Sub adds {extra['modules']} modules, {fmt_ms(extra['import_ms'])} ms"
        )
        top = ", ".join(f"{pkg} {fmt_ms(ms)}" for pkg, ms in extra["top_packages"])
        lines.append(f"{'':<10} added, by package: {top}")
        for label, figures in (("in-process", memory), ("Pub/Sub", pubsub)):
            roots = ", ".join(f"{m} {fmt_ms(ms)}" for m, ms in figures["top_level_imports"][:4])
            lines.append(f"{'':<10} {label}, imported by the request itself (cumulative ms): {roots}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Command line: the worker, or a standalone measurement against a running emulator."""
    parser = argparse.ArgumentParser(description="imports of each stage's first hand-off")
    parser.add_argument("--worker", metavar="FUNCTION", help="answer one first request and print JSON")
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker)))
        return 0
    parser.error("run through bench/run.py, which starts the emulator")
    return 2


if __name__ == "__main__":
    sys.exit(main())
