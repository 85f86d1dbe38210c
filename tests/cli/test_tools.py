"""binding-eval, cel-eval and interceptor through the installed CLI, on requests written here."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli

BODY = {"ref": "refs/heads/main", "count": 3, "note": 'a <b> & "c"\nd', "items": [{"k": "x"}, {"k": "y"}]}


def _request(tmp_path: Path, body: bytes | None = None, headers: tuple[str, ...] = ()) -> Path:
    data = json.dumps(BODY).encode() if body is None else body
    head = ["POST /hook HTTP/1.1", "Content-Type: application/json", "X-GitHub-Event: push", *headers]
    path = tmp_path / "request.http"
    path.write_bytes(("\r\n".join(head) + "\r\n\r\n").encode() + data)
    return path


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


BINDING = """\
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerBinding
metadata: {name: b}
spec:
  params:
    - {name: ref, value: $(body.ref)}
    - {name: note, value: "note=$(body.note)"}
    - {name: event, value: $(header.x-github-event)}
    - {name: second, value: "$(body.items[1].k)"}
    - {name: ext, value: $(extensions.short)}
    - {name: id, value: $(context.eventID)}
"""


def test_binding_eval_resolves_every_param(tmp_path: Path) -> None:
    extensions = _write(tmp_path, "ext.json", json.dumps({"short": "abc"}))
    result = run_cli(
        ["binding-eval", "-b", _write(tmp_path, "b.yaml", BINDING), "-r", _request(tmp_path),
         "--extensions", extensions, "--event-id", "ev-9"]
    )  # fmt: skip
    assert result.code == 0, result.stdout + result.stderr
    out: dict[str, Any] = result.json()
    assert list(out) == sorted(out)
    assert out["ref"] == "refs/heads/main"
    # JSON-escaped without quotes, <>& as \\u escapes, newline as \\n: Tekton's rendering.
    assert out["note"] == 'note=a \\u003cb\\u003e \\u0026 \\"c\\"\\nd'
    assert out["event"] == "push"
    assert out["second"] == "y"
    assert out["ext"] == "abc"
    assert out["id"] == "ev-9"


def test_binding_eval_missing_field_fails_without_default_and_uses_template_default(tmp_path: Path) -> None:
    binding = _write(tmp_path, "b.yaml", BINDING.replace("$(body.ref)", "pre-$(body.nope)"))
    template = _write(
        tmp_path,
        "t.yaml",
        "apiVersion: triggers.tekton.dev/v1beta1\nkind: TriggerTemplate\nmetadata: {name: t}\n"
        "spec:\n  params:\n    - {name: ref, default: dflt}\n    - {name: extra, default: e}\n"
        "  resourcetemplates:\n    - {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}\n",
    )
    request = _request(tmp_path)
    ext = _write(tmp_path, "ext.json", json.dumps({"short": "s"}))
    failed = run_cli(["binding-eval", "-b", binding, "-r", request, "--extensions", ext])
    assert failed.code == 1
    assert "ref" in failed.json()["error"]
    assert "body.nope" in failed.json()["error"]
    ok = run_cli(["binding-eval", "-b", binding, "-r", request, "--extensions", ext, "--template", template])
    assert ok.code == 0, ok.stdout
    assert ok.json()["ref"] == "pre-dflt"
    assert ok.json()["extra"] == "e"


def test_binding_eval_non_json_body_is_an_error(tmp_path: Path) -> None:
    result = run_cli(
        ["binding-eval", "-b", _write(tmp_path, "b.yaml", BINDING), "-r", _request(tmp_path, b"x=1")]
    )
    assert result.code == 1
    assert "error" in result.json()


@pytest.mark.parametrize(
    ("expression", "want"),
    [
        ("body.ref == 'refs/heads/main'", {"type": "bool", "value": True}),
        ("body.count + 1.0", {"type": "double", "value": 4.0}),
        ("body.items.map(i, i.k)", {"type": "list", "value": ["x", "y"]}),
        ("header.canonical('x-github-event')", {"type": "string", "value": "push"}),
        ("requestURL", {"type": "string", "value": "/hook"}),
        ("b'hi'", {"type": "bytes", "value": "aGk="}),
    ],
)
def test_cel_eval_types_and_values(tmp_path: Path, expression: str, want: dict[str, Any]) -> None:
    result = run_cli(["cel-eval", "-e", expression, "-r", _request(tmp_path)])
    assert result.code == 0, result.stdout + result.stderr
    assert result.json() == want


def test_cel_eval_reads_an_expression_file_and_reports_errors(tmp_path: Path) -> None:
    expr = _write(tmp_path, "expr.txt", "body.count > 2.0\n")
    assert run_cli(["cel-eval", "-e", expr, "-r", _request(tmp_path)]).json() == {
        "type": "bool",
        "value": True,
    }
    bad = run_cli(["cel-eval", "-e", "body.count + 1", "-r", _request(tmp_path)])
    assert bad.code == 1
    assert "error" in bad.json()


def test_interceptor_github_over_stdin(tmp_path: Path) -> None:
    (tmp_path / "s" / "gh").mkdir(parents=True)
    (tmp_path / "s" / "gh" / "token").write_bytes(b"topsecret")
    body = json.dumps(BODY)
    good = "sha256=" + hmac.new(b"topsecret", body.encode(), hashlib.sha256).hexdigest()
    request: dict[str, Any] = {
        "body": body,
        "header": {"X-Github-Event": ["push"], "X-Hub-Signature-256": [good]},
        "interceptor_params": {
            "secretRef": {"secretName": "gh", "secretKey": "token"},
            "eventTypes": ["push"],
        },
        "context": {"event_id": "e", "trigger_id": "namespaces/default/triggers/t"},
    }
    ok = run_cli(
        ["interceptor", "github", "--secrets-dir", tmp_path / "s"], stdin=json.dumps(request).encode()
    )
    assert ok.code == 0, ok.stdout + ok.stderr
    assert ok.json() == {"continue": True, "status": {}}
    request["header"]["X-Hub-Signature-256"] = ["sha256=" + "0" * 64]
    bad = run_cli(
        ["interceptor", "github", "--secrets-dir", tmp_path / "s"], stdin=json.dumps(request).encode()
    )
    assert bad.json() == {
        "continue": False,
        "status": {"code": 9, "message": "payload signature check failed"},
    }


def test_interceptor_cel_overlay_and_bad_input() -> None:
    request = {
        "body": json.dumps(BODY),
        "interceptor_params": {
            "filter": "body.count > 1.0",
            "overlays": [{"key": "a.b", "expression": "body.ref"}],
        },
        "context": {},
    }
    ok = run_cli(["interceptor", "cel"], stdin=json.dumps(request).encode())
    assert ok.json() == {"extensions": {"a": {"b": "refs/heads/main"}}, "continue": True, "status": {}}
    garbage = run_cli(["interceptor", "cel"], stdin=b"not json")
    assert garbage.code == 1
    assert "InterceptorRequest" in garbage.json()["error"]
    unknown = run_cli(["interceptor", "nope"], stdin=b"{}")
    assert unknown.code == 1
