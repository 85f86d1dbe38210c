"""GitHub commit statuses for run state changes, checked against GitHub's published REST API.

GitHub's API cannot run here, so these are contract tests: a real ``ThreadingHTTPServer`` on
127.0.0.1 plays the "Create a commit status" endpoint as GitHub documents it
(``POST /repos/{owner}/{repo}/statuses/{sha}``; body ``state`` required, one of ``error``,
``failure``, ``pending``, ``success``; optional ``target_url``, ``description``, ``context``
strings; ``description`` at most 140 characters; answers ``201`` with the status object). It
checks every request it receives (method, path, headers, JSON fields) and records what it found
wrong, and it can be told to answer 201, 422, 500 (or any status), to redirect, or to stall.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import itertools
import json
import re
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.adapters.notifiers import (
    GitHubStatusNotifier,
    InvalidNotifierSettingError,
    NotifierError,
    NotifierUnavailableError,
    RunStateChange,
    Supersession,
    github_status,
    notifiers_from_env,
)
from kfp_triggers.adapters.store.base import RunRecord
from kfp_triggers.config import InterceptorSpec
from kfp_triggers.secretstore import FileSecrets
from kfp_triggers.tekton.origin import origin_of
from kfp_triggers.tekton.request import read_http_request
from kfp_triggers.wire.eventdata import ObjectRef
from kfp_triggers.wire.eventdata import RunState as RunStatePayload

ROOT = Path(__file__).resolve().parents[2]
PUSH_REQUEST = ROOT / "examples/github-push/requests/push.http"
TOKEN = "ghp_c0ntractT0kenDoNotLeak0123456789abcd"
SHA = "c0ffee1234567890abcdef1234567890abcdef12"
HEAD_SHA = "7e57ab1e0123456789abcdef0123456789abcdef"
RUN_URL = "https://kfp.example.com/#/runs/details/3f1c2b9a-5d6e-4f70-8a9b-0c1d2e3f4a5b"
RUN_ID = "3f1c2b9a-5d6e-4f70-8a9b-0c1d2e3f4a5b"
SECRET_REF = {"secretName": "github-webhook", "secretKey": "secret"}
UNREACHABLE_API = "http://127.0.0.1:9/"  # the discard port: a stray request fails instead of leaving

GITHUB_STATES = {"error", "failure", "pending", "success"}
STATUS_FIELDS = {"state", "target_url", "description", "context"}
STATUS_PATH = re.compile(
    r"^(?P<prefix>/api/v3)?/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/statuses/(?P<sha>[^/]+)$"
)


# --- the stand-in for GitHub's commit status endpoint ------------------------------------------


@dataclass(frozen=True)
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Answer:
    """What the server answers next: status, JSON body, headers; ``stall_s`` waits first."""

    status: int = 201
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    stall_s: float = 0.0


@dataclass
class FakeGitHub:
    """A commit status API that validates every request as GitHub's documentation specifies."""

    base_url: str = ""
    token: str = TOKEN
    path_prefix: str = ""
    answer: Answer = field(default_factory=Answer)
    received: list[Received] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def check(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> dict[str, Any]:
        """Record every way the request departs from the published API; return its JSON body."""
        problems: list[str] = []
        if method != "POST":
            problems.append(f"method {method}, not POST")
        match = STATUS_PATH.match(path)
        if match is None or (match["prefix"] or "") != self.path_prefix:
            problems.append(
                f"path {path!r} is not {self.path_prefix}/repos/{{owner}}/{{repo}}/statuses/{{sha}}"
            )
        elif not re.fullmatch(r"[0-9a-f]{40}", match["sha"]):
            problems.append(f"sha {match['sha']!r} is not a full commit sha")
        expected = {
            "accept": "application/vnd.github+json",
            "authorization": f"Bearer {self.token}",
            "x-github-api-version": "2022-11-28",
            "content-type": "application/json",
        }
        for name, value in expected.items():
            if headers.get(name) != value:
                problems.append(f"header {name} is {headers.get(name)!r}")
        if not headers.get("user-agent"):
            problems.append("no User-Agent (GitHub refuses requests without one)")
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            problems.append("body is not a JSON object")
            body = {}
        if body.get("state") not in GITHUB_STATES:
            problems.append(f"state {body.get('state')!r} is not one of {sorted(GITHUB_STATES)}")
        if set(body) - STATUS_FIELDS:
            problems.append(f"undocumented fields {sorted(set(body) - STATUS_FIELDS)}")
        for name in ("target_url", "description", "context"):
            if name in body and body[name] is not None and not isinstance(body[name], str):
                problems.append(f"{name} is not a string")
        if len(str(body.get("description") or "")) > 140:
            problems.append("description is longer than 140 characters")
        self.violations.extend(problems)
        return body

    def posted(self) -> list[dict[str, Any]]:
        """The JSON bodies received, in order."""
        return [r.body for r in self.received]


@contextmanager
def fake_github(
    answer: Answer | None = None, *, tls: ssl.SSLContext | None = None, path_prefix: str = ""
) -> Iterator[FakeGitHub]:
    """Run the fake API on 127.0.0.1 (a free port) for the ``with`` block."""
    api = FakeGitHub(answer=answer or Answer(), path_prefix=path_prefix)
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            body = api.check(self.command, self.path, headers, raw)
            api.received.append(Received(self.command, self.path, headers, body))
            reply = api.answer
            if reply.stall_s:
                stop.wait(reply.stall_s)
            payload = reply.body
            if payload is None:
                payload = {"id": 1, "url": api.base_url + self.path, "creator": {"login": "kfp-bot"}, **body}
            data = json.dumps(payload).encode()
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _serve  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:
            return

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            return  # a client that gave up on a stalled answer is expected

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    api.base_url = f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}"
    try:
        yield api
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --- webhooks and changes ----------------------------------------------------------------------


