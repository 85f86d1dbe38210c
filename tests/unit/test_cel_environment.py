"""The public CEL API: backend choice, compile cache, per-event body reuse, results and cel_eval."""

# ruff: noqa: E501  (expression tables read best one case per line)

from __future__ import annotations

from typing import Any

import pytest

from kfp_triggers.cel import CelBodyError, CelEnvironment, CelValue, available_backends, cel_eval
from kfp_triggers.cel.values import CelType, Duration, Timestamp, Uint
from kfp_triggers.errors import CelCompileError, CelError, CelEvalError
from kfp_triggers.tekton.request import RawRequest
from tests.unit.cel_support import BACKENDS


def test_celpy_is_always_available() -> None:
    assert available_backends()[0] == "celpy"


def test_backend_can_be_forced_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KFPT_CEL_BACKEND", "celpy")
    assert CelEnvironment().backend_name == "celpy"


@pytest.mark.parametrize("setting", [None, "auto"])
def test_default_is_the_in_process_evaluator(monkeypatch: pytest.MonkeyPatch, setting: str | None) -> None:
    if setting is None:
        monkeypatch.delenv("KFPT_CEL_BACKEND", raising=False)
    else:
        monkeypatch.setenv("KFPT_CEL_BACKEND", setting)
    assert CelEnvironment().backend_name == "celpy"


def test_explicit_backend_wins_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KFPT_CEL_BACKEND", "cel-expr")
    assert CelEnvironment(backend="celpy").backend_name == "celpy"


def test_unknown_backend_is_rejected() -> None:
    with pytest.raises(CelError, match="unknown CEL backend 'fast'"):
        CelEnvironment(backend="fast")


@pytest.mark.parametrize("backend", BACKENDS)
def test_compile_is_cached_per_environment(backend: str) -> None:
    env = CelEnvironment(backend=backend)
    first = env.compile("body.a == 1.0")
    assert env.compile("body.a == 1.0") is first
    assert CelEnvironment(backend=backend).compile("body.a == 1.0") is not first


@pytest.mark.parametrize("backend", BACKENDS)
def test_body_is_decoded_once_per_event_and_shared_between_triggers(backend: str) -> None:
    env = CelEnvironment(backend=backend)
    body = b'{"ref": "refs/heads/main"}'
    one = env.activation(body, {}, {"trigger": "one"}, "/")
    two = env.activation(body, {}, {"trigger": "two"}, "/")
    assert one.variables["body"] is two.variables["body"]
    assert one.variables["extensions"] != two.variables["extensions"]
    other = env.activation(b'{"ref": "refs/heads/main"}', {}, {}, "/")
    assert other.variables["body"] == one.variables["body"]
    compiled = env.compile("extensions.trigger + ':' + body.ref")
    assert env.evaluate(compiled, one).value == "one:refs/heads/main"
    assert env.evaluate(compiled, two).value == "two:refs/heads/main"


@pytest.mark.parametrize("backend", BACKENDS)
def test_triggers_without_extensions_share_one_activation_per_event(backend: str) -> None:
    env = CelEnvironment(backend=backend)
    body, header = b'{"n": 1}', {"X-A": ["a"]}
    first = env.activation(body, header, {}, "/hook")
    assert env.activation(body, header, {}, "/hook") is first
    compiled = env.compile("body.n + 1.0")
    assert env.evaluate(compiled, first).value == 2.0
    # Anything that differs gives the event its own variables.
    other_body = b'{"n": 5}'
    assert env.evaluate(compiled, env.activation(other_body, header, {}, "/hook")).value == 6.0
    assert env.activation(body, header, {}, "/other") is not first
    assert env.activation(body, {"X-A": ["a"]}, {}, "/hook") is not first
    with_ext = env.activation(body, header, {"k": "v"}, "/hook")
    assert with_ext is not first and with_ext.variables["extensions"] == {"k": "v"}
    assert env.activation(body, header, {}, "/hook").variables["extensions"] == {}


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_body_is_an_empty_object(backend: str) -> None:
    env = CelEnvironment(backend=backend)
    assert env.evaluate(env.compile("body"), env.activation(b"", {}, {}, "/")).value == {}
    assert env.evaluate(env.compile("body"), env.activation(b"null", {}, {}, "/")).value == {}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[]", "failed to parse the body as JSON: json: cannot unmarshal array into Go value of type map[string]interface {}"),
        (b'{"tes', "failed to parse the body as JSON: unexpected end of JSON input"),
        (b" ", "failed to parse the body as JSON: unexpected end of JSON input"),
        (b"\xef\xbb\xbf{}", "failed to parse the body as JSON: invalid character '\u00ef' looking for beginning of value"),
        (b'{"a": 1e400}', "failed to parse the body as JSON: json: cannot unmarshal number 1e400 into Go value of type float64"),
        (b'{"a": NaN}', "failed to parse the body as JSON: invalid character 'N' looking for beginning of value"),
        (b'{"a": 01}', "failed to parse the body as JSON: invalid character '1' after object key:value pair"),
    ],
)  # fmt: skip
def test_body_errors_use_gos_messages(body: bytes, message: str) -> None:
    with pytest.raises(CelBodyError) as info:
        CelEnvironment(backend="celpy").activation(body, {}, {}, "/")
    assert str(info.value) == message


