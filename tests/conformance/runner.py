"""Runs one conformance case on one backend, the way cel-go's conformance runner does.

The expression is parsed and (unless the case disables it) checked against the case's own
declarations, then evaluated with its bindings. A parse or check error fails the case, even one
that expects an error: cel-go's runner stops there too, as expected errors are evaluation errors.
Backends are built once per declaration set and shared by every case.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from kfp_triggers.cel.backend import Backend, parse_and_check
from kfp_triggers.cel.celpy_backend import CelPyBackend
from kfp_triggers.cel.typesys import T
from kfp_triggers.errors import CelCompileError, CelEvalError
from tests.conformance.cases import Case, same

BACKENDS = ("celpy", "cel-expr")


@dataclass
class Outcome:
    """What a case did on a backend: passed or not, a description, and whether C++ ran it."""

    passed: bool
    detail: str
    native: bool = False


@lru_cache(maxsize=64)
def backend_for(name: str, variables: tuple[tuple[str, T], ...]) -> Backend:
    """One backend per (name, declarations): building a C++ environment is not free."""
    if name == "celpy":
        return CelPyBackend()
    from kfp_triggers.cel.celexpr_backend import CelExprBackend

    return CelExprBackend(variables=dict(variables))


def run(case: Case, backend_name: str) -> Outcome:
    """Parse, check, evaluate ``case`` on ``backend_name`` and compare with what it expects."""
    backend = backend_for(backend_name, tuple(sorted(case.variables.items())))
    try:
        checked = parse_and_check(case.expr, case.variables, strict=not case.disable_check)
    except CelCompileError as exc:
        return Outcome(False, f"compile error: {exc}")
    program = backend.compile(checked)
    native = type(program).__name__ == "NativeProgram"
    try:
        got: Any = backend.evaluate(program, backend.bind(case.bindings))
    except CelEvalError as exc:
        if case.expect_error:
            return Outcome(True, f"error as expected: {exc}", native)
        return Outcome(False, f"unexpected error: {exc}", native)
    if case.expect_error:
        return Outcome(False, f"expected an error, got {got!r}", native)
    if same(case.value, got):
        return Outcome(True, "ok", native)
    return Outcome(False, f"want {case.value!r}, got {got!r}", native)
