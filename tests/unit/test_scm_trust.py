"""Trust boundaries of the SCM interceptors and of the ingest edge check, each written as an attack.

* ``X-GitHub-Enterprise-Host`` is not covered by the webhook signature: a sender must not be able
  to point the GitHub API calls (and the token) at a host of its choosing, nor let that host's
  answers decide the owners check;
* ``addChangedFiles`` must not switch the ``githubOwners`` check off;
* an empty webhook secret must not make every sender authentic;
* a sender refused at the edge learns only that the request is not authentic.

GitHub cannot run here, so the API side is a real HTTPS server on 127.0.0.1 that records what it
receives (the attacker's host, or an allowed GitHub Enterprise Server) and answers as GitHub does.
"""

from __future__ import annotations

import base64
import json
import logging
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.adapters.transports.memory import MemoryBus
from kfp_triggers.app.validation import load
from kfp_triggers.config import InterceptorSpec
from kfp_triggers.interceptors.bitbucket import BitbucketInterceptor
from kfp_triggers.interceptors.github import GitHubInterceptor
from kfp_triggers.interceptors.gitlab import GitLabInterceptor
from kfp_triggers.interceptors.resolve import InterceptorFactory
from kfp_triggers.interceptors.signature import SignatureError, sign, validate_signature
from kfp_triggers.secretstore import FileSecrets
from kfp_triggers.stages.context import StageContext
from kfp_triggers.stages.edge_auth import NOT_AUTHENTIC
from kfp_triggers.stages.ingest import ingest
from kfp_triggers.tekton.interceptor_protocol import (
    InterceptorRequest,
    InterceptorResponse,
    InterceptorServices,
    StatusCode,
)
from kfp_triggers.tekton.processing import EventProcessor
from kfp_triggers.tekton.request import RawRequest
from tests.unit.local_http import LocalServer, Reply, local_server

PAT = "ghp_trusted_token_1234"
TOKEN_REF = {"secretName": "gh", "secretKey": "pat"}
SENDER = "mallory"
REPO = "acme/widgets"
FP = StatusCode.FAILED_PRECONDITION
NOT_MET = "owners check requirements not met"


def js(value: Any) -> bytes:
    return json.dumps(value).encode()


def owners_file(*names: str) -> Reply:
    text = "approvers:\n" + "".join(f"- {n}\n" for n in names)
    return Reply(
        body=js({"type": "file", "encoding": "base64", "content": base64.b64encode(text.encode()).decode()})
    )


def github_routes(prefix: str, *owners: str) -> dict[str, Reply]:
    """A GitHub API answering that ``owners`` own ``acme/widgets`` and that PR 7 changes one file."""
    logins = js([{"login": name} for name in owners])
    return {
        f"GET {prefix}/orgs/acme/public_members": Reply(body=logins),
        f"GET {prefix}/repos/acme/widgets/collaborators": Reply(body=logins),
        f"GET {prefix}/repos/acme/widgets/contents/OWNERS": owners_file(*owners),
        f"GET {prefix}/repos/acme/widgets/pulls/7/files?per_page=100": Reply(body=js([{"filename": "a.py"}])),
    }


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(certificate, key) files of a self-signed certificate for 127.0.0.1, made by ``openssl``."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    command = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1"
    subject = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(
        [*command.split(), "-keyout", str(key), "-out", str(cert), *subject], check=True, capture_output=True
    )
    return cert, key


@pytest.fixture
def https_host(certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalServer]:
    """A GitHub-like HTTPS server the system trusts (``SSL_CERT_FILE``), answering under ``/api/v3``.

    Its routes say that the sender owns the repository: whatever trusts its answers lets the
    sender through. Being trusted by TLS, it also sees every header the client sends.
    """
    cert, key = certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with local_server(github_routes("/api/v3", SENDER), tls=context) as server:
        yield server


@pytest.fixture
def secrets_dir(tmp_path: Path) -> Path:
    for name, key, value in (
        ("gh", "pat", PAT.encode()),
        ("hooks", "empty", b""),
        ("hooks", "blank", b" \n"),
        ("hooks", "real", b"s3cr3t-hook-key"),
    ):
        (tmp_path / name).mkdir(exist_ok=True)
        (tmp_path / name / key).write_bytes(value)
    return tmp_path


@pytest.fixture
def real_github() -> Iterator[LocalServer]:
    """The configured GitHub API: the sender owns nothing there."""
    with local_server(github_routes("", "alice")) as server:
        yield server


