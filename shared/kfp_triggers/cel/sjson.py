"""``sjson.SetRawBytes`` path semantics, applied to decoded JSON data.

Tekton writes each CEL overlay into the extensions document with ``sjson``, so an overlay key is a
path: ``a.b`` nests, ``\\.`` escapes a dot, a numeric part creates or indexes an array (padding
with nulls), ``-1`` appends to an array, and a leading ``:`` forces a numeric part to be an object
key. Paths with ``| # @ * ?`` are gjson query paths; on a key that does not exist yet they change
nothing, which is all an overlay can meet, so they are left untouched here.
"""

from __future__ import annotations

from typing import Any

_COMPLEX = frozenset("|#@*?")


class SjsonError(ValueError):
    """sjson refused the path; the message is sjson's."""


def _parse(path: str) -> list[tuple[str, bool]] | None:
    """Split a path into ``(part, forced_string)``; None for a complex (query) path."""
    parts: list[tuple[str, bool]] = []
    rest = path
    while True:
        force = rest.startswith(":")
        if force:
            rest = rest[1:]
        part: list[str] = []
        i = 0
        more = False
        while i < len(rest):
            ch = rest[i]
            if ch == ".":
                more = True
                break
            if ch in _COMPLEX:
                return None
            if ch == "\\":
                i += 1
                if i < len(rest):
                    part.append(rest[i])
                i += 1
                continue
            part.append(ch)
            i += 1
        parts.append(("".join(part), force))
        if not more:
            return parts
        rest = rest[i + 1 :]


def _index(part: str, force: bool) -> int | None:
    if force or not all("0" <= c <= "9" for c in part):
        return None
    return int(part) if part else 0


def _build(parts: list[tuple[str, bool]], value: Any) -> Any:
    if not parts:
        return value
    part, force = parts[0]
    n = _index(part, force)
    if n is not None or (not force and part == "-1"):
        return [None] * (n or 0) + [_build(parts[1:], value)]
    return {part: _build(parts[1:], value)}


def _set(node: Any, parts: list[tuple[str, bool]], value: Any) -> Any:
    part, force = parts[0]
    n = _index(part, force)
    if isinstance(node, dict):
        if part in node:
            node[part] = _set(node[part], parts[1:], value) if len(parts) > 1 else value
        else:
            node[part] = _build(parts[1:], value)
        return node
    if isinstance(node, list):
        if n is not None and n < len(node):
            node[n] = _set(node[n], parts[1:], value) if len(parts) > 1 else value
            return node
        if n is None:
            if part == "-1" and not force:
                node.append(_build(parts[1:], value))
                return node
            raise SjsonError(f"cannot set array element for non-numeric key '{part}'")
        node.extend([None] * (n - len(node)))
        node.append(_build(parts[1:], value))
        return node
    return _set([] if n is not None else {}, parts, value)


def set_path(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Set ``value`` at ``path`` in ``document`` (modified in place and returned)."""
    if path == "":
        raise SjsonError("path cannot be empty")
    parts = _parse(path)
    if parts is None:
        return document
    result: dict[str, Any] = _set(document, parts, value)
    return result
