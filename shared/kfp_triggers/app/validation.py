"""Configuration checking with every engine-level check plugged in.

The config package checks structure and references; this module adds the checks that need other
parts of the engine: ``$()`` expressions in binding values and CEL expressions in interceptors.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from kfp_triggers.config import Configuration, ValidationHooks, check_config, load_config
from kfp_triggers.errors import Problem

if TYPE_CHECKING:
    from kfp_triggers.cel import CelEnvironment


def hooks(
    cel: CelEnvironment | None = None, *, check_cel: bool = True, check_bindings: bool = True
) -> ValidationHooks:
    """Validation hooks: the binding scanner and the CEL compiler, each unless turned off.

    Functions skip these expression checks to keep cold starts short, as Tekton checks them at
    admission and not in the EventListener: ``validate`` (and ``make bundle``, and CI) is where they
    belong, and a broken expression still fails only its own trigger, with a clear reason, at run
    time. The structure of the configuration is always checked.
    """
    binding_expression = None
    if check_bindings:
        from kfp_triggers.tekton.bindings import expression_problems

        binding_expression = expression_problems
    if not check_cel:
        return ValidationHooks(binding_expression=binding_expression)
    if cel is None:
        from kfp_triggers.cel import CelEnvironment

        cel = CelEnvironment()
    return ValidationHooks(binding_expression=binding_expression, cel_expression=cel.check)


def check(paths: Sequence[str | Path]) -> tuple[Configuration | None, list[Problem]]:
    """Load ``paths`` and return the configuration (if usable) with every problem found."""
    config, problems = check_config(list(paths), hooks())
    if config is None or any(p.severity == "error" for p in problems):
        return config, problems
    found = problems + unauthenticated_triggers(config)
    return config, sorted(found, key=lambda p: (p.file, p.line))


_SCM_INTERCEPTORS = frozenset({"github", "gitlab", "bitbucket"})


def unauthenticated_triggers(config: Configuration) -> list[Problem]:
    """A warning per trigger whose chain checks no secret: anyone who can reach it starts its runs.

    Such a trigger (CEL only, Slack, an SCM interceptor without ``secretRef``) is what Tekton
    allows, and may be exactly what is wanted behind another gate, so it is a warning. Its runs
    never get commit statuses, which only a verified GitHub webhook may address.
    """
    from kfp_triggers.config.models import split_source
    from kfp_triggers.tekton.origin import verified_by

    problems: list[Problem] = []
    for listener in config.listeners.values():
        chains = [(t, t.interceptors) for t in config.triggers_for(listener)]
        chains += [
            (t, g.interceptors + t.interceptors) for g in config.groups_for(listener) for t in g.triggers
        ]
        for trigger, specs in chains:
            if verified_by(specs) is not None or any(s.url is not None for s in specs):
                continue  # a secret is checked, or a remote interceptor may check one
            if any(s.url is None and s.ref_name in _SCM_INTERCEPTORS for s in specs):
                continue  # already warned at the interceptor: it has no secretRef
            file, line = split_source(trigger.source or listener.source)
            problems.append(
                Problem(
                    file,
                    line,
                    f"trigger '{trigger.name}' of EventListener '{listener.name}' checks no secret: anyone "
                    "who can reach the listener can start its runs, and its runs get no commit status",
                    "warning",
                )
            )
    return problems


def load(
    paths: Sequence[str | Path],
    cel: CelEnvironment | None = None,
    *,
    check_cel: bool = True,
    check_bindings: bool = True,
) -> Configuration:
    """Load ``paths``; raise :class:`ConfigError` listing every problem when any is an error."""
    return load_config(list(paths), hooks(cel, check_cel=check_cel, check_bindings=check_bindings))
