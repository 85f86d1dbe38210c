"""cel-go's Strings, Encoders, Sets, Lists and Math extensions as Tekton enables them, on every backend."""

# ruff: noqa: E501  (expression tables read best one case per line)

from __future__ import annotations

from typing import Any

import pytest

from kfp_triggers.errors import CelEvalError
from tests.unit.cel_support import BACKENDS, evaluate

BODY = {"numbers": [1, 2, 3, 4, 5], "words": ["b", "a", "c"], "s": "Hello, Wörld", "b64": "aGVsbG8="}

VALUES = [
    # strings (indices are code points)
    ("'hello'.charAt(1)", "string", "e"),
    ("'hello'.charAt(5)", "string", ""),
    ("body.s.charAt(8)", "string", "ö"),
    ("'hello mellow'.indexOf('ello')", "int", 1),
    ("'hello mellow'.indexOf('ello', 2)", "int", 7),
    ("'hello'.indexOf('')", "int", 0),
    ("'hello'.indexOf('', 9)", "int", 5),
    ("'hello'.indexOf('z')", "int", -1),
    ("body.s.indexOf('r')", "int", 9),
    ("'hello mellow'.lastIndexOf('ello')", "int", 7),
    ("'hello mellow'.lastIndexOf('ello', 6)", "int", 1),
    ("'hello'.lastIndexOf('')", "int", 5),
    ("'ab'.lastIndexOf('abc')", "int", -1),
    ("'TacoCat ÀB'.lowerAscii()", "string", "tacocat Àb"),
    ("'TacoCat àb'.upperAscii()", "string", "TACOCAT àB"),
    ("'hello hello'.replace('he', 'we')", "string", "wello wello"),
    ("'hello hello'.replace('he', 'we', 1)", "string", "wello hello"),
    ("'hello hello'.replace('he', 'we', 0)", "string", "hello hello"),
    ("'hello hello'.replace('he', 'we', -1)", "string", "wello wello"),
    ("'testing'.replace('ing', 'ed', 0)", "string", "testing"),
    ("'a,b,c'.split(',')", "list", ["a", "b", "c"]),
    ("'a,b,c'.split(',', 2)", "list", ["a", "b,c"]),
    ("'a,b,c'.split(',', 0)", "list", []),
    ("'a,b,c'.split(',', -1)", "list", ["a", "b", "c"]),
    ("'abc'.split('')", "list", ["a", "b", "c"]),
    ("''.split(',')", "list", [""]),
    ("'refs/head/master'.split('/')[2]", "string", "master"),
    ("'tacocat'.substring(4)", "string", "cat"),
    ("'tacocat'.substring(0, 4)", "string", "taco"),
    ("'tacocat'.substring(7)", "string", ""),
    ("'  \\t trim me\\n\\u00a0'.trim()", "string", "trim me"),
    ("['a', 'b'].join()", "string", "ab"),
    ("['a', 'b'].join('-')", "string", "a-b"),
    ("[].join('-')", "string", ""),
    ("'gums'.reverse()", "string", "smug"),
    ("body.s.reverse()", "string", "dlröW ,olleH"),
    ("strings.quote('a\"b\\n\\\\')", "string", '"a\\"b\\n\\\\"'),
    ("'%s and %s'.format(['a', 1])", "string", "a and 1"),
    ("'%d%%'.format([50])", "string", "50%"),
    ("'%.3f %e'.format([3.14159, 1234.5])", "string", "3.142 1.234500e+03"),
    ("'%x %X %o %b'.format([255, 255, 8, 5])", "string", "ff FF 10 101"),
    ("'%s'.format([[1, 'a', 2.5, true, null]])", "string", "[1, a, 2.5, true, null]"),
    ("'%s'.format([{'b': 1, 'a': 2}])", "string", "{a: 2, b: 1}"),
    ("'%x'.format(['hi'])", "string", "6869"),
    ("'%d'.format([1.5])", "string", "1.5"),
    # encoders
    ("base64.encode(b'hello')", "string", "aGVsbG8="),
    ("base64.decode(body.b64)", "bytes", "aGVsbG8="),
    ("string(base64.decode('aGVsbG8'))", "string", "hello"),
    ("base64.decode(body.b64) == b'hello'", "bool", True),
    # sets (heterogeneous numeric equality)
    ("sets.contains(body.numbers, [1, 6])", "bool", False),
    ("sets.contains(body.numbers, [1, 5])", "bool", True),
    ("sets.contains([], [])", "bool", True),
    ("sets.contains([1, 2], dyn([2.0]))", "bool", True),
    ("sets.equivalent([1, 2, 2], [2, 1])", "bool", True),
    ("sets.equivalent([1], [1, 2])", "bool", False),
    ("sets.intersects(body.words, ['z', 'a'])", "bool", True),
    ("sets.intersects([1], [])", "bool", False),
    # lists
    ("[1,2,3,4].slice(1,3)", "list", [2, 3]),
    ("[1,2,3,4].slice(4,4)", "list", []),
    ("[1,[2,[3,[4]]]].flatten()", "list", [1, 2, [3, [4]]]),
    ("[1,[2,[3,[4]]]].flatten(2)", "list", [1, 2, 3, [4]]),
    ("[1,2,[],[],[3,4]].flatten()", "list", [1, 2, 3, 4]),
    ("[3, 1, 2].sort()", "list", [1, 2, 3]),
    ("body.words.sort()", "list", ["a", "b", "c"]),
    ("[{'n': 'x', 's': 2}, {'n': 'y', 's': -1}].sortBy(e, e.s).map(e, e.n)", "list", ["y", "x"]),
    ("[1, 2, 2, 3, 1.0].distinct()", "list", [1, 2, 3]),
    ("['b', 'b', 'c', 'a', 'c'].distinct()", "list", ["b", "c", "a"]),
    ("[5, 3, 1, 2].reverse()", "list", [2, 1, 3, 5]),
    ("lists.range(4)", "list", [0, 1, 2, 3]),
    ("lists.range(0)", "list", []),
    # math
    ("math.greatest(body.numbers)", "double", 5.0),
    ("math.greatest(1, 2.5)", "double", 2.5),
    ("math.greatest(-1, -2, -3)", "int", -1),
    ("math.least([3, 1, 2])", "int", 1),
    ("math.least(1u, 2u)", "uint", 1),
    ("math.ceil(1.2)", "double", 2.0),
    ("math.floor(-1.2)", "double", -2.0),
    ("math.round(2.5)", "double", 3.0),
    ("math.round(-2.5)", "double", -3.0),
    ("math.round(0.49999999999999994)", "double", 0.0),
    ("math.trunc(-1.7)", "double", -1.0),
    ("math.abs(-5)", "int", 5),
    ("math.abs(-5.5)", "double", 5.5),
    ("math.sign(-3)", "int", -1),
    ("math.sign(0.0)", "double", 0.0),
    ("math.sign(7u)", "uint", 1),
    ("math.isNaN(0.0/0.0)", "bool", True),
    ("math.isInf(1.0/0.0)", "bool", True),
    ("math.isFinite(1.0)", "bool", True),
    ("math.sqrt(16)", "double", 4.0),
    ("math.isNaN(math.sqrt(-1.0))", "bool", True),
    ("math.bitAnd(6, 3)", "int", 2),
    ("math.bitOr(6u, 3u)", "uint", 7),
    ("math.bitXor(6, 3)", "int", 5),
    ("math.bitNot(0)", "int", -1),
    ("math.bitShiftLeft(1, 63)", "int", -9223372036854775808),
    ("math.bitShiftLeft(1, 64)", "int", 0),
    ("math.bitShiftRight(-1, 60)", "int", 15),
    ("math.bitShiftRight(256u, 4)", "uint", 16),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("expression", "type_name", "value"), VALUES, ids=[v[0] for v in VALUES])
