"""Go's text handling: ``strconv`` quoting and float printing, ``fmt``'s ``%v``, ``encoding/hex``, UTF-8.

Python's ``repr`` and Go's ``strconv`` both find the shortest decimal digits that round-trip a
float64, so only the layout differs: Go never writes a trailing ``.0``, prints exponents with at
least two digits (``1e+06``) and spells the special values ``NaN``, ``+Inf`` and ``-Inf``.

A Go string is bytes and need not be UTF-8 (``s[:n]`` may cut a character). Such a string is held
here as Python text whose invalid bytes are lone surrogates U+DC80..U+DCFF, one per byte (Python's
``surrogateescape``): :func:`go_string` and :func:`go_bytes` convert, so the bytes survive a round
trip, ``len`` counts what Go's ``utf8.RuneCountInString`` counts, and the JSON encoder writes each
such byte as ``\ufffd`` as Go's does.
"""

from __future__ import annotations

import codecs
import math
import re

__all__ = [
    "decode_utf8",
    "format_e",
    "format_f",
    "format_g",
    "format_v",
    "go_bytes",
    "go_string",
    "hex_decode",
    "quote",
    "valid_text",
]

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}
_HEX = frozenset(b"0123456789abcdefABCDEF")


def quote(text: str) -> str:
    """``strconv.Quote(text)``, which is also what ``%q`` and ``%#v`` print for a string.

    Printable characters are kept, the usual C escapes are used, other ASCII control characters
    become ``\\xNN`` and other non-printable characters ``\\uNNNN`` or ``\\UNNNNNNNN``.
    """
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable() and not 0xD800 <= code <= 0xDFFF:
            out.append(ch)
        elif 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")  # a byte of invalid UTF-8 (see go_string)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def _replace_per_byte(exc: UnicodeError) -> tuple[str, int]:
    """Decode error handler: one U+FFFD per invalid byte, as Go's ``utf8.DecodeRune`` yields."""
    if isinstance(exc, UnicodeDecodeError):
        return "\ufffd", exc.start + 1
    raise exc


codecs.register_error("kfp_triggers.go_utf8", _replace_per_byte)


def _raw_bytes(exc: UnicodeError) -> tuple[bytes, int]:
    """Encode error handler: a stand-in surrogate (U+DC80..U+DCFF) is its byte; any other lone
    surrogate (only an escape in foreign input can make one) is written as CESU bytes."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    out = bytearray()
    for char in exc.object[exc.start : exc.end]:
        code = ord(char)
        out += bytes([code - 0xDC00]) if 0xDC80 <= code <= 0xDCFF else char.encode("utf-8", "surrogatepass")
    return bytes(out), exc.end


codecs.register_error("kfp_triggers.go_bytes", _raw_bytes)


def go_string(data: bytes) -> str:
    """The Go string of ``data``: invalid UTF-8 bytes kept, each as one lone surrogate."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("utf-8", "surrogateescape")


def go_bytes(text: str) -> bytes:
    """The bytes of a Go string held as text (the inverse of :func:`go_string`)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "kfp_triggers.go_bytes")


def valid_text(text: str) -> str:
    """A Go string as it reads once written as JSON or decoded as UTF-8: each invalid byte is U+FFFD."""
    if text.isascii():
        return text
    return _LONE_SURROGATE.sub("\ufffd", text)


def decode_utf8(data: bytes) -> str:
    """Decode UTF-8 the way Go reads string bytes: each invalid byte becomes one U+FFFD."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("utf-8", "kfp_triggers.go_utf8")


def _shortest(x: float) -> tuple[str, int]:
    """Shortest round-trip digits of ``abs(x)`` (non-zero, finite) and the decimal point position.

    The value is ``0.DIGITS x 10**point``.
    """
    mantissa, _, exp = repr(abs(x)).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    point = len(whole) + (int(exp) if exp else 0) - (len(whole + frac) - len(digits))
    return digits.rstrip("0"), point


def _special(x: float) -> str | None:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    if x == 0:
        return "-0" if math.copysign(1.0, x) < 0 else "0"
    return None


def _fixed(digits: str, point: int) -> str:
    if point <= 0:
        return "0." + "0" * (-point) + digits
    if point >= len(digits):
        return digits + "0" * (point - len(digits))
    return digits[:point] + "." + digits[point:]


def _exponent(digits: str, point: int) -> str:
    exp = point - 1
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"


def format_f(x: float) -> str:
    """``strconv.FormatFloat(x, 'f', -1, 64)``: shortest digits, never an exponent."""
    special = _special(x)
    if special is not None:
        return special
    digits, point = _shortest(x)
    return ("-" if x < 0 else "") + _fixed(digits, point)


def format_e(x: float) -> str:
    """``strconv.FormatFloat(x, 'e', -1, 64)``: shortest digits, always an exponent (``1.5e-07``)."""
    special = _special(x)
    if special is not None:
        return special if x != 0 else special + "e+00"
    digits, point = _shortest(x)
    return ("-" if x < 0 else "") + _exponent(digits, point)


def format_g(x: float) -> str:
    """``strconv.FormatFloat(x, 'g', -1, 64)``, as ``%v`` prints a float64: exponent outside [1e-4, 1e6)."""
    special = _special(x)
    if special is not None:
        return special
    digits, point = _shortest(x)
    exp = point - 1
    body = _exponent(digits, point) if exp < -4 or exp >= 6 else _fixed(digits, point)
    return ("-" if x < 0 else "") + body


def format_v(value: object) -> str:
    """``fmt.Sprint("%v", value)`` for Go values as Python holds them (decoded JSON and ints).

    ``None`` is ``<nil>``, ints are Go ints, floats float64 (``1e+06``), lists print as
    ``[a b]`` and mappings as ``map[k:v ...]`` with sorted keys.
    """
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return format_g(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return "[" + " ".join(format_v(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{format_v(k)}:{format_v(value[k])}" for k in sorted(value)) + "]"
    return str(value)


def hex_decode(text: str) -> bytes:
    """``hex.DecodeString(text)``; raises ``ValueError`` with Go's error text.

    Go reports the first invalid byte of each pair in order, and an odd length only once every
    byte is a hex digit.
    """
    src = text.encode("utf-8")

    def invalid(byte: int) -> ValueError:
        shown = f"U+{byte:04X}"  # %#U
        if chr(byte).isprintable():
            shown += f" '{chr(byte)}'"
        return ValueError(f"encoding/hex: invalid byte: {shown}")

    for byte in src[: len(src) - len(src) % 2]:
        if byte not in _HEX:
            raise invalid(byte)
    if len(src) % 2:
        if src[-1] not in _HEX:
            raise invalid(src[-1])
        raise ValueError("encoding/hex: odd length hex string")
    return bytes.fromhex(src.decode("ascii"))