def github_interceptor(secrets_dir: Path, api: LocalServer, hosts: tuple[str, ...] = ()) -> GitHubInterceptor:
    services = InterceptorServices(
        secrets=FileSecrets(secrets_dir), github_api_url=api.base_url, http_timeout_s=5
    )
    return GitHubInterceptor(services, enterprise_hosts=hosts)


def pull_request(sender: str = SENDER) -> bytes:
    return js({"number": 7, "repository": {"full_name": REPO}, "sender": {"login": sender}})


def github_call(
    interceptor: GitHubInterceptor,
    params: dict[str, Any],
    *,
    event: str = "pull_request",
    body: bytes | None = None,
    **headers: str,
) -> InterceptorResponse:
    header = {"X-Github-Event": [event], **{k.replace("_", "-"): [v] for k, v in headers.items()}}
    request = InterceptorRequest(
        body=pull_request() if body is None else body, header=header, interceptor_params=params
    )
    return interceptor.process(request)


OWNERS_CHECK = {"githubOwners": {"enabled": True, "checkType": "all", "personalAccessToken": TOKEN_REF}}
CHANGED_FILES = {"addChangedFiles": {"enabled": True, "personalAccessToken": TOKEN_REF}}
OWNERS_NO_TOKEN = {"githubOwners": {"enabled": True, "checkType": "none"}}


# --- X-GitHub-Enterprise-Host ------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [OWNERS_CHECK, OWNERS_NO_TOKEN, CHANGED_FILES],
    ids=["owners", "owners-anonymous", "changed-files"],
)
def test_unlisted_enterprise_host_gets_no_token_and_no_say(
    secrets_dir: Path, real_github: LocalServer, https_host: LocalServer, params: dict[str, Any]
) -> None:
    """The attacker names its own host: before, the token went there and its answers let it in."""
    attacker = https_host.base_url.removeprefix("https://")
    res = github_call(github_interceptor(secrets_dir, real_github), params, X_GitHub_Enterprise_Host=attacker)
    assert https_host.requests == []
    assert real_github.requests == []
    assert (res.continue_, res.status.code) == (False, FP)
    assert (
        res.status.message
        == f'X-GitHub-Enterprise-Host "{attacker}" is not an allowed GitHub Enterprise host'
    )


def test_enterprise_host_is_refused_before_any_secret_is_read(
    secrets_dir: Path, real_github: LocalServer
) -> None:
    params = {
        "githubOwners": {"enabled": True, "personalAccessToken": {"secretName": "gh", "secretKey": "absent"}}
    }
    res = github_call(
        github_interceptor(secrets_dir, real_github), params, X_GitHub_Enterprise_Host="evil.example"
    )
    assert res.status.message.startswith('X-GitHub-Enterprise-Host "evil.example" is not')


def test_push_changed_files_need_no_api_so_the_header_does_not_matter(
    secrets_dir: Path, real_github: LocalServer
) -> None:
    body = js(
        {"repository": {"full_name": REPO}, "commits": [{"added": ["x"], "modified": [], "removed": []}]}
    )
    res = github_call(
        github_interceptor(secrets_dir, real_github),
        CHANGED_FILES,
        event="push",
        body=body,
        X_GitHub_Enterprise_Host="evil.example",
    )
    assert (res.continue_, res.extensions) == (True, {"changed_files": "x"})


def test_allowed_enterprise_host_is_called_under_api_v3_with_the_token(
    secrets_dir: Path, real_github: LocalServer, https_host: LocalServer
) -> None:
    """Contract test against the GitHub Enterprise Server REST API root, ``https://<host>/api/v3/``."""
    host = https_host.base_url.removeprefix("https://")
    interceptor = github_interceptor(secrets_dir, real_github, hosts=(host.upper(),))
    res = github_call(interceptor, {**OWNERS_CHECK, **CHANGED_FILES}, X_GitHub_Enterprise_Host=host)
    assert (res.continue_, res.extensions) == (True, {"changed_files": "a.py"})
    assert https_host.targets() == [
        "GET /api/v3/orgs/acme/public_members",
        "GET /api/v3/repos/acme/widgets/pulls/7/files?per_page=100",
    ]
    assert {r.headers["authorization"] for r in https_host.requests} == {f"Bearer {PAT}"}
    assert real_github.requests == []


def test_the_configured_api_host_named_by_the_header_is_the_configured_api(
    secrets_dir: Path, real_github: LocalServer
) -> None:
    host = real_github.base_url.removeprefix("http://")
    res = github_call(
        github_interceptor(secrets_dir, real_github),
        OWNERS_CHECK,
        body=pull_request("alice"),
        X_GitHub_Enterprise_Host=host,
    )
    assert res.continue_ is True
    assert real_github.targets() == ["GET /orgs/acme/public_members"]


