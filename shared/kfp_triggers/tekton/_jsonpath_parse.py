"""Parser for the Kubernetes JSONPath dialect (``k8s.io/client-go/util/jsonpath``).

It accepts what Go's parser accepts and builds the same node shapes, including the dialect's
quirks, because binding expressions written for Tekton must mean the same thing here:

* ``['a.b']`` is re-parsed as ``.a.b`` (quotes do not protect dots); only single quotes work;
* a backslash escapes the next character of a field name and every backslash is then removed;
* ``[n]`` is a one-element slice whose end is derived from its start (so ``[-1]`` works);
* ``[]`` means ``[0]``; ``[*]`` means ``[:]``; ``[a,b]`` is a union of ``[a]`` and ``[b]``;
* a filter is split into ``left op right`` by the first run of ``!<>=`` characters;
* integer literals are Go ints, distinct from JSON numbers (float64) when compared.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import TypeAlias

from kfp_triggers.errors import BindingError
from kfp_triggers.tekton._jsonpath_values import GoInt


class JsonPathError(BindingError):
    """A JSONPath expression could not be parsed or evaluated; the message says why."""


@dataclass(frozen=True, slots=True)
class Field:
    """``.name``: a map key or struct field."""

    name: str


@dataclass(frozen=True, slots=True)
class Wildcard:
    """``.*``: every value of a map/struct, element of an array, byte of a string."""


@dataclass(frozen=True, slots=True)
class Recursive:
    """``..``: the value and all its descendants that themselves have children."""


@dataclass(frozen=True, slots=True)
class Slice:
    """``[start:stop:step]``; ``single`` marks ``[n]``, whose stop was derived as ``n + 1``."""

    start: int | None
    stop: int | None
    step: int | None
    single: bool


@dataclass(frozen=True, slots=True)
class Union:
    """``[a,b,...]``: the concatenated results of each branch."""

    branches: tuple[tuple[Node, ...], ...]


@dataclass(frozen=True, slots=True)
class Filter:
    """``[?(left op right)]``, or ``[?(left)]`` (``op == "exists"``)."""

    left: tuple[Node, ...]
    right: tuple[Node, ...]
    op: str


@dataclass(frozen=True, slots=True)
class Text:
    """A quoted string literal: yields itself once, whatever the input."""

    value: str


@dataclass(frozen=True, slots=True)
class Const:
    """A number or boolean literal: yields itself once per input value."""

    value: GoInt | float | bool


@dataclass(frozen=True, slots=True)
class Identifier:
    """A bare word: ``range`` / ``end`` keywords of kubectl templates, otherwise an error."""

    name: str


Node: TypeAlias = Field | Wildcard | Recursive | Slice | Union | Filter | Text | Const | Identifier

_TERMINATORS = frozenset(" \t\r\n.,[]$@{}")
_DICT_KEY = re.compile(r"'([^']*)'")
_SLICE = re.compile(r"(-?[0-9]*)(:-?[0-9]*)?(:-?[0-9]*)?")
_FILTER = re.compile(r"([^!<>=]+)([!<>=]+)(.+)", re.DOTALL)
_ATOI = re.compile(r"[+-]?[0-9]+")
_PARSE_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)")
_SIMPLE_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92}
_INT64 = range(-(2**63), 2**63)


def parse_action(text: str) -> tuple[Node, ...]:
    """Parse ``text`` as the inside of one ``{...}`` JSONPath action.

    Raises:
        JsonPathError: the text is not valid JSONPath.
    """
    if "{" in text or "}" in text:
        raise JsonPathError("braces are not allowed inside a path")
    return _action(text)


def _action(text: str) -> tuple[Node, ...]:
    # Go wraps nested pieces (union branches, quoted keys, filter sides) in braces and reparses.
    source = "{" + text + "}"
    nodes, _ = _inside(source, 1)
    return tuple(nodes)


def _is_letter_or_digit(char: str) -> bool:
    return char == "_" or char.isalpha() or _is_digit(char)


def _is_digit(char: str) -> bool:
    return unicodedata.category(char) == "Nd"


def _inside(s: str, i: int) -> tuple[list[Node], int]:
    nodes: list[Node] = []
    n = len(s)
    while True:
        if s.startswith("}", i):
            return nodes, i + 1
        if s.startswith("[?(", i):
            filter_node, i = _filter(s, i + 3)
            nodes.append(filter_node)
            continue
        if s.startswith("..", i):
            if nodes and isinstance(nodes[-1], Recursive):
                raise JsonPathError("invalid multiple recursive descent")
            nodes.append(Recursive())
            i += 2
            if i < n and _is_letter_or_digit(s[i]):
                node, i = _field(s, i)
                nodes.append(node)
            continue
        if i >= n or s[i] in "\r\n":
            raise JsonPathError("unclosed action")
        char = s[i]
        if char in " @$":  # spaces are separators; @ and $ name the current value
            i += 1
        elif char == "[":
            i = _array(s, i + 1, nodes)
        elif char in "\"'":
            text, i = _quoted(s, i + 1, char)
            nodes.append(Text(text))
        elif char == ".":
            node, i = _field(s, i + 1)
            nodes.append(node)
        elif char in "+-" or _is_digit(char):
            const, i = _number(s, i)
            nodes.append(const)
        elif _is_letter_or_digit(char):
            j = i
            while j < n and s[j] not in _TERMINATORS:
                j += 1
            word = s[i:j]
            nodes.append(Const(word == "true") if word in ("true", "false") else Identifier(word))
            i = j
        else:
            raise JsonPathError(f"unrecognized character in action: {_go_rune(char)}")


def _field(s: str, i: int) -> tuple[Node, int]:
    start, n = i, len(s)
    while i < n:
        if s[i] == "\\":
            i = min(i + 2, n)
        elif s[i] in _TERMINATORS:
            break
        else:
            i += 1
    name = s[start:i]
    return (Wildcard() if name == "*" else Field(name.replace("\\", ""))), i


def _number(s: str, i: int) -> tuple[Const, int]:
    j = i + 1 if s[i] in "+-" else i
    while j < len(s) and (s[j] == "." or _is_digit(s[j])):
        j += 1
    text = s[i:j]
    if _ATOI.fullmatch(text) and int(text) in _INT64:
        return Const(GoInt(int(text))), j
    if _PARSE_FLOAT.fullmatch(text) and float(text) not in (float("inf"), float("-inf")):
        return Const(float(text)), j
    raise JsonPathError(f"cannot parse number {text}")


def _array(s: str, i: int, nodes: list[Node]) -> int:
    j = i
    while True:
        if j >= len(s) or s[j] == "\n":
            raise JsonPathError("unterminated array")
        if s[j] == "]":
            break
        j += 1
    text = s[i:j]
    if text == "*":
        text = ":"
    parts = text.split(",")
    if len(parts) > 1:
        nodes.append(Union(tuple(_action("[" + part.strip(" ") + "]") for part in parts)))
        return j + 1
    key = _DICT_KEY.fullmatch(text)
    if key is not None:
        nodes.extend(_action("." + key.group(1)))
        return j + 1
    match = _SLICE.fullmatch(text)
    if match is None:
        raise JsonPathError(f"invalid array index {text}")
    first, second, third = match.group(1), match.group(2) or "", match.group(3) or ""
    start = _index(first) if first else None
    if second:
        stop, single = (_index(second[1:]) if second[1:] else None), False
    else:
        stop, single = (start or 0) + 1, True
    step = _index(third[1:]) if third[1:] else None
    nodes.append(Slice(start, stop, step, single))
    return j + 1


def _index(text: str) -> int:
    if _ATOI.fullmatch(text) and int(text) in _INT64:
        return int(text)
    raise JsonPathError(f"array index {text} is not a number")


def _filter(s: str, i: int) -> tuple[Filter, int]:
    begin = end = False
    pair = ""
    j = i
    while True:
        if j >= len(s) or s[j] == "\n":
            raise JsonPathError("unterminated filter")
        char = s[j]
        j += 1
        if char in "\"'":
            if not begin:
                begin, pair = True, char
            elif s[j - 2] != "\\" and char == pair:
                end = True
        elif char == ")" and begin == end:
            break
    if j >= len(s) or s[j] != "]":
        raise JsonPathError("unclosed array expect ]")
    text = s[i : j - 1]
    match = _FILTER.fullmatch(text)
    if match is None:
        return Filter(_action(text), (), "exists"), j + 1
    return Filter(_action(match.group(1)), _action(match.group(3)), match.group(2)), j + 1


def _quoted(s: str, i: int, quote: str) -> tuple[str, int]:
    j = i
    while True:
        if j >= len(s) or s[j] == "\n":
            raise JsonPathError("unterminated quoted string")
        j += 1
        if s[j - 1] == quote and s[j - 2] != "\\":
            break
    raw = s[i - 1 : j]
    try:
        return _unquote(raw[1:-1], quote), j
    except ValueError:
        raise JsonPathError(f"unquote string {raw} error invalid syntax") from None


def _go_rune(char: str) -> str:
    """A character as Go's ``%#U`` prints it: ``U+0024 '$'`` (the quoted form only if printable)."""
    shown = f"U+{ord(char):04X}"
    return f"{shown} '{char}'" if char.isprintable() else shown


