"""Parsing bindings: TriggerBinding params and the ``bindings`` list of a trigger.

A ``bindings`` entry is a reference (``ref`` + optional ``kind``: TriggerBinding, the default, or
ClusterTriggerBinding) or an inline param (``name`` + ``value``). Every value goes through the
``binding_expression`` hook so malformed ``$(...)`` expressions are reported at their line; an
inline value is checked as Tekton's admission checks it, which is not for ``$(`` nesting (only
TriggerBinding objects are). Values are strings; a number or boolean is taken as its JSON text
(``3``, ``true``).
"""

from __future__ import annotations

from typing import Any

from kfp_triggers.config.fields import Ctx, check_keys, json_text, map_items, opt_list, opt_str, type_name
from kfp_triggers.config.models import CLUSTER_TRIGGER_BINDING, TRIGGER_BINDING, BindingParam, BindingRef
from kfp_triggers.config.yamlsource import LMap

_ENTRY_KEYS = ("name", "value", "ref", "kind", "apiversion")


def parse_binding_entries(ctx: Ctx, m: LMap, key: str, what: str) -> tuple[BindingParam | BindingRef, ...]:
    """Parse a trigger's ``bindings`` list; bad entries are reported and left out."""
    out: list[BindingParam | BindingRef] = []
    for index, entry in map_items(ctx, opt_list(ctx, m, key, what), f"{what}.{key}"):
        ewhat = f"{what}.{key}[{index}]"
        check_keys(ctx, entry, _ENTRY_KEYS, ewhat)
        ref = opt_str(ctx, entry, "ref", ewhat)
        name = opt_str(ctx, entry, "name", ewhat)
        if ref:
            if name:
                ctx.error(entry.key_line("name"), f"{ewhat} sets both ref and name; use one")
                continue
            kind = opt_str(ctx, entry, "kind", ewhat) or TRIGGER_BINDING
            if kind not in (TRIGGER_BINDING, CLUSTER_TRIGGER_BINDING):
                ctx.error(
                    entry.value_line("kind"),
                    f"{ewhat}.kind '{kind}' is not valid; use TriggerBinding or ClusterTriggerBinding",
                )
                continue
            out.append(BindingRef(ref, kind, ctx.source(entry.value_line("ref"))))
        elif name:
            if entry.get("value") is None:
                ctx.error(entry.line, f"{ewhat} (binding '{name}') needs a value")
                continue
            value = _value(ctx, entry, name, ewhat, inline=True)
            if value is not None:
                out.append(BindingParam(name, value, ctx.source(entry.value_line("value"))))
        else:
            ctx.error(entry.line, f"{ewhat} needs either ref (a TriggerBinding) or name and value")
    return tuple(out)


def parse_binding_params(ctx: Ctx, spec: Any, line: int, what: str) -> tuple[BindingParam, ...]:
    """Parse ``spec.params`` of a (Cluster)TriggerBinding; duplicate names are errors, as in Tekton."""
    if not isinstance(spec, LMap) or not spec:
        ctx.error(line, f"{what} is required (params)")
        return ()
    check_keys(ctx, spec, ("params",), what)
    out: list[BindingParam] = []
    seen: dict[str, int] = {}
    for index, item in map_items(ctx, opt_list(ctx, spec, "params", what), f"{what}.params"):
        pwhat = f"{what}.params[{index}]"
        check_keys(ctx, item, ("name", "value"), pwhat)
        name = opt_str(ctx, item, "name", pwhat)
        if not name:
            ctx.error(item.line, f"{pwhat}.name is required")
            continue
        if name in seen:
            ctx.error(
                item.value_line("name"), f"duplicate binding param '{name}' (first at line {seen[name]})"
            )
            continue
        seen[name] = item.value_line("name")
        value = _value(ctx, item, name, pwhat) if item.get("value") is not None else ""
        if value is not None:
            out.append(BindingParam(name, value, ctx.source(item.value_line("value"))))
    return tuple(out)


def _value(ctx: Ctx, item: LMap, name: str, what: str, *, inline: bool = False) -> str | None:
    raw = item.get("value")
    line = item.value_line("value")
    if isinstance(raw, (dict, list)):
        ctx.error(line, f"{what}: binding '{name}' value must be a string, not {type_name(raw)}")
        return None
    value = raw if isinstance(raw, str) else json_text(raw)
    check = ctx.hooks.binding_expression
    if check is not None:
        try:
            messages = list(check(value, inline=inline))
        except Exception as exc:  # a broken hook must not hide the other problems
            messages = [f"{type(exc).__name__}: {exc}"]
        for message in messages:
            ctx.error(line, f"binding '{name}': {message}")
    return value
