"""Runtime semantics of CEL's operators and standard functions, matching cel-go.

Every function takes already-evaluated arguments and either returns a value or raises
:class:`EvalError` with cel-go's message. Numeric equality is heterogeneous (``1 == 1.0`` at run
time), int and uint arithmetic is checked for 64-bit overflow, and a value of the wrong type
gives cel-go's ``no such overload`` wording.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from kfp_triggers.cel import goregex, timeutil
from kfp_triggers.cel.access import index, is_list, map_find
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
    runtime_type_name,
)

NUMERIC = (int, Uint, float)


def is_num(v: Any) -> bool:
    t = type(v)
    return t is int or t is float or t is Uint


def check_int(v: int) -> int:
    if not INT64_MIN <= v <= INT64_MAX:
        raise EvalError("integer overflow")
    return v


def check_uint(v: int) -> Uint:
    if not 0 <= v <= UINT64_MAX:
        raise EvalError("unsigned integer overflow")
    return Uint(v)


def check_duration(v: int) -> Duration:
    return Duration(check_int(v))


def check_timestamp(nanos: int, offset: int) -> Timestamp:
    if not timeutil.in_range(nanos):
        raise EvalError("timestamp overflow")
    return Timestamp(nanos, offset)


# -- equality and ordering ------------------------------------------------------------------------
_TWO_63 = 9223372036854775808.0  # float64(math.MaxInt64) in Go: 2**63 after rounding
_TWO_64 = 18446744073709551616.0  # float64(math.MaxUint64)


def _compare_double(d: float, n: int) -> int:
    """cel-go's ``compareDoubleInt``/``compareDoubleUint``: the integer is converted to a double.

    So ``9223372036854775807`` and ``9223372036854775808.0`` are equal (the int rounds up to
    2**63), where an exact comparison would order them. Doubles beyond the integer type's range
    are ordered first, as Go does, and ``d`` must not be NaN.
    """
    if d < (0 if type(n) is Uint else INT64_MIN):
        return -1
    if d > (_TWO_64 if type(n) is Uint else _TWO_63):
        return 1
    x = float(n)
    return -1 if d < x else (1 if d > x else 0)


def _compare_numbers(a: Any, b: Any) -> int:
    """-1, 0 or 1 for two numbers of any CEL numeric types (neither NaN), as cel-go orders them."""
    if type(a) is float:
        return _compare_double(a, b) if type(b) is not float else int(a > b) - int(a < b)
    if type(b) is float:
        return -_compare_double(b, a)
    return int(a > b) - int(a < b)  # int and uint: Python's integers compare exactly, as cel-go does


def equals(a: Any, b: Any) -> bool:
    """CEL's heterogeneous equality: never an error, numbers compare by value across types."""
    ta, tb = type(a), type(b)
    if ta is tb and ta in (str, bool, bytes):
        return bool(a == b)
    if is_num(a) and is_num(b):
        if ta is tb or (ta is not float and tb is not float):
            return bool(a == b)
        if (ta is float and math.isnan(a)) or (tb is float and math.isnan(b)):
            return False
        return _compare_numbers(a, b) == 0
    if a is None or b is None:
        return a is None and b is None
    if is_list(a) and is_list(b):
        return len(a) == len(b) and all(equals(x, y) for x, y in zip(a, b, strict=True))
    if ta is dict and tb is dict:
        if len(a) != len(b):
            return False
        for key, value in a.items():
            found, other = map_find(b, key)
            if not found or not equals(value, other):
                return False
        return True
    if ta is tb and ta in (Timestamp, Duration, CelType):
        return bool(a == b)
    return False


def compare(a: Any, b: Any, op: str) -> int:
    """-1, 0 or 1; raise for mismatched types or NaN (cel-go's ``Compare``)."""
    ta, tb = type(a), type(b)
    if is_num(a) and is_num(b):
        if (ta is float and math.isnan(a)) or (tb is float and math.isnan(b)):
            raise EvalError("NaN values cannot be ordered")
        return _compare_numbers(a, b)
    if not (ta is tb and ta in (str, bytes, bool, Timestamp, Duration)):
        if ta in (int, Uint, float, str, bytes, bool, Timestamp, Duration):
            raise no_such_overload()
        raise EvalError(f"no such overload: {op}")
    if ta in (Timestamp, Duration):
        a, b = a.nanos, b.nanos
    return -1 if a < b else (1 if a > b else 0)


def less(a: Any, b: Any) -> bool:
    return compare(a, b, "_<_") < 0


def less_equals(a: Any, b: Any) -> bool:
    return compare(a, b, "_<=_") <= 0


def greater(a: Any, b: Any) -> bool:
    return compare(a, b, "_>_") > 0


def greater_equals(a: Any, b: Any) -> bool:
    return compare(a, b, "_>=_") >= 0


