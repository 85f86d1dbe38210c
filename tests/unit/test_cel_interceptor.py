"""The CEL interceptor: Tekton's status codes and messages, filters and overlays, on every backend."""

# ruff: noqa: E501  (expression tables read best one case per line)

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.cel.sjson import SjsonError, set_path
from kfp_triggers.interceptors.cel import CelInterceptor, decode_params
from kfp_triggers.secretstore import FileSecrets
from kfp_triggers.tekton.interceptor_protocol import InterceptorRequest, StatusCode, TriggerContext
from tests.unit.cel_support import BACKENDS, environment

HEADER = {"Content-Type": ["application/json"], "X-Test": ["test-value"], "X-Secret-Token": ["secrettoken"]}
CONTEXT = TriggerContext(
    event_url="https://testing.example.com", event_id="abcde", trigger_id="namespaces/ns/triggers/example"
)


def run(
    backend: str,
    params: dict[str, Any],
    body: bytes | dict[str, Any] = b"{}",
    extensions: dict[str, Any] | None = None,
    secrets: FileSecrets | None = None,
) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = InterceptorRequest(
        body=raw, header=HEADER, extensions=extensions or {}, interceptor_params=params, context=CONTEXT
    )
    return CelInterceptor(environment(backend, secrets)).process(request)


ACCEPTED = [
    ({"filter": "body.value == 'testing'"}, {"value": "testing"}, None),
    ({"filter": "header['X-Test'][0] == 'test-value'"}, {}, None),
    ({"filter": "header.match('x-test', 'test-value')"}, {}, None),
    ({"filter": "header.canonical('x-test') == 'test-value' && body.value == 'test'"}, {"value": "test"}, None),
    ({"filter": "header.match('x-test', 'test-value')"}, b"", None),
    (
        {"filter": "body.value == 'test'", "overlays": [{"key": "new", "expression": "body.value"}]},
        {"value": "test"},
        {"new": "test"},
    ),
    ({"overlays": [{"key": "new", "expression": "body.ref.split('/')[2]"}]}, {"ref": "refs/head/master"}, {"new": "master"}),
    (
        {"overlays": [{"key": "test.one", "expression": "body.value"}, {"key": "test.two", "expression": "body.value"}]},
        {"value": "test"},
        {"test": {"one": "test", "two": "test"}},
    ),
    (
        {"overlays": [
            {"key": "val1", "expression": "body.count + 1.0"},
            {"key": "val2", "expression": "int(body.count) + 3"},
            {"key": "val3", "expression": "body.count + 3.5"},
            {"key": "val4", "expression": "body.measure * 3.0"},
        ]},
        {"count": 1, "measure": 1.7},
        {"val1": 2.0, "val2": 4.0, "val3": 4.5, "val4": 5.1},
    ),
    (
        {"overlays": [{"key": "event", "expression": "body.event.map(s, s['testing'])"}]},
        {"event": [{"testing": "value"}, {"testing": "another"}]},
        {"event": ["value", "another"]},
    ),
    (
        {"overlays": [
            {"key": "one", "expression": "'yo'"},
            {"key": "two", "expression": "false ? true : false"},
            {"key": "three", "expression": "body.test"},
        ]},
        {"test": {"other": "thing"}},
        {"one": "yo", "two": False, "three": {"other": "thing"}},
    ),
    (
        {"overlays": [
            {"key": "value", "expression": "base64.decode(body.b64value) == b'hello'"},
            {"key": "decoded", "expression": "base64.decode(body.b64value)"},
            {"key": "decoded_string", "expression": "string(base64.decode(body.b64value))"},
        ]},
        {"b64value": "aGVsbG8="},
        {"value": True, "decoded": "aGVsbG8=", "decoded_string": "hello"},
    ),
    (
        {"filter": 'extensions.foo == "bar"', "overlays": [{"key": "one", "expression": "extensions.foo"}]},
        {},
        {"one": "bar"},
    ),
    (
        {"overlays": [{"key": "a", "expression": "1"}, {"key": "a", "expression": "'later wins'"}]},
        {},
        {"a": "later wins"},
    ),
    (
        {"overlays": [{"key": "first", "expression": "body.x"}, {"key": "second", "expression": "has(body.first)"}]},
        {"x": 1},
        {"first": 1.0, "second": False},
    ),
    (
        {"overlays": [{"key": "list.1", "expression": "'b'"}, {"key": "esc\\.aped", "expression": "[1u, null]"}]},
        {},
        {"list": [None, "b"], "esc.aped": [1.0, None]},
    ),
    ({"overlays": [{"key": "m", "expression": "{'t': timestamp('2020-01-01T00:00:00Z')}"}]}, {}, {"m": {"t": "2020-01-01T00:00:00Z"}}),
    ({"overlays": [{"key": "a*", "expression": "1"}]}, {}, {}),
]  # fmt: skip


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("params", "body", "extensions"), ACCEPTED)
def test_accepted(backend: str, params: dict[str, Any], body: Any, extensions: dict[str, Any] | None) -> None:
    response = run(backend, params, body, extensions={"foo": "bar"})
    assert response.continue_ is True
    assert response.status.code == StatusCode.OK
    assert response.extensions == (extensions or None)
    if extensions is None:
        assert "extensions" not in response.to_wire()


