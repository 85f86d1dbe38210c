"""Core CEL semantics as Tekton sees them (cel-go), identical on every backend.

JSON numbers are doubles, ``has()`` guards only the last selection, missing keys and overloads
give cel-go's messages, ``&&``/``||`` absorb errors, and parse/check errors use cel-go's layout.
"""

# ruff: noqa: E501  (expression tables read best one case per line)

from __future__ import annotations

from typing import Any

import pytest

from kfp_triggers.errors import CelCompileError, CelEvalError
from tests.unit.cel_support import BACKENDS, environment, evaluate

BODY: dict[str, Any] = {
    "count": 1,
    "measure": 1.7,
    "name": "testing",
    "flag": True,
    "nothing": None,
    "test": {"other": "thing"},
    "list": [1, "two", {"three": 3}],
    "event": [{"testing": "value"}, {"testing": "another"}],
    "commits": [{"modified": ["models/a.py", "README.md"]}, {"modified": ["docs/x.md"]}],
}
HEADER = {"X-Test": ["test-value"], "Content-Type": ["application/json"]}

VALUES = [
    # JSON numbers are doubles; int literals stay ints
    ("body.count", "double", 1.0),
    ("body.count + 1.0", "double", 2.0),
    ("int(body.count) + 3", "int", 4),
    ("body.count + 3.5", "double", 4.5),
    ("body.measure * 3.0", "double", 5.1),
    ("body.count == 1", "bool", True),
    ("body.count == 1u", "bool", True),
    ("body.count < 2", "bool", True),
    ("body.count in [1]", "bool", True),
    ("1 < 1.5 && 2u > 1 && 1.0 <= 1u", "bool", True),
    ("dyn(1) == 1.0", "bool", True),
    ("dyn(1u) == 1", "bool", True),
    ("dyn('1') == 1", "bool", False),
    ("1u + 2u", "uint", 3),
    ("18446744073709551615u", "uint", 18446744073709551615),
    ("-9223372036854775808", "int", -9223372036854775808),
    ("7 / 2", "int", 3),
    ("-7 / 2", "int", -3),
    ("-7 % 3", "int", -1),
    ("7.0 / 2.0", "double", 3.5),
    ("1.0 / 0.0", "double", "Infinity"),
    ("0.0 / 0.0", "double", "NaN"),
    ("0x1F", "int", 31),
    ("1e3", "double", 1000.0),
    (".5 + 1.5e1", "double", 15.5),
    # strings, bytes and literals
    ("'a' + \"b\" + '''c''' + r'\\n'", "string", "abc\\n"),
    ("'\\u00e9\\x41\\101'", "string", "éAA"),
    ("b'\\xff\\x00' + b'a'", "bytes", "/wBh"),
    ("size('héllo')", "int", 5),
    ("size(b'h\\xc3\\xa9')", "int", 3),
    ("'abc'.size()", "int", 3),
    ("'hello'.contains('ell') && 'hello'.startsWith('he') && 'hello'.endsWith('lo')", "bool", True),
    ("'hello'.matches('^h.*o$')", "bool", True),
    ("matches('hello', 'l+')", "bool", True),
    # has(): only the last selection is tested
    ("has(body.name)", "bool", True),
    ("has(body.nope)", "bool", False),
    ("has(body.nothing)", "bool", True),
    ("has(body.test.other)", "bool", True),
    ("has(body.test.second) ? body.test.second : 'default'", "string", "default"),
    (
        "has(body.test.third) && has(body.test.third.thing) ? body.value.third.thing : 'default'",
        "string",
        "default",
    ),
    ("has(body.name.nested)", "bool", False),
    ("has(header.nope)", "bool", False),
    ("has(extensions.foo)", "bool", True),
    # variables
    ("header['X-Test'][0]", "string", "test-value"),
    ("header['X-Test']", "list", ["test-value"]),
    ("extensions.foo", "string", "bar"),
    ("extensions.n", "double", 3.0),
    ("requestURL", "string", "https://example.com/testing?param=value"),
    ("body.nothing == null", "bool", True),
    ("body.list[2].three", "double", 3.0),
    ("body.list[1.0]", "string", "two"),
    ("body['name']", "string", "testing"),
    # logic and error absorption
    ("body.nope == 1 || true", "bool", True),
    ("true || body.nope == 1", "bool", True),
    ("body.nope == 1 && false", "bool", False),
    ("false && body.nope", "bool", False),
    ("body.flag ? 'yes' : body.nope", "string", "yes"),
    ("!body.flag", "bool", False),
    ("!!body.flag", "bool", True),
    # macros
    ("body.event.map(s, s['testing'])", "list", ["value", "another"]),
    ("body.event.map(s, s.testing == 'value', s.testing)", "list", ["value"]),
    ("body.event.filter(s, s.testing != 'value').size()", "int", 1),
    ("body.commits.exists(c, c.modified.exists(f, f.startsWith('models/')))", "bool", True),
    ("body.commits.all(c, c.modified.size() > 0)", "bool", True),
    ("body.commits.exists_one(c, c.modified.size() == 1)", "bool", True),
    ("body.test.all(k, k == 'other')", "bool", True),
    ("[1, 0].exists(x, 1 / x == 1)", "bool", True),
    ("[0, 1].all(x, 1 / x == 5)", "bool", False),
    ("{'a': 1}.exists(k, body.nope == k) || true", "bool", True),
    # conversions
    ("int('42') + int(2.9) + int(-2.9)", "int", 42),
    ("uint(3.9)", "uint", 3),
    ("double('1e3')", "double", 1000.0),
    (
        "string(1.5) + string(1234567.0) + string(true) + string(1u) + string(-3)",
        "string",
        "1.51.234567e+06true1-3",
    ),
    ("string(0.000001) + ' ' + string(100000.0)", "string", "1e-06 100000"),
    ("string(b'abc')", "string", "abc"),
    ("bytes('é')", "bytes", "w6k="),
    ("bool('true') && !bool('f')", "bool", True),
    ("type(1) == int && type('a') == string && type(body) == map", "bool", True),
    ("type(body.count)", "type", "double"),
    ("type(null)", "type", "null_type"),
    ("dyn(body.list)", "list", [1.0, "two", {"three": 3.0}]),
    # timestamps and durations
    ("timestamp('2023-01-01T10:00:00Z') + duration('1h30m')", "timestamp", "2023-01-01T11:30:00Z"),
    ("timestamp('2023-01-01T10:00:00.5+02:00')", "timestamp", "2023-01-01T10:00:00.5+02:00"),
    ("timestamp('2023-01-02T00:00:00Z') - timestamp('2023-01-01T00:00:00Z')", "duration", "86400s"),
    ("duration('1.5s')", "duration", "1.5s"),
    ("duration('-90m')", "duration", "-5400s"),
    ("timestamp('2023-03-04T05:06:07Z').getFullYear()", "int", 2023),
    ("timestamp('2023-03-04T05:06:07Z').getMonth()", "int", 2),
    ("timestamp('2023-03-04T05:06:07Z').getDayOfMonth()", "int", 3),
    ("timestamp('2023-03-04T05:06:07Z').getDate()", "int", 4),
    ("timestamp('2023-03-04T05:06:07Z').getDayOfWeek()", "int", 6),
    ("timestamp('2023-03-04T05:06:07Z').getHours('+02:00')", "int", 7),
    ("timestamp('2023-03-04T05:06:07Z').getHours('America/New_York')", "int", 0),
    ("duration('3h2m').getMinutes()", "int", 182),
    ("int(timestamp('1970-01-01T00:01:00Z'))", "int", 60),
    ("string(timestamp(0))", "string", "1970-01-01T00:00:00Z"),
    ("timestamp('2023-01-01T00:00:00Z') < timestamp('2023-01-01T00:00:01Z')", "bool", True),
    # places where Google's C++ runtime differs from cel-go; both backends must answer as cel-go
    ("string(0.0/0.0) + ' ' + string(-1.0/0.0) + ' ' + string(1.0/0.0)", "string", "NaN -Inf +Inf"),
    ("''.split('')", "list", []),
    ("'héllo'.lastIndexOf('l', 5)", "int", -1),
    ("'héllo'.lastIndexOf('l', 4)", "int", 3),
    ("{'b': 1, 'a': 2}.map(k, k)", "list", ["b", "a"]),
    ("body.test.filter(k, true)", "list", ["other"]),
    ("1 < 1.5 && 1u < 2 && -1 < 1u && 2.5 > 2u", "bool", True),
    # aggregates
    ("[1, 'a', [true]]", "list", [1, "a", [True]]),
    ("{'a': 1, 'b': [2u]}", "map", {"a": 1, "b": [2]}),
    ("{1: 'x', 2: 'y'}[1]", "string", "x"),
    ("{1: 'x'}[dyn(1u)]", "string", "x"),
    ("{1: 'x'}[dyn(1.0)]", "string", "x"),
    ("'a' in {'a': 1}", "bool", True),
    ("{1.5: 'x'}[1.5]", "string", "x"),
    ("{null: 'x'}[null]", "string", "x"),
    ("dyn(1) in {true: 'x'}", "bool", False),
    ("true in {true: 'x'}", "bool", True),
    ("[1, 2] + [3]", "list", [1, 2, 3]),
    ("[\n  'opened',\n  'synchronize',\n]", "list", ["opened", "synchronize"]),
    ("{'a': 1,}", "map", {"a": 1}),
    ("[1, [2]] == [1.0, [2u]]", "bool", True),
    ("{'a': [1]} == dyn({'a': [1.0]})", "bool", True),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("expression", "type_name", "value"), VALUES, ids=[v[0] for v in VALUES])
