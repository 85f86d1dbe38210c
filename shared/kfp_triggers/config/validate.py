"""Whole-configuration checks: the ones that need more than one document.

Per-document rules are checked while parsing. Here every listener's triggers and groups are resolved
(missing bindings, templates and interceptors, duplicate params across a trigger's bindings, template
params nobody provides, dangling ``triggerRef``), then every Trigger object no listener reaches is
resolved on its own so its references are checked too.
"""

from __future__ import annotations

from kfp_triggers.config.models import ResolvedGroup, ResolvedTrigger
from kfp_triggers.config.parse import GROUP, Objects
from kfp_triggers.config.resolve import Resolver
from kfp_triggers.errors import Problem

ListenerKey = tuple[str, str]


def resolve_all(
    objects: Objects,
) -> tuple[dict[ListenerKey, tuple[list[ResolvedTrigger], list[ResolvedGroup]]], list[Problem]]:
    """Resolve every listener; returns what each one runs and the problems found."""
    resolver = Resolver(objects)
    resolved: dict[ListenerKey, tuple[list[ResolvedTrigger], list[ResolvedGroup]]] = {}
    for key, listener in objects.listeners.items():
        resolved[key] = (resolver.listener_triggers(listener), resolver.listener_groups(listener))
    for decl in objects.triggers.values():
        if id(decl) not in resolver.reached:
            resolver.trigger(decl, decl.namespace)
    return resolved, resolver.problems


def emptiness_problems(objects: Objects, where: str, read_any: bool) -> list[Problem]:
    """An error when the files that could be read hold no Tekton Triggers object at all."""
    if objects.count or not read_any:
        return []
    return [Problem(where, 0, f"no {GROUP} objects found (EventListener, Trigger, TriggerBinding, ...)")]