def _unquote(body: str, quote: str) -> str:
    """Go's ``strconv.UnquoteChar`` rules, for either quote character."""
    if "\\" not in body and quote not in body:
        return body
    out = bytearray()
    k = 0
    while k < len(body):
        char = body[k]
        if char == quote:
            raise ValueError("unescaped quote")
        if char != "\\":
            out += char.encode("utf-8", "surrogatepass")
            k += 1
            continue
        if k + 1 >= len(body):
            raise ValueError("trailing backslash")
        esc = body[k + 1]
        k += 2
        if esc in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[esc])
        elif esc in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[esc]
            digits = body[k : k + width]
            if len(digits) < width or any(c not in "0123456789abcdefABCDEF" for c in digits):
                raise ValueError(f"bad \\{esc} escape")
            code = int(digits, 16)
            k += width
            if esc == "x":
                out.append(code)
            elif code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise ValueError(f"invalid code point \\{esc}{digits}")
            else:
                out += chr(code).encode("utf-8")
        elif esc in "01234567":
            digits = body[k - 1 : k + 2]
            if len(digits) < 3 or any(c not in "01234567" for c in digits) or int(digits, 8) > 255:
                raise ValueError(f"bad octal escape \\{digits}")
            out.append(int(digits, 8))
            k += 2
        elif esc in "'\"" and esc == quote:
            out.append(ord(esc))
        else:
            raise ValueError(f"unknown escape \\{esc}")
    # Bytes that are not UTF-8 (from \x or octal escapes) survive as surrogates, never equal
    # to any decoded JSON string, just as Go compares them bytewise.
    return out.decode("utf-8", "surrogateescape")
