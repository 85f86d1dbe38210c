"""Cold-start rule, checked without timing: the stage functions do not pull heavy packages in.

Each function module is loaded in a fresh interpreter, as functions-framework loads it, and the
modules it added to ``sys.modules`` are inspected (comparing before and after, since ``.pth`` files
may preload ``google.cloud``). kfp, the Pub/Sub client and gRPC cost about half a second each to
import; ingest, which answers the webhook, must not load a CEL engine either. The same holds after
each function has answered its first request (the stage context is built lazily on that request).
When a check fails, the message names the import chain that led there, from ``python -X importtime``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.servers import FUNCTIONS, first_request, function_env
from tests.conftest import ROOT

FORBIDDEN = ("kfp", "google.cloud.pubsub_v1", "grpc")
# What the README promises ingest never loads: a CEL engine, the interceptors, the bindings, an HTTP client.
FORBIDDEN_FOR_INGEST = (
    *FORBIDDEN,
    "celpy",
    "cel_expr_python",
    "kfp_triggers.cel",
    "kfp_triggers.interceptors",
    "kfp_triggers.tekton.bindings",
    "kfp_triggers.adapters.http",
)
STAGES = {"ingest": FORBIDDEN_FOR_INGEST, "intercept": FORBIDDEN, "render": FORBIDDEN}

_LOAD = """
import importlib.util, json, sys
before = set(sys.modules)
spec = importlib.util.spec_from_file_location("main", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules["main"] = module
spec.loader.exec_module(module)
print(json.dumps(sorted(set(sys.modules) - before)))
"""

_FIRST_REQUEST = """
import json, sys
before = set(sys.modules)
from functions_framework import create_app
from bench.servers import FUNCTIONS, first_request
function = FUNCTIONS[sys.argv[1]]
request = first_request(function.name)
app = create_app(function.target, str(function.source), function.signature)
response = app.test_client().post(request.path, headers=list(request.headers), data=request.body)
assert response.status_code == function.expect_status, (response.status_code, response.data)
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KFPT_")}
    env.update(function_env(tmp_path))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def _python(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _loaded(name: str, modules: list[str]) -> bool:
    return any(m == name or m.startswith(name + ".") for m in modules)


def import_chain(args: list[str], env: dict[str, str], target: str) -> str:
    """``a -> b -> target``: who imported ``target`` first, from ``python -X importtime`` output.

    importtime prints a module after everything it imported, indented two spaces per level, so the
    importer of a line is the next line below it with a smaller indentation.
    """
    proc = _python(["-X", "importtime", *args], env)
    entries = []
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            field = line.split("|")[2]
            entries.append((len(field) - len(field.lstrip(" ")), field.strip()))
    exact = [i for i, (_, module) in enumerate(entries) if module == target]
    inside = [i for i, (_, module) in enumerate(entries) if module.startswith(target + ".")]
    if not exact + inside:
        return f"(no import of {target} found in -X importtime output)"
    index = (exact or inside)[0]
    depth, module = entries[index]
    chain = [module]
    for later_depth, later in entries[index + 1 :]:
        if later_depth < depth:
            chain.append(later)
            depth = later_depth
    return " -> ".join(reversed(chain))


def _check(args: list[str], env: dict[str, str], forbidden: tuple[str, ...]) -> None:
    proc = _python(args, env)
    assert proc.returncode == 0, proc.stderr
    modules = json.loads(proc.stdout.strip().splitlines()[-1])
    offenders = [name for name in forbidden if _loaded(name, modules)]
    chains = "\n".join(import_chain(args, env, name) for name in offenders)
    assert not offenders, f"imported {offenders}; import chains:\n{chains}"


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_function_module_import_is_light(stage: str, tmp_path: Path) -> None:
    _check(["-c", _LOAD, str(FUNCTIONS[stage].source)], _env(tmp_path), STAGES[stage])


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_first_request_stays_light(stage: str, tmp_path: Path) -> None:
    assert first_request(stage).body  # the request the child sends is buildable here too
    _check(["-c", _FIRST_REQUEST, stage], _env(tmp_path), STAGES[stage])


def test_import_chain_names_the_importer(tmp_path: Path) -> None:
    chain = import_chain(["-c", "import json"], _env(tmp_path), "json.decoder")
    assert chain == "json -> json.decoder"
