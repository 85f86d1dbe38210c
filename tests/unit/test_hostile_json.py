"""Go-compatible JSON against hostile bodies: errors at the end of large documents, deep nesting.

Go's exact error must still be reported, but finding it may not cost a pass of the pure-Python
scanner over the whole body, and an event's body is decoded once however many CEL triggers read
it. Work is measured by counting calls into the scanner's states, never by timing.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import pytest

from kfp_triggers.cel import CelEnvironment
from kfp_triggers.golang import _jsonlocate, _jsonscan
from kfp_triggers.golang import json as gojson
from kfp_triggers.interceptors.cel import CelInterceptor
from kfp_triggers.tekton.interceptor_protocol import InterceptorRequest, TriggerContext
from kfp_triggers.tekton.payload import payload_problem

MIB = 1024 * 1024


@contextmanager
def scanner_steps() -> Iterator[list[int]]:
    """Count calls into the Go scanner's state functions while the block runs."""
    counted = [0]
    scanner_file = _jsonscan.__file__

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_filename == scanner_file:
            counted[0] += 1

    sys.setprofile(profile)
    try:
        yield counted
    finally:
        sys.setprofile(None)


def exact(data: bytes) -> tuple[str, int] | None:
    """Go's verdict from its scanner alone, byte by byte: the reference."""
    return _jsonscan.scan(data, check_numbers=False)[0]


# --- an error at the end of a large body --------------------------------------------------------

