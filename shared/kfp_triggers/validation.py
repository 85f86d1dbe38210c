"""Configuration checking with every engine-level check plugged in.

The config package checks structure and references; this module adds the checks that need other
parts of the engine: ``$()`` expressions in binding values and CEL expressions in interceptors.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from kfp_triggers.bindings import expression_problems
from kfp_triggers.config import Configuration, ValidationHooks, check_config, load_config
from kfp_triggers.errors import Problem

if TYPE_CHECKING:
    from kfp_triggers.cel import CelEnvironment


def hooks(cel: CelEnvironment | None = None, *, check_cel: bool = True) -> ValidationHooks:
    """Validation hooks backed by the real binding scanner and, unless ``check_cel`` is off, the CEL compiler.

    Functions skip the CEL check to keep cold starts short: ``validate`` (and CI) is where it belongs,
    and a broken expression still fails its trigger with a clear status at run time.
    """
    if not check_cel:
        return ValidationHooks(binding_expression=expression_problems)
    if cel is None:
        from kfp_triggers.cel import CelEnvironment

        cel = CelEnvironment()
    return ValidationHooks(binding_expression=expression_problems, cel_expression=cel.check)


def check(paths: Sequence[str | Path]) -> tuple[Configuration | None, list[Problem]]:
    """Load ``paths`` and return the configuration (if usable) with every problem found."""
    return check_config(list(paths), hooks())


def load(
    paths: Sequence[str | Path], cel: CelEnvironment | None = None, *, check_cel: bool = True
) -> Configuration:
    """Load ``paths``; raise :class:`ConfigError` listing every problem when any is an error."""
    return load_config(list(paths), hooks(cel, check_cel=check_cel))