def github_headers(event: str, **extra: str) -> dict[str, list[str]]:
    headers = {
        "Content-Type": ["application/json"],
        "User-Agent": ["GitHub-Hookshot/7d3a1c2"],
        "X-Github-Event": [event],
        "X-Github-Delivery": ["0b6f5a2e-c9d1-11f0-8a1e-4f2c7a9d3b01"],
    }
    headers.update({name: [value] for name, value in extra.items()})
    return headers


def push_body(**overrides: Any) -> bytes:
    body: dict[str, Any] = {
        "ref": "refs/heads/main",
        "before": "1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6",
        "after": SHA,
        "deleted": False,
        "repository": {"full_name": "acme-ml/fraud-model", "name": "fraud-model"},
        "head_commit": {"id": SHA},
    }
    body.update(overrides)
    return json.dumps(body).encode()


def pull_request_body() -> bytes:
    """A pull request from a fork: head in ``someone/fraud-model``, base in ``acme-ml/fraud-model``."""
    return json.dumps(
        {
            "action": "synchronize",
            "number": 42,
            "pull_request": {
                "number": 42,
                "head": {"sha": HEAD_SHA, "ref": "feature", "repo": {"full_name": "someone/fraud-model"}},
                "base": {"sha": SHA, "ref": "main", "repo": {"full_name": "acme-ml/fraud-model"}},
            },
            "repository": {"full_name": "acme-ml/fraud-model"},
        }
    ).encode()


def change(
    state: str = "SUCCEEDED",
    previous: str | None = "RUNNING",
    *,
    headers: dict[str, list[str]] | None = None,
    body: bytes | None = None,
    run_id: str = RUN_ID,
    run_url: str | None = RUN_URL,
) -> RunStateChange:
    return RunStateChange(
        run_id=run_id,
        backend="kfp",
        state=state,
        previous_state=previous,
        run_url=run_url,
        trigger="train-on-push",
        listener="default/github-listener",
        event_id="0b6f5a2e-c9d1-11f0-8a1e-4f2c7a9d3b01",
        origin=verified_origin(
            github_headers("push") if headers is None else headers, push_body() if body is None else body
        ),
    )


