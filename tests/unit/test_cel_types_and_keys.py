"""Type values, map keys, numeric edges and quoted field names, as cel-go v0.30 treats them.

Each of these was a difference from cel-go found by the CEL conformance suite or by comparing the
backends: type values of different types compared at check time, the protobuf names of timestamp
and duration, a bare ``dyn``, Python's ``True == 1`` merging map keys, exact comparisons where
cel-go converts an integer to a double, backtick-quoted field names, and the C++ backend cutting
strings at a NUL character.
"""

from __future__ import annotations

from typing import Any

import pytest

from kfp_triggers.cel.values import BoolKey, map_insert, map_keys, to_json
from kfp_triggers.errors import CelCompileError
from tests.unit.cel_support import BACKENDS, evaluate

BODY = {
    "content-type": "application/json",
    "a.b": 1,
    "/api/v1": True,
    "plain": "x",
    "nul": "a\x00b",
    "k\x00": 1,
}

VALUES: list[tuple[str, str, Any]] = [
    # a type value compares with any other type value; only the same type is equal
    ("type(7) == type(7u)", "bool", False),
    ("type(0.0) != type(0)", "bool", True),
    ("type([1]) == type(['a'])", "bool", True),
    ("type({'one': 1}) == type({1: 'one'})", "bool", True),
    ("type(type(7)) == type(type(7u))", "bool", True),
    ("type(body) == map", "bool", True),
    # the standard library's protobuf names for timestamp and duration
    ("google.protobuf.Timestamp == type(timestamp('2009-02-13T23:31:30Z'))", "bool", True),
    ("type(duration('1s')) == google.protobuf.Duration", "bool", True),
    ("google.protobuf.Duration", "type", "google.protobuf.Duration"),
    ("type(timestamp(0)) != google.protobuf.Duration", "bool", True),
    # true and 1 (false and 0) are two different map keys
    ("{1: 'a', true: 'b'}.size()", "int", 2),
    ("{true: 'b', 1: 'a'}.size()", "int", 2),
    ("{0: 'a', false: 'b'}[false]", "string", "b"),
    ("{0: 'a', false: 'b'}[0]", "string", "a"),
    ("{true: 'b', 1: 'a'}[1.0]", "string", "a"),
    ("{1: 'a', true: 'b'}", "map", {"1": "a", "true": "b"}),
    ("{true: 'b', 1: 'a', true: 'c'}", "map", {"true": "c", "1": "a"}),
    ("{1: 'a', true: 'b'}.map(k, type(k) == bool)", "list", [False, True]),
    ("{1: 'a', true: 'b'} == {true: 'b', 1u: 'a'}", "bool", True),
    ("{1: 'a', true: 'b'} == {1: 'a', 2: 'b'}", "bool", False),
    ("dyn(true) in {1: 'a'}", "bool", False),
    ("dyn(1) in {true: 'a'}", "bool", False),
    ("[{1: 'a', true: 'b'}][0].size()", "int", 2),
    # an int or uint compared with a double is converted to a double first, as in cel-go
    ("dyn(9223372036854775807) < 9223372036854775808.0", "bool", False),
    ("dyn(9223372036854775807) >= 9223372036854775808.0", "bool", True),
    ("dyn(9223372036854775808.0) > 9223372036854775807", "bool", False),
    ("dyn(9223372036854775808.0) <= 9223372036854775807", "bool", True),
    ("dyn(9223372036854775807) == 9223372036854775808.0", "bool", True),
    ("dyn(9007199254740993) > 9007199254740992.0", "bool", False),
    ("dyn(18446744073709551615u) == 18446744073709551616.0", "bool", True),
    ("dyn(-9223372036854775808) > -1e19", "bool", True),
    ("dyn(1u) > -0.5", "bool", True),
    ("dyn(3) == 3.5", "bool", False),
    ("[dyn(9223372036854775807)].exists(x, x == 9223372036854775808.0)", "bool", True),
    # a NUL inside a string is part of it (the C++ conversion would cut the string there)
    ("size(body.nul)", "int", 3),
    ("body.nul == 'a\\x00b'", "bool", True),
    ("'k\\x00' in body && !('k' in body)", "bool", True),
    # backtick-quoted field names (cel-go enables them by default since v0.24)
    ("body.`content-type`", "string", "application/json"),
    ("body.`a.b` == 1.0", "bool", True),
    ("body.`/api/v1`", "bool", True),
    ("body.`plain`", "string", "x"),
    ("has(body.`content-type`) && !has(body.`content-length`)", "bool", True),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("expression", "type_name", "value"), VALUES)
def test_values(backend: str, expression: str, type_name: str, value: Any) -> None:
    assert evaluate(backend, expression, BODY) == (type_name, value)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("dyn", "undeclared reference to 'dyn' (in container '')"),
        ("type(1) == dyn", "undeclared reference to 'dyn' (in container '')"),
        ("google.protobuf.Any", "undeclared reference to 'google' (in container '')"),
        ("body.`a`()", "<input>:1:9: Syntax error: mismatched input '('"),
        ("body.`a+b`", "Syntax error: token recognition error at: '`'"),
        ("[1].exists(google, google.protobuf.Timestamp == 1)", "type 'int' does not support field selection"),
    ],
)
def test_compile_errors(backend: str, expression: str, message: str) -> None:
    with pytest.raises(CelCompileError) as caught:
        evaluate(backend, expression, BODY)
    assert message in str(caught.value)


def test_map_insert_wraps_only_a_bool_that_meets_an_equal_number() -> None:
    plain: dict[Any, Any] = {}
    map_insert(plain, True, "b")
    map_insert(plain, 2, "c")
    assert list(plain) == [True, 2]  # no collision: the keys stay as they are

    mixed: dict[Any, Any] = {}
    map_insert(mixed, True, "b")
    map_insert(mixed, 1, "a")
    map_insert(mixed, True, "c")
    assert list(mixed) == [BoolKey(True), 1]  # the stored bool is re-keyed in place
    assert map_keys(mixed) == [True, 1]
    assert [type(k) for k in map_keys(mixed)] == [bool, int]
    assert to_json(mixed) == {"true": "c", "1": "a"}
