"""Go standard-library behaviour that Tekton's interceptor messages depend on.

Tekton's status messages embed text produced by Go: ``%q`` quoting (``strconv.Quote``), ``%v``
formatting, ``encoding/hex`` and ``encoding/json`` errors. Callers compare those messages, so the
core interceptors reproduce them here instead of leaking Python's wording.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}
_HEX = "0123456789abcdefABCDEF"
_WS = b" \t\r\n"


class GoJSONError(ValueError):
    """A JSON document Go's ``encoding/json`` would reject; the message is Go's."""


def go_quote(text: str) -> str:
    """Quote ``text`` as Go's ``strconv.Quote`` does (``%q``)."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch == " " or (ch.isprintable() and not 0xD800 <= code <= 0xDFFF):
            out.append(ch)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def go_quote_byte(byte: int) -> str:
    """Quote one byte as ``encoding/json``'s ``quoteChar`` does in syntax errors."""
    if byte == ord("'"):
        return "'\\''"
    if byte == ord('"'):
        return "'\"'"
    return "'" + go_quote(chr(byte))[1:-1] + "'"


def go_hex_decode(text: str) -> bytes:
    """Decode hex as ``hex.DecodeString``; raise ``ValueError`` with Go's error text."""
    src = text.encode("utf-8")

    def invalid(byte: int) -> ValueError:
        shown = f"U+{byte:04X}"
        if chr(byte).isprintable():
            shown += f" '{chr(byte)}'"
        return ValueError(f"encoding/hex: invalid byte: {shown}")

    for i in range(1, len(src), 2):
        for byte in (src[i - 1], src[i]):
            if chr(byte) not in _HEX:
                raise invalid(byte)
    if len(src) % 2:
        if chr(src[-1]) not in _HEX:
            raise invalid(src[-1])
        raise ValueError("encoding/hex: odd length hex string")
    return bytes.fromhex(src.decode("ascii"))


def go_kind(value: object) -> str:
    """The JSON kind Go names in ``UnmarshalTypeError`` (``string``, ``number``, ...)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def go_format_v(value: object) -> str:
    """Format a decoded JSON value as Go's ``%v`` prints an ``interface{}``."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        try:
            return _go_float(float(value))
        except OverflowError:
            return "+Inf" if value > 0 else "-Inf"
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_format_v(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_format_v(value[k])}" for k in sorted(value)) + "]"
    return str(value)


def _go_float(number: float) -> str:
    """``strconv.FormatFloat(f, 'g', -1, 64)`` as ``%v`` uses it: exponent form outside [-4, 6)."""
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    _, digit_tuple, exp10 = Decimal(repr(abs(number))).normalize().as_tuple()
    digits = "".join(str(d) for d in digit_tuple)
    exp = len(digits) - 1 + int(exp10)
    sign = "-" if math.copysign(1.0, number) < 0 else ""
    if exp < -4 or exp >= 6:
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exp < 0:
        return f"{sign}0.{'0' * (-exp - 1)}{digits}"
    if len(digits) <= exp + 1:
        return f"{sign}{digits}{'0' * (exp + 1 - len(digits))}"
    return f"{sign}{digits[: exp + 1]}.{digits[exp + 1 :]}"


