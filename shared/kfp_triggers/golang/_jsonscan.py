"""Go's JSON scanner (``encoding/json/scanner.go``), state for state, for Go's syntax errors.

``json.Unmarshal`` runs this scanner over the whole document before decoding anything, so its
first error is the error: ``invalid character 'x' <context>`` with the context of the state that
refused the byte, or ``unexpected end of JSON input``. At the end of the input Go feeds the
scanner one space, which is why a truncated literal or number reads ``invalid character ' ' in
literal true (expecting 'e')`` rather than "unexpected end". Each state below is the Go function
of the same name; runs of bytes a state passes over unchanged (string contents with their valid
escapes, digits, white space) are skipped in one step, for speed.

:func:`scan` runs the scanner over a whole document; :func:`run` resumes it from any state, which
is how :mod:`._jsonlocate` explains an error the C decoder found without stepping through the
valid part before it. The scanner also notes the first number a float64 cannot hold, the error
decoding into ``interface{}`` reports once the syntax is known to be valid.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from kfp_triggers.golang.fmt import quote

MAX_DEPTH = 10000  # encoding/json's maxNestingDepth

_OBJECT_KEY, _OBJECT_VALUE, _ARRAY_VALUE = range(3)
_SPACE = frozenset(b" \t\r\n")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_DIGITS = frozenset(b"0123456789")
# String contents up to the closing quote or the first byte the string states must look at.
_STRING_RUN = re.compile(rb'[^"\\\x00-\x1f]*+(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\x00-\x1f]*+)*+')
_DIGIT_RUN = re.compile(rb"[0-9]+")
_SPACE_RUN = re.compile(rb"[ \t\r\n]+")
_LITERALS = {0x74: b"true", 0x66: b"false", 0x6E: b"null"}

Step = Callable[["_Scanner", int], None]


def quote_char(byte: int) -> str:
    """``encoding/json``'s ``quoteChar``: a byte as its syntax errors show it (``'x'``, ``'\\''``)."""
    if byte == 0x27:
        return "'\\''"
    if byte == 0x22:
        return "'\"'"
    return "'" + quote(chr(byte))[1:-1] + "'"


class _Scanner:
    def __init__(self, data: bytes, check_numbers: bool) -> None:
        self.data = data
        self.check_numbers = check_numbers
        self.step: Step = _begin_value
        self.stack: list[int] = []
        self.end_top = False
        self.err: tuple[str, int] | None = None
        self.pos = 0  # index of the byte being stepped; len(data) for the final space
        self.number_start = 0
        self.huge_number: str | None = None
        self.literal = b""
        self.literal_index = 0
        self.hex_left = 0

    def error(self, byte: int, context: str) -> None:
        self.step = _error
        self.err = (f"invalid character {quote_char(byte)} {context}", min(self.pos + 1, len(self.data)))

    def push(self, byte: int, state: int) -> None:
        self.stack.append(state)
        if len(self.stack) > MAX_DEPTH:
            self.error(byte, "exceeded max depth")

    def pop(self) -> None:
        self.stack.pop()
        if self.stack:
            self.step = _end_value
        else:
            self.step = _end_top
            self.end_top = True

    def end_number(self) -> None:
        if self.check_numbers and self.huge_number is None:
            text = self.data[self.number_start : self.pos].decode("ascii")
            if math.isinf(float(text)):
                self.huge_number = text


def _error(s: _Scanner, c: int) -> None:
    pass


def _begin_value_or_empty(s: _Scanner, c: int) -> None:
    if c in _SPACE:
        return
    if c == 0x5D:  # ]
        _end_value(s, c)
        return
    _begin_value(s, c)


def _begin_value(s: _Scanner, c: int) -> None:
    if c in _SPACE:
        return
    if c == 0x7B:  # {
        s.step = _begin_string_or_empty
        s.push(c, _OBJECT_KEY)
    elif c == 0x5B:  # [
        s.step = _begin_value_or_empty
        s.push(c, _ARRAY_VALUE)
    elif c == 0x22:
        s.step = _in_string
    elif c == 0x2D or c in _DIGITS:
        s.number_start = s.pos
        s.step = _neg if c == 0x2D else _zero if c == 0x30 else _one
    elif c in _LITERALS:
        s.literal, s.literal_index = _LITERALS[c], 1
        s.step = _in_literal
    else:
        s.error(c, "looking for beginning of value")


def _begin_string_or_empty(s: _Scanner, c: int) -> None:
    if c in _SPACE:
        return
    if c == 0x7D:  # }
        s.stack[-1] = _OBJECT_VALUE
        _end_value(s, c)
        return
    _begin_string(s, c)


def _begin_string(s: _Scanner, c: int) -> None:
    if c in _SPACE:
        return
    if c == 0x22:
        s.step = _in_string
        return
    s.error(c, "looking for beginning of object key string")


def _end_value(s: _Scanner, c: int) -> None:
    if not s.stack:
        s.step = _end_top
        s.end_top = True
        _end_top(s, c)
        return
    if c in _SPACE:
        s.step = _end_value
        return
    state = s.stack[-1]
    if state == _OBJECT_KEY:
        if c == 0x3A:  # :
            s.stack[-1] = _OBJECT_VALUE
            s.step = _begin_value
            return
        s.error(c, "after object key")
    elif state == _OBJECT_VALUE:
        if c == 0x2C:  # ,
            s.stack[-1] = _OBJECT_KEY
            s.step = _begin_string
        elif c == 0x7D:
            s.pop()
        else:
            s.error(c, "after object key:value pair")
    elif c == 0x2C:
        s.step = _begin_value
    elif c == 0x5D:
        s.pop()
    else:
        s.error(c, "after array element")


def _end_top(s: _Scanner, c: int) -> None:
    if c not in _SPACE:
        s.error(c, "after top-level value")


def _in_string(s: _Scanner, c: int) -> None:
    if c == 0x22:
        s.step = _end_value
    elif c == 0x5C:  # backslash
        s.step = _in_string_esc
    elif c < 0x20:
        s.error(c, "in string literal")


def _in_string_esc(s: _Scanner, c: int) -> None:
    if c in b'bfnrt\\/"':
        s.step = _in_string
    elif c == 0x75:  # u
        s.hex_left = 4
        s.step = _in_string_esc_u
    else:
        s.error(c, "in string escape code")


def _in_string_esc_u(s: _Scanner, c: int) -> None:
    if c not in _HEX:
        s.error(c, "in \\u hexadecimal character escape")
        return
    s.hex_left -= 1
    if not s.hex_left:
        s.step = _in_string


def _neg(s: _Scanner, c: int) -> None:
    if c == 0x30:
        s.step = _zero
    elif c in _DIGITS:
        s.step = _one
    else:
        s.error(c, "in numeric literal")


def _one(s: _Scanner, c: int) -> None:
    if c not in _DIGITS:
        _zero(s, c)


def _zero(s: _Scanner, c: int) -> None:
    if c == 0x2E:  # .
        s.step = _dot
    elif c in (0x65, 0x45):  # e E
        s.step = _exp
    else:
        s.end_number()
        _end_value(s, c)


def _dot(s: _Scanner, c: int) -> None:
    if c in _DIGITS:
        s.step = _dot0
    else:
        s.error(c, "after decimal point in numeric literal")


def _dot0(s: _Scanner, c: int) -> None:
    if c in (0x65, 0x45):
        s.step = _exp
    elif c not in _DIGITS:
        s.end_number()
        _end_value(s, c)


def _exp(s: _Scanner, c: int) -> None:
    if c in (0x2B, 0x2D):  # + -
        s.step = _exp_sign
    else:
        _exp_sign(s, c)


def _exp_sign(s: _Scanner, c: int) -> None:
    if c in _DIGITS:
        s.step = _exp0
    else:
        s.error(c, "in exponent of numeric literal")


def _exp0(s: _Scanner, c: int) -> None:
    if c not in _DIGITS:
        s.end_number()
        _end_value(s, c)


def _in_literal(s: _Scanner, c: int) -> None:
    """Go's stateT, stateTr, stateTru, stateF, ... stateNul, one per expected byte."""
    expected = s.literal[s.literal_index]
    if c != expected:
        s.error(c, f"in literal {s.literal.decode()} (expecting {quote_char(expected)})")
        return
    s.literal_index += 1
    if s.literal_index == len(s.literal):
        s.step = _end_value


