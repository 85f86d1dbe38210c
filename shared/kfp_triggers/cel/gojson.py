"""JSON the way Go's ``encoding/json`` (and protobuf's JSON mapping) reads and writes it.

Tekton decodes bodies and ``parseJSON`` arguments with ``json.Unmarshal`` into a
``map[string]interface{}``: every number becomes a ``float64``, invalid UTF-8 inside strings is
replaced, and errors carry Go's wording (``invalid character 'x' looking for beginning of value``,
``unexpected end of JSON input``). ``marshalJSON`` writes compact JSON with sorted keys and HTML
characters escaped. Python's ``json`` does the work; this module supplies Go's rules around it.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from typing import Any

from kfp_triggers.cel import numfmt

_WS = frozenset(b" \t\r\n")


class GoJSONError(ValueError):
    """A document Go's decoder rejects; ``str(error)`` is Go's message."""


def _replace_each_byte(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "\ufffd" * (exc.end - exc.start), exc.end


codecs.register_error("kfpt-go-replace", _replace_each_byte)


def quote_char(byte: int) -> str:
    """Quote one byte as Go's JSON scanner does in its errors (``'x'``, ``'\\''``, ``'\\n'``)."""
    if byte == 0x27:
        return "'\\''"
    if byte == 0x22:
        return "'\"'"
    ch = chr(byte)
    if ch.isprintable() and byte != 0x7F:
        return f"'{ch}'"
    escapes = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}
    if ch in escapes:
        return f"'{escapes[ch]}'"
    return f"'\\x{byte:02x}'" if byte < 0x80 else f"'\\u{byte:04x}'"


def _syntax_error(data: bytes) -> str | None:
    """Go's syntax error for ``data``, or None when the document is well formed."""
    pos = _Scanner(data).run()
    return pos


class _Scanner:
    """A recursive re-statement of Go's JSON scanner, producing its error messages."""

    def __init__(self, data: bytes) -> None:
        self.d = data
        self.i = 0

    def run(self) -> str | None:
        try:
            self._ws()
            self._value()
            self._ws()
            if self.i < len(self.d):
                return self._bad("after top-level value")
            return None
        except _StopError as stop:
            return str(stop)

    def _bad(self, context: str) -> str:
        if self.i >= len(self.d):
            raise _StopError("unexpected end of JSON input")
        raise _StopError(f"invalid character {quote_char(self.d[self.i])} {context}")

    def _peek(self) -> int:
        if self.i >= len(self.d):
            raise _StopError("unexpected end of JSON input")
        return self.d[self.i]

    def _ws(self) -> None:
        while self.i < len(self.d) and self.d[self.i] in _WS:
            self.i += 1

    def _value(self) -> None:
        c = self._peek()
        if c == 0x7B:
            self._object()
        elif c == 0x5B:
            self._array()
        elif c == 0x22:
            self._string()
        elif c == 0x2D or 0x30 <= c <= 0x39:
            self._number()
        elif c in (0x74, 0x66, 0x6E):
            word = {0x74: b"true", 0x66: b"false", 0x6E: b"null"}[c]
            for expected in word[1:]:
                self.i += 1
                if self._peek() != expected:
                    self._bad(f"in literal {word.decode()} (expecting {quote_char(expected)})")
            self.i += 1
        else:
            self._bad("looking for beginning of value")

    def _object(self) -> None:
        self.i += 1
        self._ws()
        if self._peek() == 0x7D:
            self.i += 1
            return
        while True:
            if self._peek() != 0x22:
                self._bad("looking for beginning of object key string")
            self._string()
            self._ws()
            if self._peek() != 0x3A:
                self._bad("after object key")
            self.i += 1
            self._ws()
            self._value()
            self._ws()
            c = self._peek()
            if c == 0x2C:
                self.i += 1
                self._ws()
                continue
            if c == 0x7D:
                self.i += 1
                return
            self._bad("after object key:value pair")

    def _array(self) -> None:
        self.i += 1
        self._ws()
        if self._peek() == 0x5D:
            self.i += 1
            return
        while True:
            self._value()
            self._ws()
            c = self._peek()
            if c == 0x2C:
                self.i += 1
                self._ws()
                continue
            if c == 0x5D:
                self.i += 1
                return
            self._bad("after array element")

    def _string(self) -> None:
        self.i += 1
        while True:
            c = self._peek()
            if c == 0x22:
                self.i += 1
                return
            if c == 0x5C:
                self.i += 1
                e = self._peek()
                if e == 0x75:
                    for _ in range(4):
                        self.i += 1
                        if chr(self._peek()) not in "0123456789abcdefABCDEF":
                            self._bad("in \\u hexadecimal character escape")
                elif e not in b'"\\/bfnrt':
                    self._bad("in string escape code")
            elif c < 0x20:
                self._bad("in string literal")
            self.i += 1

    def _digits(self) -> int:
        start = self.i
        while self.i < len(self.d) and 0x30 <= self.d[self.i] <= 0x39:
            self.i += 1
        return self.i - start

    def _number(self) -> None:
        if self.d[self.i] == 0x2D:
            self.i += 1
            c = self._peek()
            if not 0x30 <= c <= 0x39:
                self._bad("in numeric literal")
        if self.d[self.i] == 0x30:
            self.i += 1
        else:
            self._digits()
        if self.i < len(self.d) and self.d[self.i] == 0x2E:
            self.i += 1
            if not 0x30 <= self._peek() <= 0x39:
                self._bad("after decimal point in numeric literal")
            self._digits()
        if self.i < len(self.d) and self.d[self.i] in (0x65, 0x45):
            self.i += 1
            if self._peek() in (0x2B, 0x2D):
                self.i += 1
            if not 0x30 <= self._peek() <= 0x39:
                self._bad("in exponent of numeric literal")
            self._digits()


