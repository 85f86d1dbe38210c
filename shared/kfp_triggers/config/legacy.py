"""The ``triggers.tekton.dev/v1alpha1`` interceptor forms, converted as Tekton converts them.

Before ``ref`` + ``params`` existed, core interceptors were written as ``github: {secretRef,
eventTypes}``, ``gitlab: {...}``, ``bitbucket: {...}`` and ``cel: {filter, overlays}``. Tekton's
defaulting turns such an entry into ``ref: {name: <that key>}`` with one param per field, and only
when the entry has no ``ref.name`` of its own (a ``ref`` wins and the legacy block is dropped). When
several legacy keys are present the name is taken in the order bitbucket, cel, github, gitlab.
Tekton also writes fields that were left out as JSON ``null`` params; those are left out here, which
the interceptors read the same way (absent).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kfp_triggers.config.fields import Ctx, check_keys, opt_list, opt_str, type_name
from kfp_triggers.config.yamlsource import LMap

# Tekton's GetName() precedence for the legacy keys.
LEGACY_KEYS = ("bitbucket", "cel", "github", "gitlab")
# Tekton allows at most one of these in one entry (``cel`` is not counted).
EXCLUSIVE_KEYS = ("webhook", "github", "gitlab", "bitbucket")


@dataclass(frozen=True)
class ParamItem:
    """An interceptor param with the lines of its name and value (for later checks)."""

    name: str
    value: Any
    line: int
    value_line: int


def legacy_keys_present(entry: LMap) -> list[str]:
    """The legacy interceptor keys that an entry sets (non-null), in precedence order."""
    return [key for key in LEGACY_KEYS if entry.get(key) is not None]


def convert_legacy(ctx: Ctx, entry: LMap, what: str) -> tuple[str, list[ParamItem]] | None:
    """Convert the legacy block of a v1alpha1 interceptor entry to ``(ref name, params)``.

    Returns ``None`` when the entry has no legacy block. Problems (two exclusive forms, a block that
    is not a mapping, a ``cel`` block with neither filter nor overlays) are reported on ``ctx``.
    """
    present = legacy_keys_present(entry)
    if not present:
        return None
    exclusive = [key for key in EXCLUSIVE_KEYS if entry.get(key) is not None]
    if len(exclusive) > 1:
        ctx.error(
            entry.key_line(exclusive[1]),
            f"{what} sets {' and '.join(exclusive)}; "
            "only one of webhook, github, gitlab, bitbucket is allowed",
        )
    name = present[0]
    block = entry[name]
    if not isinstance(block, LMap):
        ctx.error(entry.value_line(name), f"{what}.{name} must be a mapping, not {type_name(block)}")
        return name, []
    if name == "cel":
        return name, _cel_params(ctx, block, f"{what}.cel")
    return name, _scm_params(ctx, block, f"{what}.{name}")


def _scm_params(ctx: Ctx, block: LMap, what: str) -> list[ParamItem]:
    check_keys(ctx, block, ("secretRef", "eventTypes"), what)
    params: list[ParamItem] = []
    secret = block.get("secretRef")
    if secret is not None:
        if isinstance(secret, LMap):
            check_keys(ctx, secret, ("secretName", "secretKey"), f"{what}.secretRef")
            opt_str(ctx, secret, "secretName", f"{what}.secretRef")
            opt_str(ctx, secret, "secretKey", f"{what}.secretRef")
        else:
            ctx.error(block.value_line("secretRef"), f"{what}.secretRef must be a mapping")
        params.append(
            ParamItem("secretRef", secret, block.key_line("secretRef"), block.value_line("secretRef"))
        )
    events = opt_list(ctx, block, "eventTypes", what)
    if events is not None:
        for index, event in enumerate(events):
            if not isinstance(event, str):
                ctx.error(events.item_line(index), f"{what}.eventTypes[{index}] must be a string")
        params.append(
            ParamItem("eventTypes", events, block.key_line("eventTypes"), block.value_line("eventTypes"))
        )
    return params


def _cel_params(ctx: Ctx, block: LMap, what: str) -> list[ParamItem]:
    check_keys(ctx, block, ("filter", "overlays"), what)
    params: list[ParamItem] = []
    filt = opt_str(ctx, block, "filter", what)
    overlays = opt_list(ctx, block, "overlays", what)
    if not filt and not overlays:
        ctx.error(block.line, f"{what} needs a filter or overlays")
    if filt:
        params.append(ParamItem("filter", filt, block.key_line("filter"), block.value_line("filter")))
    if overlays:
        params.append(
            ParamItem("overlays", overlays, block.key_line("overlays"), block.value_line("overlays"))
        )
    return params