def test_the_factory_hands_its_allow_list_to_the_github_interceptor(
    secrets_dir: Path, real_github: LocalServer, https_host: LocalServer
) -> None:
    host = https_host.base_url.removeprefix("https://")
    services = InterceptorServices(secrets=FileSecrets(secrets_dir), github_api_url=real_github.base_url)
    spec = InterceptorSpec("github", "github", "ClusterInterceptor", {})
    guarded = InterceptorFactory(services).interceptor(spec)
    allowing = InterceptorFactory(services, github_enterprise_hosts=[host]).interceptor(spec)
    request = InterceptorRequest(
        body=pull_request(),
        header={"X-Github-Event": ["pull_request"], "X-Github-Enterprise-Host": [host]},
        interceptor_params=OWNERS_CHECK,
    )
    assert guarded.process(request).continue_ is False
    assert https_host.requests == []
    assert allowing.process(request).continue_ is True
    assert https_host.targets() == ["GET /api/v3/orgs/acme/public_members"]


@pytest.mark.parametrize(
    "entry", ["evil.example/path", "user@evil.example", "evil.example:99999", "https://evil.example", ""]
)
def test_malformed_allow_list_entries_are_refused(entry: str) -> None:
    with pytest.raises(ValueError, match="KFPT_GITHUB_ENTERPRISE_HOSTS"):
        GitHubInterceptor(InterceptorServices(), enterprise_hosts=[entry])


@pytest.mark.parametrize("token", [PAT + "\n", PAT + "\r\nX-Injected: 1", "\x00" + PAT])
def test_a_token_unfit_for_a_header_fails_cleanly_without_showing_it(
    secrets_dir: Path, real_github: LocalServer, token: str
) -> None:
    """Go refuses such a header value; it must not crash the interceptor or reach a message."""
    (secrets_dir / "gh" / "pat").write_text(token)
    res = github_call(github_interceptor(secrets_dir, real_github), OWNERS_CHECK)
    assert (res.continue_, res.status.code) == (False, FP)
    assert res.status.message.endswith('net/http: invalid header field value for "Authorization"')
    assert PAT not in res.status.message
    assert real_github.requests == []


# --- addChangedFiles must not switch the owners check off ----------------------------------------


def test_changed_files_do_not_skip_the_owners_check_on_a_pull_request(
    secrets_dir: Path, real_github: LocalServer
) -> None:
    res = github_call(github_interceptor(secrets_dir, real_github), {**OWNERS_CHECK, **CHANGED_FILES})
    assert (res.continue_, res.status.code, res.status.message) == (False, FP, NOT_MET)
    assert not any("/pulls/" in target for target in real_github.targets())


def test_changed_files_do_not_skip_the_ok_to_test_check_on_a_comment(
    secrets_dir: Path, real_github: LocalServer
) -> None:
    comment = js(
        {
            "issue": {"number": 7},
            "comment": {"body": "/ok-to-test"},
            "repository": {"full_name": REPO},
            "sender": {"login": SENDER},
        }
    )
    res = github_call(
        github_interceptor(secrets_dir, real_github),
        {**OWNERS_CHECK, **CHANGED_FILES},
        event="issue_comment",
        body=comment,
    )
    assert (res.continue_, res.status.message) == (False, NOT_MET)


def test_an_owner_gets_both_the_check_and_the_changed_files(
    secrets_dir: Path, real_github: LocalServer
) -> None:
    res = github_call(
        github_interceptor(secrets_dir, real_github),
        {**OWNERS_CHECK, **CHANGED_FILES},
        body=pull_request("alice"),
    )
    assert (res.continue_, res.extensions) == (True, {"changed_files": "a.py"})


# --- an empty webhook secret authenticates nobody ------------------------------------------------

BODY = b'{"ref": "refs/heads/main"}'


@pytest.mark.parametrize("key", ["empty", "blank"])
def test_github_refuses_an_empty_secret(secrets_dir: Path, real_github: LocalServer, key: str) -> None:
    forged = sign(BODY, (secrets_dir / "hooks" / key).read_bytes())
    res = github_call(
        github_interceptor(secrets_dir, real_github),
        {"secretRef": {"secretName": "hooks", "secretKey": key}},
        event="push",
        body=BODY,
        X_Hub_Signature_256=forged,
    )
    assert (res.continue_, res.status.code) == (False, FP)
    assert res.status.message == f'error getting secret: secrets "hooks" key "{key}" is empty'


