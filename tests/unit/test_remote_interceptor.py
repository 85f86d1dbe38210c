"""Interceptors over HTTP: the ClusterInterceptor protocol, the legacy webhook, address resolution.

A Tekton ClusterInterceptor or webhook service cannot run here, so these are contract tests against
the published Tekton interceptor protocol: a real local HTTP(S) server checks what is sent
(method, path, headers, JSON) and answers as such a service would, errors included.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.errors import InterceptorError
from kfp_triggers.interceptors.remote import (
    LegacyWebhookInterceptor,
    RemoteInterceptor,
    interceptor_url,
    merge_extensions,
    webhook_url,
)
from kfp_triggers.tekton.interceptor_protocol import InterceptorRequest, StatusCode, TriggerContext
from tests.unit.local_http import Reply, local_server

REQUEST = InterceptorRequest(
    body=b'{"ref":"refs/heads/main","msg":"caf\xc3\xa9 <b>"}',
    header={"X-Github-Event": ["push"], "Accept": ["a", "b"]},
    extensions={"seen": {"by": "cel"}},
    interceptor_params={"filter": "body.ref == 'x'"},
    context=TriggerContext("/hooks?x=1", "evt-1", "namespaces/default/triggers/t1"),
)


def js(value: Any) -> bytes:
    return json.dumps(value).encode()


def test_posts_the_wire_request_and_reads_the_response() -> None:
    """Contract test against the published Tekton ClusterInterceptor protocol."""
    reply = Reply(body=js({"continue": True, "extensions": {"x": 1}, "status": {}}))
    with local_server({"POST /check": reply}) as server:
        res = RemoteInterceptor(server.base_url + "/check").process(REQUEST)
    assert (res.continue_, res.extensions) == (True, {"x": 1})
    (sent,) = server.requests
    assert sent.headers["content-type"] == "application/json"
    assert json.loads(sent.body) == REQUEST.to_wire()
    assert b"\\u003cb\\u003e" in sent.body  # Go's json.Marshal escapes HTML characters


def test_the_request_is_written_as_gos_json_marshal_writes_it() -> None:
    """Contract test: the bytes a Go EventListener would send (struct field order, Go floats)."""
    request = InterceptorRequest(
        body=b'{"a":1}',
        header={"X-B": ["1"], "X-A": ["2"]},
        extensions={"ratio": 1e21, "small": 1e-7, "whole": 3.0, "tag": "<v1>"},
        interceptor_params={"z": True, "a": None},
        context=TriggerContext("/", "e-1", "t-1"),
    )
    reply = Reply(body=js({"continue": True}))
    with local_server({"POST /": reply}) as server:
        RemoteInterceptor(server.base_url + "/").process(request)
    (sent,) = server.requests
    assert sent.body == (
        b'{"body":"{\\"a\\":1}","header":{"X-A":["2"],"X-B":["1"]},'
        b'"extensions":{"ratio":1e+21,"small":1e-7,"tag":"\\u003cv1\\u003e","whole":3},'
        b'"interceptor_params":{"a":null,"z":true},'
        b'"context":{"event_url":"/","event_id":"e-1","trigger_id":"t-1"}}'
    )


def test_a_request_go_cannot_marshal_is_an_interceptor_error() -> None:
    request = InterceptorRequest(body=b"{}", extensions={"x": float("nan")})
    with pytest.raises(InterceptorError, match="failed to marshal the interceptor request"):
        RemoteInterceptor("http://127.0.0.1:9/").process(request)


def test_stop_with_a_quoted_code_name() -> None:
    """Contract test against the published Tekton protocol: codes may be gRPC names."""
    body = js({"continue": False, "status": {"code": "FailedPrecondition", "message": "no"}})
    with local_server({"POST /": Reply(body=body)}) as server:
        res = RemoteInterceptor(server.base_url + "/").process(REQUEST)
    assert (res.continue_, res.status.code, res.status.message) == (
        False,
        StatusCode.FAILED_PRECONDITION,
        "no",
    )


def test_non_200_is_an_error_with_status_and_body() -> None:
    """Contract test against the published Tekton protocol: only 200 replies are read."""
    with (
        local_server({"POST /": Reply(400, b"path did not match any interceptors")}) as server,
        pytest.raises(InterceptorError) as info,
    ):
        RemoteInterceptor(server.base_url + "/").process(REQUEST)
    assert (
        str(info.value)
        == "interceptor response was not 200: 400 Bad Request: path did not match any interceptors"
    )


def test_long_error_bodies_are_cut() -> None:
    with local_server({"POST /": Reply(500, b"x" * 5000)}) as server, pytest.raises(InterceptorError) as info:
        RemoteInterceptor(server.base_url + "/").process(REQUEST)
    assert len(str(info.value)) < 600
    assert str(info.value).endswith("...")


def test_invalid_response_body_is_an_error() -> None:
    with (
        local_server({"POST /": Reply(body=b"[1, 2]")}) as server,
        pytest.raises(InterceptorError, match="sent an invalid response"),
    ):
        RemoteInterceptor(server.base_url + "/").process(REQUEST)


def test_timeout_is_an_error() -> None:
    with (
        local_server({"POST /": Reply(body=js({"continue": True}), delay_s=2)}) as server,
        pytest.raises(InterceptorError, match="context deadline exceeded"),
    ):
        RemoteInterceptor(server.base_url + "/", timeout_s=0.2).process(REQUEST)


def test_connection_refused_is_an_error() -> None:
    with local_server() as server:
        url = server.base_url + "/"
    with pytest.raises(InterceptorError, match=r'^Post "http://127\.0\.0\.1:\d+/": '):
        RemoteInterceptor(url).process(REQUEST)


# --- HTTPS with a caBundle ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it: (CA PEM, cert file, key file)."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test interceptor CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return ca.public_bytes(serialization.Encoding.PEM), cert_file, key_file


def _server_tls(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@pytest.mark.parametrize("encoding", ["pem", "base64"])
def test_https_verified_with_the_ca_bundle(tls_files: tuple[bytes, Path, Path], encoding: str) -> None:
    """Contract test against the published Tekton protocol over HTTPS with a caBundle."""
    ca_pem, cert, key = tls_files
    bundle: bytes | str = ca_pem if encoding == "pem" else base64.b64encode(ca_pem).decode()
    reply = Reply(body=js({"continue": True, "status": {}}))
    with local_server({"POST /github": reply}, tls=_server_tls(cert, key)) as server:
        assert server.base_url.startswith("https://")
        res = RemoteInterceptor(server.base_url + "/github", ca_bundle=bundle).process(REQUEST)
    assert res.continue_ is True


def test_https_without_the_right_ca_fails(tls_files: tuple[bytes, Path, Path]) -> None:
    _, cert, key = tls_files
    with (
        local_server({"POST /": Reply(body=b"{}")}, tls=_server_tls(cert, key)) as server,
        pytest.raises(InterceptorError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        RemoteInterceptor(server.base_url + "/").process(REQUEST)


# --- ClusterInterceptor address resolution -----------------------------------------------------

BUNDLE = base64.b64encode(b"-----BEGIN CERTIFICATE-----\n...").decode()


def client(**config: Any) -> dict[str, Any]:
    return {"spec": {"clientConfig": config}}


def svc(name: str = "my-svc", namespace: str = "default", **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, **extra}


URL_CASES = [
    (
        {**client(url="http://u"), "status": {"address": {"url": "http://s.ns.svc:9/x"}}},
        "http://s.ns.svc:9/x",
    ),
    (client(url="http://foo.bar.com:8081/abc"), "http://foo.bar.com:8081/abc"),
    (client(service=svc(path="blah", port=8888)), "http://my-svc.default.svc:8888/blah"),
    (client(service=svc(path="/blah")), "http://my-svc.default.svc:80/blah"),
    (client(service=svc("s", "n")), "http://s.n.svc:80"),
    (client(caBundle=BUNDLE, service=svc(path="blah")), "https://my-svc.default.svc:8443/blah"),
    (client(caBundle=BUNDLE, service=svc("s", "n", port=443)), "https://s.n.svc:443"),
    (client(caBundle="", service=svc("s", "n")), "http://s.n.svc:80"),
]


@pytest.mark.parametrize(("obj", "url"), URL_CASES)
def test_interceptor_url(obj: dict[str, Any], url: str) -> None:
    assert interceptor_url(obj) == url


def test_interceptor_url_without_address() -> None:
    with pytest.raises(InterceptorError) as info:
        interceptor_url({"metadata": {"name": "mine"}, "spec": {"clientConfig": {}}})
    assert str(info.value) == "url resolution failed for interceptor mine with: interceptor URL was nil"


# --- legacy webhook interceptor ----------------------------------------------------------------


@dataclass(frozen=True)
class Hook:
    url: str | None = None
    service: dict[str, Any] | None = None
    header: tuple[tuple[str, str | tuple[str, ...]], ...] = ()


def test_webhook_sends_event_and_replaces_body_and_headers() -> None:
    """Contract test against Tekton's legacy webhook interceptor contract."""
    reply = Reply(body=b'{"replaced":true}', headers={"Foo": "bar"})
    hook = Hook(header=(("param-header", "val"), ("X-Multi", ("1", "2")), ("X-Github-Event", "changed")))
    with local_server({"POST /": reply}) as server:
        caller = LegacyWebhookInterceptor(Hook(server.base_url + "/", None, hook.header))
        result = caller.execute(REQUEST)
    assert result.body == b'{"replaced":true}'
    assert result.header["Foo"] == ["bar"]
    (sent,) = server.requests
    assert json.loads(sent.body)["extensions"] == {"seen": {"by": "cel"}}
    assert json.loads(sent.body)["ref"] == "refs/heads/main"
    assert sent.headers["eventlistener-request-url"] == "/hooks?x=1"
    assert sent.headers["param-header"] == "val"
    assert sent.headers["x-github-event"] == "changed"
    assert [v for k, v in sent.header_lines if k == "X-Multi"] == ["1", "2"]
    assert [v for k, v in sent.header_lines if k == "Accept"] == ["a", "b"]


