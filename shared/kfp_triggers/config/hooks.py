"""Checks other parts of the engine plug into configuration loading (binding and CEL expressions)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class BindingCheck(Protocol):
    """Returns the problems of one binding param value; ``inline`` for a trigger's own bindings.

    Tekton's admission webhook checks ``$(`` nesting only in TriggerBinding objects, so an inline
    value such as ``$(body.$(header.x))`` is accepted (and only its innermost expression runs).
    """

    def __call__(self, value: str, *, inline: bool = False) -> list[str]:
        """The problems found, ``[]`` when there are none."""
        ...


@dataclass(frozen=True)
class ValidationHooks:
    """Checks supplied by other modules, so this package needs none of them.

    ``binding_expression(value)`` returns the problems of one binding parameter value (malformed
    ``$(...)``); ``cel_expression(expr)`` returns a CEL syntax error message, or ``None``.
    """

    binding_expression: BindingCheck | None = None
    cel_expression: Callable[[str], str | None] | None = None