def test_body_numbers_are_doubles_and_bad_utf8_is_replaced() -> None:
    env = CelEnvironment(backend="celpy")
    act = env.activation(b'{"n": 12345678901234567890, "s": "a\xffb", "u": "\\ud800"}', {}, {}, "/")
    assert act.variables["body"] == {"n": 12345678901234567890.0, "s": "a\ufffdb", "u": "\ufffd"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_extensions_numbers_become_doubles_like_after_a_json_round_trip(backend: str) -> None:
    env = CelEnvironment(backend=backend)
    act = env.activation(b"{}", {}, {"n": 2, "nested": [1, {"k": True}]}, "/")
    assert env.evaluate(env.compile("extensions.n + 1.0"), act).value == 3.0
    assert env.evaluate(env.compile("type(extensions.nested[0])"), act).value == CelType("double")


@pytest.mark.parametrize(
    ("value", "type_name", "json_value"),
    [
        ("s", "string", "s"),
        (True, "bool", True),
        (3, "int", 3),
        (Uint(3), "uint", 3),
        (1.5, "double", 1.5),
        (float("inf"), "double", "Infinity"),
        (b"\x00\xff", "bytes", "AP8="),
        ([1, b"a"], "list", [1, "YQ=="]),
        ({"k": None, 1: True}, "map", {"k": None, "1": True}),
        (None, "null", None),
        (Timestamp(1_500_000_000, 3600), "timestamp", "1970-01-01T01:00:01.5+01:00"),
        (Duration(90_000_000_000), "duration", "90s"),
        (Duration(-1), "duration", "-0.000000001s"),
        (CelType("int"), "type", "int"),
    ],
)
def test_cel_value_type_names_and_json(value: Any, type_name: str, json_value: Any) -> None:
    result = CelValue(value)
    assert result.type_name == type_name
    assert result.to_json() == json_value


@pytest.mark.parametrize("backend", BACKENDS)
def test_cel_eval_command_shape(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KFPT_CEL_BACKEND", backend)
    request = RawRequest(
        url="/hooks?x=1", headers={"X-Github-Event": ["push"]}, body=b'{"test": {"nested": "value"}}'
    )
    assert cel_eval('body.test.nested == "value"', request) == {"type": "bool", "value": True}
    assert cel_eval("requestURL", request) == {"type": "string", "value": "/hooks?x=1"}
    assert cel_eval("header.canonical('x-github-event')", request) == {"type": "string", "value": "push"}
    assert cel_eval("b'hi'", request) == {"type": "bytes", "value": "aGk="}
    with pytest.raises(CelCompileError, match="undeclared reference to 'nope'"):
        cel_eval("nope", request)
    with pytest.raises(CelEvalError, match="no such key: missing"):
        cel_eval("body.missing", request)


def test_compiled_expression_from_another_backend_is_recompiled() -> None:
    celpy = CelEnvironment(backend="celpy")
    other = CelEnvironment(backend=available_backends()[-1])
    compiled = celpy.compile("1 + 2")
    assert other.evaluate(compiled, other.activation(b"{}", {}, {}, "/")).value == 3
