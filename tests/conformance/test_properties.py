"""Property tests: the two CEL backends agree, and the fast JSON path agrees with Go's rules.

Expressions are generated well-typed by construction (so that almost every one passes the
checker and reaches evaluation) over int, uint, double, string, bool, list and map values and a
generated JSON body. Both backends must give the same value, or both an error. The fast JSON
path (orjson) must never call a document a JSON object when Go's decoder refuses it, and must
write the same document as the standard library. Runs are derandomized and bounded, so a
failure reproduces and the tests take about a second.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kfp_triggers.cel import CelEnvironment
from kfp_triggers.errors import CelCompileError, CelEvalError
from kfp_triggers.golang import fastjson
from kfp_triggers.golang import json as gojson
from tests.conformance.cases import same
from tests.unit.cel_support import CEL_EXPR_AVAILABLE

SETTINGS = settings(
    derandomize=True,
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# -- expressions --------------------------------------------------------------------------------
_INTS = st.sampled_from(
    ["0", "1", "-1", "7", "-7", "2", "9223372036854775807", "-9223372036854775808", "0x10"]
)
_UINTS = st.sampled_from(["0u", "1u", "3u", "18446744073709551615u"])
_DOUBLES = st.sampled_from(["0.0", "-0.0", "1.5", "-2.5", "1e300", "9223372036854775808.0", "0.1", "3.0"])
_STRINGS = st.sampled_from(["''", "'a'", "'abc'", "'A b C'", "'é☃'", "'10'", "'-3'", "'1.5'", "'true'"])
_FIELDS = ("n", "s", "l", "m", "missing")
_TIMES = st.sampled_from(
    ["timestamp('2009-02-13T23:31:30Z')", "timestamp('1970-01-01T00:00:00.123456789+05:30')", "timestamp(0)",
     "(timestamp('2009-02-13T23:31:30Z') + duration('1h30m'))", "timestamp('9999-12-31T23:59:59Z')"]
)  # fmt: skip
_DURATIONS = st.sampled_from(
    ["duration('1h')", "duration('-1.5s')", "duration('0')", "duration('1ns')", "duration('100h1m')",
     "(timestamp('2009-02-13T23:31:30Z') - timestamp(0))"]
)  # fmt: skip


def _binary(strategy: st.SearchStrategy[str], ops: str) -> st.SearchStrategy[str]:
    return st.tuples(strategy, st.sampled_from(ops.split()), strategy).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})"
    )


def _typed() -> dict[str, st.SearchStrategy[str]]:
    """Generators of expressions of each type, built up in three levels of nesting."""
    ints, uints, doubles, strings = _INTS, _UINTS, _DOUBLES, _STRINGS
    lists = st.just("[1, 2, 3]")
    bools = st.sampled_from(["true", "false"])
    for _ in range(3):
        ints, uints, doubles, strings, lists, bools = (
            st.one_of(
                ints,
                _binary(ints, "+ - * / %"),
                ints.map(lambda a: f"-{a}"),
                strings.map(lambda s: f"size({s})"),
                doubles.map(lambda d: f"int({d})"),
                uints.map(lambda u: f"int({u})"),
                strings.map(lambda s: f"int({s})"),
                st.tuples(lists, ints).map(lambda t: f"{t[0]}[{t[1]}]"),
                st.tuples(bools, ints, ints).map(lambda t: f"({t[0]} ? {t[1]} : {t[2]})"),
                ints.map(lambda a: f"math.abs({a})"),
                st.tuples(strings, strings).map(lambda t: f"{t[0]}.indexOf({t[1]})"),
                st.tuples(strings, strings, ints).map(lambda t: f"{t[0]}.lastIndexOf({t[1]}, {t[2]})"),
                st.tuples(ints, ints).map(lambda t: f"math.bitAnd({t[0]}, {t[1]})"),
                st.tuples(ints, ints).map(lambda t: f"math.greatest({t[0]}, {t[1]}, 3)"),
                _TIMES.map(lambda t: f"{t}.getHours()"),
                _TIMES.map(lambda t: f"{t}.getDayOfYear('America/New_York')"),
                _DURATIONS.map(lambda d: f"{d}.getMinutes()"),
                _TIMES.map(lambda t: f"int({t})"),
                strings.map(lambda s: f"size(bytes({s}))"),
            ),
            st.one_of(uints, _binary(uints, "+ - * / %"), ints.map(lambda a: f"uint({a})")),
            st.one_of(
                doubles,
                _binary(doubles, "+ - * /"),
                ints.map(lambda a: f"double({a})"),
                st.just("body.n"),
                doubles.map(lambda d: f"math.floor({d})"),
                doubles.map(lambda d: f"math.round({d})"),
                doubles.map(lambda d: f"math.sign({d})"),
                uints.map(lambda u: f"double({u})"),
                strings.map(lambda s: f"double({s})"),
            ),
            st.one_of(
                strings,
                _binary(strings, "+"),
                ints.map(lambda a: f"string({a})"),
                uints.map(lambda a: f"string({a})"),
                st.tuples(strings, ints).map(lambda t: f"{t[0]}.substring({t[1]})"),
                strings.map(lambda s: f"{s}.upperAscii()"),
                strings.map(lambda s: f"{s}.reverse()"),
                st.just("body.s"),
                st.tuples(lists, strings).map(lambda t: f"{t[0]}.map(x, string(x)).join({t[1]})"),
                st.tuples(strings, ints).map(lambda t: f"{t[0]}.charAt({t[1]})"),
                st.tuples(strings, strings, strings).map(lambda t: f"{t[0]}.replace({t[1]}, {t[2]})"),
                strings.map(lambda s: f"{s}.trim()"),
                strings.map(lambda s: f"strings.quote({s})"),
                strings.map(lambda s: f"string(base64.decode(base64.encode(bytes({s}))))"),
                _TIMES.map(lambda t: f"string({t})"),
                _DURATIONS.map(lambda d: f"string({d})"),
                st.tuples(strings, ints).map(lambda t: f"{t[0]}.split('', {t[1]}).join('-')"),
                doubles.map(lambda d: f"string({d})"),
            ),
            st.one_of(
                lists,
                st.lists(ints, max_size=3).map(lambda xs: f"[{', '.join(xs)}]"),
                _binary(lists, "+"),
                lists.map(lambda xs: f"{xs}.map(x, x * 2)"),
                lists.map(lambda xs: f"{xs}.filter(x, x % 2 == 0)"),
                lists.map(lambda xs: f"{xs}.slice(0, 1)"),
            ),
            st.one_of(
                bools,
                _binary(ints, "== != < <= > >="),
                _binary(doubles, "== != < >="),
                _binary(strings, "== < >="),
                st.tuples(ints, st.sampled_from(["<", ">=", "=="]), doubles).map(
                    lambda t: f"dyn({t[0]}) {t[1]} {t[2]}"
                ),
                st.tuples(uints, st.sampled_from(["<", "=="]), ints).map(
                    lambda t: f"dyn({t[0]}) {t[1]} {t[2]}"
                ),
                _binary(bools, "&& ||"),
                bools.map(lambda b: f"!{b}"),
                st.tuples(strings, strings).map(lambda t: f"{t[0]}.contains({t[1]})"),
                st.tuples(strings, strings).map(lambda t: f"{t[0]}.startsWith({t[1]})"),
                st.tuples(ints, lists).map(lambda t: f"{t[0]} in {t[1]}"),
                lists.map(lambda xs: f"{xs}.exists(x, x > 1)"),
                lists.map(lambda xs: f"{xs}.all(x, x / x == 1)"),
                st.sampled_from(_FIELDS).map(lambda f: f"has(body.{f})"),
                st.tuples(ints, strings).map(lambda t: f"{{1: {t[1]}, true: {t[0]}}}.size() == 2"),
                st.tuples(ints, ints).map(lambda t: f"type({t[0]}) == type(dyn({t[1]}))"),
                st.tuples(_TIMES, _TIMES).map(lambda t: f"{t[0]} < {t[1]}"),
                st.tuples(_DURATIONS, _DURATIONS).map(lambda t: f"{t[0]} >= {t[1]}"),
                st.tuples(strings, strings).map(lambda t: f"{t[0]}.matches({t[1]})"),
                st.tuples(strings, ints).map(lambda t: f"{{{t[0]}: {t[1]}, 'k': 2}}[{t[0]}] == {t[1]}"),
                st.tuples(lists, lists).map(lambda t: f"sets.contains({t[0]}, {t[1]})"),
            ),
        )
    return {"int": ints, "uint": uints, "double": doubles, "string": strings, "list": lists, "bool": bools}


_EXPRESSIONS = st.one_of(*_typed().values())
_BODIES = st.fixed_dictionaries(
    {
        "n": st.floats(allow_nan=False, allow_infinity=False, width=64),
        "s": st.text(max_size=8),
        "l": st.lists(st.integers(-5, 5), max_size=4),
    },
    optional={"m": st.dictionaries(st.text(max_size=3), st.integers(-3, 3), max_size=3)},
)

_ENVS: dict[str, CelEnvironment] = {}


def _outcome(backend: str, expression: str, body: dict[str, Any]) -> tuple[str, Any]:
    env = _ENVS.setdefault(backend, CelEnvironment(backend=backend))
    activation = env.activation(json.dumps(body).encode(), {}, {}, "")
    try:
        return "value", env.evaluate_value(env.compile(expression), activation)
    except CelCompileError as exc:
        return "compile error", str(exc)
    except CelEvalError as exc:
        return "error", str(exc)


@pytest.mark.skipif(not CEL_EXPR_AVAILABLE, reason="cel-expr-python is not installed")
@SETTINGS
@given(expression=_EXPRESSIONS, body=_BODIES)
def test_backends_agree(expression: str, body: dict[str, Any]) -> None:
    kind, want = _outcome("celpy", expression, body)
    got_kind, got = _outcome("cel-expr", expression, body)
    assert (got_kind, kind == "value" or got) == (kind, kind == "value" or want)
    if kind == "value":
        assert same(want, got), f"{expression}: celpy {want!r}, cel-expr {got!r}"


def test_generated_expressions_mostly_evaluate() -> None:
    """The generator is useful only if its expressions reach evaluation; check a fixed sample."""
    seen: list[str] = []

    @settings(derandomize=True, max_examples=200, deadline=None, database=None)
    @given(expression=_EXPRESSIONS)
    def collect(expression: str) -> None:
        seen.append(_outcome("celpy", expression, {"n": 1.0, "s": "x", "l": [1]})[0])

    collect()
    assert seen.count("compile error") < len(seen) // 10
    assert seen.count("value") > len(seen) // 2


# -- JSON -------------------------------------------------------------------------------------------
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=12,
)
_NOISE = st.sampled_from(
    [b"\x00", b"\xff", b"\xef\xbb\xbf", b"1e400", b'"\\ud800"', b",", b"}", b" ", b"\\", b"\n"]
)


@st.composite
def _documents(draw: st.DrawFn) -> bytes:
    """A JSON document, sometimes damaged: a byte inserted, or the end cut off."""
    data = json.dumps(draw(_JSON | st.dictionaries(st.text(max_size=4), _JSON, max_size=4))).encode()
    how = draw(st.sampled_from(["keep", "insert", "cut"]))
    at = draw(st.integers(0, len(data)))
    if how == "insert":
        data = data[:at] + draw(_NOISE) + data[at:]
    elif how == "cut":
        data = data[:at]
    return data


@SETTINGS
@given(data=_documents())
def test_fast_object_check_never_accepts_what_go_refuses(data: bytes) -> None:
    if fastjson.is_go_object(data):
        assert isinstance(gojson.unmarshal_object(data), dict)


@SETTINGS
@given(value=_JSON)
def test_fast_dumps_writes_the_standard_document(value: Any) -> None:
    fast = fastjson.dumps(value)
    standard = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    assert json.loads(fast) == json.loads(standard)
    if b"e" not in standard and b"." not in standard:
        assert fast == standard  # only the spelling of a float may differ