def verified_origin(headers: dict[str, list[str]], body: bytes) -> dict[str, Any]:
    """The origin intercept records for a trigger whose github interceptor verified the webhook."""
    spec = InterceptorSpec("github", "github", "ClusterInterceptor", {"secretRef": SECRET_REF})
    return origin_of([spec], headers, body, body)


def notifier(api: FakeGitHub, **options: Any) -> GitHubStatusNotifier:
    options.setdefault("timeout_s", 2)
    return GitHubStatusNotifier(lambda: api.token, api_url=api.base_url + "/", **options)


def status_path(owner: str = "acme-ml", repo: str = "fraud-model", sha: str = SHA) -> str:
    return f"/repos/{owner}/{repo}/statuses/{sha}"


# --- which commit ------------------------------------------------------------------------------


def test_push_posts_a_status_on_the_pushed_commit() -> None:
    """Contract test (GitHub's API cannot run here): a push run's success is posted on ``after``.

    Uses the example listener's real push request, journalled and read back as the status stage
    will read it, so the request shape is the one the pipeline stores.
    """
    raw = read_http_request(PUSH_REQUEST)
    origin = verified_origin(raw.header_map(), raw.body)
    now = datetime.datetime.now(datetime.UTC)
    run = RunRecord(
        RUN_ID, "0b6f5a2e", "default/github-listener", "train-on-push", "kfp", "SUCCEEDED", now, now, RUN_URL,
        details={"origin": origin},
    )  # fmt: skip
    with fake_github() as api:
        notifier(api).notify(RunStateChange.from_run(run, "SUCCEEDED", "RUNNING"))
    assert api.violations == []
    assert [(r.method, r.path) for r in api.received] == [("POST", status_path())]
    assert api.posted() == [
        {
            "state": "success",
            "target_url": RUN_URL,
            "description": f"KFP run {RUN_ID} succeeded",
            "context": "kfp-triggers/github-listener/train-on-push",
        }
    ]
    assert api.received[0].headers["user-agent"].startswith("kfp-triggers")


def test_a_run_a_newer_push_cancelled_says_so_and_links_the_newer_run() -> None:
    """Contract test (GitHub's API cannot run here): ``cancel-in-progress`` displaced this run."""
    newer_url = "https://kfp.example.com/#/runs/details/newer-run"
    superseded = dataclasses.replace(
        change("CANCELED", "RUNNING"), superseded_by=Supersession("ev-newer", "newer-run", newer_url)
    )
    launching = dataclasses.replace(change("CANCELED", "RUNNING"), superseded_by=Supersession("ev-newer"))
    with fake_github() as api:
        notifier(api).notify(superseded)
        notifier(api).notify(launching)
        notifier(api).notify(change("CANCELED", "RUNNING"))  # cancelled by hand: no newer run
    assert api.violations == []
    assert [(p["state"], p["description"], p.get("target_url")) for p in api.posted()] == [
        ("error", f"KFP run {RUN_ID} was canceled: superseded by run newer-run", newer_url),
        ("error", f"KFP run {RUN_ID} was canceled: superseded by event ev-newer", RUN_URL),
        ("error", f"KFP run {RUN_ID} was canceled", RUN_URL),
    ]
    long = Supersession("e" * 300, "r" * 300)
    assert len(github_status.describe("x" * 100, "CANCELED", long)) <= github_status.MAX_DESCRIPTION


@pytest.mark.parametrize(
    "overrides",
    [{"deleted": True, "after": "0" * 40}, {"after": "0" * 40}, {"deleted": True}],
    ids=["branch-deleted", "zero-after", "deleted-flag"],
)
def test_push_that_deletes_a_ref_posts_nothing(overrides: dict[str, Any]) -> None:
    """Contract test (GitHub's API cannot run here): a deleted ref has no commit to mark."""
    with fake_github() as api:
        notifier(api).notify(change(body=push_body(**overrides)))
    assert api.received == []


