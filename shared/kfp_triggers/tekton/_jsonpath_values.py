"""Go values as the JSONPath engine sees them, and Go's rules for comparing them.

Go distinguishes kinds that decoded JSON in Python does not: a JSON number is a float64, an integer
literal in a path is an ``int``, a byte of a string is a ``uint8``, Tekton's event is a struct and
its headers a ``map[string]string``. Filters compare only values of the same kind (ints and uints
excepted), exactly as the ``text/template`` comparison functions client-go borrows, and fail with
their errors (``incompatible types for comparison``). :func:`go_type` and :func:`go_value` name and
print a value as Go's ``%v`` does, for client-go's error texts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from kfp_triggers.golang.fmt import format_v

MISSING: Final = object()


class GoInt(int):
    """An integer literal written in a path: a Go ``int``, which never equals a JSON number."""


class GoUint8(int):
    """One byte of a string, which Go yields when ``.*`` or ``..`` walks into a string."""


class StringMap(dict[str, str]):
    """A Go ``map[string]string`` (Tekton's joined headers), named so in error messages."""


class ComparisonError(ValueError):
    """Two values cannot be compared with a filter operator; the message is Go's."""


_BAD_TYPE: Final = "invalid type for comparison"
_INCOMPATIBLE: Final = "incompatible types for comparison"


@dataclass(frozen=True, slots=True)
class GoStruct:
    """A Go struct: ``(json tag, Go field name, value)`` triples in declaration order.

    JSONPath finds a field by its JSON tag first and then by its Go name (``$(body)`` and
    ``$(Body)`` both work in Tekton); JSON encoding uses the tags, in field order.
    """

    fields: tuple[tuple[str, str, Any], ...]
    go_type: str = "struct"

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


def go_type(value: Any) -> str:
    """The Go type of a value, as ``reflect.Type`` prints it (``float64``, ``map[string]interface {}``)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, GoUint8):
        return "uint8"
    if isinstance(value, GoInt):
        return "int"
    if isinstance(value, float | int):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, StringMap):
        return "map[string]string"
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, GoStruct):
        return value.go_type
    return "interface {}"


def go_value(value: Any) -> str:
    """A value as Go's ``%v`` prints it (maps with sorted keys, ``<nil>`` for null, structs in braces)."""
    if isinstance(value, GoStruct):
        return "{" + " ".join(go_value(v) for v in value.values()) + "}"
    return format_v(value)


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
    raise ComparisonError(_BAD_TYPE)


def _equal(left: Any, right: Any) -> bool:
    kinds = {_kind(left), _kind(right)}
    if len(kinds) > 1 and kinds != {"int", "uint"}:
        raise ComparisonError(_INCOMPATIBLE)
    return bool(left == right)


def _less(left: Any, right: Any) -> bool:
    left_kind, right_kind = _kind(left), _kind(right)
    if left_kind != right_kind:
        if {left_kind, right_kind} != {"int", "uint"}:
            raise ComparisonError(_INCOMPATIBLE)
    elif left_kind == "bool":
        raise ComparisonError(_BAD_TYPE)  # booleans cannot be ordered
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
