"""Tekton Triggers' CEL environment: variables, functions, extensions and two evaluation backends.

Public API: :class:`CelEnvironment` (compile once, evaluate per event), :class:`Activation`,
:class:`CompiledExpression`, :class:`CelValue` and :func:`cel_eval`.
"""

from __future__ import annotations

from kfp_triggers.cel.environment import (
    Activation,
    CelBodyError,
    CelEnvironment,
    CompiledExpression,
    available_backends,
    cel_eval,
)
from kfp_triggers.cel.values import CelValue

__all__ = [
    "Activation",
    "CelBodyError",
    "CelEnvironment",
    "CelValue",
    "CompiledExpression",
    "available_backends",
    "cel_eval",
]