REJECTED = [
    ({"filter": "body.value == 'test'"}, {"value": "testing"}, StatusCode.FAILED_PRECONDITION,
     "expression body.value == 'test' did not return true"),
    ({"filter": "header['X-Test'][0] == 'unknown'"}, {}, StatusCode.FAILED_PRECONDITION,
     "expression header['X-Test'][0] == 'unknown' did not return true"),
    ({"filter": "body.value"}, {"value": "true"}, StatusCode.FAILED_PRECONDITION, "expression body.value did not return true"),
    ({"filter": "body.missing"}, {}, StatusCode.INVALID_ARGUMENT,
     'error evaluating cel expression: expression "body.missing" failed to evaluate: no such key: missing'),
    ({"filter": "header['X-Test"}, {"value": "test"}, StatusCode.INVALID_ARGUMENT,
     "error evaluating cel expression: failed to parse expression \"header['X-Test\": ERROR: <input>:1:8: "
     "Syntax error: token recognition error at: ''X-Test'"),
    ({"filter": "body.value == 'test'"}, b"{]", StatusCode.INVALID_ARGUMENT,
     "error making the evaluation context: failed to parse the body as JSON: "
     "invalid character ']' looking for beginning of object key string"),
    ({}, b"[1]", StatusCode.INVALID_ARGUMENT, "error making the evaluation context: failed to parse the body as JSON: "
     "json: cannot unmarshal array into Go value of type map[string]interface {}"),
    ({"filter": "body.value == 'test'", "overlays": [{"key": "new", "expression": "test.value"}]}, {"value": "test"},
     StatusCode.INVALID_ARGUMENT, 'error evaluating cel expression: expression "test.value" check failed: ERROR: '
     "<input>:1:1: undeclared reference to 'test' (in container '')"),
    ({"overlays": [{"key": "converted", "expression": 'body.value.translate("[^a-z0-9+", "")'}]}, {"value": "testing"},
     StatusCode.INVALID_ARGUMENT, "failed to parse regular expression for translation: error parsing regexp: "
     "missing closing ]: `[^a-z0-9+`"),
    ({"overlays": [{"key": "n", "expression": "null"}]}, {}, StatusCode.INTERNAL,
     "failed to convert overlay result to type: type conversion error from 'null_type' to '[]uint8'"),
    ({"overlays": [{"key": "u", "expression": "1u"}]}, {}, StatusCode.INTERNAL,
     "failed to convert overlay result to type: unsupported type conversion from 'uint' to []uint8"),
    ({"overlays": [{"key": "t", "expression": "timestamp('2020-01-01T00:00:00Z')"}]}, {}, StatusCode.INTERNAL,
     "failed to convert overlay result to type: type conversion error from 'Timestamp' to '[]uint8'"),
    ({"overlays": [{"key": "d", "expression": "duration('1s')"}]}, {}, StatusCode.INTERNAL,
     "failed to convert overlay result to type: type conversion error from 'Duration' to '[]uint8'"),
    ({"overlays": [{"key": "t", "expression": "type(1)"}]}, {}, StatusCode.INTERNAL,
     "failed to convert overlay result to type: type conversion not supported for 'type'"),
    ({"overlays": [{"key": "n", "expression": "0.0/0.0"}]}, {}, StatusCode.INTERNAL,
     "failed to convert overlay result to type: proto: google.protobuf.Value.number_value: invalid NaN value"),
    ({"overlays": [{"key": "m", "expression": "{1: 'a'}"}]}, {}, StatusCode.INTERNAL,
     "failed to convert overlay result to type: unsupported type conversion from 'int' to string"),
    ({"overlays": [{"key": "", "expression": "'x'"}]}, {}, StatusCode.INTERNAL,
     "failed to sjson for key '' to 'x': path cannot be empty"),
    ({"filter": 1}, {}, StatusCode.INVALID_ARGUMENT, "failed to parse interceptor params: invalid json: json: cannot "
     "unmarshal number into Go struct field InterceptorParams.filter of type string"),
    ({"overlays": "x"}, {}, StatusCode.INVALID_ARGUMENT, "failed to parse interceptor params: invalid json: json: "
     "cannot unmarshal string into Go struct field InterceptorParams.overlays of type []cel.Overlay"),
    ({"overlays": [1]}, {}, StatusCode.INVALID_ARGUMENT, "failed to parse interceptor params: invalid json: json: "
     "cannot unmarshal number into Go struct field InterceptorParams.overlays of type cel.Overlay"),
    ({"overlays": [{"key": True, "expression": "1"}]}, {}, StatusCode.INVALID_ARGUMENT, "failed to parse interceptor "
     "params: invalid json: json: cannot unmarshal bool into Go struct field Overlay.overlays.key of type string"),
    ({"filter": float("nan")}, {}, StatusCode.INVALID_ARGUMENT,
     "failed to parse interceptor params: failed to marshal json: json: unsupported value: NaN"),
]  # fmt: skip


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("params", "body", "code", "message"), REJECTED, ids=[r[3][:60] for r in REJECTED])
def test_rejected(backend: str, params: dict[str, Any], body: Any, code: StatusCode, message: str) -> None:
    response = run(backend, params, body)
    assert response.continue_ is False
    assert response.status.code == code
    assert message in response.status.message
    assert response.extensions is None