@pytest.mark.parametrize("key", ["empty", "blank"])
def test_bitbucket_refuses_an_empty_secret(secrets_dir: Path, key: str) -> None:
    forged = sign(BODY, (secrets_dir / "hooks" / key).read_bytes())
    request = InterceptorRequest(
        body=BODY,
        header={"X-Event-Key": ["repo:push"], "X-Hub-Signature": [forged]},
        interceptor_params={"secretRef": {"secretName": "hooks", "secretKey": key}},
    )
    res = BitbucketInterceptor(InterceptorServices(secrets=FileSecrets(secrets_dir))).process(request)
    assert (res.continue_, res.status.code) == (False, FP)
    assert res.status.message == f'error getting secret: secrets "hooks" key "{key}" is empty'


def test_gitlab_refuses_a_blank_secret(secrets_dir: Path) -> None:
    """Over the ClusterInterceptor wire format a header may hold what the stored secret holds."""
    request = InterceptorRequest.from_wire(
        js(
            {
                "header": {"X-Gitlab-Token": [" \n"]},
                "interceptor_params": {"secretRef": {"secretName": "hooks", "secretKey": "blank"}},
                "context": {"trigger_id": "namespaces/default/triggers/t"},
            }
        )
    )
    res = GitLabInterceptor(InterceptorServices(secrets=FileSecrets(secrets_dir))).process(request)
    assert (res.continue_, res.status.code) == (False, FP)
    assert res.status.message == 'error getting secret: secrets "hooks" key "blank" is empty'


# --- the ingest edge check -----------------------------------------------------------------------

LISTENER = """\
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata:
  name: hooks
  annotations: {kfp-triggers.dev/verify-at-ingest: "true"}
spec:
  triggers:
    - name: on-push
      interceptors:
        - ref: {name: github}
          params:
            - name: secretRef
              value: {secretName: hooks, secretKey: KEY}
      template:
        spec:
          resourcetemplates:
            - apiVersion: tekton.dev/v1
              kind: PipelineRun
              metadata: {generateName: build-}
"""


def edge(tmp_path: Path, secrets_dir: Path, key: str) -> StageContext:
    (tmp_path / "listener.yaml").write_text(LISTENER.replace("KEY", key))
    config = load([tmp_path / "listener.yaml"], check_cel=False, check_bindings=False)
    services = InterceptorServices(secrets=FileSecrets(secrets_dir))
    return StageContext(
        config=config,
        processor_factory=lambda: EventProcessor(config, InterceptorFactory(services)),
        publisher=MemoryBus(),
        store_factory=lambda: None,  # type: ignore[arg-type,return-value]  # ingest reads no store
        launcher_factory=lambda: None,  # type: ignore[arg-type,return-value]  # nor a launcher
    )


def push(signature: str) -> RawRequest:
    headers = {
        "X-Github-Event": ["push"],
        "Content-Type": ["application/json"],
        "X-Hub-Signature-256": [signature],
    }
    return RawRequest(url="/hooks", headers=headers, body=BODY)


def test_edge_check_refuses_a_request_signed_with_an_empty_key(tmp_path: Path, secrets_dir: Path) -> None:
    ctx = edge(tmp_path, secrets_dir, "empty")
    answer = ingest(ctx, push(sign(BODY, b"")))
    assert answer.status == 401


@pytest.mark.parametrize(("key", "signature"), [("absent", sign(BODY, b"x")), ("real", sign(BODY, b"guess"))])
def test_edge_answer_says_only_not_authentic_and_the_log_keeps_why(
    tmp_path: Path, secrets_dir: Path, caplog: pytest.LogCaptureFixture, key: str, signature: str
) -> None:
    ctx = edge(tmp_path, secrets_dir, key)
    with caplog.at_level(logging.INFO):
        answer = ingest(ctx, push(signature))
    assert answer.status == 401
    sent = json.loads(answer.body)
    assert set(sent.values()) == {NOT_AUTHENTIC}
    for told in ("hooks", key, "secret", "github", "signature"):
        assert told not in answer.body.decode()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    why = "cannot find absent key in secret" if key == "absent" else "payload signature check failed"
    assert why in logged
    assert "s3cr3t-hook-key" not in logged


def test_edge_check_lets_a_genuine_request_through(tmp_path: Path, secrets_dir: Path) -> None:
    ctx = edge(tmp_path, secrets_dir, "real")
    assert ingest(ctx, push(sign(BODY, b"s3cr3t-hook-key"))).status == 202


@pytest.mark.parametrize("secret", [b"", b"\n", b" \t"])
def test_a_signature_is_never_checked_against_an_empty_secret(secret: bytes) -> None:
    with pytest.raises(SignatureError, match="no secret to check the signature with"):
        validate_signature(sign(BODY, secret), BODY, secret)