def test_tag_push_marks_the_tagged_commit() -> None:
    """Contract test (GitHub's API cannot run here): an annotated tag's ``after`` is the tag
    object, so the status goes on ``head_commit.id``, the commit GitHub can show it on."""
    tag_object = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
    body = push_body(ref="refs/tags/v1.4.0", after=tag_object, head_commit={"id": SHA})
    with fake_github() as api:
        notifier(api).notify(change(body=body))
    assert api.violations == []
    assert [r.path for r in api.received] == [status_path(sha=SHA)]


def test_pull_request_marks_the_head_commit_on_the_base_repository() -> None:
    """Contract test (GitHub's API cannot run here): a fork's pull request shows statuses of its
    head sha posted to the base repository, so that is where the status goes."""
    with fake_github() as api:
        notifier(api).notify(
            change("RUNNING", None, headers=github_headers("pull_request"), body=pull_request_body())
        )
    assert api.violations == []
    assert [r.path for r in api.received] == [status_path(sha=HEAD_SHA)]
    assert api.posted()[0]["state"] == "pending"


@pytest.mark.parametrize("event", ["check_suite", "check_run", "workflow_run", "merge_group"])
def test_events_with_a_head_sha_mark_that_commit(event: str) -> None:
    """Contract test (GitHub's API cannot run here): check and workflow events name ``head_sha``."""
    body = json.dumps(
        {
            "action": "completed",
            event: {"head_sha": HEAD_SHA, "id": 7},
            "repository": {"full_name": "acme-ml/fraud-model"},
        }
    ).encode()
    with fake_github() as api:
        notifier(api).notify(change(headers=github_headers(event), body=body))
    assert api.violations == []
    assert [r.path for r in api.received] == [status_path(sha=HEAD_SHA)]


def test_form_encoded_webhook_is_read_from_its_payload_field() -> None:
    """Contract test (GitHub's API cannot run here): a webhook set to form encoding sends the
    JSON in ``payload=``; the commit is found there as well."""
    from urllib.parse import urlencode

    headers = github_headers("push", **{"Content-Type": "application/x-www-form-urlencoded"})
    body = urlencode({"payload": push_body().decode()}).encode()
    with fake_github() as api:
        notifier(api).notify(change(headers=headers, body=body))
    assert [r.path for r in api.received] == [status_path()]


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        (
            {"X-Gitlab-Event": ["Push Hook"], "Content-Type": ["application/json"]},
            json.dumps({"object_kind": "push", "after": SHA, "project": {"path_with_namespace": "acme/x"}}),
        ),
        (
            {"X-Event-Key": ["repo:push"], "Content-Type": ["application/json"]},
            json.dumps({"push": {"changes": [{"new": {"target": {"hash": SHA}}}]}}),
        ),
        ({"Content-Type": ["application/json"]}, push_body().decode()),
        ({"Ce-Specversion": ["1.0"], "Ce-Type": ["com.example.data.ready"]}, json.dumps({"after": SHA})),
        (
            github_headers("status"),
            json.dumps({"sha": SHA, "state": "success", "repository": {"full_name": "a/b"}}),
        ),
        (github_headers("push"), "not json"),
    ],
    ids=["gitlab", "bitbucket", "plain-json", "cloudevent", "github-status-event", "github-bad-body"],
)
def test_requests_without_a_github_commit_post_nothing(headers: dict[str, list[str]], body: str) -> None:
    """Contract test (GitHub's API cannot run here): only a GitHub webhook naming a commit is
    reported; a ``status`` event is never answered with a status (no loop), nor is anything else."""
    calls: list[int] = []

    with fake_github() as api:
        quiet = GitHubStatusNotifier(lambda: calls.append(1) or TOKEN, api_url=api.base_url)
        quiet.notify(change(headers=headers, body=body.encode()))
    assert api.received == []
    assert calls == []  # the token is not even read


def test_a_run_without_a_verified_origin_posts_nothing() -> None:
    """Contract test (GitHub's API cannot run here): a run whose trigger verified nothing (or
    whose origin is unknown) cannot be addressed, and that is not an error."""
    payload = RunStatePayload(
        event_id="e1", run_id=RUN_ID, backend="kfp", state="FAILED", previous_state="RUNNING",
        run_url=RUN_URL, trigger=ObjectRef("default", "train-on-push"),
        listener=ObjectRef("default", "github-listener"),
    )  # fmt: skip
    built = RunStateChange.from_payload(payload, None)
    assert (built.origin, built.listener) == ({}, "default/github-listener")
    with fake_github() as api:
        notifier(api).notify(built)
    assert api.received == []