@pytest.mark.parametrize("backend", BACKENDS)
def test_compare_secret_in_filter(backend: str, tmp_path: Path) -> None:
    (tmp_path / "test-secret").mkdir()
    (tmp_path / "test-secret" / "token").write_bytes(b"secrettoken")
    secrets = FileSecrets(tmp_path)
    params = {
        "filter": "header.canonical('X-Secret-Token').compareSecret('token', 'test-secret') && body.count == 1.0"
    }
    assert run(backend, params, {"count": 1}, secrets=secrets).continue_ is True
    params = {"filter": "'wrong'.compareSecret('token', 'test-secret', 'testing-ns')"}
    assert run(backend, params, {}, secrets=secrets).status.code == StatusCode.FAILED_PRECONDITION


def test_params_are_matched_case_insensitively_like_go() -> None:
    params = decode_params({"Filter": "a", "OVERLAYS": [{"Key": "k", "EXPRESSION": "e"}, None], "ignored": 1})
    assert params.filter == "a"
    assert [(o.key, o.expression) for o in params.overlays] == [("k", "e"), ("", "")]


def test_empty_filter_and_no_overlays_continue_without_extensions() -> None:
    response = run("celpy", {"filter": "", "overlays": []})
    assert response.continue_ is True
    assert response.to_wire() == {"continue": True, "status": {}}


SJSON = [
    ({}, "a", 1, {"a": 1}),
    ({}, "a.b.c", 1, {"a": {"b": {"c": 1}}}),
    ({}, "a.2", "x", {"a": [None, None, "x"]}),
    ({}, "a.-1", "x", {"a": ["x"]}),
    ({"a": [1]}, "a.-1", 2, {"a": [1, 2]}),
    ({"a": [1]}, "a.0", 9, {"a": [9]}),
    ({"a": [1]}, "a.3", 9, {"a": [1, None, None, 9]}),
    ({}, "a.:1", "x", {"a": {"1": "x"}}),
    ({}, "0", "x", {"0": "x"}),
    ({"a": "scalar"}, "a.b", 1, {"a": {"b": 1}}),
    ({}, "a\\.b", 1, {"a.b": 1}),
    ({}, "a|b", 1, {}),
]


@pytest.mark.parametrize(("doc", "path", "value", "expected"), SJSON)
def test_sjson_paths(doc: dict[str, Any], path: str, value: Any, expected: dict[str, Any]) -> None:
    assert set_path(doc, path, value) == expected


def test_sjson_rejects_non_numeric_index_into_array() -> None:
    with pytest.raises(SjsonError, match="cannot set array element for non-numeric key 'x'"):
        set_path({"a": [1]}, "a.x", 1)
