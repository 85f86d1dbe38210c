"""Checks other parts of the engine plug into configuration loading (binding and CEL expressions)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ValidationHooks:
    """Checks supplied by other modules, so this package needs none of them.

    ``binding_expression(value)`` returns the problems of one binding parameter value (malformed
    ``$(...)``); ``cel_expression(expr)`` returns a CEL syntax error message, or ``None``.
    """

    binding_expression: Callable[[str], list[str]] | None = None
    cel_expression: Callable[[str], str | None] | None = None
