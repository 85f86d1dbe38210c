"""The always-available backend: cel-python's parser with our checker and closure evaluator.

cel-python's own evaluator departs from cel-go in ways Tekton users would notice (``body.count
+ 1`` succeeds, ``has(a.b)`` hides a missing ``a``, ``1 == 1.0`` is an error at run time, string
functions return Python types), and its interpreter costs hundreds of microseconds per
evaluation. So this backend uses cel-python only to parse; evaluation runs compiled Python
closures over plain Python data, which needs no per-event conversion of the body at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kfp_triggers.cel import interp, library
from kfp_triggers.cel.backend import Checked
from kfp_triggers.cel.values import EvalError
from kfp_triggers.errors import CelEvalError
from kfp_triggers.golang.fmt import quote
from kfp_triggers.secretstore import SecretStore


@dataclass(frozen=True)
class InterpretedProgram:
    """A compiled expression: its text (for messages) and the evaluation function."""

    text: str
    fn: interp.Fn


def fail(text: str, message: str) -> CelEvalError:
    """Tekton's wording for an evaluation error of one expression."""
    return CelEvalError(f"expression {quote(text)} failed to evaluate: {message}")


class CelPyBackend:
    """Evaluates checked expressions in-process; see the module docstring."""

    name = "celpy"

    def __init__(self, secrets: SecretStore | None = None) -> None:
        self.library = library.build(secrets)

    def compile(self, checked: Checked) -> InterpretedProgram:
        return InterpretedProgram(checked.text, interp.compile_expr(checked.tree, self.library))

    def bind(self, variables: Mapping[str, Any]) -> dict[str, Any]:
        return dict(variables)

    def evaluate(self, program: InterpretedProgram, bound: dict[str, Any]) -> Any:
        try:
            return program.fn(bound)
        except EvalError as exc:
            raise fail(program.text, exc.message) from None
        except RecursionError:
            raise fail(program.text, "expression recursion limit exceeded") from None