# --- GitHub Enterprise Server ------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting it) for a certificate of 127.0.0.1."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        cert_file, key_file = Path(folder) / "cert.pem", Path(folder) / "key.pem"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cadata=cert.public_bytes(serialization.Encoding.PEM).decode())
    return server, client


def test_enterprise_host_receives_the_status_under_api_v3(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    """Contract test (GitHub's API cannot run here): a GitHub Enterprise Server webhook names its
    host; the status goes to ``https://<host>/api/v3/repos/...`` when that host is allowed."""
    server_tls, client_tls = tls
    with fake_github(tls=server_tls, path_prefix="/api/v3") as api:
        host = api.base_url.removeprefix("https://")
        enterprise = GitHubStatusNotifier(
            lambda: TOKEN,
            api_url=UNREACHABLE_API,
            enterprise_hosts=[host],
            ssl_context=client_tls,
            timeout_s=2,
        )
        enterprise.notify(change(headers=github_headers("push", **{"X-GitHub-Enterprise-Host": host})))
    assert api.violations == []
    assert [r.path for r in api.received] == ["/api/v3" + status_path()]


@pytest.mark.parametrize("host", ["attacker.example", "127.0.0.1:1/evil#", "api.github.com@attacker.example"])
def test_enterprise_host_not_allowed_gets_no_status_and_no_token(host: str) -> None:
    """Contract test (GitHub's API cannot run here): the Enterprise host header is not covered by
    the webhook signature, so an unlisted host is ignored and the token is never read."""
    calls: list[int] = []
    with fake_github() as api:
        guarded = GitHubStatusNotifier(lambda: calls.append(1) or TOKEN, api_url=api.base_url)
        guarded.notify(change(headers=github_headers("push", **{"X-GitHub-Enterprise-Host": host})))
        assert (
            guarded.status_for(change(headers=github_headers("push", **{"X-GitHub-Enterprise-Host": host})))
            is None
        )
    assert api.received == []
    assert calls == []


# --- which state, and when ---------------------------------------------------------------------

STATE_MAP = [
    ("PENDING", "pending", "is queued"),
    ("RUNNING", "pending", "is running"),
    ("CANCELING", "pending", "is being canceled"),
    ("PAUSED", "pending", "is paused"),
    ("SUCCEEDED", "success", "succeeded"),
    ("SKIPPED", "success", "was skipped"),
    ("FAILED", "failure", "failed"),
    ("CANCELED", "error", "was canceled"),
]


@pytest.mark.parametrize(("state", "expected", "words"), STATE_MAP)
def test_every_run_state_maps_to_its_github_state(state: str, expected: str, words: str) -> None:
    """Contract test (GitHub's API cannot run here): each KFP state posts the documented GitHub
    state (the first report of a run, with nothing known before)."""
    with fake_github() as api:
        notifier(api).notify(change(state, None))
    assert api.violations == []
    assert [(b["state"], b["description"]) for b in api.posted()] == [(expected, f"KFP run {RUN_ID} {words}")]


@pytest.mark.parametrize("state", ["UNKNOWN", "RUNTIME_STATE_UNSPECIFIED", "", "SOMETHING_NEW"])
def test_unknown_state_posts_nothing(state: str) -> None:
    """Contract test (GitHub's API cannot run here): an unknown state has no GitHub state."""
    with fake_github() as api:
        notifier(api).notify(change(state, "RUNNING"))
    assert api.received == []


@pytest.mark.parametrize(
    ("previous", "state"),
    [
        ("PENDING", "RUNNING"),
        ("RUNNING", "PAUSED"),
        ("PAUSED", "RUNNING"),
        ("RUNNING", "CANCELING"),
        ("SUCCEEDED", "SKIPPED"),
        ("CANCELED", "CANCELED"),
        ("RUNNING", "UNKNOWN"),
    ],
)
def test_transitions_within_one_github_state_post_nothing(previous: str, state: str) -> None:
    """Contract test (GitHub's API cannot run here): GitHub keeps at most 1000 statuses per sha
    and context, so a change that keeps the GitHub state posts nothing."""
    with fake_github() as api:
        notifier(api).notify(change(state, previous))
    assert api.received == []


@pytest.mark.parametrize(
    ("previous", "state", "expected"),
    [
        ("RUNNING", "SUCCEEDED", "success"),
        ("PENDING", "FAILED", "failure"),
        ("CANCELING", "CANCELED", "error"),
        ("UNKNOWN", "RUNNING", "pending"),
        (None, "PENDING", "pending"),
    ],
)
def test_transitions_that_change_the_github_state_post_once(
    previous: str | None, state: str, expected: str
) -> None:
    """Contract test (GitHub's API cannot run here): a change of GitHub state posts exactly one status."""
    with fake_github() as api:
        notifier(api).notify(change(state, previous))
    assert [b["state"] for b in api.posted()] == [expected]


def test_a_whole_run_posts_one_status_per_github_state() -> None:
    """Contract test (GitHub's API cannot run here): PENDING, RUNNING, PAUSED, RUNNING, SUCCEEDED
    reported one transition at a time posts ``pending`` then ``success``, nothing more."""
    states = [None, "PENDING", "RUNNING", "PAUSED", "RUNNING", "SUCCEEDED"]
    with fake_github() as api:
        poster = notifier(api)
        for previous, state in itertools.pairwise(states):
            poster.notify(change(state, previous))
    assert [b["state"] for b in api.posted()] == ["pending", "success"]


def test_canceled_can_be_reported_as_failure() -> None:
    """Contract test (GitHub's API cannot run here): ``canceled_as="failure"`` posts a canceled run
    as ``failure``, and then FAILED after CANCELED is no change."""
    with fake_github() as api:
        poster = notifier(api, canceled_as="failure")
        poster.notify(change("CANCELED", "CANCELING"))
        poster.notify(change("FAILED", "CANCELED"))
    assert [b["state"] for b in api.posted()] == ["failure"]
    with pytest.raises(ValueError, match="canceled_as"):
        GitHubStatusNotifier(lambda: TOKEN, canceled_as="cancelled")


def test_context_prefix_and_links() -> None:
    """Contract test (GitHub's API cannot run here): the context is ``<prefix>/<listener>/<trigger>``; a run
    URL that is not a web link (a local run's ``file://`` folder) is not sent as ``target_url``;
    a long run id (Vertex allows 128 characters) is cut so the description fits 140."""
    long_id = "train-" + "x" * 122
    with fake_github() as api:
        poster = notifier(api, context_prefix="ci/kfp")
        poster.notify(change("RUNNING", None, run_url="file:///var/kfpt/runs/r1", run_id=long_id))
    assert api.violations == []
    [posted] = api.posted()
    assert posted["context"] == "ci/kfp/github-listener/train-on-push"
    assert "target_url" not in posted
    assert len(posted["description"]) == 140
    assert posted["description"].startswith("KFP run train-xxx")
    assert posted["description"].endswith("… is running")


# --- errors ------------------------------------------------------------------------------------


def github_error(message: str, errors: list[dict[str, str]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message, "documentation_url": "https://docs.github.com/rest"}
    if errors:
        body["errors"] = errors
    return body


@pytest.mark.parametrize(
    "answer",
    [
        Answer(500, github_error("Server Error")),
        Answer(502, github_error("Bad Gateway")),
        Answer(429, github_error("API rate limit exceeded"), {"Retry-After": "30"}),
        Answer(403, github_error("API rate limit exceeded for installation"), {"X-RateLimit-Remaining": "0"}),
        Answer(403, github_error("You have exceeded a secondary rate limit"), {"Retry-After": "60"}),
    ],
    ids=["500", "502", "429", "403-primary-rate-limit", "403-secondary-rate-limit"],
)
def test_server_errors_and_rate_limits_are_retryable(answer: Answer) -> None:
    """Contract test (GitHub's API cannot run here): GitHub failing or throttling is retryable."""
    with fake_github(answer) as api, pytest.raises(NotifierUnavailableError) as caught:
        notifier(api).notify(change())
    assert caught.value.retryable is True
    assert caught.value.status == answer.status
    assert str(answer.body and answer.body["message"]) in str(caught.value)
    assert len(api.received) == 1


def test_stalled_answer_is_retryable() -> None:
    """Contract test (GitHub's API cannot run here): no answer within ``timeout_s`` is retryable."""
    with (
        fake_github(Answer(stall_s=5)) as api,
        pytest.raises(NotifierUnavailableError, match=re.escape("no answer within 0.3 s")),
    ):
        notifier(api, timeout_s=0.3).notify(change())
    assert len(api.received) == 1


def test_unreachable_api_is_retryable() -> None:
    """Contract test (GitHub's API cannot run here): a refused connection is retryable."""
    with fake_github() as api:
        closed = api.base_url
    with pytest.raises(NotifierUnavailableError, match="cannot connect") as caught:
        GitHubStatusNotifier(lambda: TOKEN, api_url=closed, timeout_s=2).notify(change())
    assert caught.value.retryable is True


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            Answer(
                422,
                github_error(
                    "Validation Failed",
                    [
                        {
                            "resource": "Status",
                            "code": "custom",
                            "message": "This SHA and context has reached the maximum number of statuses.",
                        }
                    ],
                ),
            ),
            "HTTP 422: Validation Failed: This SHA and context has reached the maximum number of statuses.",
        ),
        (Answer(422, github_error("No commit found for SHA: " + SHA)), "HTTP 422: No commit found for SHA"),
        (Answer(404, github_error("Not Found")), "HTTP 404: Not Found"),
        (Answer(401, github_error("Bad credentials")), "HTTP 401: Bad credentials"),
        (
            Answer(403, github_error("Resource not accessible by integration")),
            "HTTP 403: Resource not accessible",
        ),
    ],
    ids=["422-cap", "422-no-commit", "404", "401", "403-permission"],
)
def test_client_errors_are_permanent_with_githubs_message(answer: Answer, message: str) -> None:
    """Contract test (GitHub's API cannot run here): a 4xx will not change on retry; the error
    carries GitHub's message and the path it was answered for."""
    with fake_github(answer) as api, pytest.raises(NotifierError) as caught:
        notifier(api).notify(change())
    assert not isinstance(caught.value, NotifierUnavailableError)
    assert caught.value.retryable is False
    assert caught.value.status == answer.status
    assert f"POST {status_path()}: {message}" in str(caught.value)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirect_is_not_followed(status: int) -> None:
    """Contract test (GitHub's API cannot run here): a redirect could carry the token elsewhere
    (GitHub answers 301/307 for a renamed repository), so it is refused as it stands, and only
    the one request reaches the server even when the redirect points back at it."""
    with fake_github() as api:
        api.answer = Answer(
            status, github_error("Moved Permanently"), {"Location": api.base_url + "/elsewhere"}
        )
        with pytest.raises(NotifierError, match="redirects are not followed") as caught:
            notifier(api).notify(change())
    assert caught.value.status == status
    assert caught.value.retryable is False
    assert [(r.method, r.path) for r in api.received] == [("POST", status_path())]


