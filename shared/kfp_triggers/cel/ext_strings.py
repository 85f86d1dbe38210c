"""cel-go's Strings extension (latest version): indices count Unicode code points, not bytes.

``charAt, indexOf, lastIndexOf, lowerAscii, upperAscii, replace, split, substring, trim, join,
reverse, format`` and ``strings.quote``, with cel-go's error messages (``index out of range: 9``).
"""

from __future__ import annotations

import math
from typing import Any

from kfp_triggers.cel import numfmt, timeutil
from kfp_triggers.cel.values import CelType, Duration, EvalError, Timestamp, Uint, no_such_overload

# Characters Go's strings.TrimSpace removes (unicode.IsSpace).
_SPACES = (
    "\t\n\v\f\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
)
_MAX_PRECISION = 100


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
        if len(s.encode("utf-8")) < len(sub.encode("utf-8")):
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
    clean = s.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
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
        return _special(arg) or numfmt.format_f(arg)
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
        entries = sorted((format_value(k), format_value(v)) for k, v in arg.items())
        return "{" + ", ".join(f"{k}: {v}" for k, v in entries) + "}"
    raise EvalError(_clause_error("string", t.__name__))


def _special(x: float) -> str | None:
    if math.isnan(x):
        return "NaN"
    if x in (float("inf"), float("-inf")):
        return "Infinity" if x > 0 else "-Infinity"
    return None


_CLAUSE_ERRORS = {
    "string": "string clause can only be used on strings, bools, bytes, ints, doubles, maps, lists, types, "
    "durations, and timestamps",
    "d": "decimal clause can only be used on ints, uints, and doubles",
    "f": "fixed-point clause can only be used on ints, uints, and doubles",
    "e": "scientific clause can only be used on ints, uints, and doubles",
    "b": "only ints, uints, and bools can be formatted as binary",
    "x": "only ints, uints, bytes, and strings can be formatted as hex",
    "o": "octal clause can only be used on ints and uints",
}


def _clause_error(clause: str, type_name: str) -> str:
    return f"{_CLAUSE_ERRORS[clause]}, was given {type_name}"


def _type_name(v: Any) -> str:
    from kfp_triggers.cel.values import runtime_type_name

    return runtime_type_name(v)


def _format_clause(verb: str, precision: int, arg: Any) -> str:
    t = type(arg)
    numeric = t is int or t is Uint or t is float
    if verb == "s":
        return format_value(arg)
    if verb == "d":
        if not numeric:
            raise ValueError(_clause_error("d", _type_name(arg)))
        return (_special(arg) or numfmt.format_f(arg)) if t is float else str(int(arg))
    if verb in "fe":
        if not numeric:
            raise ValueError(_clause_error(verb, _type_name(arg)))
        value = float(arg)
        return _special(value) or (f"{value:.{precision}f}" if verb == "f" else f"{value:.{precision}e}")
    if verb == "b":
        if t is bool:
            return "1" if arg else "0"
        if t is int or t is Uint:
            return format(int(arg), "b")
        raise ValueError(_clause_error("b", _type_name(arg)))
    if verb in "xX":
        if t is int or t is Uint:
            text = format(int(arg), "x")
        elif t is str:
            text = arg.encode("utf-8", "surrogatepass").hex()
        elif t is bytes:
            text = arg.hex()
        else:
            raise ValueError(_clause_error("x", _type_name(arg)))
        return text.upper() if verb == "X" else text
    if t is int or t is Uint:
        return format(int(arg), "o")
    raise ValueError(_clause_error("o", _type_name(arg)))


def string_format(fmt: Any, args: Any) -> str:
    """``'...'.format([...])`` with cel-go's clauses ``%s %d %f %e %b %x %X %o`` and ``%%``."""
    if type(fmt) is not str or type(args) not in (list, tuple):
        raise no_such_overload("format", fmt, args)
    out: list[str] = []
    i = 0
    arg_index = 0
    while i < len(fmt):
        if fmt[i] != "%":
            out.append(fmt[i])
            i += 1
            continue
        if fmt[i + 1 : i + 2] == "%":
            out.append("%")
            i += 2
            continue
        if arg_index >= len(args):
            raise EvalError(f"index {arg_index} out of range")
        if i + 1 >= len(fmt):
            raise EvalError("unexpected end of string")
        read, verb, precision = _parse_clause(fmt, i + 1)
        try:
            out.append(_format_clause(verb, precision, args[arg_index]))
        except (ValueError, EvalError) as exc:
            raise EvalError(f"error during formatting: {exc}") from None
        i = read
        arg_index += 1
    return "".join(out)


def _parse_clause(fmt: str, i: int) -> tuple[int, str, int]:
    precision = 6
    if fmt[i] == ".":
        j = i + 1
        while j < len(fmt) and fmt[j] in "0123456789":
            j += 1
        if j >= len(fmt):
            raise EvalError(
                "could not parse formatting clause: error while parsing precision: "
                "could not find end of precision specifier"
            )
        digits = fmt[i + 1 : j]
        if not digits:
            raise EvalError(
                "could not parse formatting clause: error while parsing precision: error while converting "
                'precision to integer: strconv.Atoi: parsing "": invalid syntax'
            )
        precision = int(digits)
        if precision > _MAX_PRECISION:
            raise EvalError(
                "could not parse formatting clause: error while parsing precision: "
                f"precision {precision} exceeds maximum allowed precision {_MAX_PRECISION}"
            )
        i = j
    verb = fmt[i]
    if verb not in "sdfebxXo":
        raise EvalError(f'could not parse formatting clause: unrecognized formatting clause "{verb}"')
    return i + 1, verb, precision
