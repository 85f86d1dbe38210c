"""Decoding of CEL literal tokens: numbers with their ranges, and strings/bytes with CEL escapes."""

from __future__ import annotations

from typing import Any

from kfp_triggers.cel.values import INT64_MAX, INT64_MIN, UINT64_MAX, Uint

_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
           "\\": "\\", "'": "'", '"': '"', "`": "`", "?": "?"}  # fmt: skip


def decode(kind: str, text: str) -> Any:
    """The value of a literal token; raise ``ValueError`` with cel-go's message when invalid."""
    if kind == "INT_LIT":
        value = _int(text)
        if not INT64_MIN <= value <= INT64_MAX:
            raise ValueError("invalid int literal")
        return value
    if kind == "UINT_LIT":
        value = _int(text[:-1].lstrip("-"))
        if value > UINT64_MAX:
            raise ValueError("invalid uint literal")
        return Uint(value)
    if kind == "FLOAT_LIT":
        return float(text)
    if kind == "BOOL_LIT":
        return text == "true"
    if kind == "NULL_LIT":
        return None
    if kind in ("STRING_LIT", "MLSTRING_LIT"):
        result: str = _string(text, as_bytes=False)
        return result
    if kind == "BYTES_LIT":
        raw: bytes = _string(text[1:], as_bytes=True)
        return raw
    raise ValueError(f"unsupported literal {text}")


def _int(text: str) -> int:
    negative = text.startswith("-")
    body = text.lstrip("-")
    value = int(body[2:], 16) if body[:2].lower() == "0x" else int(body, 10)
    return -value if negative else value


def _string(text: str, *, as_bytes: bool) -> Any:
    raw = text[0] in "rR"
    if raw:
        text = text[1:]
    quote = text[:3] if text[:3] in ('"""', "'''") else text[0]
    body = text[len(quote) : -len(quote)]
    if raw:
        return body.encode("utf-8") if as_bytes else body
    out: list[bytes] | list[str] = []
    parts: list[Any] = out
    i = 0
    n = len(body)
    while i < n:
        ch = body[i]
        if ch != "\\":
            parts.append(ch.encode("utf-8") if as_bytes else ch)
            i += 1
            continue
        if i + 1 >= n:
            raise ValueError("Syntax error: invalid escape sequence")
        esc = body[i + 1]
        if esc in _SIMPLE:
            parts.append(_SIMPLE[esc].encode() if as_bytes else _SIMPLE[esc])
            i += 2
        elif esc in "xX":
            code = _hex(body, i + 2, 2)
            parts.append(bytes([code]) if as_bytes else chr(code))
            i += 4
        elif esc in "uU":
            width = 4 if esc == "u" else 8
            code = _hex(body, i + 2, width)
            if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
                raise ValueError("Syntax error: invalid unicode code point")
            parts.append(chr(code).encode("utf-8") if as_bytes else chr(code))
            i += 2 + width
        elif esc in "0123":
            digits = body[i + 1 : i + 4]
            if len(digits) != 3 or any(d not in "01234567" for d in digits):
                raise ValueError("Syntax error: invalid octal escape")
            code = int(digits, 8)
            parts.append(bytes([code]) if as_bytes else chr(code))
            i += 4
        else:
            raise ValueError("Syntax error: invalid escape sequence")
    if as_bytes:
        return b"".join(parts)
    return "".join(parts)


def _hex(body: str, start: int, width: int) -> int:
    digits = body[start : start + width]
    if len(digits) != width or any(d not in "0123456789abcdefABCDEF" for d in digits):
        raise ValueError("Syntax error: invalid hex escape")
    return int(digits, 16)