def test_extension_values(backend: str, expression: str, type_name: str, value: Any) -> None:
    assert evaluate(backend, expression, BODY) == (type_name, value)


ERRORS = [
    ("'hello'.charAt(6)", "index out of range: 6"),
    ("'hello'.charAt(-1)", "index out of range: -1"),
    ("'hello'.indexOf('l', -1)", "index out of range: -1"),
    ("'tacocat'.substring(8)", "index out of range: 8"),
    ("'tacocat'.substring(4, 2)", "invalid substring range. start: 4, end: 2"),
    ("dyn([1, 2]).join()", "join: invalid input: 1"),
    (
        "'%d'.format([dyn('x')])",
        "error during formatting: decimal clause can only be used on ints, uints, and doubles, was given string",
    ),
    ("'%s %s'.format(dyn(['x']))", "index 1 out of range"),
    ("'%z'.format(dyn([1]))", 'could not parse formatting clause: unrecognized formatting clause "z"'),
    ("base64.decode('a?==')", "illegal base64 data at input byte 1"),
    ("[1,2].slice(-1, 1)", "cannot slice(-1, 1), negative indexes not supported"),
    ("[1,2].slice(2, 1)", "cannot slice(2, 1), start index must be less than or equal to end index"),
    ("[1,2].slice(0, 3)", "cannot slice(0, 3), list is length 2"),
    ("[1].flatten(-1)", "level must be non-negative"),
    ("[1, 'a'].sort()", "list elements must have the same type"),
    ("dyn([[1]]).sort()", "list elements must be comparable"),
    ("math.greatest(dyn([]))", "math.@max(list) argument must not be empty"),
    ("math.least(dyn([1, 'a']))", "no such overload: math.@min"),
    ("math.abs(-9223372036854775807 - 1)", "integer overflow"),
    ("math.bitShiftLeft(1, -1)", "math.bitShiftLeft() negative offset: -1"),
    ("math.ceil(dyn(1))", "no such overload: math.ceil(int)"),
    ("sets.contains(dyn('a'), [1])", "no such overload: sets.contains(string, list)"),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("expression", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_extension_errors(backend: str, expression: str, message: str) -> None:
    with pytest.raises(CelEvalError) as info:
        evaluate(backend, expression, BODY)
    assert str(info.value).endswith(f"failed to evaluate: {message}")
