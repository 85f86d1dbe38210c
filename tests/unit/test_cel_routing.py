"""Which expressions the C++ backend runs natively and which it hands to the in-process evaluator."""

from __future__ import annotations

import pytest

from kfp_triggers.cel.backend import parse_and_check
from kfp_triggers.cel.routing import routing_reason
from tests.unit.cel_support import CEL_EXPR_AVAILABLE, environment

NATIVE = [
    "body.ref == 'refs/heads/main'",
    "header['X-Github-Event'][0] == 'push' && body.ref.split('/')[2] == 'main'",
    "body.commits.exists(c, c.modified.exists(f, f.startsWith('models/')))",
    "body.action in ['opened', 'synchronize'] && body.pull_request.head.sha.size() > 7",
    "body.count > 1 && int(1.5) == 1",
    "'ab'.reverse() == 'ba' && base64.encode(b'x') != '' && math.abs(-1) == 1",
]

ROUTED = [
    ("[2, 1].sortBy(x, x)", "sortBy"),
    ("[1, 2].reverse()", "reverse on a list"),
    ("timestamp('2020-01-01T00:00:00Z')", "timestamp"),
    ("'%s'.format([1])", "format"),
    ("int(body.count)", "int() of a dyn value"),
    ("string(2.5)", "string() of a double value"),
    ("body.a / 2.0 > 1.0", "a division that may produce NaN"),
    ("math.sqrt(2.0)", "math.sqrt"),
    ("'abc'.lastIndexOf('b', 1)", "lastIndexOf with an offset"),
    ("body.s.split(body.sep)", "split without a literal separator"),
    ("body.m.map(k, k)", "iteration order over a map"),
    ("header.match('X-GitHub-Event', 'push')", "match() has no C++ implementation"),
    ("body.sha.truncate(7)", "truncate() has no C++ implementation"),
    ("[2, 1].sort()", "sort() has no C++ implementation"),
    ("sets.contains([1], [1])", "sets.contains() has no C++ implementation"),
    ("lists.range(3)", "lists.range() has no C++ implementation"),
]


@pytest.mark.parametrize("expression", NATIVE)
def test_everyday_filters_are_not_routed(expression: str) -> None:
    assert routing_reason(parse_and_check(expression)) is None


@pytest.mark.parametrize(("expression", "reason"), ROUTED)
def test_expressions_where_cpp_differs_are_routed(expression: str, reason: str) -> None:
    assert routing_reason(parse_and_check(expression)) == reason


@pytest.mark.skipif(not CEL_EXPR_AVAILABLE, reason="cel-expr-python is not installed")
@pytest.mark.parametrize("expression", NATIVE)
def test_cel_expr_backend_compiles_everyday_filters_natively(expression: str) -> None:
    from kfp_triggers.cel.celexpr_backend import NativeProgram

    assert isinstance(environment("cel-expr").compile(expression).program, NativeProgram)


@pytest.mark.skipif(not CEL_EXPR_AVAILABLE, reason="cel-expr-python is not installed")
def test_cel_expr_errors_are_reported_in_cel_gos_words() -> None:
    from kfp_triggers.cel.celexpr_backend import translate_error

    assert translate_error('NOT_FOUND: Key not found in map : "x"') == "no such key: x"
    assert translate_error("UNKNOWN: No matching overloads found : _+_(double, int64)") == "no such overload"
    assert translate_error("INVALID_ARGUMENT: divide by zero") == "division by zero"
    assert translate_error("UNKNOWN: something else") == "something else"