@pytest.mark.parametrize("status", [401, 500])
def test_token_never_appears_in_an_error(status: int) -> None:
    """Contract test (GitHub's API cannot run here): even a server that echoes the Authorization
    header back in its message cannot make the error (text, arguments or cause) show the token."""
    answer = Answer(status, github_error(f"Bad credentials: Bearer {TOKEN}"))
    with fake_github(answer) as api, pytest.raises(NotifierError) as caught:
        notifier(api).notify(change())
    error = caught.value
    assert TOKEN not in str(error)
    assert TOKEN not in repr(error.args)
    assert "Bearer ***" in str(error)
    assert error.__cause__ is None and error.__suppress_context__


@pytest.mark.parametrize("token", ["", "ghp_abc\n", "ghp abc"])
def test_unusable_token_is_refused_before_sending(token: str) -> None:
    """Contract test (GitHub's API cannot run here): an empty token or one with whitespace is
    refused without a request, and the message does not quote it."""
    with fake_github() as api, pytest.raises(NotifierError, match="GitHub token is empty or holds") as caught:
        GitHubStatusNotifier(lambda: token, api_url=api.base_url).notify(change())
    assert api.received == []
    assert not token.strip() or token.strip() not in str(caught.value)


# --- settings ----------------------------------------------------------------------------------