def contains_value(item: Any, container: Any) -> bool:
    """The ``in`` operator."""
    if is_list(container):
        return any(equals(item, e) for e in container)
    if type(container) is dict:
        return map_find(container, item)[0]
    raise no_such_overload()


# -- arithmetic -----------------------------------------------------------------------------------
def add(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is tb:
        if ta is int:
            return check_int(a + b)
        if ta is float or ta is str or ta is bytes:
            return a + b
        if ta is Uint:
            return check_uint(a + b)
        if ta is list or ta is tuple:
            return [*a, *b]
        if ta is Duration:
            return check_duration(a.nanos + b.nanos)
    if is_list(a) and is_list(b):
        return [*a, *b]
    if ta is Timestamp and tb is Duration:
        return check_timestamp(a.nanos + b.nanos, a.offset)
    if ta is Duration and tb is Timestamp:
        return check_timestamp(a.nanos + b.nanos, b.offset)
    raise _arith_error(a, "_+_", (int, float, str, bytes, Uint, Duration, Timestamp, list, tuple))


def _arith_error(a: Any, op: str, traited: tuple[type, ...]) -> EvalError:
    return no_such_overload() if type(a) in traited else EvalError(f"no such overload: {op}")


def subtract(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is tb:
        if ta is int:
            return check_int(a - b)
        if ta is float:
            return a - b
        if ta is Uint:
            return check_uint(a - b)
        if ta is Duration:
            return check_duration(a.nanos - b.nanos)
        if ta is Timestamp:
            return check_duration(a.nanos - b.nanos)
    if ta is Timestamp and tb is Duration:
        return check_timestamp(a.nanos - b.nanos, a.offset)
    raise _arith_error(a, "_-_", (int, float, Uint, Duration, Timestamp))


def multiply(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is tb:
        if ta is int:
            return check_int(a * b)
        if ta is float:
            return a * b
        if ta is Uint:
            return check_uint(a * b)
    raise _arith_error(a, "_*_", (int, float, Uint))


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def divide(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is tb and ta in (int, Uint):
        if b == 0:
            raise EvalError("division by zero")
        q = _trunc_div(a, b)
        return check_int(q) if ta is int else Uint(q)
    if ta is tb and ta is float:
        if b == 0.0:
            if a == 0.0 or math.isnan(a):
                return math.nan
            return math.copysign(math.inf, a) * math.copysign(1.0, b)
        return a / b
    raise _arith_error(a, "_/_", (int, float, Uint))


def modulo(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is tb and ta in (int, Uint):
        if b == 0:
            raise EvalError("modulus by zero")
        if ta is int and a == INT64_MIN and b == -1:
            raise EvalError("integer overflow")
        r = a - b * _trunc_div(a, b)
        return r if ta is int else Uint(r)
    raise _arith_error(a, "_%_", (int, Uint))


def negate(a: Any) -> Any:
    t = type(a)
    if t is int:
        return check_int(-a)
    if t is float:
        return -a
    if t is Duration:
        return check_duration(-a.nanos)
    raise EvalError("no such overload: -_")


def logical_not(a: Any) -> bool:
    if type(a) is not bool:
        raise no_such_overload()
    return not a


# -- size, strings, regex -------------------------------------------------------------------------
def size(v: Any) -> int:
    t = type(v)
    if t in (str, bytes, list, tuple, dict):
        return len(v)
    raise EvalError("no such overload: size")


def _string_pair(a: Any, b: Any) -> None:
    if type(a) is not str or type(b) is not str:
        raise no_such_overload()


def contains(a: Any, b: Any) -> bool:
    _string_pair(a, b)
    return b in a


def starts_with(a: Any, b: Any) -> bool:
    _string_pair(a, b)
    return bool(a.startswith(b))


def ends_with(a: Any, b: Any) -> bool:
    _string_pair(a, b)
    return bool(a.endswith(b))


def matches(text: Any, pattern: Any) -> bool:
    if type(text) is not str:
        raise EvalError("no such overload: matches")
    if type(pattern) is not str:
        raise no_such_overload()
    try:
        return goregex.matches(text, pattern)
    except goregex.RegexError as exc:
        raise EvalError(str(exc)) from None


def type_value(v: Any) -> CelType:
    return CelType("type") if type(v) is CelType else CelType(runtime_type_name(v))


Impl = Callable[..., Any]

OPERATORS: dict[str, Impl] = {
    "_+_": add, "_-_": subtract, "_*_": multiply, "_/_": divide, "_%_": modulo, "-_": negate,
    "!_": logical_not, "_<_": less, "_<=_": less_equals, "_>_": greater, "_>=_": greater_equals,
    "_==_": equals, "_!=_": lambda a, b: not equals(a, b), "@in": contains_value, "_[_]": index,
}  # fmt: skip
