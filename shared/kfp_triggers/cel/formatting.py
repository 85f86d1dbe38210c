"""``string.format`` as cel-go's Strings extension (v4+) implements it, at run time and at check time.

Clauses: ``%s %d %f %e %b %x %X %o`` with an optional ``.N`` precision (at most 100), and ``%%``.
When the format string is a literal and the arguments a list literal, cel-go validates the call
while type-checking, so ``'%d'.format(['x'])`` is a compile error; :func:`check_literal_call`
does the same with the checker's static types.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kfp_triggers.cel.ext_strings import _special, format_value
from kfp_triggers.cel.nodes import ListExpr, MapExpr, Node
from kfp_triggers.cel.typesys import T
from kfp_triggers.cel.values import EvalError, Uint, no_such_overload, runtime_type_name
from kfp_triggers.golang import fmt as gofmt

MAX_PRECISION = 100
_CLAUSE_ERRORS = {
    "s": "string clause can only be used on strings, bools, bytes, ints, doubles, maps, lists, types, "
    "durations, and timestamps",
    "d": "decimal clause can only be used on ints, uints, and doubles",
    "f": "fixed-point clause can only be used on ints, uints, and doubles",
    "e": "scientific clause can only be used on ints, uints, and doubles",
    "b": "only ints, uints, and bools can be formatted as binary",
    "x": "only ints, uints, bytes, and strings can be formatted as hex",
    "o": "octal clause can only be used on ints and uints",
}
# Kinds each clause accepts at check time (``dyn`` is always accepted).
_STATIC_KINDS = {
    "s": {
        "list",
        "map",
        "int",
        "uint",
        "double",
        "bool",
        "string",
        "timestamp",
        "bytes",
        "duration",
        "type",
        "null",
    },
    "d": {"int", "uint", "double"},
    "f": {"int", "uint", "double"},
    "e": {"int", "uint", "double"},
    "b": {"bool", "int", "uint"},
    "x": {"int", "uint", "string", "bytes"},
    "o": {"int", "uint"},
}
_STATIC_NAMES = {
    "null": "null_type",
    "timestamp": "google.protobuf.Timestamp",
    "duration": "google.protobuf.Duration",
}


class FormatProblemError(Exception):
    """A format error; ``pos`` is the argument it concerns, when there is one."""

    def __init__(self, message: str, pos: int | None = None) -> None:
        super().__init__(message)
        self.pos = pos


def clause_error(verb: str, type_name: str) -> str:
    return f"error during formatting: {_CLAUSE_ERRORS[verb.lower()]}, was given {type_name}"


def _walk(fmt: str, count: int, render: Callable[[str, int, int], str], *, runtime: bool) -> str:
    out: list[str] = []
    i = 0
    index = 0
    while i < len(fmt):
        if fmt[i] != "%":
            out.append(fmt[i])
            i += 1
            continue
        if fmt[i + 1 : i + 2] == "%":
            out.append("%")
            i += 2
            continue
        if runtime and index >= count:
            raise FormatProblemError(f"index {index} out of range")
        if i + 1 >= len(fmt):
            raise FormatProblemError("unexpected end of string")
        if index >= count:
            raise FormatProblemError(f"index {index} out of range")
        i, verb, precision = _parse_clause(fmt, i + 1)
        out.append(render(verb, precision, index))
        index += 1
    return "".join(out)


def _parse_clause(fmt: str, i: int) -> tuple[int, str, int]:
    prefix = "could not parse formatting clause: "
    precision = 6
    if fmt[i] == ".":
        j = i + 1
        while j < len(fmt) and fmt[j] in "0123456789":
            j += 1
        if j >= len(fmt):
            raise FormatProblemError(
                prefix + "error while parsing precision: could not find end of precision specifier"
            )
        digits = fmt[i + 1 : j]
        if not digits:
            raise FormatProblemError(
                prefix + "error while parsing precision: error while converting precision to integer: "
                'strconv.Atoi: parsing "": invalid syntax'
            )
        precision = int(digits)
        if precision > MAX_PRECISION:
            raise FormatProblemError(
                prefix + f"error while parsing precision: precision {precision} exceeds maximum "
                f"allowed precision {MAX_PRECISION}"
            )
        i = j
    verb = fmt[i]
    if verb not in "sdfebxXo":
        raise FormatProblemError(prefix + f'unrecognized formatting clause "{verb}"')
    return i + 1, verb, precision


def _render(verb: str, precision: int, arg: Any) -> str:
    t = type(arg)
    numeric = t is int or t is Uint or t is float
    if verb == "s":
        return format_value(arg)
    if verb == "b" and t is bool:
        return "1" if arg else "0"
    if verb in "xX" and t in (str, bytes):
        raw: bytes = arg if t is bytes else gofmt.go_bytes(arg)
        return raw.hex().upper() if verb == "X" else raw.hex()
    allowed = _STATIC_KINDS[verb.lower()]
    if not numeric or (t is float and "double" not in allowed):
        raise FormatProblemError(clause_error(verb, runtime_type_name(arg)))
    if verb == "d":
        return (_special(arg) or gofmt.format_f(arg)) if t is float else str(int(arg))
    if verb in "fe":
        value = float(arg)
        return _special(value) or (f"{value:.{precision}f}" if verb == "f" else f"{value:.{precision}e}")
    text = format(int(arg), {"b": "b", "x": "x", "X": "X", "o": "o"}[verb])
    return text


def string_format(fmt: Any, args: Any) -> str:
    """``'...'.format([...])`` at run time."""
    if type(fmt) is not str or type(args) not in (list, tuple):
        raise no_such_overload("format", fmt, args)
    try:
        return _walk(
            fmt, len(args), lambda verb, precision, i: _render(verb, precision, args[i]), runtime=True
        )
    except FormatProblemError as exc:
        raise EvalError(str(exc)) from None


def _static_problem(verb: str, node: Node, type_of: Callable[[Node], T]) -> tuple[int, str] | None:
    t = type_of(node)
    if t.kind != "dyn" and t.kind not in _STATIC_KINDS[verb.lower()]:
        name = "list" if t.kind == "list" else "map" if t.kind == "map" else _STATIC_NAMES.get(t.kind, str(t))
        return node.pos, clause_error(verb, name)
    if verb == "s" and isinstance(node, ListExpr):
        for element in node.elements:
            found = _static_problem(verb, element, type_of)
            if found:
                return found
    if verb == "s" and isinstance(node, MapExpr):
        for key, value in node.entries:
            found = _static_problem(verb, key, type_of) or _static_problem(verb, value, type_of)
            if found:
                return found
    return None


def check_literal_call(
    fmt: str, arguments: list[Node], type_of: Callable[[Node], T]
) -> tuple[int | None, str] | None:
    """Validate ``'<literal>'.format([<literal list>])``; return ``(position, message)`` of a problem."""
    requested = 0

    def render(verb: str, precision: int, index: int) -> str:
        nonlocal requested
        requested += 1
        found = _static_problem(verb, arguments[index], type_of)
        if found:
            raise FormatProblemError(found[1], found[0])
        return ""

    try:
        _walk(fmt, len(arguments), render, runtime=False)
    except FormatProblemError as exc:
        return exc.pos, str(exc)
    if len(arguments) > requested:
        return (
            None,
            f"too many arguments supplied to string.format (expected {requested}, got {len(arguments)})",
        )
    return None