def test_settings_turn_statuses_on_and_read_the_token_at_each_post(tmp_path: Path) -> None:
    """Contract test (GitHub's API cannot run here): ``KFPT_GITHUB_TOKEN_SECRET`` enables the
    notifier; the token file is read for every post (a rotated token is used at once, its trailing
    newline dropped), and the API URL, context and canceled settings apply."""
    (tmp_path / "github").mkdir()
    token_file = tmp_path / "github" / "token"
    token_file.write_text(TOKEN + "\n")
    with fake_github() as api:
        environ = {
            "KFPT_GITHUB_TOKEN_SECRET": "github/token",
            "KFPT_GITHUB_API_URL": api.base_url,
            "KFPT_GITHUB_STATUS_CONTEXT": "pipelines",
            "KFPT_GITHUB_CANCELED_AS": "failure",
        }
        [configured] = notifiers_from_env(environ, FileSecrets(tmp_path))
        configured.notify(change("CANCELED", "RUNNING"))
        api.token = "ghp_rotated0000000000000000000000000000"
        token_file.write_text(api.token)
        configured.notify(change("RUNNING", "CANCELED"))
    assert api.violations == []
    assert [(b["state"], b["context"]) for b in api.posted()] == [
        ("failure", "pipelines/github-listener/train-on-push"),
        ("pending", "pipelines/github-listener/train-on-push"),
    ]
    assert [r.headers["authorization"] for r in api.received] == [f"Bearer {TOKEN}", f"Bearer {api.token}"]


