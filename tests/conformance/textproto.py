"""A reader for protobuf's text format, enough for the CEL conformance files.

The conformance files are ``SimpleTestFile`` messages written in text format. Without the
compiled protos there is no schema, so this reader returns every message as a dict from field
name to the list of values written for it (a field may repeat); nested messages are dicts too.
Scalars keep the form they were written in, which is all a schema would add here: quoted strings
become ``bytes`` (text format strings are byte strings; escapes such as ``\\377`` are bytes, and a
``string`` field is their UTF-8 decoding), numbers become ``int`` or ``float`` and bare words
(``true``, enum names such as ``NULL_VALUE``) become :class:`Word`. Extension and ``Any`` field
names in brackets (``[type.googleapis.com/google.protobuf.Duration]``) are kept with the brackets.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

Message = dict[str, list[Any]]

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|\#[^\n]*)
    | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
    | (?P<number>-?(?:0[xX][0-9a-fA-F]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)[fFuU]?)
    | (?P<word>-?[A-Za-z_][A-Za-z0-9_]*)
    | (?P<bracket>\[[A-Za-z0-9_./]+\])
    | (?P<punct>[{}<>\[\]:,;])
    """,
    re.VERBOSE,
)
_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, "'": 39, '"': 34, "?": 63}
_CLOSE = {"{": "}", "<": ">"}


class Word(str):
    """A bare word in the text: ``true``, ``false``, ``inf`` or an enum value name."""

    __slots__ = ()


class TextFormatError(ValueError):
    """The text is not valid protobuf text format (as far as this reader understands it)."""


def load(path: Path) -> Message:
    """Parse the text-format file at ``path`` into nested dicts (see the module docstring)."""
    return parse(path.read_text(encoding="utf-8"))


def parse(text: str) -> Message:
    """Parse one text-format message body (the fields of the top-level message)."""
    tokens = _tokenize(text)
    tokens.append(("end", ""))
    message, _ = _message(tokens, 0, "end")
    return message


def unescape(literal: str) -> bytes:
    """The bytes of one quoted string literal, with text format's C-style escapes applied."""
    body = literal[1:-1]
    out = bytearray()
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out += ch.encode("utf-8")
            i += 1
            continue
        esc = body[i + 1]
        if esc in _ESCAPES:
            out.append(_ESCAPES[esc])
            i += 2
        elif esc in "01234567":
            digits = re.match(r"[0-7]{1,3}", body[i + 1 :])
            assert digits is not None
            out.append(int(digits.group(), 8) & 0xFF)
            i += 1 + len(digits.group())
        elif esc in "xX":
            digits = re.match(r"[0-9a-fA-F]{1,2}", body[i + 2 :])
            if digits is None:
                raise TextFormatError(f"bad hex escape in {literal}")
            out.append(int(digits.group(), 16))
            i += 2 + len(digits.group())
        elif esc in "uU":
            width = 4 if esc == "u" else 8
            out += chr(int(body[i + 2 : i + 2 + width], 16)).encode("utf-8", "surrogatepass")
            i += 2 + width
        else:
            raise TextFormatError(f"unknown escape \\{esc} in {literal}")
    return bytes(out)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise TextFormatError(f"unexpected text at offset {pos}: {text[pos : pos + 20]!r}")
        kind = m.lastgroup or ""
        if kind != "space":
            tokens.append((kind, m.group()))
        pos = m.end()
    return tokens


def _message(tokens: list[tuple[str, str]], pos: int, close: str) -> tuple[Message, int]:
    fields: Message = {}
    while True:
        kind, text = tokens[pos]
        if (kind == "punct" and text == close) or (kind == close == "end"):
            return fields, pos + 1
        if kind not in ("word", "bracket"):
            raise TextFormatError(f"expected a field name, found {text!r}")
        name = text
        pos += 1
        has_colon = tokens[pos] == ("punct", ":")
        if has_colon:
            pos += 1
        if tokens[pos] == ("punct", "["):
            pos += 1
            while tokens[pos] != ("punct", "]"):
                value, pos = _value(tokens, pos)
                fields.setdefault(name, []).append(value)
                if tokens[pos] == ("punct", ","):
                    pos += 1
            pos += 1
        else:
            value, pos = _value(tokens, pos)
            fields.setdefault(name, []).append(value)
        if tokens[pos] in (("punct", ","), ("punct", ";")):
            pos += 1


def _value(tokens: list[tuple[str, str]], pos: int) -> tuple[Any, int]:
    kind, text = tokens[pos]
    if kind == "punct" and text in _CLOSE:
        return _message(tokens, pos + 1, _CLOSE[text])
    if kind == "string":
        parts = [unescape(text)]
        pos += 1
        while tokens[pos][0] == "string":  # adjacent literals concatenate
            parts.append(unescape(tokens[pos][1]))
            pos += 1
        return b"".join(parts), pos
    if kind == "number":
        return _number(text), pos + 1
    if kind == "word":
        lowered = text.lower().lstrip("-")
        if lowered in ("inf", "infinity", "nan"):
            value = math.nan if lowered == "nan" else math.inf
            return (-value if text.startswith("-") else value), pos + 1
        return Word(text), pos + 1
    raise TextFormatError(f"expected a value, found {text!r}")


def _number(text: str) -> int | float:
    body = text.rstrip("uU")
    if body[-1:] in ("f", "F") and not body.lower().startswith(("0x", "-0x")):
        return float(body[:-1])
    if re.fullmatch(r"-?0[xX][0-9a-fA-F]+", body):
        return int(body, 16)
    if re.fullmatch(r"-?[0-9]+", body):
        return int(body, 10)
    return float(body)
