"""The small interface both CEL backends implement, and the parts they share.

Every expression is first parsed and type-checked by :mod:`kfp_triggers.cel.syntax` and
:mod:`kfp_triggers.cel.checker`, so compile errors read the same whatever backend runs it. A
backend then turns the checked expression into something it can evaluate against prepared
variables and returns results in the shared value model (:mod:`kfp_triggers.cel.values`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from kfp_triggers.cel import checker, syntax
from kfp_triggers.cel.nodes import Node
from kfp_triggers.cel.typesys import T
from kfp_triggers.errors import CelCompileError
from kfp_triggers.golang.fmt import quote


@dataclass(frozen=True)
class Checked:
    """A parsed and type-checked expression: its text, tree and static types by node id."""

    text: str
    tree: Node
    types: dict[int, T]


def parse_and_check(
    expression: str, variables: Mapping[str, T] | None = None, *, strict: bool = True
) -> Checked:
    """Parse and check as Tekton does; raise :class:`CelCompileError` with Tekton's wording.

    The message is ``failed to parse expression "...": ERROR: ...`` for syntax errors and
    ``expression "..." check failed: ERROR: ...`` for type errors. ``variables`` and ``strict``
    are for the conformance suite (see :func:`kfp_triggers.cel.checker.check`); Tekton always
    checks against its own four variables.
    """
    try:
        tree = syntax.parse(expression)
    except syntax.SyntaxProblemError as exc:
        raise CelCompileError(f"failed to parse expression {quote(expression)}: {exc}") from None
    try:
        types = checker.check(expression, tree, variables, strict=strict)
    except checker.CheckFailedError as exc:
        raise CelCompileError(f"expression {quote(expression)} check failed: {exc}") from None
    return Checked(expression, tree, types)


class Backend(Protocol):
    """What :class:`~kfp_triggers.cel.environment.CelEnvironment` needs from a CEL engine."""

    name: str

    def compile(self, checked: Checked) -> Any:
        """Prepare a checked expression for repeated evaluation."""
        ...

    def bind(self, variables: Mapping[str, Any]) -> Any:
        """Prepare one set of variables (``body``, ``header``, ``extensions``, ``requestURL``)."""
        ...

    def evaluate(self, program: Any, bound: Any) -> Any:
        """Evaluate; return a value of the shared model or raise ``CelEvalError``."""
        ...
