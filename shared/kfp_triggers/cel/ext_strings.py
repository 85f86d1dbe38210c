"""cel-go's Strings extension (latest version): indices count Unicode code points, not bytes.

``charAt, indexOf, lastIndexOf, lowerAscii, upperAscii, replace, split, substring, trim, join,
reverse`` and ``strings.quote``, with cel-go's error messages (``index out of range: 9``);
``format`` lives in :mod:`kfp_triggers.cel.formatting`.
"""

from __future__ import annotations

import math
from typing import Any

from kfp_triggers.cel import timeutil
from kfp_triggers.cel.values import (
    CelType,
    Duration,
    EvalError,
    Timestamp,
    Uint,
    no_such_overload,
    plain_key,
)
from kfp_triggers.golang import fmt as gofmt

# Characters Go's strings.TrimSpace removes (unicode.IsSpace).
_SPACES = (
    "\t\n\v\f\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
)


def _expect(name: str, args: tuple[Any, ...], *types: type) -> None:
    if len(args) != len(types) or any(type(a) is not t for a, t in zip(args, types, strict=True)):
        raise no_such_overload(name, *args)


def char_at(s: Any, i: Any) -> str:
    _expect("charAt", (s, i), str, int)
    if i < 0 or i > len(s):
        raise EvalError(f"index out of range: {i}")
    return "" if i == len(s) else str(s[i])


def index_of(s: Any, sub: Any, *rest: Any) -> int:
    _expect("indexOf", (s, sub, *rest), str, str, *([int] if rest else []))
    offset = rest[0] if rest else 0
    if offset < 0:
        raise EvalError(f"index out of range: {offset}")
    if sub == "":
        return min(offset, len(s))
    if offset >= len(s):
        return -1
    return int(s.find(sub, offset))


def last_index_of(s: Any, sub: Any, *rest: Any) -> int:
    if not rest:
        _expect("lastIndexOf", (s, sub), str, str)
        if sub == "":
            return len(s)
        if len(gofmt.go_bytes(s)) < len(gofmt.go_bytes(sub)):
            return -1
        offset = len(s) - 1
    else:
        offset = rest[0]
        _expect("lastIndexOf", (s, sub, offset), str, str, int)
    if offset < 0:
        raise EvalError(f"index out of range: {offset}")
    if sub == "":
        return min(offset, len(s))
    if offset >= len(s):
        return -1
    return int(s.rfind(sub, 0, min(offset, len(s) - len(sub)) + len(sub)))


def _ascii(s: str, upper: bool) -> str:
    return "".join((c.upper() if upper else c.lower()) if c < "\x80" else c for c in s)


def lower_ascii(s: Any) -> str:
    _expect("lowerAscii", (s,), str)
    return _ascii(s, upper=False)


def upper_ascii(s: Any) -> str:
    _expect("upperAscii", (s,), str)
    return _ascii(s, upper=True)


def replace(s: Any, old: Any, new: Any, *rest: Any) -> str:
    _expect("replace", (s, old, new, *rest), str, str, str, *([int] if rest else []))
    count = rest[0] if rest else -1
    return str(s.replace(old, new, count if count >= 0 else -1))


def split(s: Any, sep: Any, *rest: Any) -> list[str]:
    _expect("split", (s, sep, *rest), str, str, *([int] if rest else []))
    n = rest[0] if rest else -1
    if n == 0:
        return []
    if sep == "":
        chars = list(s)
        if 0 < n < len(chars):
            return [*chars[: n - 1], "".join(chars[n - 1 :])]
        return chars
    parts: list[str] = s.split(sep, n - 1 if n > 0 else -1)
    return parts


def substring(s: Any, start: Any, *rest: Any) -> str:
    _expect("substring", (s, start, *rest), str, int, *([int] if rest else []))
    end = rest[0] if rest else len(s)
    if rest and start > end:
        raise EvalError(f"invalid substring range. start: {start}, end: {end}")
    if start < 0 or start > len(s):
        raise EvalError(f"index out of range: {start}")
    if end < 0 or end > len(s):
        raise EvalError(f"index out of range: {end}")
    return str(s[start:end])


def trim(s: Any) -> str:
    _expect("trim", (s,), str)
    return str(s.strip(_SPACES))


def join(items: Any, *rest: Any) -> str:
    if type(items) not in (list, tuple) or (rest and type(rest[0]) is not str):
        raise no_such_overload("join", items, *rest)
    for item in items:
        if type(item) is not str:
            raise EvalError(f"join: invalid input: {_plain(item)}")
    return str((rest[0] if rest else "").join(items))


def reverse_string(s: Any) -> str:
    return str(s[::-1])


def quote(s: Any) -> str:
    _expect("strings.quote", (s,), str)
    escapes = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
               "\\": "\\\\", '"': '\\"'}  # fmt: skip
    clean = gofmt.valid_text(s)  # cel-go sanitises invalid UTF-8 to U+FFFD per byte
    return '"' + "".join(escapes.get(c, c) for c in clean) + '"'


def _plain(v: Any) -> str:
    return format_value(v)


# -- format ---------------------------------------------------------------------------------------
def format_value(arg: Any) -> str:
    """The ``%s`` rendering of any value (lists and maps recursively, maps sorted by key)."""
    t = type(arg)
    if t is bool:
        return "true" if arg else "false"
    if t is int or t is Uint:
        return str(int(arg))
    if t is float:
        return _special(arg) or gofmt.format_f(arg)
    if t is bytes:
        return str(arg.decode("utf-8", "replace"))
    if t is str:
        return str(arg)
    if t is Duration:
        return timeutil.format_duration(arg.nanos)
    if t is Timestamp:
        return timeutil.format_timestamp(arg.nanos, 0)
    if arg is None:
        return "null"
    if t is CelType:
        return str(arg.name)
    if t is list or t is tuple:
        return "[" + ", ".join(format_value(v) for v in arg) + "]"
    if t is dict:
        entries = sorted((format_value(plain_key(k)), format_value(v)) for k, v in arg.items())
        return "{" + ", ".join(f"{k}: {v}" for k, v in entries) + "}"
    raise EvalError(f"error during formatting: unsupported value of type {t.__name__}")


def _special(x: float) -> str | None:
    if math.isnan(x):
        return "NaN"
    if x in (float("inf"), float("-inf")):
        return "Infinity" if x > 0 else "-Infinity"
    return None
