"""CEL's type conversion functions (``int()``, ``string()``, ``timestamp()``...) and time accessors.

The rules are cel-go's: doubles convert to ints by truncation with a range check, strings parse
with Go's ``strconv`` grammar (no spaces, no underscores), ``string(double)`` prints like Go's
``%g`` and timestamps keep the offset they were written with.
"""

from __future__ import annotations

import math
import re
from typing import Any

from kfp_triggers.cel import timeutil
from kfp_triggers.cel.stdlib import check_int, check_timestamp
from kfp_triggers.cel.values import (
    INT64_MAX,
    INT64_MIN,
    UINT64_MAX,
    CelType,
    Duration,
    EvalError,
    Timestamp,
    Uint,
    no_such_overload,
)
from kfp_triggers.golang import fmt as gofmt

_INT_TEXT = re.compile(r"[+-]?[0-9]+\Z")
_UINT_TEXT = re.compile(r"\+?[0-9]+\Z")
_FLOAT_TEXT = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)\Z", re.I
)
_BOOL_TEXT = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
              "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}  # fmt: skip
_TS_NAME = "google.protobuf.Timestamp"
_DUR_NAME = "google.protobuf.Duration"


def _conversion_error(source: str, target: str) -> EvalError:
    return EvalError(f"type conversion error from '{source}' to '{target}'")


def to_int(v: Any) -> int:
    t = type(v)
    if t is int:
        return int(v)
    if t is Uint:
        if v > INT64_MAX:
            raise EvalError("integer overflow")
        return int(v)
    if t is float:
        if math.isnan(v) or math.isinf(v) or v <= INT64_MIN or v >= INT64_MAX:
            raise EvalError("integer overflow")
        return int(v)
    if t is str:
        if _INT_TEXT.match(v):
            n = int(v)
            if INT64_MIN <= n <= INT64_MAX:
                return n
        raise _conversion_error("string", "int")
    if t is Timestamp:
        return int(v.nanos // timeutil.NANOS)
    if t is Duration:
        return int(v.nanos)
    raise no_such_overload("int", v)


def to_uint(v: Any) -> Uint:
    t = type(v)
    if t is Uint:
        return Uint(v)
    if t is int:
        if v < 0:
            raise EvalError("unsigned integer overflow")
        return Uint(v)
    if t is float:
        if math.isnan(v) or math.isinf(v) or v < 0 or v >= UINT64_MAX:
            raise EvalError("unsigned integer overflow")
        return Uint(int(v))
    if t is str:
        if _UINT_TEXT.match(v) and int(v) <= UINT64_MAX:
            return Uint(int(v))
        raise _conversion_error("string", "uint")
    raise no_such_overload("uint", v)


def to_double(v: Any) -> float:
    t = type(v)
    if t is float:
        return float(v)
    if t is int or t is Uint:
        return float(v)
    if t is str:
        if _FLOAT_TEXT.match(v):
            return float(v)
        raise _conversion_error("string", "double")
    raise no_such_overload("double", v)


def to_string(v: Any) -> str:
    t = type(v)
    if t is str:
        return str(v)
    if t is bool:
        return "true" if v else "false"
    if t is int or t is Uint:
        return str(int(v))
    if t is float:
        return gofmt.format_g(v)
    if t is bytes:
        try:
            return str(v.decode("utf-8"))
        except UnicodeDecodeError:
            raise EvalError("invalid UTF-8 in bytes, cannot convert to string") from None
    if t is Timestamp or t is Duration:
        return str(v)
    raise no_such_overload("string", v)


def to_bytes(v: Any) -> bytes:
    if type(v) is bytes:
        return bytes(v)
    if type(v) is str:
        return gofmt.go_bytes(v)
    raise no_such_overload("bytes", v)


def to_bool(v: Any) -> bool:
    if type(v) is bool:
        return bool(v)
    if type(v) is str:
        if v in _BOOL_TEXT:
            return _BOOL_TEXT[v]
        raise _conversion_error("string", "bool")
    raise no_such_overload("bool", v)


def to_duration(v: Any) -> Duration:
    if type(v) is Duration:
        return Duration(v.nanos)
    if type(v) is str:
        nanos = timeutil.parse_duration(v)
        if nanos is None:
            raise _conversion_error("string", _DUR_NAME)
        return Duration(nanos)
    raise no_such_overload("duration", v)


def to_timestamp(v: Any) -> Timestamp:
    t = type(v)
    if t is Timestamp:
        return Timestamp(v.nanos, v.offset)
    if t is str:
        parsed = timeutil.parse_timestamp(v)
        if parsed is None:
            raise _conversion_error("string", _TS_NAME)
        return check_timestamp(*parsed)
    if t is int:
        if not timeutil.MIN_UNIX_SECONDS <= v <= timeutil.MAX_UNIX_SECONDS:
            raise EvalError("timestamp overflow")
        return Timestamp(v * timeutil.NANOS)
    raise no_such_overload("timestamp", v)


def dyn(v: Any) -> Any:
    return v


CONVERSIONS = {
    "int": to_int, "uint": to_uint, "double": to_double, "string": to_string, "bytes": to_bytes,
    "bool": to_bool, "duration": to_duration, "timestamp": to_timestamp, "dyn": dyn,
}  # fmt: skip


# -- timestamp and duration accessors -------------------------------------------------------------
def _local(ts: Timestamp, tz: Any, name: str) -> tuple[Any, int]:
    if tz is None:
        offset = 0
    else:
        if type(tz) is not str:
            raise no_such_overload(name, ts, tz)
        found = timeutil.timezone_offset(ts.nanos, tz)
        if found is None:
            raise EvalError(f"unknown time zone {tz}")
        offset = found
    return timeutil.civil(ts.nanos, offset)


def _duration_part(d: Duration, unit: int) -> int:
    n = abs(d.nanos) // unit
    return -n if d.nanos < 0 else n


def _getter(name: str) -> Any:
    def get(value: Any, tz: Any = None) -> int:
        if type(value) is Duration and tz is None:
            units = {"getHours": 3600 * timeutil.NANOS, "getMinutes": 60 * timeutil.NANOS,
                     "getSeconds": timeutil.NANOS, "getMilliseconds": 1_000_000}  # fmt: skip
            if name in units:
                return _duration_part(value, units[name])
        if type(value) is not Timestamp:
            raise no_such_overload(name, value, *([] if tz is None else [tz]))
        local, frac = _local(value, tz, name)
        parts = {
            "getFullYear": local.year,
            "getMonth": local.month - 1,
            "getDayOfYear": local.timetuple().tm_yday - 1,
            "getDayOfMonth": local.day - 1,
            "getDate": local.day,
            "getDayOfWeek": (local.weekday() + 1) % 7,
            "getHours": local.hour,
            "getMinutes": local.minute,
            "getSeconds": local.second,
            "getMilliseconds": frac // 1_000_000,
        }
        return check_int(parts[name])

    return get


ACCESSORS = {
    name: _getter(name)
    for name in ("getFullYear", "getMonth", "getDayOfYear", "getDayOfMonth", "getDate", "getDayOfWeek",
                 "getHours", "getMinutes", "getSeconds", "getMilliseconds")
}  # fmt: skip

__all__ = ["ACCESSORS", "CONVERSIONS", "CelType"]