LARGE_BODIES = {
    "numbers": b'{"a":[' + b"1," * (MIB // 2) + b"1,]}",
    "objects": b"[" + b'{"k":[1,2,{"x":null}]},' * (MIB // 24) + b"]",
    "strings": b'{"a":"' + b"x" * MIB + b'","b":1,}',
    "escapes": b'{"a":"' + b"\\n\\u00e9" * (MIB // 8) + b'", "b" 1}',
    "non-ascii": '{"é":['.encode() + '"ü",'.encode() * (MIB // 8) + b'"x" "y"]}',
    "truncated number": b'{"a":[' + b"1.5," * (MIB // 4) + b"2.",
}


@pytest.mark.parametrize("name", sorted(LARGE_BODIES))
def test_an_error_at_the_end_costs_no_scan_of_the_whole_body(name: str) -> None:
    body = LARGE_BODIES[name]
    want = exact(body)
    assert want is not None
    with scanner_steps() as steps:
        problem = payload_problem(body)
    assert problem == want[0]
    assert steps[0] < 200, f"{steps[0]} scanner calls for a {len(body)}-byte body"
    with pytest.raises(gojson.JsonSyntaxError) as caught:
        gojson.unmarshal_object(body)
    assert (str(caught.value), caught.value.offset) == want


def test_invalid_text_inside_strings_is_still_found() -> None:
    body = b'{"a":"' + b"x" * MIB + b'\x01"}'
    with scanner_steps() as steps:
        assert payload_problem(body) == "invalid character '\\x01' in string literal"
    assert steps[0] < 200


# --- nesting, as deep as Go allows ------------------------------------------------------------


def deep(levels: int, inner: bytes = b"1") -> bytes:
    return b'{"a":' + b'[{"b":' * levels + inner + b"}]" * levels + b"}"


def test_nesting_to_go_limit_is_valid_and_one_level_more_is_not() -> None:
    at_limit = b"[" * 10000 + b"]" * 10000
    assert gojson.syntax_error(at_limit) is None
    with pytest.raises(gojson.NestingError):
        gojson.unmarshal(at_limit)
    over = b"[" * 10001 + b"]" * 10001
    error = gojson.syntax_error(over)
    assert error is not None
    assert (str(error), error.offset) == ("invalid character '[' exceeded max depth", 10001)


@pytest.mark.parametrize("spine", [9990, 9995, 9999])
def test_max_depth_is_found_inside_containers_read_in_one_call(spine: int) -> None:
    # The last levels sit in a small container the C decoder would read whole: it may not read
    # past Go's limit.
    tail = b'{"k":[[[[[[[[[[[[1]]]]]]]]]]]]}'
    body = b"[" * spine + tail + b"]" * spine
    error = gojson.syntax_error(body)
    want = exact(body)
    assert want is not None and want[0] == "invalid character '[' exceeded max depth"
    assert error is not None and (str(error), error.offset) == want


def test_a_deep_valid_body_with_a_large_bottom_is_checked_in_c() -> None:
    body = deep(3000, b"[" + b'{"k":[1,2,{"x":"y"}]},' * (MIB // 24) + b"0]")
    with scanner_steps() as steps:
        assert payload_problem(body) is None  # valid for Go: 6000 levels
    assert steps[0] < 50_000  # the spine, not the megabyte below it
    with pytest.raises(gojson.NestingError):
        gojson.unmarshal_object(body)


def test_a_deep_body_with_a_huge_number_is_gos_type_error() -> None:
    body = deep(2000, b'[1, "1e999", 2e400]')
    assert payload_problem(body) == "json: cannot unmarshal number 2e400 into Go value of type float64"


@pytest.mark.parametrize("levels", [47, 48, 49, 50, 97, 2000])
def test_deep_errors_are_gos(levels: int) -> None:
    for body in (
        deep(levels, b"[1 2]"),
        deep(levels, b"tru"),
        deep(levels)[:-3] + b"]]",
        deep(levels).replace(b'"b":', b'"b" ', 1),
        b"[0," * levels + b"0" + b"]" * (levels - 1) + b"}",
    ):
        got = gojson.syntax_error(body)
        assert (None if got is None else (str(got), got.offset)) == exact(body), body[:80]


# --- the fast path agrees with Go's scanner everywhere ------------------------------------------

_SEEDS = [
    b'{"a": [1, 2.5, -0, 1e5, true, false, null], "b": {"c": "d\\u00e9\\n"}, "e": ""}',
    '{"é": ["ü", {"ß": [1, 2, {"k": "∂"}]}], "n": null}'.encode(),
    b'{"deep": ' + b'[{"a":' * 60 + b"1" + b"}]" * 60 + b', "z": [1,2,3]}',
    b"[" * 120 + b'"x", 1, {"q": [true]}' + b"]" * 120,
    b"[0," * 70 + b"0" + b"]" * 70,
]
_PIECES = [b'"', b"\\", b"{", b"}", b"[", b"]", b":", b",", b"0", b"1", b"e", b".", b"-", b"+", b"t",
           b" ", b"x", b"\x00", b"\xff", b"\\u", b"N", b"I", "é".encode(), b"\xc3", b"[[[[",
           b'{"k":']  # fmt: skip


def _mutated(rng: random.Random) -> bytes:
    """A seed with up to three pieces inserted or bytes deleted at random places."""
    doc = bytearray(rng.choice(_SEEDS))
    for _ in range(rng.randint(0, 3)):
        at = rng.randint(0, len(doc))
        insert = rng.choice(_PIECES) if rng.random() < 0.5 else b""
        doc[at : at + (not insert)] = insert
    return bytes(doc)


def test_the_fast_verdict_is_the_scanners_on_mutated_documents() -> None:
    rng = random.Random(11)
    for data in (_mutated(rng) for _ in range(1500)):
        assert _jsonlocate.syntax_error(data) == exact(data), data


# --- one decode per event in intercept ----------------------------------------------------------


def _request(body: bytes, expression: str, trigger: str) -> InterceptorRequest:
    return InterceptorRequest(
        body=body,
        header={"Content-Type": ["application/json"]},
        extensions={},
        interceptor_params={"filter": expression, "overlays": [{"key": "seen", "expression": "body"}]},
        context=TriggerContext(event_url="http://listener.example/", event_id="e1", trigger_id=trigger),
    )


def _counting_decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls = [0]
    real: Callable[..., Any] = gojson.unmarshal_object

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(gojson, "unmarshal_object", counted)
    return calls


def test_a_body_refused_for_depth_is_decoded_once_for_all_triggers(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting_decodes(monkeypatch)
    interceptor = CelInterceptor(CelEnvironment())
    body = deep(4500)  # 9001 levels: valid for Go, too deep to build here
    responses = [interceptor.process(_request(body, f"body.a != {i}", f"t{i}")) for i in range(5)]
    assert calls[0] == 1
    assert {r.status.message for r in responses if r.status is not None} == {
        "error making the evaluation context: failed to parse the body as JSON: "
        "json: document nested too deeply to decode"
    }


def test_an_equal_body_rebuilt_per_trigger_is_decoded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting_decodes(monkeypatch)
    interceptor = CelInterceptor(CelEnvironment())
    text = b'{"action": "opened", "list": [1, 2, {"k": "v"}]}'
    for i in range(5):
        body = bytes(bytearray(text))  # a new bytes object each time, as a form body is
        response = interceptor.process(_request(body, "body.action == 'opened'", f"t{i}"))
        assert response.continue_ and response.extensions == {"seen": gojson.unmarshal(text)}
    assert calls[0] == 1


def test_triggers_sharing_a_decoded_body_leave_it_as_decoded() -> None:
    env = CelEnvironment()
    interceptor = CelInterceptor(env)
    body = b'{"list": [3, 1, 2], "map": {"b": 1, "a": [true]}, "s": "x"}'
    expressions = ["body.list.sort() == [1, 2, 3]", "body.map.a.size() == 1", "body.s + 'y' == 'xy'"]
    for i, expression in enumerate(expressions):
        interceptor.process(_request(body, expression, f"t{i}"))
    assert env.decode_body(body) == gojson.unmarshal_object(body)