def test_webhook_non_200_is_rejected() -> None:
    with local_server({"POST /": Reply(202, b"later")}) as server, pytest.raises(InterceptorError) as info:
        LegacyWebhookInterceptor(Hook(server.base_url + "/")).call(b"{}", {}, {}, "/")
    assert str(info.value) == "request rejected; status: 202 Accepted; message: later"


def test_webhook_address() -> None:
    service = {"kind": "Service", "apiVersion": "v1", "name": "foo", "namespace": "bar"}
    assert webhook_url(Hook(service=service)) == "http://foo.bar.svc/"
    assert webhook_url(Hook(url="http://foo.default.svc")) == "http://foo.default.svc"
    with pytest.raises(InterceptorError, match="invalid objRef"):
        webhook_url(Hook(service={**service, "kind": "Blah"}))


def test_merge_extensions() -> None:
    raw = b'{ "a": 1 }'
    assert merge_extensions(raw, {}) is raw
    assert json.loads(merge_extensions(raw, {"k": "v", "x.y": 2})) == {
        "a": 1,
        "extensions": {"k": "v", "x": {"y": 2}},
    }
    assert json.loads(merge_extensions(b'{"extensions":{"old":1}}', {"new": 2})) == {
        "extensions": {"old": 1, "new": 2}
    }
    assert json.loads(merge_extensions(b"", {"k": 1})) == {"extensions": {"k": 1}}
    with pytest.raises(InterceptorError, match="could not merge extensions with body"):
        merge_extensions(b"[1]", {"k": 1})


def test_merge_extensions_keeps_the_body_values() -> None:
    # sjson edits the body's text, so its integers keep every digit; invalid UTF-8 in a string
    # becomes one U+FFFD per byte, as Go reads it.
    merged = merge_extensions(b'{"n": 9007199254740993, "s": "\xe2\x82!"}', {"k": 1})
    assert json.loads(merged) == {"n": 9007199254740993, "s": "\ufffd\ufffd!", "extensions": {"k": 1}}
    with pytest.raises(
        InterceptorError, match=r"body: invalid character ' ' in literal true \(expecting 'e'\)"
    ):
        merge_extensions(b'{"a": tru', {"k": 1})
