"""cel-go's Encoders, Math, Sets and Lists extensions (latest versions), with cel-go's errors."""

from __future__ import annotations

import base64
import binascii
import functools
import math
from collections.abc import Callable
from typing import Any

from kfp_triggers.cel.access import is_list
from kfp_triggers.cel.stdlib import compare, equals, is_num
from kfp_triggers.cel.values import INT64_MIN, CelType, Duration, EvalError, Timestamp, Uint, no_such_overload
from kfp_triggers.golang.fmt import go_bytes

_B64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_MASK64 = (1 << 64) - 1


def _expect(name: str, args: tuple[Any, ...], *checks: Callable[[Any], bool]) -> None:
    if len(args) != len(checks) or not all(check(a) for a, check in zip(args, checks, strict=True)):
        raise no_such_overload(name, *args)


def _is(t: type) -> Callable[[Any], bool]:
    return lambda v: type(v) is t


# -- encoders -------------------------------------------------------------------------------------
def base64_encode(data: Any) -> str:
    _expect("base64.encode", (data,), _is(bytes))
    return base64.b64encode(data).decode("ascii")


def base64_decode(text: Any) -> bytes:
    """Go's ``StdEncoding`` (padded), falling back to ``RawStdEncoding`` (unpadded) as cel-go does."""
    _expect("base64.decode", (text,), _is(str))
    raw = go_bytes(text)
    data = raw.replace(b"\r", b"").replace(b"\n", b"")
    for index, byte in enumerate(data):
        if byte not in _B64_ALPHABET and byte != 0x3D:
            raise EvalError(f"illegal base64 data at input byte {index}")
    try:
        return base64.b64decode(data, validate=True)
    except binascii.Error:
        pass
    if b"=" in data or len(data) % 4 == 1:
        bad = data.find(b"=") if b"=" in data else len(data) - 1
        raise EvalError(f"illegal base64 data at input byte {bad}")
    return base64.b64decode(data + b"=" * (-len(data) % 4), validate=True)


# -- math -----------------------------------------------------------------------------------------
def _pick(name: str, first: Any, second: Any, want: int) -> Any:
    if not (is_num(first) or type(first) in (str, bytes, bool, Timestamp, Duration)):
        raise no_such_overload()
    try:
        out = compare(first, second, name)
    except EvalError as exc:
        msg = exc.message
        raise EvalError(msg if name in msg else f"{msg}: {name}") from None
    return second if out == want else first


def _extreme(name: str, want: int, args: tuple[Any, ...]) -> Any:
    if len(args) == 2:
        return _pick(name, args[0], args[1], want)
    (arg,) = args
    if is_num(arg):
        return arg
    if not is_list(arg):
        raise no_such_overload(name, arg)
    if not arg:
        raise EvalError(f"{name}(list) argument must not be empty")
    result = arg[0]
    for item in arg[1:]:
        result = _pick(name, result, item, want)
    if not is_num(result):
        raise EvalError(f"no such overload: {name}")
    return result


def math_max(*args: Any) -> Any:
    return _extreme("math.@max", -1, args)


def math_min(*args: Any) -> Any:
    return _extreme("math.@min", 1, args)


def _double_fn(name: str, fn: Callable[[float], Any]) -> Callable[[Any], Any]:
    def impl(x: Any) -> Any:
        _expect(name, (x,), _is(float))
        return fn(x)

    return impl


def _round_half_away(x: float) -> float:
    if math.isnan(x) or math.isinf(x):
        return x
    t = float(math.trunc(x))
    if abs(x - t) >= 0.5:
        t += math.copysign(1.0, x)
    return math.copysign(t, x) if t == 0 else t


def math_abs(x: Any) -> Any:
    t = type(x)
    if t is int:
        if x == INT64_MIN:
            raise EvalError("integer overflow")
        return abs(x)
    if t is float:
        return abs(x)
    if t is Uint:
        return x
    raise no_such_overload("math.abs", x)


def math_sign(x: Any) -> Any:
    t = type(x)
    if t is float:
        if math.isnan(x):
            return x
        return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)
    if t is int:
        return (x > 0) - (x < 0)
    if t is Uint:
        return Uint(1 if x else 0)
    raise no_such_overload("math.sign", x)


def math_sqrt(x: Any) -> float:
    if not is_num(x):
        raise EvalError("no such overload: sqrt")
    value = float(x)
    return math.sqrt(value) if value >= 0 or math.isnan(value) else math.nan


def _signed(v: int) -> int:
    v &= _MASK64
    return v - (1 << 64) if v >= 1 << 63 else v


def _bit_pair(name: str, op: Callable[[int, int], int]) -> Callable[[Any, Any], Any]:
    def impl(a: Any, b: Any) -> Any:
        if type(a) is int and type(b) is int:
            return _signed(op(a, b))
        if type(a) is Uint and type(b) is Uint:
            return Uint(op(a, b) & _MASK64)
        raise no_such_overload(name, a, b)

    return impl


def bit_not(a: Any) -> Any:
    if type(a) is int:
        return ~a
    if type(a) is Uint:
        return Uint(~a & _MASK64)
    raise no_such_overload("math.bitNot", a)


def _shift(name: str, left: bool) -> Callable[[Any, Any], Any]:
    def impl(v: Any, bits: Any) -> Any:
        if type(v) not in (int, Uint) or type(bits) is not int:
            raise no_such_overload(f"math.{name}", v, bits)
        if bits < 0:
            raise EvalError(f"math.{name}() negative offset: {bits}")
        unsigned = v & _MASK64
        shifted = (unsigned << bits if left else unsigned >> bits) & _MASK64 if bits < 64 else 0
        return Uint(shifted) if type(v) is Uint else _signed(shifted)

    return impl


