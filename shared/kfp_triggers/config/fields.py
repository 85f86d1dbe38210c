"""Reading typed fields out of YAML mappings while reporting problems at the right line.

Every parser in this package works on :class:`~kfp_triggers.config.yamlsource.LMap` values and a
:class:`Ctx` that knows the current file, the API version of the document and where to report.
A wrong type is reported and parsing goes on with the best value available, so one load finds
every problem instead of stopping at the first.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kfp_triggers.config.hooks import ValidationHooks
from kfp_triggers.config.models import source_of
from kfp_triggers.config.yamlsource import LList, LMap
from kfp_triggers.errors import Problem


@dataclass
class Report:
    """Collects problems in discovery order."""

    problems: list[Problem] = field(default_factory=list)

    def error(self, file: str, line: int, message: str) -> None:
        """Record an error (makes the configuration unusable)."""
        self.problems.append(Problem(file, line, message, "error"))

    def warning(self, file: str, line: int, message: str) -> None:
        """Record a warning (reported, but the configuration still loads)."""
        self.problems.append(Problem(file, line, message, "warning"))


@dataclass
class Ctx:
    """Where a parser is: file, document API version, hooks and the report."""

    file: str
    file_dir: str
    version: str
    report: Report
    hooks: ValidationHooks

    @property
    def legacy(self) -> bool:
        """Whether the document is ``triggers.tekton.dev/v1alpha1`` (legacy forms allowed)."""
        return self.version == "v1alpha1"

    def error(self, line: int, message: str) -> None:
        """Record an error in the current file."""
        self.report.error(self.file, line, message)

    def warning(self, line: int, message: str) -> None:
        """Record a warning in the current file."""
        self.report.warning(self.file, line, message)

    def source(self, line: int) -> str:
        """``"file:line"`` in the current file."""
        return source_of(self.file, line)


def type_name(value: Any) -> str:
    """A YAML-flavoured name for the type of ``value`` (for messages)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__  # pragma: no cover


def json_text(value: Any) -> str:
    """A non-string scalar as its JSON text (``true``, ``3``, ``1.5``), as Kubernetes JSON shows it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return json.dumps(value)


def opt_str(ctx: Ctx, m: LMap, key: str, what: str, *, scalars: bool = False) -> str | None:
    """``m[key]`` as a string, ``None`` when absent or null.

    With ``scalars`` a number or boolean is accepted and turned into its JSON text; otherwise
    anything but a string is an error (and the JSON text is still returned to go on).
    """
    value = m.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        ctx.error(m.value_line(key), f"{what}.{key} must be a string, not {type_name(value)}")
        return None
    if not scalars:
        ctx.error(m.value_line(key), f"{what}.{key} must be a string, not {type_name(value)}")
    return json_text(value)


def opt_map(ctx: Ctx, m: LMap, key: str, what: str) -> LMap | None:
    """``m[key]`` when it is a mapping; ``None`` when absent or null; error otherwise."""
    value = m.get(key)
    if value is None:
        return None
    if isinstance(value, LMap):
        return value
    ctx.error(m.value_line(key), f"{what}.{key} must be a mapping, not {type_name(value)}")
    return None


def opt_list(ctx: Ctx, m: LMap, key: str, what: str) -> LList | None:
    """``m[key]`` when it is a list; ``None`` when absent or null; error otherwise."""
    value = m.get(key)
    if value is None:
        return None
    if isinstance(value, LList):
        return value
    ctx.error(m.value_line(key), f"{what}.{key} must be a list, not {type_name(value)}")
    return None


def map_items(ctx: Ctx, items: LList | None, what: str) -> Iterable[tuple[int, LMap]]:
    """``(index, mapping)`` for each list item; items that are not mappings are reported."""
    if items is None:
        return []
    out: list[tuple[int, LMap]] = []
    for index, item in enumerate(items):
        if isinstance(item, LMap):
            out.append((index, item))
        else:
            ctx.error(items.item_line(index), f"{what}[{index}] must be a mapping, not {type_name(item)}")
    return out


def string_map(ctx: Ctx, m: LMap, key: str, what: str) -> dict[str, str]:
    """A ``map[string]string`` field such as ``labels``: non-string values are errors."""
    raw = opt_map(ctx, m, key, what)
    out: dict[str, str] = {}
    for k in raw or {}:
        value = opt_str(ctx, raw, k, f"{what}.{key}") if raw is not None else None
        out[k] = value if value is not None else ""
    return out


def check_keys(ctx: Ctx, m: LMap, allowed: Iterable[str], what: str) -> None:
    """Warn about keys a Tekton object of this kind does not have (they are ignored)."""
    known = set(allowed)
    for key in m:
        if key not in known:
            ctx.warning(m.key_line(key), f"unknown field '{key}' in {what} is ignored")