def test_values(backend: str, expression: str, type_name: str, value: Any) -> None:
    extensions = {"foo": "bar", "n": 3}
    assert evaluate(backend, expression, BODY, HEADER, extensions) == (type_name, value)


EVAL_ERRORS = [
    ("body.count + 1", "no such overload"),
    ("body.val", "no such key: val"),
    ("body.test.nope", "no such key: nope"),
    ("has(body.nope.deeper)", "no such key: nope"),
    ("has(body.pull_request.repository.owner) ? 1 : 2", "no such key: pull_request"),
    ("header['X-Test'][3]", "index out of bounds: 3"),
    ("body.list['a']", "unsupported index type 'string' in list"),
    ("body.list[1.5]", "unsupported index value 1.5 in list"),
    ("body.name.nested", "no such key: nested"),
    ("{'a': 1}[dyn(1.5)]", "no such key: 1.5"),
    ("{'a': 1}[dyn(2)]", "no such key: 2"),
    ("{1: 'x'}[dyn(true)]", "no such key: true"),
    ("{[1]: 'x'}", "unsupported map key type: list"),
    ("1 / 0", "division by zero"),
    ("1 % 0", "modulus by zero"),
    ("9223372036854775807 + 1", "integer overflow"),
    ("-9223372036854775807 - 2", "integer overflow"),
    ("0u - 1u", "unsigned integer overflow"),
    ("body.nope == 1 || false", "no such key: nope"),
    ("true && body.nope", "no such key: nope"),
    ("dyn(1) && true", "no such overload"),
    ("dyn('a') ? 1 : 2", "no such overload"),
    ("body.event.all(e, e.missing)", "no such key: missing"),
    ("body.event.exists_one(e, e.missing)", "no such key: missing"),
    ("body.name.all(c, true)", "unsupported comprehension range type: types.String"),
    ("int('x')", "type conversion error from 'string' to 'int'"),
    ("int('9223372036854775808')", "type conversion error from 'string' to 'int'"),
    ("int(1e19)", "integer overflow"),
    ("uint(-1)", "unsigned integer overflow"),
    ("double('1_000')", "type conversion error from 'string' to 'double'"),
    ("bool('yes')", "type conversion error from 'string' to 'bool'"),
    ("string(b'\\xff')", "invalid UTF-8 in bytes, cannot convert to string"),
    (
        "timestamp('2023-13-01T00:00:00Z')",
        "type conversion error from 'string' to 'google.protobuf.Timestamp'",
    ),
    ("duration('1x')", "type conversion error from 'string' to 'google.protobuf.Duration'"),
    ("timestamp(253402300800)", "timestamp overflow"),
    ("timestamp('9999-12-31T23:59:59Z') + duration('1s')", "timestamp overflow"),
    ("timestamp(0).getHours('Nowhere/City')", "unknown time zone Nowhere/City"),
    ("0.0/0.0 < 1.0", "NaN values cannot be ordered"),
    ("dyn(0.0/0.0) < 1", "NaN values cannot be ordered"),
    ("math.greatest(0.0/0.0, 1)", "NaN values cannot be ordered: math.@max"),
    ("int(dyn(true))", "no such overload: int(bool)"),
    ("int(body.flag)", "no such overload: int(bool)"),
    ("'abc'.matches('[')", "error parsing regexp: missing closing ]: `[`"),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("expression", "message"), EVAL_ERRORS, ids=[e[0] for e in EVAL_ERRORS])
