"""Kubernetes JSONPath, evaluated the way ``k8s.io/client-go/util/jsonpath`` does for Tekton.

Tekton resolves every ``$(...)`` binding expression with client-go's JSONPath and
``AllowMissingKeys(false)``. This module reproduces that engine over decoded JSON (``dict``,
``list``, ``str``, ``float``, ``bool``, ``None``) plus :class:`GoStruct` for the Go structs Tekton
hands it (the event and its context), so results and errors match Go's:

* a missing key is an error unless some other input value has it; keys of ``null`` are skipped;
* indexing anything but an array is an error, except ``null``, which yields nothing;
* indices out of range are errors (no Python-style clamping); ``[a:a]`` yields nothing;
* ``.*`` and ``..`` walk into strings byte by byte (Go strings are byte sequences);
* ``..`` keeps only values that have children (so leaves are not matched by ``..*``);
* filters fail on elements missing the compared key, and compare numbers only with numbers
  of the same Go kind: JSON numbers are float64, so ``@.n == 1`` is an error and ``@.n == 1.0``
  works.

Every error message is client-go's (``missing is not found``, ``string is not array or slice``,
``incompatible types for comparison``, ``unterminated array``): Tekton reports them verbatim.
Paths are parsed once and cached; evaluation is a straight walk over lists of values.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from kfp_triggers.tekton._jsonpath_parse import (
    Const,
    Field,
    Filter,
    Identifier,
    JsonPathError,
    Node,
    Recursive,
    Slice,
    Text,
    Union,
    Wildcard,
    parse_action,
)
from kfp_triggers.tekton._jsonpath_values import (
    MISSING,
    ComparisonError,
    GoInt,
    GoStruct,
    GoUint8,
    StringMap,
    compare,
    go_type,
    go_value,
)

__all__ = ["GoInt", "GoStruct", "GoUint8", "JsonPath", "JsonPathError", "StringMap", "compile_path"]


class _EvalError(JsonPathError):
    """An evaluation error carrying what Go's failing step returned alongside the error.

    Only the ``exists`` filter looks at it: Go ignores the error there and keeps an element
    whenever that partial result is non-empty.
    """

    def __init__(self, message: str, partial: list[Any]) -> None:
        super().__init__(message)
        self.partial = partial


class _State:
    __slots__ = ("ranged",)

    def __init__(self) -> None:
        self.ranged = False


@dataclass(frozen=True, slots=True)
class JsonPath:
    """A parsed path; :meth:`find` evaluates it against a root value."""

    text: str
    nodes: tuple[Node, ...]

    def find(self, root: Any) -> list[Any] | None:
        """Return every value the path selects, in Go's order.

        ``None`` means the path produced no result set at all, which only the kubectl ``range``
        keyword does (Tekton then renders an empty string).

        Raises:
            JsonPathError: a key is missing, a non-array is indexed, an index is out of range,
                a filter comparison is invalid, and so on; the message says which.
        """
        state = _State()
        try:
            values = _eval_list([root], self.nodes, state)
        except _EvalError as exc:
            raise JsonPathError(str(exc)) from None
        except RecursionError:
            raise JsonPathError("value is nested too deeply") from None
        return None if state.ranged else values


@lru_cache(maxsize=4096)
def compile_path(text: str) -> JsonPath:
    """Parse the inside of a JSONPath action (``.body.items[0].name``), cached per text.

    Raises:
        JsonPathError: the text is not valid JSONPath; the message is client-go's parser error.
    """
    try:
        return JsonPath(text, parse_action(text))
    except RecursionError:
        raise JsonPathError("path nested too deeply") from None


def _eval_list(values: list[Any], nodes: tuple[Node, ...], state: _State) -> list[Any]:
    for node in nodes:
        values = _walk(values, node, state)
    return values


def _walk(values: list[Any], node: Node, state: _State) -> list[Any]:
    if isinstance(node, Field):
        return _field(values, node.name)
    if isinstance(node, Slice):
        return _slice(values, node)
    if isinstance(node, Filter):
        return _filter(values, node, state)
    if isinstance(node, Union):
        out: list[Any] = []
        for branch in node.branches:
            try:
                out.extend(_eval_list(values, branch, state))
            except _EvalError as exc:
                raise _EvalError(str(exc), values) from None
        return out
    if isinstance(node, Wildcard):
        return _wildcard(values)
    if isinstance(node, Recursive):
        found: list[Any] = []
        _descend(values, found)
        return found
    if isinstance(node, Text):
        return [node.value]
    if isinstance(node, Const):
        return [node.value] * len(values)
    return _identifier(values, node, state)


def _field(values: list[Any], name: str) -> list[Any]:
    found = []
    for value in values:
        if isinstance(value, dict):
            got = value.get(name, MISSING)
        elif isinstance(value, GoStruct):
            got = value.get(name)
        else:
            continue
        if got is not MISSING:
            found.append(got)
    if not found and values:
        raise _EvalError(f"{name} is not found", [])
    return found


def _slice(values: list[Any], node: Slice) -> list[Any]:
    result: list[Any] = []
    for value in values:
        if value is None:
            continue
        if not isinstance(value, list):
            raise _EvalError(f"{go_type(value)} is not array or slice", values)
        length = len(value)
        start = 0 if node.start is None else node.start
        if start < 0:
            start += length
        stop = length if node.stop is None else node.stop
        if stop < 0 or (stop == 0 and node.single):
            stop += length
        if stop == start:  # an empty selection ends the whole step, as in Go
            return result
        if not 0 <= start < length:
            raise _EvalError(f"array index out of bounds: index {start}, length {length}", values)
        if not 0 <= stop <= length:
            raise _EvalError(f"array index out of bounds: index {stop - 1}, length {length}", values)
        if start > stop:
            raise _EvalError(f"starting index {start} is greater than ending index {stop}", values)
        step = 1 if node.step is None else node.step
        if step <= 0:
            raise _EvalError("step must be > 0", values)
        result.extend(value[start:stop:step])
    return result


def _wildcard(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if isinstance(value, dict):
            out.extend(value.values())
        elif isinstance(value, list):
            out.extend(value)
        elif isinstance(value, GoStruct):
            out.extend(value.values())
        elif isinstance(value, str):
            out.extend(GoUint8(b) for b in value.encode("utf-8", "surrogatepass"))
    return out


def _descend(values: list[Any], out: list[Any]) -> None:
    for value in values:
        if isinstance(value, dict):
            children = list(value.values())
        elif isinstance(value, list):
            children = value
        elif isinstance(value, GoStruct):
            children = value.values()
        elif isinstance(value, str):
            if value:  # its bytes are children, but bytes have none of their own
                out.append(value)
            continue
        else:
            continue
        if children:
            out.append(value)
            _descend(children, out)


def _filter(values: list[Any], node: Filter, state: _State) -> list[Any]:
    results: list[Any] = []
    for value in values:
        if not isinstance(value, list):
            raise _EvalError(f"{go_value(value)} is not array or slice and cannot be filtered", values)
        for element in value:
            probe = [element]
            if node.op == "exists":
                try:
                    lefts = _eval_list(probe, node.left, state)
                except _EvalError as exc:
                    lefts = exc.partial
                if lefts:
                    results.append(element)
                continue
            lefts = _operand(probe, node.left, state, values)
            if not lefts:
                continue
            rights = _operand(probe, node.right, state, values)
            if not rights:
                continue
            try:
                passed = compare(node.op, lefts[0], rights[0])
            except ComparisonError as exc:
                raise _EvalError(str(exc), results) from None
            if passed:
                results.append(element)
    return results


def _operand(probe: list[Any], nodes: tuple[Node, ...], state: _State, values: list[Any]) -> list[Any]:
    """Evaluate one side of a comparison for one element: zero or one value, else an error."""
    try:
        found = _eval_list(probe, nodes, state)
    except _EvalError as exc:
        raise _EvalError(str(exc), values) from None
    if len(found) > 1:
        raise _EvalError("can only compare one element at a time", values)
    return found


def _identifier(values: list[Any], node: Identifier, state: _State) -> list[Any]:
    if node.name == "range":
        state.ranged = True
        return values
    if node.name == "end":
        raise _EvalError("not in range, nothing to end", [])
    raise _EvalError(f"unrecognized identifier {node.name}", values)
