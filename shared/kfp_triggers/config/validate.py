"""Whole-configuration checks: the ones that need more than one document.

Per-document rules are checked while parsing. Here every listener's triggers and groups are resolved
(missing bindings, templates and interceptors, duplicate params across a trigger's bindings, template
params nobody provides, dangling ``triggerRef``), then every Trigger object no listener reaches is
resolved on its own so its references are checked too.

A trigger's name is its identity within its listener: the journal, the idempotency key and the run
request all name it. Two different triggers of one listener with the same name (or without one)
would share one run per event, so they are errors; the same Trigger reached twice (listed and also
selected, or in two groups) runs once here where Tekton would create its resources twice: a warning.
"""

from __future__ import annotations

from kfp_triggers.config.models import EventListener, Objects, ResolvedGroup, ResolvedTrigger, split_source
from kfp_triggers.config.parse import GROUP
from kfp_triggers.config.resolve import Resolver
from kfp_triggers.errors import Problem

ListenerKey = tuple[str, str]


def resolve_all(
    objects: Objects,
) -> tuple[dict[ListenerKey, tuple[list[ResolvedTrigger], list[ResolvedGroup]]], list[Problem]]:
    """Resolve every listener; returns what each one runs and the problems found."""
    resolver = Resolver(objects)
    resolved: dict[ListenerKey, tuple[list[ResolvedTrigger], list[ResolvedGroup]]] = {}
    problems: list[Problem] = []
    for key, listener in objects.listeners.items():
        triggers, groups = resolver.listener_triggers(listener), resolver.listener_groups(listener)
        resolved[key] = (triggers, groups)
        problems.extend(trigger_identity_problems(listener, triggers, groups))
    for decl in objects.triggers.values():
        if id(decl) not in resolver.reached:
            resolver.trigger(decl, decl.namespace)
    return resolved, resolver.problems + problems


def trigger_identity_problems(
    listener: EventListener, triggers: list[ResolvedTrigger], groups: list[ResolvedGroup]
) -> list[Problem]:
    """Errors for unnamed triggers and for two triggers sharing a name in one listener."""
    problems: list[Problem] = []
    seen: dict[str, ResolvedTrigger] = {}
    for trigger in [*triggers, *(t for g in groups for t in g.triggers)]:
        file, line = split_source(trigger.source or listener.source)
        if not trigger.name:
            problems.append(
                Problem(
                    file,
                    line,
                    f"EventListener '{listener.name}': a trigger has no name; a trigger's name identifies "
                    "its runs and its journal entries, so give every inline trigger a name",
                )
            )
            continue
        first = seen.get(trigger.name)
        if first is None:
            seen[trigger.name] = trigger
            continue
        if first is trigger or (first.source == trigger.source and first.namespace == trigger.namespace):
            problems.append(
                Problem(
                    file,
                    line,
                    f"EventListener '{listener.name}' reaches trigger '{trigger.name}' more than once; "
                    "it runs once per event here (Tekton would create its resources once per reach)",
                    "warning",
                )
            )
            continue
        where = first.source or "elsewhere"
        problems.append(
            Problem(
                file,
                line,
                f"EventListener '{listener.name}' has two triggers named '{trigger.name}' (the other at "
                f"{where}); a trigger's name identifies its runs and journal entries, so names must be "
                "unique within a listener",
            )
        )
    return problems


def emptiness_problems(objects: Objects, where: str, read_any: bool) -> list[Problem]:
    """An error when the files that could be read hold no Tekton Triggers object at all."""
    if objects.count or not read_any:
        return []
    return [Problem(where, 0, f"no {GROUP} objects found (EventListener, Trigger, TriggerBinding, ...)")]
