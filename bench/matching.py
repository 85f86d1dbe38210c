"""Trigger matching: 100 CEL triggers against a ~7 KB GitHub push, engine path versus a naive baseline.

What is measured, per CEL backend (each in its own interpreter, forced with ``KFPT_CEL_BACKEND``):

* ``intercept``: :meth:`EventProcessor.intercept_all` over the 100 triggers of a generated listener
  (filters and overlays through the real CEL interceptor), one fresh request per event;
* ``process``: :meth:`EventProcessor.process`, i.e. intercept plus bindings and template rendering of
  every accepted trigger;
* ``cel_only``: the same filters and overlays through :class:`CelEnvironment`'s caches with one
  activation per event and no interceptor chain, a floor for the CEL share of ``intercept``;
* ``naive``: what a straightforward implementation would do with the same backend, measured in the
  same process: for every trigger of every event, parse, check and compile its expressions again and
  decode and bind the payload again (one shared environment, so building environments is *not*
  charged to the baseline, which keeps the ratio conservative).

Each event gets its own body bytes (a different ``after`` commit), so the per-body decode cache of
the engine is exercised exactly as with real traffic: it helps the triggers of one event, never
the next event. The first event, which compiles every expression, is reported on its own and
excluded from the percentiles. Engine and baseline must accept the same triggers; the result says
whether they did.

Run ``python -m bench.matching`` for a report, or ``--worker`` (used by the parent) for raw JSON
from the backend named by ``KFPT_CEL_BACKEND``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.common import fmt_ms, fmt_ratio, ratio, run_json, summary

N_TRIGGERS = 100
LISTENER = "bench-push"
OWNER = "acme"
REPO = "fraud-model"


# --------------------------------------------------------------------------------------- payload


def _sha(seed: int, salt: int = 0) -> str:
    """A deterministic 40-hex-digit commit id."""
    return f"{(seed * 2654435761 + salt * 40503 + 0x9E3779B97F4A7C15) & (2**160 - 1):040x}"


def _user(login: str, uid: int) -> dict[str, Any]:
    return {
        "login": login,
        "id": uid,
        "node_id": f"MDQ6VXNlcj{uid}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4",
        "gravatar_id": "",
        "url": f"https://api.github.com/users/{login}",
        "html_url": f"https://github.com/{login}",
        "type": "User",
        "site_admin": False,
    }


_COMMIT_FILES: list[tuple[list[str], list[str], list[str]]] = [
    (["docs/training.md"], [], ["README.md", "docs/index.md"]),
    ([], ["scripts/old_eval.py"], ["pipelines/train.py", "pipelines/components/featurize.py"]),
    (["tests/test_features.py"], [], ["features/transactions.py", "features/merchants.py"]),
    ([], [], ["models/fraud/config.yaml", "models/fraud/hyperparams.json"]),
    (["notebooks/drift.ipynb"], [], ["pipelines/evaluate.py", "Makefile"]),
]
_MESSAGES = [
    "Document the training workflow and link the feature store",
    "Move evaluation into the pipeline and drop the ad-hoc script",
    "Add merchant-level aggregates to the transaction features",
    "Raise the learning rate and widen the first hidden layer [ci]",
    "Evaluate on the drift window and fail the run on a regression",
]


def push_payload(seq: int) -> dict[str, Any]:
    """A GitHub ``push`` event body (the documented shape) with five commits, unique per ``seq``."""
    full_name = f"{OWNER}/{REPO}"
    base = f"https://github.com/{full_name}"
    commits: list[dict[str, Any]] = []
    for i, (added, removed, modified) in enumerate(_COMMIT_FILES):
        cid = _sha(seq, i + 1)
        author = {"name": "Dana Smith", "email": "dana@acme.example", "username": "dana-acme"}
        commits.append(
            {
                "id": cid,
                "tree_id": _sha(seq, i + 101),
                "distinct": True,
                "message": _MESSAGES[i],
                "timestamp": f"2026-11-20T09:{10 + i:02d}:44+01:00",
                "url": f"{base}/commit/{cid}",
                "author": author,
                "committer": {"name": "GitHub", "email": "noreply@github.com", "username": "web-flow"},
                "added": added,
                "removed": removed,
                "modified": modified,
            }
        )
    after = str(commits[-1]["id"])
    before = _sha(seq, 999)
    owner = {"name": OWNER, "email": None, **_user(OWNER, 5120341), "type": "Organization"}
    repository = {
        "id": 718220394,
        "node_id": "R_kgDOKs8Tag",
        "name": REPO,
        "full_name": full_name,
        "private": False,
        "owner": owner,
        "html_url": base,
        "description": "Fraud scoring model: features, training and evaluation pipelines",
        "fork": False,
        "url": f"https://api.github.com/repos/{full_name}",
        "created_at": 1699950261,
        "updated_at": "2026-11-20T09:12:44Z",
        "pushed_at": 1763629964 + seq,
        "git_url": f"git://github.com/{full_name}.git",
        "ssh_url": f"git@github.com:{full_name}.git",
        "clone_url": f"{base}.git",
        "homepage": None,
        "size": 4821,
        "stargazers_count": 12,
        "watchers_count": 12,
        "language": "Python",
        "has_issues": True,
        "forks_count": 3,
        "open_issues_count": 5,
        "default_branch": "main",
        "master_branch": "main",
        "topics": ["fraud", "kubeflow", "mlops"],
        "visibility": "public",
    }
    return {
        "ref": "refs/heads/main",
        "before": before,
        "after": after,
        "repository": repository,
        "pusher": {"name": "dana-acme", "email": "dana@acme.example"},
        "organization": {
            "login": OWNER,
            "id": 5120341,
            "url": f"https://api.github.com/orgs/{OWNER}",
            "description": "Acme machine learning",
        },
        "sender": _user("dana-acme", 9912034),
        "created": False,
        "deleted": False,
        "forced": False,
        "base_ref": None,
        "compare": f"{base}/compare/{before[:12]}...{after[:12]}",
        "commits": commits,
        "head_commit": commits[-1],
    }


def push_headers(seq: int, size: int) -> list[tuple[str, str]]:
    """The headers GitHub sends with a push delivery (no signature: only CEL runs here)."""
    return [
        ("Host", "hooks.example.com"),
        ("User-Agent", "GitHub-Hookshot/7d3a1c2"),
        ("Content-Type", "application/json"),
        ("Content-Length", str(size)),
        ("X-GitHub-Event", "push"),
        ("X-GitHub-Delivery", f"0b6f5a2e-c9d1-11f0-8a1e-{seq:012x}"),
        ("X-GitHub-Hook-ID", "482913077"),
    ]


# ---------------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class TriggerSpec:
    """One generated trigger: its CEL filter, overlays and whether the push should match it."""

    name: str
    filter: str
    overlays: tuple[tuple[str, str], ...]
    expect_match: bool


def trigger_specs(n: int = N_TRIGGERS) -> list[TriggerSpec]:
    """``n`` triggers in four filter families; every fifth matches the push, every other has overlays.

    Each filter ends with a trigger-specific guard, so no two expressions share a compiled program
    (the naive baseline gets no accidental help, the engine no accidental cache hits).
    """
    specs = []
    for i in range(n):
        match = i % 5 == 0
        guard = f"body.repository.name != 'archive-{i}'"
        family = i % 4
        if family == 0:
            ref = "refs/heads/main" if match else f"refs/heads/team-{i}"
            flt = f"body.ref == '{ref}' && !body.deleted && {guard}"
        elif family == 1:
            owner = OWNER if match else f"team-{i}"
            flt = (
                "header.match('X-GitHub-Event', 'push') && "
                f"body.repository.full_name.startsWith('{owner}/') && {guard}"
            )
        elif family == 2:
            folder = "models/" if match else f"services/svc-{i}/"
            flt = f"body.commits.exists(c, c.modified.exists(f, f.startsWith('{folder}'))) && {guard}"
        else:
            owner = OWNER if match else f"team-{i}"
            flt = f"body.repository.full_name.startsWith('{owner}/') && body.commits.size() > 0 && {guard}"
        overlays: list[tuple[str, str]] = []
        if i % 2 == 0:
            overlays = [("short_sha", "body.after.truncate(7)"), ("meta.branch", "body.ref.split('/')[2]")]
            if i % 4 == 0:
                overlays.append(("meta.changed", "body.commits.map(c, c.modified.size() + c.added.size())"))
        specs.append(TriggerSpec(f"t{i:03d}-{family}", flt, tuple(overlays), match))
    return specs


def config_documents(specs: list[TriggerSpec]) -> list[dict[str, Any]]:
    """An EventListener with the triggers inline, one shared TriggerBinding and one KFP-run template."""
    triggers = []
    for spec in specs:
        params: list[dict[str, Any]] = [{"name": "filter", "value": spec.filter}]
        if spec.overlays:
            params.append(
                {"name": "overlays", "value": [{"key": k, "expression": e} for k, e in spec.overlays]}
            )
        triggers.append(
            {
                "name": spec.name,
                "interceptors": [{"ref": {"name": "cel"}, "params": params}],
                "bindings": [{"ref": "push-binding"}, {"name": "trigger", "value": spec.name}],
                "template": {"ref": "train-run"},
            }
        )
    api = "triggers.tekton.dev/v1beta1"
    listener = {"apiVersion": api, "kind": "EventListener", "metadata": {"name": LISTENER}}
    listener["spec"] = {"triggers": triggers}
    binding = {
        "apiVersion": api,
        "kind": "TriggerBinding",
        "metadata": {"name": "push-binding"},
        "spec": {
            "params": [
                {"name": "repo", "value": "$(body.repository.full_name)"},
                {"name": "sha", "value": "$(body.after)"},
                {"name": "short_sha", "value": "$(extensions.short_sha)"},
                {"name": "branch", "value": "$(extensions.meta.branch)"},
                {"name": "message", "value": "$(body.head_commit.message)"},
                {"name": "pusher", "value": "$(body.pusher.name)"},
            ]
        },
    }
    run = {
        "apiVersion": "pipelines.kubeflow.org/v2beta1",
        "kind": "Run",
        "metadata": {"generateName": "train-"},
        "spec": {
            "display_name": "train $(tt.params.repo)@$(tt.params.short_sha) by $(tt.params.trigger)",
            "description": "pushed by $(tt.params.pusher) to $(tt.params.branch): $(tt.params.message)",
            "pipeline_version_reference": {"pipeline_id": "fraud-train", "pipeline_version_id": "v7"},
            "experiment_name": "ci",
            "runtime_config": {
                "parameters": {"repo": "$(tt.params.repo)", "commit_sha": "$(tt.params.sha)", "epochs": 3},
                "pipeline_root": "gs://acme-ml-artifacts/root",
            },
            "service_account": "pipeline-runner",
        },
    }
    template = {
        "apiVersion": api,
        "kind": "TriggerTemplate",
        "metadata": {"name": "train-run"},
        "spec": {
            "params": [
                {"name": "repo"},
                {"name": "sha"},
                {"name": "short_sha", "default": "unknown"},
                {"name": "branch", "default": "unknown"},
                {"name": "message", "default": ""},
                {"name": "pusher", "default": "unknown"},
                {"name": "trigger"},
            ],
            "resourcetemplates": [run],
        },
    }
    return [listener, binding, template]


# ----------------------------------------------------------------------------------------- worker


def _timed(fn: Callable[[Any], Any], items: list[Any]) -> tuple[list[float], list[Any]]:
    """Milliseconds per call of ``fn`` over ``items`` (garbage collected once before, not during)."""
    gc.collect()
    times: list[float] = []
    results: list[Any] = []
    for item in items:
        start = time.perf_counter_ns()
        results.append(fn(item))
        times.append((time.perf_counter_ns() - start) / 1e6)
    return times, results


def worker(events: int, naive_events: int, warmup: int) -> dict[str, Any]:
    """Measure engine and naive matching with the backend ``KFPT_CEL_BACKEND`` selects."""
    from kfp_triggers.app.validation import load
    from kfp_triggers.cel import Activation
    from kfp_triggers.cel.backend import parse_and_check
    from kfp_triggers.cel.environment import CompiledExpression
    from kfp_triggers.cel.gojson import loads_object
    from kfp_triggers.interceptors.resolve import InterceptorFactory
    from kfp_triggers.tekton.headers import headers_from_pairs
    from kfp_triggers.tekton.interceptor_protocol import InterceptorServices
    from kfp_triggers.tekton.processing import EventProcessor
    from kfp_triggers.tekton.request import RawRequest

    specs = trigger_specs()
    with tempfile.TemporaryDirectory(prefix="kfpt-bench-") as tmp:
        path = Path(tmp) / "listener.yaml"
        path.write_text(yaml.safe_dump_all(config_documents(specs), sort_keys=False))
        started = time.perf_counter()
        config = load([path])
        load_ms = (time.perf_counter() - started) * 1e3
    processor = EventProcessor(config, InterceptorFactory(InterceptorServices()))
    listener = config.listener(LISTENER)
    env = processor.interceptors.cel

    def request(seq: int) -> RawRequest:
        body = json.dumps(push_payload(seq), indent=2).encode()
        return RawRequest("POST", "/", headers_from_pairs(push_headers(seq, len(body))), body)

    total = 1 + warmup + 3 * events + naive_events
    requests = [request(seq) for seq in range(total)]
    first, rest = requests[0], requests[1:]
    warm, rest = rest[:warmup], rest[warmup:]
    intercept_reqs, process_reqs = rest[:events], rest[events : 2 * events]
    cel_reqs, naive_reqs = rest[2 * events : 3 * events], rest[3 * events :]

    def intercept(req: RawRequest) -> list[str]:
        return [i.trigger.name for i in processor.intercept_all(listener, req, "bench") if i.chain.accepted]

    def process(req: RawRequest) -> list[str]:
        outcomes = processor.process(listener, req, "bench", lambda: "uid")
        return [o.trigger.name for o in outcomes if o.accepted]

    def cel_only(req: RawRequest) -> list[str]:
        activation = env.activation(req.body, req.header_map(), {}, req.url)
        accepted = []
        for spec in specs:
            if env.evaluate(env.compile(spec.filter), activation).value is not True:
                continue
            for _key, expr in spec.overlays:
                env.evaluate(env.compile(expr), activation)
            accepted.append(spec.name)
        return accepted

    def fresh(text: str) -> CompiledExpression:
        checked = parse_and_check(text)
        return CompiledExpression(text, checked, env.backend.compile(checked), env.backend.name)

    def naive(req: RawRequest) -> list[str]:
        accepted = []
        for spec in specs:
            variables = {
                "body": loads_object(req.body),
                "header": req.header_map(),
                "extensions": {},
                "requestURL": req.url,
            }
            activation = Activation(variables)
            if env.evaluate(fresh(spec.filter), activation).value is not True:
                continue
            extensions = {key: env.evaluate(fresh(expr), activation).value for key, expr in spec.overlays}
            if len(extensions) == len(spec.overlays):
                accepted.append(spec.name)
        return accepted

    start = time.perf_counter_ns()
    first_accepted = intercept(first)
    first_ms = (time.perf_counter_ns() - start) / 1e6
    for req in warm:
        process(req)
    intercept_ms, intercept_out = _timed(intercept, intercept_reqs)
    process_ms, process_out = _timed(process, process_reqs)
    cel_ms, cel_out = _timed(cel_only, cel_reqs)
    naive_ms, naive_out = _timed(naive, naive_reqs)
    expected = sorted(s.name for s in specs if s.expect_match)
    outcomes = [sorted(x) for x in [first_accepted, *intercept_out, *process_out, *cel_out, *naive_out]]
    return {
        "backend": env.backend_name,
        "requested_backend": os.environ.get("KFPT_CEL_BACKEND", ""),
        "triggers": len(specs),
        "payload_bytes": len(first.body),
        "commits": len(push_payload(0)["commits"]),
        "accepted": len(expected),
        "agree": all(o == expected for o in outcomes),
        "load_ms": load_ms,
        "first_event_ms": first_ms,
        "intercept_ms": summary(intercept_ms),
        "process_ms": summary(process_ms),
        "cel_only_ms": summary(cel_ms),
        "naive_ms": summary(naive_ms),
    }


# ----------------------------------------------------------------------------------------- parent


def run(events: int = 200, naive_events: int = 8, warmup: int = 5) -> dict[str, Any]:
    """Run the worker once per available backend and add the ratios against the naive baseline."""
    from kfp_triggers.cel import available_backends

    out: dict[str, Any] = {"backends": {}}
    for backend in available_backends():
        args = ["-m", "bench.matching", "--worker", f"--events={events}", f"--naive-events={naive_events}"]
        result = run_json([*args, f"--warmup={warmup}"], env={"KFPT_CEL_BACKEND": backend})
        if result["backend"] != backend:
            raise RuntimeError(f"KFPT_CEL_BACKEND={backend} ran on backend {result['backend']!r}")
        naive = result["naive_ms"]["median"]
        result["ratio_intercept_to_naive"] = ratio(result["intercept_ms"]["median"], naive)
        result["ratio_process_to_naive"] = ratio(result["process_ms"]["median"], naive)
        result["ratio_cel_only_to_naive"] = ratio(result["cel_only_ms"]["median"], naive)
        result["speedup_intercept_vs_naive"] = ratio(naive, result["intercept_ms"]["median"])
        out["backends"][backend] = result
    return out


def report(result: dict[str, Any]) -> list[str]:
    """Plain-text lines for the matching section."""
    backends = result["backends"]
    lines = []
    some = next(iter(backends.values()), None)
    if some is not None:
        lines.append(
            f"{some['triggers']} CEL triggers ({some['accepted']} match), "
            f"GitHub push of {some['payload_bytes']} bytes with {some['commits']} commits; "
            f"per event, N={int(some['intercept_ms']['n'])} (naive N={int(some['naive_ms']['n'])})"
        )
    lines.append(
        "naive = for every trigger of every event: parse, check and compile each expression and decode "
        "and bind the body again (one shared environment)"
    )
    lines.append(
        "CEL only = the same expressions through CelEnvironment's caches with one activation per event, "
        "without the interceptor chain (a floor for the CEL part of intercept_all)"
    )
    lines.append(f"{'backend':<10} {'path':<26} {'median ms':>10} {'p90 ms':>10} {'vs naive':>10}")
    for name, r in backends.items():
        naive = r["naive_ms"]
        rows = [
            ("intercept_all", r["intercept_ms"], fmt_ratio(r["ratio_intercept_to_naive"])),
            ("process (+bind+render)", r["process_ms"], fmt_ratio(r["ratio_process_to_naive"])),
            ("CEL only (no chain)", r["cel_only_ms"], fmt_ratio(r["ratio_cel_only_to_naive"])),
            ("naive (compile+decode/trg)", naive, fmt_ratio(1.0)),
        ]
        for label, stats, shown in rows:
            lines.append(
                f"{name:<10} {label:<26} {fmt_ms(stats['median']):>10} {fmt_ms(stats['p90']):>10} {shown:>10}"
            )
        speedup = fmt_ratio(r["speedup_intercept_vs_naive"])
        lines.append(
            f"{name:<10} first event (compiles all) {fmt_ms(r['first_event_ms'])} ms; config load "
            f"{fmt_ms(r['load_ms'])} ms; naive/intercept speedup {speedup}; "
            f"same accepted triggers: {'yes' if r['agree'] else 'NO'}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Command line: ``--worker`` prints one backend's raw JSON; otherwise run all and print a report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--worker", action="store_true", help="measure the backend KFPT_CEL_BACKEND names")
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--naive-events", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.events, args.naive_events, args.warmup)))
        return 0
    result = run(args.events, args.naive_events, args.warmup)
    print("\n".join(report(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
