"""infra/bundle.py: five reproducible, self-contained source directories that start on their own.

The start-up checks run each bundle with functions-framework from inside the bundle directory,
under an interpreter that sees the project's dependencies but not the project itself (the editable
install's path is left out), so only the bundle's own copy of kfp_triggers can be imported.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from kfp_triggers.config.compiled import load_compiled
from tests.conftest import EXAMPLES, ROOT

BUNDLE_SCRIPT = ROOT / "infra" / "bundle.py"
EXAMPLE = EXAMPLES / "github-push"
PUSH = EXAMPLE / "requests" / "push.http"

#: The documented entry point of each stage.
ENTRY_POINTS = {
    "ingest": "ingest_webhook",
    "intercept": "intercept_event",
    "render": "render_run",
    "launch": "launch_run",
    "status": "collect_status",
}


def load_bundle_module() -> ModuleType:
    """infra/bundle.py as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("kfpt_infra_bundle", BUNDLE_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def run_bundle(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run the script as a user would."""
    return subprocess.run(
        [sys.executable, str(BUNDLE_SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def same_but_blanked(shipped: bytes, source: bytes) -> bool:
    """``shipped`` is ``source`` with some characters blanked and line ends trimmed: lines stay put."""
    ours, theirs = shipped.decode().split("\n"), source.decode().split("\n")
    return len(ours) == len(theirs) and all(
        len(a) <= len(b) and all(x in (y, " ") for x, y in zip(a, b, strict=False))
        for a, b in zip(ours, theirs, strict=True)
    )


def tree(top: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``top``: relative path -> (content, permission bits)."""
    return {
        path.relative_to(top).as_posix(): (path.read_bytes(), path.stat().st_mode & 0o777)
        for path in sorted(top.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundles")
    proc = run_bundle("--out", out, "--config", EXAMPLE)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def test_script_entry_points_agree_with_the_functions() -> None:
    module = load_bundle_module()
    assert dict(module.STAGES) == ENTRY_POINTS
    for stage, entry in ENTRY_POINTS.items():
        assert f"def {entry}(" in (ROOT / "functions" / stage / "main.py").read_text(encoding="utf-8")


def test_five_bundles_with_the_deployable_layout(bundles: Path) -> None:
    assert sorted(p.name for p in bundles.iterdir() if p.is_dir()) == sorted(ENTRY_POINTS)
    engine = sorted(
        p.relative_to(ROOT / "shared").as_posix()
        for p in (ROOT / "shared" / "kfp_triggers").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )
    for stage in ENTRY_POINTS:
        top = bundles / stage
        source = ROOT / "functions" / stage
        assert (top / "main.py").read_bytes() == (source / "main.py").read_bytes()
        assert (top / "requirements.txt").read_bytes() == (source / "requirements.txt").read_bytes()
        files = set(tree(top))
        assert sorted(f for f in files if f.startswith("kfp_triggers/")) == engine
        assert not any("__pycache__" in f or f.endswith(".pyc") for f in files)
        # The listener, and the compiled pipeline it names as ../pipelines/train.yaml: their YAML
        # where it stood, comments blanked out.
        listener = (top / "config" / "listener.yaml").read_bytes()
        assert same_but_blanked(listener, (EXAMPLE / "listener.yaml").read_bytes())
        assert b"#" not in listener and b"kind: EventListener" in listener
        pipeline = (top / "pipelines" / "train.yaml").read_bytes()
        assert same_but_blanked(pipeline, (EXAMPLES / "pipelines" / "train.yaml").read_bytes())
        assert list(yaml.safe_load_all(pipeline)) == list(
            yaml.safe_load_all((EXAMPLES / "pipelines" / "train.yaml").read_bytes())
        )
        rest = {f for f in files if not f.startswith("kfp_triggers/")}
        assert rest == {
            "main.py",
            "requirements.txt",
            "MANIFEST.sha256",
            "config/listener.yaml",
            "config/.kfpt-compiled.json",
            "pipelines/train.yaml",
        }
        # The compiled configuration is current for the shipped YAML: a stage loads it, not the YAML.
        here = Path.cwd()
        os.chdir(top)
        try:
            compiled = load_compiled(["config"])
        finally:
            os.chdir(here)
        assert compiled is not None and compiled.listener().name == "github-push"
        starts = [
            n
            for n, line in enumerate(listener.decode().splitlines(), start=1)
            if line in ("    - name: train-on-main", "    - name: release-on-tag")
        ]
        assert len(starts) == 2
        assert [t.source for t in compiled.triggers_for(compiled.listener())] == [
            f"config/listener.yaml:{n}" for n in starts
        ]


def test_manifests_list_every_file_with_its_sha256(bundles: Path) -> None:
    for stage in ENTRY_POINTS:
        top = bundles / stage
        lines = (top / "MANIFEST.sha256").read_text(encoding="utf-8").splitlines()
        listed = {path: digest for digest, path in (line.split("  ", 1) for line in lines)}
        files = {p: data for p, (data, _mode) in tree(top).items() if p != "MANIFEST.sha256"}
        assert set(listed) == set(files)
        assert all(listed[p] == hashlib.sha256(data).hexdigest() for p, data in files.items())
        assert [line.split("  ", 1)[1] for line in lines] == sorted(files)
    overall = (bundles / "MANIFEST.sha256").read_text(encoding="utf-8").splitlines()
    assert len(overall) == sum(len(tree(bundles / s)) for s in ENTRY_POINTS) + 1
    image = (bundles / "image-requirements.txt").read_bytes()
    assert f"{hashlib.sha256(image).hexdigest()}  image-requirements.txt" in overall


def test_bundling_is_reproducible(bundles: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    proc = run_bundle("--out", again, "--config", EXAMPLE)
    assert proc.returncode == 0, proc.stdout
    assert (again / "MANIFEST.sha256").read_bytes() == (bundles / "MANIFEST.sha256").read_bytes()
    assert tree(again) == tree(bundles)
    mtimes = {p.stat().st_mtime for p in again.rglob("*") if p.is_file() and p.name != "MANIFEST.sha256"}
    assert mtimes == {315532800.0}


def _pyproject_ranges() -> dict[str, SpecifierSet]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra, deps in project["optional-dependencies"].items():
        if extra != "dev":
            requirements.extend(deps)
    ranges: dict[str, SpecifierSet] = {}
    for text in requirements:
        req = Requirement(text)
        ranges[req.name.lower()] = ranges.get(req.name.lower(), SpecifierSet()) & req.specifier
    return ranges


def _pins(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"{path}: {raw!r} is not an exact pin"
            pins[name.strip().lower()] = version.strip()
    return pins


def test_pins_agree_with_pyproject_and_the_dev_environment(bundles: Path) -> None:
    ranges = _pyproject_ranges()
    for stage in ENTRY_POINTS:
        pins = _pins(bundles / stage / "requirements.txt")
        assert "functions-framework" in pins, stage
        for name, version in pins.items():
            if name in ranges:
                assert version in ranges[name], f"{stage}: {name}=={version} is outside {ranges[name]}"
            else:  # a dependency of a dependency: it must be what the dev environment runs
                assert importlib.metadata.version(name) == version, f"{stage}: {name}=={version}"


def test_only_launch_and_status_may_carry_kfp(bundles: Path) -> None:
    for stage in ("ingest", "intercept", "render"):
        names = _pins(bundles / stage / "requirements.txt")
        assert not [n for n in names if n == "kfp" or n.startswith("kfp-")], stage


def test_no_secret_reaches_a_bundle(bundles: Path) -> None:
    secrets = [p.read_bytes() for p in (EXAMPLE / "secrets").rglob("*") if p.is_file()]
    assert secrets
    for path, (data, _mode) in tree(bundles).items():
        assert "secrets/" not in path
        assert not any(secret in data for secret in secrets), path


def test_secret_manifests_and_secret_directories_are_left_out(tmp_path: Path) -> None:
    config = tmp_path / "listener"
    shutil.copytree(EXAMPLE, config)
    shutil.copytree(EXAMPLES / "pipelines", tmp_path / "pipelines")
    token = "s3cr3t-value-never-shipped"
    secret_doc = (
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: github-webhook\nstringData:\n  secret: {token}\n"
    )
    (config / "github-secret.yaml").write_text(secret_doc, encoding="utf-8")
    (config / "secrets" / "more.yaml").write_text(secret_doc, encoding="utf-8")
    out = tmp_path / "out"
    proc = run_bundle("--out", out, "--config", config, "--stage", "intercept")
    assert proc.returncode == 0, proc.stdout
    files = tree(out / "intercept")
    assert "config/listener.yaml" in files
    assert not [p for p in files if p.startswith("config/") and "secret" in p]
    assert not [p for p, (data, _m) in files.items() if token.encode() in data]
    assert "github-secret.yaml: no Tekton Triggers document" in proc.stdout

    # A Secret beside the listener in one file is blanked out; the listener ships.
    mixed = (config / "listener.yaml").read_text(encoding="utf-8") + "---\n" + secret_doc
    (config / "listener.yaml").write_text(mixed, encoding="utf-8")
    again = run_bundle("--out", out, "--config", config, "--stage", "intercept")
    assert again.returncode == 0, again.stdout
    shipped = (out / "intercept" / "config" / "listener.yaml").read_bytes()
    assert token.encode() not in shipped and b"kind: Secret" not in shipped
    assert b"kind: EventListener" in shipped
    assert "listener.yaml: 1 document(s) or List item(s) that are not Tekton Triggers" in again.stdout


@pytest.mark.parametrize(
    ("package", "message"),
    [
        ("../../outside.yaml", "lies outside the bundle"),
        ("../missing.yaml", "not found"),
        ("../main.py", "reserved path"),
    ],
)
def test_unshippable_pipeline_packages_are_refused(tmp_path: Path, package: str, message: str) -> None:
    config = tmp_path / "a" / "listener"
    config.mkdir(parents=True)
    text = (EXAMPLE / "listener.yaml").read_text(encoding="utf-8")
    (config / "listener.yaml").write_text(text.replace("../pipelines/train.yaml", package), encoding="utf-8")
    for target in (tmp_path / "outside.yaml", tmp_path / "a" / "main.py"):
        target.write_bytes((EXAMPLES / "pipelines" / "train.yaml").read_bytes())
    proc = run_bundle("--out", tmp_path / "out", "--config", config)
    assert proc.returncode == 1
    assert message in proc.stdout


def test_a_broken_configuration_is_not_bundled(tmp_path: Path) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text(
        "apiVersion: triggers.tekton.dev/v1beta1\nkind: EventListener\nspec: {}\n", encoding="utf-8"
    )
    proc = run_bundle("--out", tmp_path / "out", "--config", config)
    assert proc.returncode == 1
    assert "has errors" in proc.stdout
    assert not (tmp_path / "out").exists()


# --- each bundle starts on its own ------------------------------------------------------------


@pytest.fixture(scope="module")
def isolated_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv that sees the dev environment's packages but not the editable kfp-triggers install.

    Its site-packages lists the dev site-packages directory in a .pth file; .pth files inside that
    directory (such as the editable install's, which adds shared/ to sys.path) are not processed.
    """
    home = tmp_path_factory.mktemp("isolated")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(home)], check=True, timeout=60)
    python = home / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "dev-dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8"
    )
    script = home / "bin" / "functions-framework"
    script.write_text(
        f"#!{python}\nimport sys\nfrom functions_framework._cli import _cli\nsys.exit(_cli())\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    probe = subprocess.run(
        [str(python), "-c", "import functions_framework, kfp_triggers"],
        capture_output=True,
        text=True,
        cwd=home,
        env=_base_env(),
        check=False,
    )
    assert "No module named 'kfp_triggers'" in probe.stderr, "the isolated interpreter still sees the project"
    return home


def _base_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    return {k: v for k, v in os.environ.items() if k in keep}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """One bundle served by functions-framework."""

    stage: str
    directory: Path
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    store: Path

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def request(
        self, path: str, data: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        req = urllib.request.Request(self.url(path), data=data, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()


@pytest.fixture(scope="module")
def servers(
    bundles: Path, isolated_python: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Server]]:
    work = tmp_path_factory.mktemp("served")
    started: dict[str, Server] = {}
    try:
        for stage, entry in ENTRY_POINTS.items():
            directory = work / stage
            shutil.copytree(bundles / stage, directory)
            port = _free_port()
            store = work / f"{stage}-state.db"
            env = {
                **_base_env(),
                "KFPT_CONFIG": "config",
                "KFPT_SECRETS_DIR": str(EXAMPLE / "secrets"),
                "KFPT_TRANSPORT": "memory",
                "KFPT_STORE": f"sqlite:///{store}",
                "KFPT_LAUNCHER": "dry-run",
                "KFPT_LOCAL_OUTPUT_ROOT": str(work / "runs"),
            }
            log = work / f"{stage}.log"
            with log.open("wb") as sink:
                process = subprocess.Popen(
                    [
                        str(isolated_python / "bin" / "functions-framework"),
                        "--target",
                        entry,
                        "--source",
                        "main.py",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                    ],
                    cwd=directory,
                    env=env,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            started[stage] = Server(stage, directory, process, port, log, store)
        for server in started.values():
            _wait_until_listening(server)
        yield started
    finally:
        running = [s.process for s in started.values() if s.process.poll() is None]
        for process in running:  # stop them all at once, then wait: shutdowns overlap
            os.killpg(process.pid, signal.SIGTERM)
        for process in running:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def _wait_until_listening(server: Server, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"{server.stage} exited: {server.log.read_text(errors='replace')}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", server.port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail(f"{server.stage} did not listen within {timeout} s: {server.log.read_text(errors='replace')}")


def _imported_from_bundle(server: Server) -> bool:
    """Python caches what it imports beside the source: the bundle's own engine was imported."""
    return (server.directory / "kfp_triggers" / "__pycache__").is_dir()


def test_ingest_bundle_answers_live_and_accepts_a_signed_push(servers: dict[str, Server]) -> None:
    from kfp_triggers.tekton.request import read_http_request

    ingest = servers["ingest"]
    assert ingest.request("/live") == (200, b"ok")
    raw = read_http_request(PUSH)
    headers = {k: ", ".join(v) for k, v in raw.headers.items() if k not in {"Content-Length", "Host"}}
    status, body = ingest.request("/", raw.body, headers)
    assert status == 202, body
    assert b'"eventID":"0b6f5a2e-c9d1-11f0-8a1e-4f2c7a9d3b01"' in body.replace(b" ", b"")
    assert _imported_from_bundle(ingest)


@pytest.mark.parametrize("stage", ["intercept", "render", "launch", "status"])
def test_event_bundles_answer_a_malformed_event_without_crashing(
    servers: dict[str, Server], stage: str
) -> None:
    server = servers[stage]
    headers = {
        "ce-specversion": "1.0",
        "ce-id": "malformed-1",
        "ce-source": "//tests",
        "ce-type": "com.example.not.ours",
        "Content-Type": "application/json",
    }
    status, _body = server.request("/", b"{}", headers)
    assert status == 200  # a permanent error: logged and acknowledged, never retried
    assert server.process.poll() is None
    assert "unexpected event type 'com.example.not.ours'" in server.log.read_text(errors="replace")
    assert _imported_from_bundle(server)
    # Not a CloudEvent at all: functions-framework refuses it with a 4xx.
    status, _body = server.request("/", b"plain text", {"Content-Type": "text/plain"})
    assert 400 <= status < 500


def test_intercept_bundle_runs_the_real_interceptor_chain(servers: dict[str, Server]) -> None:
    from kfp_triggers.adapters.store import store_from_url
    from kfp_triggers.tekton.request import read_http_request
    from kfp_triggers.wire.events import EventReceived, HttpRequestData, ObjectRef, event_for, to_http_binary

    raw = read_http_request(PUSH)
    event_id = "bundle-intercept-1"
    payload = EventReceived(
        event_id=event_id,
        listener=ObjectRef("default", "github-push"),
        request=HttpRequestData("POST", "/", {k: list(v) for k, v in raw.headers.items()}, raw.body),
        received_at=datetime.now(UTC).isoformat(),
    )
    headers, body = to_http_binary(event_for(payload, source="//tests/ingest", traceparent=None))
    intercept = servers["intercept"]
    status, answer = intercept.request("/", body, headers)
    assert status == 200, answer
    store: Any = store_from_url(f"sqlite:///{intercept.store}")
    try:
        record = store.get_event(event_id)
    finally:
        store.close()
    assert record is not None, intercept.log.read_text(errors="replace")
    main = record.trigger("train-on-main")
    tag = record.trigger("release-on-tag")
    assert main is not None and main.accepted is True, main
    assert tag is not None and tag.accepted is False, tag


def test_status_bundle_takes_a_scheduler_tick_as_a_push_subscription_delivers_it(
    servers: dict[str, Server],
) -> None:
    """The raw push envelope, at the /projects/<p>/topics/<t> path the Terraform subscription uses."""
    from kfp_triggers.wire.events import CLOUDEVENTS_JSON, STATUS_TICK

    tick = {
        "specversion": "1.0",
        "id": "kfpt-status-tick",
        "source": "//cloudscheduler.googleapis.com/projects/p/locations/r/jobs/kfpt-status-tick",
        "type": STATUS_TICK,
        "datacontenttype": "application/json",
        "data": {"tickAt": None},
    }
    envelope = {
        "message": {
            "data": base64.b64encode(json.dumps(tick).encode()).decode(),
            "attributes": {"content-type": CLOUDEVENTS_JSON},
            "messageId": "17",
            "publishTime": datetime.now(UTC).isoformat(),
        },
        "subscription": "projects/p/subscriptions/kfpt-status",
    }
    status = servers["status"]
    before = status.log.read_text(errors="replace")
    code, body = status.request(
        "/projects/p/topics/kfpt-runs", json.dumps(envelope).encode(), {"Content-Type": "application/json"}
    )
    assert code == 200, body
    added = status.log.read_text(errors="replace")[len(before) :]
    assert "giving up" not in added and "Traceback" not in added, added


# --- the Knative image's extra requirements: the Prometheus client ------------------------------


def test_the_knative_image_adds_the_prometheus_client_and_the_functions_do_not(bundles: Path) -> None:
    pins = _pins(bundles / "image-requirements.txt")
    assert pins == {"prometheus-client": importlib.metadata.version("prometheus-client")}
    assert pins["prometheus-client"] in _pyproject_ranges()["prometheus-client"]
    for stage in ENTRY_POINTS:
        assert "prometheus-client" not in _pins(bundles / stage / "requirements.txt"), stage
    dockerfile = (ROOT / "infra" / "knative" / "Dockerfile").read_text(encoding="utf-8")
    copied = dockerfile.index("COPY image-requirements.txt /tmp/requirements/image.txt")
    assert copied < dockerfile.index("-r /tmp/requirements/image.txt") < dockerfile.index("pip check")


_SCRAPE_PROBE = """
import json, os, sys, urllib.request
import main
from kfp_triggers.app import runtime

from kfp_triggers.metrics import EVENTS_RECEIVED

runtime.context().metrics.count(EVENTS_RECEIVED, "github-push", "202")
started = "prometheus_client" in sys.modules
url = "http://127.0.0.1:" + os.environ["KFPT_METRICS_PORT"] + "/metrics"
with urllib.request.urlopen(url, timeout=10) as answer:
    body = answer.read().decode()
print(json.dumps({"at_start": started, "after_scrape": "prometheus_client" in sys.modules,
                  "body": body, "engine": runtime.__file__}))
"""


def test_a_stage_imports_the_prometheus_client_on_its_first_scrape_only(
    bundles: Path, isolated_python: Path, tmp_path: Path
) -> None:
    directory = tmp_path / "ingest"
    shutil.copytree(bundles / "ingest", directory)
    env = {
        **_base_env(),
        "KFPT_CONFIG": "config",
        "KFPT_TRANSPORT": "memory",
        "KFPT_METRICS": "prometheus",
        "KFPT_METRICS_PORT": str(_free_port()),
    }
    proc = subprocess.run(
        [str(isolated_python / "bin" / "python"), "-c", _SCRAPE_PROBE],
        capture_output=True,
        text=True,
        cwd=directory,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout.splitlines()[-1])
    assert Path(seen["engine"]).is_relative_to(directory)
    assert (seen["at_start"], seen["after_scrape"]) == (False, True)
    assert 'kfpt_events_received_total{code="202",listener="github-push"} 1.0' in seen["body"]