def go_json_loads(data: bytes | str) -> Any:
    """Parse JSON, failing with the message Go's ``json.Unmarshal`` gives for a syntax error.

    Invalid UTF-8 inside strings is replaced with U+FFFD, as Go does.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    _scan(raw)
    return json.loads(raw.decode("utf-8", errors="replace"))


def go_json_object(data: bytes | str, go_type: str = "map[string]interface {}") -> dict[str, Any]:
    """Parse JSON into a map as ``json.Unmarshal(b, &map)`` would (``null`` gives an empty map)."""
    value = go_json_loads(data)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise GoJSONError(f"json: cannot unmarshal {go_kind(value)} into Go value of type {go_type}")
    return value


def _scan(src: bytes) -> None:
    """Walk ``src`` like ``encoding/json``'s scanner and raise its first syntax error."""
    stack: list[str] = []  # "o" while reading an object key, "v" an object value, "a" an array
    i, n = 0, len(src)

    def fail(byte: int, context: str) -> GoJSONError:
        return GoJSONError(f"invalid character {go_quote_byte(byte)} {context}")

    def skip_ws(pos: int) -> int:
        while pos < n and src[pos] in _WS:
            pos += 1
        return pos

    def end_of_input() -> GoJSONError:
        return GoJSONError("unexpected end of JSON input")

    expect_value = True
    while True:
        i = skip_ws(i)
        if expect_value:
            if i >= n:
                raise end_of_input()
            c = src[i]
            if c == ord("{"):
                i = skip_ws(i + 1)
                if i < n and src[i] == ord("}"):
                    i += 1
                else:
                    if i >= n:
                        raise end_of_input()
                    if src[i] != ord('"'):
                        raise fail(src[i], "looking for beginning of object key string")
                    stack.append("o")
                    i = _scan_string(src, i + 1, fail, end_of_input)
            elif c == ord("["):
                i = skip_ws(i + 1)
                if i < n and src[i] == ord("]"):
                    i += 1
                else:
                    stack.append("a")
                    continue
            elif c == ord('"'):
                i = _scan_string(src, i + 1, fail, end_of_input)
            elif c == ord("-") or ord("0") <= c <= ord("9"):
                i = _scan_number(src, i, fail, end_of_input)
            elif c in b"tfn":
                word = {ord("t"): b"true", ord("f"): b"false", ord("n"): b"null"}[c]
                for k in range(1, len(word)):
                    if i + k >= n:
                        raise end_of_input()
                    if src[i + k] != word[k]:
                        literal = word.decode()
                        expected = go_quote_byte(word[k])
                        raise fail(src[i + k], f"in literal {literal} (expecting {expected})")
                i += len(word)
            else:
                raise fail(c, "looking for beginning of value")
            expect_value = False
            continue
        # After a value (or after an object key when the top of the stack is "o").
        if not stack:
            if i < n:
                raise fail(src[i], "after top-level value")
            return
        if i >= n:
            raise end_of_input()
        c, top = src[i], stack[-1]
        if top == "o":
            if c != ord(":"):
                raise fail(c, "after object key")
            stack[-1] = "v"
            i, expect_value = i + 1, True
        elif top == "v":
            if c == ord(","):
                i = skip_ws(i + 1)
                if i >= n:
                    raise end_of_input()
                if src[i] != ord('"'):
                    raise fail(src[i], "looking for beginning of object key string")
                stack[-1] = "o"
                i = _scan_string(src, i + 1, fail, end_of_input)
            elif c == ord("}"):
                stack.pop()
                i += 1
            else:
                raise fail(c, "after object key:value pair")
        elif c == ord(","):
            i, expect_value = i + 1, True
        elif c == ord("]"):
            stack.pop()
            i += 1
        else:
            raise fail(c, "after array element")


def _scan_string(src: bytes, i: int, fail: Any, eof: Any) -> int:
    n = len(src)
    while i < n:
        c = src[i]
        if c == ord('"'):
            return i + 1
        if c == ord("\\"):
            i += 1
            if i >= n:
                raise eof()
            if src[i] == ord("u"):
                for k in range(1, 5):
                    if i + k >= n:
                        raise eof()
                    if chr(src[i + k]) not in _HEX:
                        raise fail(src[i + k], "in \\u hexadecimal character escape")
                i += 4
            elif src[i] not in b'bfnrt\\/"':
                raise fail(src[i], "in string escape code")
        elif c < 0x20:
            raise fail(c, "in string literal")
        i += 1
    raise eof()


def _scan_number(src: bytes, i: int, fail: Any, eof: Any) -> int:
    n = len(src)

    def digits(pos: int) -> int:
        while pos < n and ord("0") <= src[pos] <= ord("9"):
            pos += 1
        return pos

    if src[i] == ord("-"):
        i += 1
        if i >= n:
            raise eof()
        if not ord("0") <= src[i] <= ord("9"):
            raise fail(src[i], "in numeric literal")
    i = i + 1 if src[i] == ord("0") else digits(i)
    if i < n and src[i] == ord("."):
        i += 1
        if i >= n:
            raise eof()
        if not ord("0") <= src[i] <= ord("9"):
            raise fail(src[i], "after decimal point in numeric literal")
        i = digits(i)
    if i < n and src[i] in b"eE":
        i += 1
        if i < n and src[i] in b"+-":
            i += 1
        if i >= n:
            raise eof()
        if not ord("0") <= src[i] <= ord("9"):
            raise fail(src[i], "in exponent of numeric literal")
        i = digits(i)
    return i