def test_no_token_setting_means_no_notifiers(tmp_path: Path) -> None:
    """Contract test (GitHub's API cannot run here): without ``KFPT_GITHUB_TOKEN_SECRET`` nothing
    is configured, so nothing can reach the API."""
    with fake_github() as api:
        assert notifiers_from_env({"KFPT_GITHUB_API_URL": api.base_url}, FileSecrets(tmp_path)) == []
    assert api.received == []


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"KFPT_GITHUB_TOKEN_SECRET": "github"}, "KFPT_GITHUB_TOKEN_SECRET must be <secretName>/<key>"),
        ({"KFPT_GITHUB_TOKEN_SECRET": "/token"}, "KFPT_GITHUB_TOKEN_SECRET must be <secretName>/<key>"),
        ({"KFPT_GITHUB_TOKEN_SECRET": "a/b/c"}, "KFPT_GITHUB_TOKEN_SECRET must be <secretName>/<key>"),
        (
            {"KFPT_GITHUB_TOKEN_SECRET": "github/token", "KFPT_GITHUB_CANCELED_AS": "cancelled"},
            "KFPT_GITHUB_CANCELED_AS must be 'error' or 'failure'",
        ),
        (
            {"KFPT_GITHUB_TOKEN_SECRET": "github/token", "KFPT_GITHUB_API_URL": "api.github.com"},
            "KFPT_GITHUB_API_URL",
        ),
    ],
)
def test_malformed_settings_are_reported(environ: dict[str, str], message: str, tmp_path: Path) -> None:
    """Contract test (GitHub's API cannot run here): a malformed setting fails at start-up, named,
    before any request could be sent."""
    with fake_github() as api, pytest.raises(InvalidNotifierSettingError, match=re.escape(message)):
        notifiers_from_env(environ, FileSecrets(tmp_path))
    assert api.received == []