class _StopError(Exception):
    pass


def _number(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise GoJSONError(f"json: cannot unmarshal number {text} into Go value of type float64")
    return value


def _constant(name: str) -> Any:
    raise GoJSONError(f"invalid character {quote_char(ord(name[0]))} looking for beginning of value")


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def loads(data: bytes | str) -> Any:
    """Decode like ``json.Unmarshal`` into ``interface{}``; raise :class:`GoJSONError`."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "kfpt-go-replace")
    problem = None
    try:
        value = json.loads(text, parse_int=_number, parse_float=_number, parse_constant=_constant)
    except GoJSONError as exc:
        problem = str(exc)
    except ValueError:
        problem = _syntax_error(raw) or "unexpected end of JSON input"
    if problem is not None:
        syntax = _syntax_error(raw)
        raise GoJSONError(syntax or problem)
    if _SURROGATE_ESCAPE.search(raw):
        value = _fix_surrogates(value)
    return value


def _fix_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, list):
        return [_fix_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_fix_surrogates(k): _fix_surrogates(v) for k, v in value.items()}
    return value


_KIND = {dict: "object", list: "array", str: "string", bool: "bool", float: "number"}


def loads_object(data: bytes | str) -> dict[str, Any]:
    """Decode a document into ``map[string]interface{}``: ``null`` gives ``{}``, others must be objects."""
    value = loads(data)
    if value is None:
        return {}
    if not isinstance(value, dict):
        kind = _KIND.get(type(value), "value")
        raise GoJSONError(f"json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}")
    return value


_HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_STRING_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_NEEDS_ESCAPE = re.compile('["\\\\\x00-\x1f<>&\u2028\u2029]')


def _escape(match: re.Match[str]) -> str:
    ch = match.group(0)
    return _STRING_ESCAPES.get(ch) or _HTML_ESCAPES.get(ch) or f"\\u{ord(ch):04x}"


def quote_string(text: str) -> str:
    """A JSON string literal as Go's ``json.Marshal`` writes it (HTML characters escaped)."""
    return '"' + _NEEDS_ESCAPE.sub(_escape, text) + '"'


def dumps(value: Any) -> str:
    """Compact JSON of plain JSON data (dict/list/str/float/bool/None), keys sorted, Go-escaped."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return quote_string(value)
    if isinstance(value, int | float):
        return numfmt.format_json(float(value))
    if isinstance(value, list):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    if isinstance(value, dict):
        items = sorted(value.items())
        return "{" + ",".join(quote_string(k) + ":" + dumps(v) for k, v in items) + "}"
    raise TypeError(f"not JSON data: {type(value).__name__}")
