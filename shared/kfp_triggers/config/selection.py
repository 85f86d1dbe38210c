"""Trigger selection by namespace and labels, as Tekton's EventListener sink does it.

``namespaceSelector.matchNames`` and ``labelSelector`` pick Trigger objects in addition to the
listener's own ``spec.triggers`` (and the same pair, as ``triggerSelector``, picks a trigger group's
members):

* ``matchNames: ["*"]`` (exactly that one entry): every namespace;
* other non-empty ``matchNames``: those namespaces, in the order listed (a name listed twice selects
  twice, as in Tekton);
* no ``matchNames`` but a ``labelSelector`` (even ``{}``): the listener's namespace;
* neither: nothing.

The label selector then filters (absent: everything). Tekton lists from an informer cache in no
particular order; here triggers come sorted by namespace and name so results are reproducible.
"""

from __future__ import annotations

from collections.abc import Mapping

from kfp_triggers.config.fields import Ctx, check_keys, map_items, opt_list, opt_map, opt_str, string_map
from kfp_triggers.config.models import LabelSelector, Requirement, TriggerDecl, TriggerSelector
from kfp_triggers.config.yamlsource import LMap

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def parse_selector(ctx: Ctx, m: LMap, what: str) -> TriggerSelector:
    """Read ``namespaceSelector`` and ``labelSelector`` from ``m``."""
    namespaces: list[str] = []
    ns_selector = opt_map(ctx, m, "namespaceSelector", what)
    if ns_selector is not None:
        check_keys(ctx, ns_selector, ("matchNames",), f"{what}.namespaceSelector")
        names = opt_list(ctx, ns_selector, "matchNames", f"{what}.namespaceSelector")
        for index, name in enumerate(names or []):
            if isinstance(name, str) and name:
                namespaces.append(name)
            else:
                assert names is not None
                ctx.error(
                    names.item_line(index), f"{what}.namespaceSelector.matchNames[{index}] must be a name"
                )
    return TriggerSelector(tuple(namespaces), parse_label_selector(ctx, m, what))


def parse_label_selector(ctx: Ctx, m: LMap, what: str) -> LabelSelector | None:
    """Read ``m.labelSelector``; ``None`` when absent or null (``{}`` is an empty selector)."""
    raw = opt_map(ctx, m, "labelSelector", what)
    if raw is None:
        return None
    where = f"{what}.labelSelector"
    check_keys(ctx, raw, ("matchLabels", "matchExpressions"), where)
    labels = string_map(ctx, raw, "matchLabels", where)
    requirements: list[Requirement] = []
    for index, expr in map_items(
        ctx, opt_list(ctx, raw, "matchExpressions", where), f"{where}.matchExpressions"
    ):
        ewhat = f"{where}.matchExpressions[{index}]"
        check_keys(ctx, expr, ("key", "operator", "values"), ewhat)
        key = opt_str(ctx, expr, "key", ewhat)
        operator = opt_str(ctx, expr, "operator", ewhat)
        values_raw = opt_list(ctx, expr, "values", ewhat)
        values = tuple(v if isinstance(v, str) else str(v) for v in values_raw or [])
        if not key:
            ctx.error(expr.line, f"{ewhat}.key is required")
            continue
        if operator not in OPERATORS:
            ctx.error(
                expr.value_line("operator"),
                f"{ewhat}.operator '{operator or ''}' is not valid; use one of {', '.join(OPERATORS)}",
            )
            continue
        if operator in ("In", "NotIn") and not values:
            ctx.error(expr.line, f"{ewhat}: operator {operator} needs a non-empty values list")
            continue
        if operator in ("Exists", "DoesNotExist") and values:
            ctx.error(expr.value_line("values"), f"{ewhat}: operator {operator} takes no values")
            continue
        requirements.append(Requirement(key, operator, values))
    return LabelSelector(tuple(sorted(labels.items())), tuple(requirements))


def select_triggers(
    triggers: Mapping[tuple[str, str], TriggerDecl], selector: TriggerSelector, namespace: str
) -> list[TriggerDecl]:
    """The Trigger objects ``selector`` picks for a listener in ``namespace`` (duplicates kept)."""
    labels = selector.labels
    if selector.namespaces == ("*",):
        namespaces = sorted({ns for ns, _ in triggers})
    elif selector.namespaces:
        namespaces = list(selector.namespaces)
    elif labels is not None:
        namespaces = [namespace]
    else:
        return []
    by_namespace: dict[str, list[TriggerDecl]] = {}
    for (ns, _name), decl in sorted(triggers.items()):
        by_namespace.setdefault(ns, []).append(decl)
    out: list[TriggerDecl] = []
    for ns in namespaces:
        out.extend(t for t in by_namespace.get(ns, []) if labels is None or labels.matches(t.labels))
    return out