def test_evaluation_errors(backend: str, expression: str, message: str) -> None:
    with pytest.raises(CelEvalError) as info:
        evaluate(backend, expression, BODY, HEADER)
    assert str(info.value).endswith(f"failed to evaluate: {message}")


COMPILE_ERRORS = [
    (
        "body.value = 'testing'",
        "failed to parse expression \"body.value = 'testing'\": ERROR: <input>:1:12: Syntax error:",
    ),
    ("header['X-Test", "ERROR: <input>:1:8: Syntax error: token recognition error at: ''X-Test'"),
    ("1 +", "ERROR: <input>:1:3: Syntax error:"),
    ("size('a',)", "ERROR: <input>:1:10: Syntax error: mismatched input ')'"),
    ("[1,,]", "ERROR: <input>:1:4: Syntax error: mismatched input ','"),
    ("in", "reserved identifier: in"),
    ("has(body)", "invalid argument to has() macro"),
    ("[1].all(1, true)", "argument must be a simple name"),
    ("[1].map(1, 2)", "argument is not an identifier"),
    ("math.greatest()", "math.greatest() requires at least one argument"),
    ("math.least('a')", "math.least() invalid single argument value"),
    ("math.least(1, 'a')", "math.least() simple literal arguments must be numeric"),
    ("9223372036854775808", "invalid int literal"),
    ("'\\q'", "Syntax error: invalid escape sequence"),
    ("test.value", "check failed: ERROR: <input>:1:1: undeclared reference to 'test' (in container '')"),
    ("trunca(body.sha, 7)", "ERROR: <input>:1:7: undeclared reference to 'trunca' (in container '')"),
    ("body.sha.trunca(7)", "ERROR: <input>:1:16: undeclared reference to 'trunca' (in container '')"),
    (
        "1 + 'a'",
        "ERROR: <input>:1:3: found no matching overload for '_+_' applied to '(int, string)'\n | 1 + 'a'\n | ..^",
    ),
    ("1 == 1.0", "found no matching overload for '_==_' applied to '(int, double)'"),
    ("{1: 'x'}[1u]", "found no matching overload for '_[_]' applied to '(map(int, string), uint)'"),
    ("{'a': [1]} == {'a': [1.0]}", "applied to '(map(string, list(int)), map(string, list(double)))'"),
    ("'a'.truncate('b')", "found no matching overload for 'truncate' applied to 'string.(string)'"),
    (
        "requestURL.match('a', 'b')",
        "found no matching overload for 'match' applied to 'string.(string, string)'",
    ),
    ("'a'.x", "type 'string' does not support field selection"),
    ("1 && true", "expected type 'bool' but found 'int'"),
    ("true ? 1 : 'a'", "found no matching overload for '_?_:_' applied to '(bool, int, string)'"),
    ("[1].all(x, x)", "expected type 'bool' but found 'int'"),
    ("1.all(x, true)", "expression of type 'int' cannot be range of a comprehension"),
    ("cel.bind(x, 1, x)", "undeclared reference to 'cel'"),
    (
        "'%d'.format(['x'])",
        "ERROR: <input>:1:14: error during formatting: decimal clause can only be used on ints, uints, and doubles, was given string",
    ),
    ("'%s %s'.format(['x'])", "ERROR: <input>:1:15: index 1 out of range"),
    ("'%s'.format(['a', 'b'])", "too many arguments supplied to string.format (expected 1, got 2)"),
    ("'%.101f'.format([1.0])", "precision 101 exceeds maximum allowed precision 100"),
    ("'%q'.format([1])", 'could not parse formatting clause: unrecognized formatting clause "q"'),
    (
        "'%b'.format([[1, timestamp(0)]])",
        "only ints, uints, and bools can be formatted as binary, was given list",
    ),
    ("body.a.b{c: 1}", "undeclared reference"),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("expression", "message"), COMPILE_ERRORS, ids=[e[0] for e in COMPILE_ERRORS])
def test_compile_errors(backend: str, expression: str, message: str) -> None:
    env = environment(backend)
    with pytest.raises(CelCompileError) as info:
        env.compile(expression)
    assert message in str(info.value)
    assert env.check(expression) == str(info.value)


def test_check_failures_are_reported_with_tektons_prefix() -> None:
    problem = environment("celpy").check("test.value")
    assert problem is not None
    assert problem.startswith('expression "test.value" check failed: ERROR: <input>:1:1: ')
    assert problem.endswith("\n | test.value\n | ^")


@pytest.mark.parametrize("backend", BACKENDS)
def test_valid_expression_checks_clean(backend: str) -> None:
    assert environment(backend).check("header.match('X-GitHub-Event', 'push') && body.ref == 'main'") is None


@pytest.mark.parametrize("backend", BACKENDS)
def test_runtime_error_inside_a_list_literal_propagates(backend: str) -> None:
    with pytest.raises(CelEvalError, match=r"no such key: nope\Z"):
        evaluate(backend, "[1, body.nope, 3]", BODY)