MATH: dict[str, Callable[..., Any]] = {
    "math.@max": math_max,
    "math.@min": math_min,
    "math.ceil": _double_fn("math.ceil", lambda x: float(math.ceil(x)) if math.isfinite(x) else x),
    "math.floor": _double_fn("math.floor", lambda x: float(math.floor(x)) if math.isfinite(x) else x),
    "math.round": _double_fn("math.round", _round_half_away),
    "math.trunc": _double_fn("math.trunc", lambda x: float(math.trunc(x)) if math.isfinite(x) else x),
    "math.isInf": _double_fn("math.isInf", math.isinf),
    "math.isNaN": _double_fn("math.isNaN", math.isnan),
    "math.isFinite": _double_fn("math.isFinite", math.isfinite),
    "math.abs": math_abs,
    "math.sign": math_sign,
    "math.sqrt": math_sqrt,
    "math.bitAnd": _bit_pair("math.bitAnd", lambda a, b: a & b),
    "math.bitOr": _bit_pair("math.bitOr", lambda a, b: a | b),
    "math.bitXor": _bit_pair("math.bitXor", lambda a, b: a ^ b),
    "math.bitNot": bit_not,
    "math.bitShiftLeft": _shift("bitShiftLeft", left=True),
    "math.bitShiftRight": _shift("bitShiftRight", left=False),
}


# -- sets -----------------------------------------------------------------------------------------
def _set_args(name: str, a: Any, b: Any) -> None:
    _expect(name, (a, b), is_list, is_list)


def _contains_all(items: Any, sub: Any) -> bool:
    return all(any(equals(x, y) for y in items) for x in sub)


def sets_contains(a: Any, b: Any) -> bool:
    _set_args("sets.contains", a, b)
    return _contains_all(a, b)


def sets_equivalent(a: Any, b: Any) -> bool:
    _set_args("sets.equivalent", a, b)
    return _contains_all(a, b) and _contains_all(b, a)


def sets_intersects(a: Any, b: Any) -> bool:
    _set_args("sets.intersects", a, b)
    return any(any(equals(x, y) for y in b) for x in a)


# -- lists ----------------------------------------------------------------------------------------
def list_slice(lst: Any, start: Any, end: Any) -> list[Any]:
    _expect("slice", (lst, start, end), is_list, _is(int), _is(int))
    if start < 0 or end < 0:
        raise EvalError(f"cannot slice({start}, {end}), negative indexes not supported")
    if start > end:
        raise EvalError(f"cannot slice({start}, {end}), start index must be less than or equal to end index")
    if len(lst) < end:
        raise EvalError(f"cannot slice({start}, {end}), list is length {len(lst)}")
    return list(lst[start:end])


def _flatten(lst: Any, depth: int) -> list[Any]:
    out: list[Any] = []
    for item in lst:
        if is_list(item) and depth > 0:
            out.extend(_flatten(item, depth - 1))
        else:
            out.append(item)
    return out


def list_flatten(lst: Any, *depth: Any) -> list[Any]:
    if not is_list(lst) or (depth and type(depth[0]) is not int):
        raise EvalError(f"no such overload: {_kind(lst)}.flatten({', '.join(_kind(d) for d in depth)})")
    level = depth[0] if depth else 1
    if level < 0:
        raise EvalError("level must be non-negative")
    return _flatten(lst, level)


def _kind(v: Any) -> str:
    from kfp_triggers.cel.values import runtime_type_name

    return runtime_type_name(v)


def lists_range(n: Any) -> list[int]:
    _expect("lists.range", (n,), _is(int))
    return list(range(n)) if n > 0 else []


def list_reverse(lst: Any) -> list[Any]:
    _expect("reverse", (lst,), is_list)
    return list(reversed(lst))


def list_distinct(lst: Any) -> list[Any]:
    _expect("distinct", (lst,), is_list)
    unique: list[Any] = []
    for item in lst:
        if not any(equals(item, u) for u in unique):
            unique.append(item)
    return unique


_COMPARABLE = (int, Uint, float, bool, str, bytes, Timestamp, Duration)


def sort_by_keys(lst: Any, keys: Any) -> list[Any]:
    """Sort ``lst`` by the parallel list ``keys`` (cel-go's ``@sortByAssociatedKeys``)."""
    if not is_list(lst) or not is_list(keys):
        raise no_such_overload("@sortByAssociatedKeys", lst, keys)
    if len(lst) != len(keys):
        raise EvalError(
            "@sortByAssociatedKeys() expected a list of the same size as the associated keys list, "
            f"but got {len(lst)} and {len(keys)} elements respectively"
        )
    if not lst:
        return list(lst)
    first_type = type(keys[0])
    if first_type not in _COMPARABLE:
        raise EvalError("list elements must be comparable")
    if any(type(k) is not first_type for k in keys):
        raise EvalError("list elements must have the same type")

    def order(i: int, j: int) -> int:
        try:
            return compare(keys[i], keys[j], "sort")
        except EvalError:
            return 0

    indices = sorted(range(len(lst)), key=functools.cmp_to_key(order))
    return [lst[i] for i in indices]


def list_sort(lst: Any) -> list[Any]:
    if not is_list(lst):
        raise no_such_overload("sort", lst)
    if lst and type(lst[0]) in (list, tuple, dict, CelType, type(None)):
        raise EvalError("list elements must be comparable")
    return sort_by_keys(lst, lst)
