"""TriggerTemplate rendering: ``$(tt.params.NAME)`` and ``$(uid)`` in resourcetemplates.

Tekton substitutes at the byte level in each resourcetemplate's raw JSON: for every resolved
param (declared in the template or not) it replaces each ``$(tt.params.NAME)`` with the value
as is, after turning every ``$(`` in the value into ``$$(`` (so event text cannot smuggle
variables into Tekton Pipelines) and, with the legacy ``old-escape-quotes`` annotation, every
``"`` into ``\\"``. Then each ``$(uid)`` becomes one id shared by all resourcetemplates of the
call. Nothing is JSON-quoted on the way: values from bindings arrive already JSON-escaped, while
static values and defaults with raw newlines or quotes break the JSON, which is reported here.
Params without a value leave their ``$(tt.params.NAME)`` text verbatim.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from kfp_triggers.errors import TemplateError
from kfp_triggers.golang.json import GoJsonError, unmarshal

__all__ = [
    "PARAM_REFERENCE",
    "param_references",
    "render_resources",
    "unbound_references",
    "undeclared_references",
]

#: Tekton's admission pattern for template param references (its dots are unescaped, as there).
PARAM_REFERENCE: Final = re.compile(r"\$\(tt.params.([_a-zA-Z][_a-zA-Z0-9.-]*)\)")
_UID: Final = "$(uid)"


def render_resources(
    resourcetemplates: Sequence[Mapping[str, Any]],
    params: Mapping[str, str],
    *,
    uid: str,
    old_escape_quotes: bool = False,
    labels: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Render each resourcetemplate with the resolved params, as Tekton's ``ResolveResources``.

    Args:
        resourcetemplates: the template's resourcetemplates, as decoded from YAML/JSON.
        params: resolved params (from :func:`kfp_triggers.tekton.bindings.resolve_params`); every one
            is substituted, in order, even if the template does not declare it.
        uid: the value of ``$(uid)``; pass one id per trigger invocation.
        old_escape_quotes: the template has the ``triggers.tekton.dev/old-escape-quotes``
            annotation, so ``"`` in values becomes ``\\"``.
        labels: labels to set on every object's ``metadata.labels``, over the template's own.

    Returns:
        One new object per resourcetemplate.

    Raises:
        TemplateError: a resourcetemplate cannot be serialised, is not valid JSON after
            substitution, is not an object with a ``kind``, or has malformed labels.
    """
    replacements = [
        (f"$(tt.params.{name})", _escape(value, old_escape_quotes)) for name, value in params.items()
    ]
    rendered: list[dict[str, Any]] = []
    for index, template in enumerate(resourcetemplates):
        where = _describe(index, template)
        text = _serialise(template, where)
        for placeholder, value in replacements:
            if placeholder in text:
                text = text.replace(placeholder, value)
        text = text.replace(_UID, uid)
        obj = _parse(text, where)
        if labels is not None:
            _merge_labels(obj, labels, where)
        rendered.append(obj)
    return rendered


def _escape(value: str, old_escape_quotes: bool) -> str:
    if old_escape_quotes:
        value = value.replace('"', '\\"')
    return value.replace("$(", "$$(")


def _describe(index: int, template: Mapping[str, Any]) -> str:
    """``resourcetemplates[0] (PipelineRun build-)``, for error messages."""
    kind = template.get("kind")
    meta = template.get("metadata")
    name = None
    if isinstance(meta, Mapping):
        name = meta.get("name") or meta.get("generateName")
    label = " ".join(str(part) for part in (kind, name) if part)
    return f"resourcetemplates[{index}]" + (f" ({label})" if label else "")


def _serialise(template: Mapping[str, Any], where: str) -> str:
    try:
        return json.dumps(template, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TemplateError(f"{where} cannot be written as JSON: {exc}") from exc


def _parse(text: str, where: str) -> dict[str, Any]:
    try:
        obj = unmarshal(text, numbers="int64")
    except GoJsonError as exc:
        raise TemplateError(
            f"{where} is not valid JSON after substituting params: {exc}, near {_excerpt(text, exc)}. "
            "Param values are inserted verbatim: a string from a binding is JSON-escaped, but an "
            "object or array result keeps its own quotes, and a static value or default with a raw "
            "newline, tab or double quote breaks the JSON (the old-escape-quotes annotation escapes "
            "double quotes)"
        ) from exc
    if not isinstance(obj, dict):
        raise TemplateError(f"{where} renders to a JSON {type(obj).__name__}, not an object")
    if not isinstance(obj.get("kind"), str) or not obj["kind"]:
        raise TemplateError(f"{where} has no kind after substituting params")
    return obj


def _excerpt(text: str, exc: GoJsonError) -> str:
    # Go's offset counts UTF-8 bytes up to and including the offending one.
    pos = len(text.encode("utf-8", "surrogatepass")[: exc.offset].decode("utf-8", "ignore"))
    return repr(text[max(0, pos - 30) : pos + 30])


def _merge_labels(obj: dict[str, Any], labels: Mapping[str, str], where: str) -> None:
    meta = obj.get("metadata")
    if meta is None:
        meta = obj["metadata"] = {}
    elif not isinstance(meta, dict):
        raise TemplateError(f"{where}: metadata must be an object, not {type(meta).__name__}")
    current = meta.get("labels", {})
    if not isinstance(current, dict) or not all(isinstance(v, str) for v in current.values()):
        raise TemplateError(f"{where}: metadata.labels must map names to strings")
    meta["labels"] = {**current, **labels}


def param_references(resourcetemplates: Iterable[Mapping[str, Any]]) -> list[str]:
    """Names referenced as ``$(tt.params.NAME)``, in order of first appearance, without repeats.

    Raises:
        TemplateError: a resourcetemplate cannot be serialised as JSON.
    """
    names: dict[str, None] = {}
    for index, template in enumerate(resourcetemplates):
        text = _serialise(template, _describe(index, template))
        names.update(dict.fromkeys(PARAM_REFERENCE.findall(text)))
    return list(names)


def undeclared_references(resourcetemplates: Iterable[Mapping[str, Any]], declared: set[str]) -> list[str]:
    """Referenced param names the template does not declare (Tekton's admission rejects them).

    Raises:
        TemplateError: a resourcetemplate cannot be serialised as JSON.
    """
    return [name for name in param_references(resourcetemplates) if name not in declared]


def unbound_references(resourcetemplates: Iterable[Mapping[str, Any]], available: set[str]) -> list[str]:
    """Referenced param names that will have no value: not bound and without a default.

    Tekton accepts this and leaves ``$(tt.params.NAME)`` in the created object, so it is
    worth a warning. ``available`` is the binding param names plus the template params that
    have a default.

    Raises:
        TemplateError: a resourcetemplate cannot be serialised as JSON.
    """
    return [name for name in param_references(resourcetemplates) if name not in available]
