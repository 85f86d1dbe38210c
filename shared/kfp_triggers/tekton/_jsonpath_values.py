"""Go values as the JSONPath engine sees them, and Go's rules for comparing them.

Go distinguishes kinds that decoded JSON in Python does not: a JSON number is a float64, an integer
literal in a path is an ``int``, a byte of a string is a ``uint8``, and Tekton's event is a struct.
Filters compare only values of the same kind (ints and uints excepted), exactly as the
``text/template`` comparison functions client-go borrows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

MISSING: Final = object()


class GoInt(int):
    """An integer literal written in a path: a Go ``int``, which never equals a JSON number."""


class GoUint8(int):
    """One byte of a string, which Go yields when ``.*`` or ``..`` walks into a string."""


class ComparisonError(ValueError):
    """Two values cannot be compared with a filter operator."""


@dataclass(frozen=True, slots=True)
class GoStruct:
    """A Go struct: ``(json tag, Go field name, value)`` triples in declaration order.

    JSONPath finds a field by its JSON tag first and then by its Go name (``$(body)`` and
    ``$(Body)`` both work in Tekton); JSON encoding uses the tags, in field order.
    """

    fields: tuple[tuple[str, str, Any], ...]

    def get(self, name: str) -> Any:
        """Return the field named ``name`` (tag, then Go name), or a private missing marker."""
        for tag, _, value in self.fields:
            if tag == name:
                return value
        for _, go_name, value in self.fields:
            if go_name == name:
                return value
        return MISSING

    def values(self) -> list[Any]:
        """The field values in declaration order."""
        return [value for _, _, value in self.fields]

    def go_json_fields(self) -> list[tuple[str, Any]]:
        """``(json name, value)`` pairs, as ``encoding/json`` writes a struct."""
        return [(tag, value) for tag, _, value in self.fields]


def describe(value: Any) -> str:
    """Name a value's JSON type for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, GoUint8):
        return "byte"
    if isinstance(value, GoInt):
        return "integer"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict | GoStruct):
        return "object"
    return type(value).__name__


def _kind(value: Any) -> str:
    """The Go comparison kind of a value (text/template's basicKind)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, GoUint8):
        return "uint"
    if isinstance(value, GoInt):
        return "int"
    if isinstance(value, int | float):
        return "float"
    if isinstance(value, str):
        return "string"
    raise ComparisonError(f"invalid type for comparison: {describe(value)}")


def _incompatible(left: Any, right: Any) -> ComparisonError:
    hint = ""
    if {_kind(left), _kind(right)} == {"int", "float"}:
        hint = " (JSON numbers are floats: compare with a literal like 1.0, not 1)"
    return ComparisonError(f"incompatible types for comparison: {describe(left)} and {describe(right)}{hint}")


def _equal(left: Any, right: Any) -> bool:
    kinds = {_kind(left), _kind(right)}
    if len(kinds) > 1 and kinds != {"int", "uint"}:
        raise _incompatible(left, right)
    return bool(left == right)


def _less(left: Any, right: Any) -> bool:
    left_kind, right_kind = _kind(left), _kind(right)
    if left_kind != right_kind:
        if {left_kind, right_kind} != {"int", "uint"}:
            raise _incompatible(left, right)
    elif left_kind == "bool":
        raise ComparisonError("invalid type for comparison: booleans cannot be ordered")
    return bool(left < right)


def compare(op: str, left: Any, right: Any) -> bool:
    """Apply a filter operator as Go's text/template comparison functions do.

    Raises:
        ComparisonError: the operator is unknown or the operands cannot be compared.
    """
    if op == "==":
        return _equal(left, right)
    if op == "!=":
        return not _equal(left, right)
    if op == "<":
        return _less(left, right)
    if op == ">=":
        return not _less(left, right)
    if op == "<=":
        return _less(left, right) or _equal(left, right)
    if op == ">":
        return not (_less(left, right) or _equal(left, right))
    raise ComparisonError(f"unrecognized filter operator {op}")
