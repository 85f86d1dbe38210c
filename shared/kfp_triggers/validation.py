"""Configuration checking with every engine-level check plugged in.

The config package checks structure and references; this module adds the checks that need other
parts of the engine: ``$()`` expressions in binding values and CEL expressions in interceptors.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kfp_triggers.bindings import expression_problems
from kfp_triggers.cel import CelEnvironment
from kfp_triggers.config import Configuration, ValidationHooks, check_config, load_config
from kfp_triggers.errors import Problem


def hooks(cel: CelEnvironment | None = None) -> ValidationHooks:
    """Validation hooks backed by the real binding scanner and CEL compiler."""
    env = cel or CelEnvironment()
    return ValidationHooks(binding_expression=expression_problems, cel_expression=env.check)


def check(paths: Sequence[str | Path]) -> tuple[Configuration | None, list[Problem]]:
    """Load ``paths`` and return the configuration (if usable) with every problem found."""
    return check_config(list(paths), hooks())


def load(paths: Sequence[str | Path], cel: CelEnvironment | None = None) -> Configuration:
    """Load ``paths``; raise :class:`ConfigError` listing every problem when any is an error."""
    return load_config(list(paths), hooks(cel))