# States that loop on a run of digits, and states that pass over white space unchanged.
_NUMBER_DIGITS = frozenset((_one, _dot0, _exp0))
_SPACE_STATES = frozenset(
    (_begin_value, _begin_value_or_empty, _begin_string_or_empty, _begin_string, _end_top)
)

#: A callback :func:`run` offers the scanner to at the start of a value or key: it returns the
#: index to continue from (having set the state for it), or ``i`` to let the scanner step.
FastForward = Callable[["_Scanner", int], int]


def run(
    s: _Scanner, i: int, fast: FastForward | None = None, fast_states: frozenset[Step] = frozenset()
) -> None:
    """Step ``s`` from index ``i`` to the end of its data, or until it finds an error.

    ``fast`` is called instead of stepping whenever the state is one of ``fast_states``.
    """
    data = s.data
    n = len(data)
    while i < n:
        step = s.step
        if step is _in_string:
            i = _STRING_RUN.match(data, i).end()  # type: ignore[union-attr]  # matches the empty run
            if i == n:
                break
        elif step in _NUMBER_DIGITS or step in _SPACE_STATES or (step is _end_value and s.stack):
            run_ = (_SPACE_RUN if step not in _NUMBER_DIGITS else _DIGIT_RUN).match(data, i)
            if run_ is not None:
                i = run_.end()
                if i == n:
                    break
        if fast is not None and step in fast_states:
            moved = fast(s, i)
            if s.err is not None:
                return
            if moved != i or s.step is not step:
                i = moved
                continue
        s.pos = i
        s.step(s, data[i])
        if s.err is not None:
            return
        i += 1
    if not s.end_top:
        s.pos = n
        s.step(s, 0x20)  # Go's scanner.eof feeds one space
        if s.err is None and not s.end_top:
            s.err = ("unexpected end of JSON input", n)


def scan(data: bytes, *, check_numbers: bool) -> tuple[tuple[str, int] | None, str | None]:
    """Run Go's ``checkValid`` over ``data``, every byte through the scanner's states.

    Returns ``(syntax error, huge number)``: the syntax error is Go's ``(message, offset)`` (the
    offset counts the bytes read, the bad one included) or None; with ``check_numbers`` the huge
    number is the text of the first number literal a float64 cannot hold, or None.
    """
    s = _Scanner(data, check_numbers)
    run(s, 0)
    if s.err is not None:
        return s.err, None
    return None, s.huge_number
