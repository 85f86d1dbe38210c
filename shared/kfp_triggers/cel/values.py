"""The CEL value model shared by both backends, and the public result type.

Values are plain Python objects so that a decoded JSON body can be used as is: ``None`` is
``null``, ``bool``/``int``/``float``/``str``/``bytes`` are the CEL scalars, ``list`` and ``dict``
are lists and maps. Three CEL types need a wrapper because Python has no exact equivalent:
:class:`Uint` (an ``int`` subclass, so numeric map keys still hash alike), :class:`Timestamp`
and :class:`Duration` (nanosecond precision, as in Go). Type values are :class:`CelType`.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from typing import Any

from kfp_triggers.cel import timeutil
from kfp_triggers.errors import CelEvalError
from kfp_triggers.golang.fmt import valid_text

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
UINT64_MAX = 2**64 - 1


class Uint(int):
    """A CEL ``uint``: a non-negative 64-bit integer that keeps its own type."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"{int(self)}u"


@dataclass(frozen=True, slots=True)
class Timestamp:
    """A point in time: nanoseconds since the Unix epoch plus the UTC offset it was written with."""

    nanos: int
    offset: int = 0  # seconds east of UTC, only used for formatting (as Go keeps the location)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Timestamp) and self.nanos == other.nanos

    def __hash__(self) -> int:
        return hash(("ts", self.nanos))

    def __str__(self) -> str:
        return timeutil.format_timestamp(self.nanos, self.offset)


@dataclass(frozen=True, slots=True)
class Duration:
    """A signed span of time in nanoseconds."""

    nanos: int

    def __str__(self) -> str:
        return timeutil.format_duration(self.nanos)


@dataclass(frozen=True, slots=True)
class BoolKey:
    """A ``bool`` map key kept apart from the number it would collide with in a Python dict.

    Python's ``True == 1`` (and ``hash(True) == hash(1)``) would merge ``{1: 'a', true: 'b'}``
    into one entry, where CEL has two. Only a map holding both a bool and an equal number stores
    its bool key wrapped (see :func:`map_insert`); every reader of keys unwraps it with
    :func:`plain_key`, so no CEL value ever sees the wrapper.
    """

    value: bool

    def __str__(self) -> str:
        return "true" if self.value else "false"


def plain_key(key: Any) -> Any:
    """A stored map key as the CEL value it stands for (unwraps :class:`BoolKey`)."""
    return key.value if type(key) is BoolKey else key


def map_keys(m: dict[Any, Any]) -> list[Any]:
    """The keys of a map as CEL values, in insertion order."""
    keys = list(m)
    if any(type(k) is BoolKey for k in keys):
        return [plain_key(k) for k in keys]
    return keys


def map_insert(m: dict[Any, Any], key: Any, value: Any) -> None:
    """``m[key] = value`` with CEL's key identity: ``true`` and ``1`` (``false`` and ``0``) differ.

    Numbers of different types stay one key (``1``, ``1u`` and ``1.0`` are the same CEL key), so
    only a collision between a bool and a number needs the bool wrapped in :class:`BoolKey`.
    A stored bool that a number now collides with is re-keyed in place, keeping the order.
    """
    if type(key) is BoolKey:
        key = key.value
    if type(key) is bool:
        wrapped = BoolKey(key)
        if wrapped in m:
            m[wrapped] = value
            return
    if key in m and (type(key) is bool or type(key) in (int, Uint, float)) and key in (0, 1):
        stored = next(k for k in m if k == key)
        if (type(stored) is bool) != (type(key) is bool):
            if type(key) is bool:
                m[BoolKey(key)] = value
                return
            items = [(BoolKey(k) if k is stored else k, v) for k, v in m.items()]
            m.clear()
            m.update(items)
    m[key] = value


@dataclass(frozen=True, slots=True)
class CelType:
    """A CEL type used as a value, e.g. the result of ``type(1)`` (``int``)."""

    name: str

    def __str__(self) -> str:
        return self.name


class EvalError(Exception):
    """An error value raised while evaluating; the message is the one cel-go would produce."""

    __slots__ = ()

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


def no_such_overload(name: str | None = None, *args: Any) -> EvalError:
    """The runtime overload error, either bare (operators) or with the argument type names."""
    if name is None:
        return EvalError("no such overload")
    return EvalError(f"no such overload: {name}({', '.join(runtime_type_name(a) for a in args)})")


# Type names as cel-go's runtime reports them (``TypeName()``), used in error messages.
def runtime_type_name(value: Any) -> str:
    """The runtime type name cel-go prints in errors (``int``, ``map``, ``null_type``, ...)."""
    if value is None:
        return "null_type"
    t = type(value)
    if t is bool:
        return "bool"
    if t is Uint:
        return "uint"
    if t is int:
        return "int"
    if t is float:
        return "double"
    if t is str:
        return "string"
    if t is bytes:
        return "bytes"
    if t is list or t is tuple:
        return "list"
    if t is dict:
        return "map"
    if t is Timestamp:
        return "google.protobuf.Timestamp"
    if t is Duration:
        return "google.protobuf.Duration"
    if t is CelType:
        return "type"
    return t.__name__


# The result type names of the public API (``{"type": ...}`` of ``kfp-triggers cel-eval``).
_PUBLIC_TYPE = {
    "null_type": "null",
    "google.protobuf.Timestamp": "timestamp",
    "google.protobuf.Duration": "duration",
}


def type_of(value: Any) -> CelType:
    """The CEL type value of ``value`` (what ``type(value)`` returns)."""
    return CelType(runtime_type_name(value))


def to_json(value: Any) -> Any:
    """Convert a CEL value to JSON data: bytes as base64, timestamps RFC 3339, durations ``"1.5s"``.

    Doubles that are not finite become the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``,
    as protobuf's JSON mapping writes them; map keys become strings.
    """
    t = type(value)
    if value is None or t is bool:
        return value
    if t is str:
        return valid_text(value)  # a byte cut by truncate() reads as U+FFFD, as in Go's JSON
    if t is int or t is Uint:
        return int(value)
    if t is float:
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if t is bytes:
        return base64.b64encode(value).decode("ascii")
    if t is list or t is tuple:
        return [to_json(v) for v in value]
    if t is dict:
        return {valid_text(map_key_string(plain_key(k))): to_json(v) for k, v in value.items()}
    if t is Timestamp or t is Duration or t is CelType:
        return str(value)
    raise CelEvalError(f"unsupported CEL value of type {t.__name__}")


def map_key_string(key: Any) -> str:
    """A map key as text (``true``, ``1``, ``name``) for JSON output."""
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(int(key)) if isinstance(key, int) else str(key)


@dataclass(frozen=True)
class CelValue:
    """The result of an evaluation: the CEL type name and the value in our value model.

    ``type_name`` is one of ``string, bool, int, uint, double, bytes, list, map, null, timestamp,
    duration, type``.
    """

    value: Any

    @property
    def type_name(self) -> str:
        name = runtime_type_name(self.value)
        return _PUBLIC_TYPE.get(name, name)

    def to_json(self) -> Any:
        """The value as JSON data (see :func:`to_json`)."""
        return to_json(self.value)
