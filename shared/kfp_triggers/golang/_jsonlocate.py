"""Go's verdict on a document's syntax at the speed of Python's C decoder.

Go's scanner (:mod:`._jsonscan`) steps through every byte in Python, which costs about a second
per megabyte: far too much to run over a hostile 10 MiB body whose only error is its last byte.
Go's scanner and Python's decoder accept the same language (once ``NaN`` and ``Infinity``, which
only Python knows, are made invalid here), so the C decoder can vouch for everything before an
error, and Go's scanner only has to explain the error itself:

* the scanner runs over the document, but at the start of each value or object key it hands over:
  runs of simple members (scalars and small containers followed by a comma) are matched by one
  regular expression, and a whole array or object is read by the C decoder in one call;
* when the C decoder refuses a container, its message says which part of the grammar it was in
  and its position says where, so Go's scanner restarts right there, in the state Go would be
  in, and reads the few bytes to Go's own error;
* a container nested too deeply for the C decoder is entered as Go's scanner enters it (a run
  of containers opened one inside the other in one step) and its members are handed over again,
  so documents as deep as Go allows (10000 levels) are checked mostly at the C decoder's speed,
  and deeper ones fail with Go's "exceeded max depth" at Go's offset.

Each C decoder call opens at most :data:`CALL_DEPTH` levels (and never more than Go's limit
leaves) and reads a window of text that grows only while the container does not fit, so a call
refused for depth costs about the distance to the deep part. What such refusals read is counted:
once it reaches the document's length, windows stop growing past a few kilobytes. A document no
faster reader can take (deep, and made of many small deep members) costs at worst about what
stepping through it byte by byte does.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable
from typing import Any, Final

from kfp_triggers.golang import _jsonscan as scan
from kfp_triggers.golang._jsonscan import MAX_DEPTH

#: Most levels one C decoder call may open: deeper containers are entered by Go's scanner. A small
#: budget keeps cheap what a call refused for depth has read before failing.
CALL_DEPTH: Final = 48

#: Frames left to the walk: each C decoder call then needs only a few frames of padding.
_WALK_FRAMES: Final = CALL_DEPTH + 40

#: The first window of text one C decoder call reads (it grows fourfold while too short), and
#: the largest once calls refused for depth have read as much as the document holds.
_FIRST_WINDOW: Final = 1024
_SPENT_WINDOW: Final = 4096

_OBJECT_KEY, _OBJECT_VALUE, _ARRAY_VALUE = scan._OBJECT_KEY, scan._OBJECT_VALUE, scan._ARRAY_VALUE
_VALUE_STATES: Final = frozenset((scan._begin_value, scan._begin_value_or_empty))
_KEY_STATES: Final = frozenset((scan._begin_string, scan._begin_string_or_empty))
_FAST_STATES: Final = _VALUE_STATES | _KEY_STATES | {scan._end_value}
_SPACES: Final = " \t\r\n"
_OPENING_BYTES: Final = frozenset(b"[{")
_CLOSING_BYTES: Final = frozenset(b"]}")
_NUMBER_CHARS: Final = "0123456789.eE+-"

# --- runs of members, for containers the scanner walks through ----------------------------------

_WS = rb"[ \t\r\n]*+"
_STRING = rb'"[^"\\\x00-\x1f]*+(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\x00-\x1f]*+)*+"'
_NUMBER = rb"-?+(?:0|[1-9][0-9]*+)(?:\.[0-9]++)?+(?:[eE][-+]?+[0-9]++)?+"
_SCALAR = rb"(?:" + _STRING + rb"|" + _NUMBER + rb"|true|false|null)"


def _value(depth: int) -> bytes:
    """A pattern for any JSON value nested at most ``depth`` levels (atomic: no backtracking)."""
    if depth == 0:
        return _SCALAR
    inner = _value(depth - 1)
    array = rb"\[" + _WS + rb"(?:" + inner + _WS + rb"(?:," + _WS + rb"(?!\])|(?=\])))*+\]"
    members = rb"(?:" + _STRING + _WS + rb":" + _WS + inner + _WS + rb"(?:," + _WS + rb"(?!\})|(?=\})))*+"
    return rb"(?>" + _SCALAR + rb"|" + array + rb"|\{" + _WS + members + rb"\})"


_MEMBER = _value(3)
#: Array elements, each followed by its comma (the last element, with no comma, is left).
_ELEMENT_RUN: Final = re.compile(rb"(?:" + _MEMBER + _WS + rb"," + _WS + rb")++")
#: Object members (key, colon, value), each followed by its comma.
_PAIR_RUN: Final = re.compile(rb"(?:" + _STRING + _WS + rb":" + _WS + _MEMBER + _WS + rb"," + _WS + rb")++")

#: A container opened inside the one before: ``[`` or ``{"key":`` after the few scalar members
#: that may precede it (``[0, 1, `` or ``{"a": 1, "b":``).
_OPENER = (
    rb"(?:\[" + _WS + rb"(?:" + _SCALAR + _WS + rb"," + _WS + rb"){0,8}+"
    rb"|\{"
    + _WS
    + rb"(?:"
    + _STRING
    + _WS
    + rb":"
    + _WS
    + _SCALAR
    + _WS
    + rb","
    + _WS
    + rb"){0,8}+"
    + _STRING
    + _WS
    + rb":"
    + _WS
    + rb")"
)
_OPENING: Final = re.compile(_OPENER)
#: More containers opened in a row than one C decoder call may open: entered without trying it.
_DEEP_OPENING: Final = re.compile(_OPENER + rb"{%d}" % (CALL_DEPTH + 1))
#: Closing brackets in a row.
_CLOSING: Final = re.compile(rb"(?:[\]}]" + _WS + rb")+")

# --- numbers beyond float64, in a document known to be valid ----------------------------------

_ANY_STRING: Final = re.compile(_STRING)
# Only a number with a positive exponent of three digits or more, or with 200 integer digits or
# more, can exceed float64's range: the others are below 1e299.
_HUGE_CANDIDATE: Final = re.compile(
    rb"(?<![0-9.eE+-])-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?[eE]\+?0*[1-9][0-9]{2,}"
    rb"|(?<![0-9.eE+-])-?[1-9][0-9]{199,}(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?"
)


def first_huge_number(data: bytes) -> str | None:
    """The text of the first number in ``data`` (valid JSON) a float64 cannot hold, or None."""
    numbers = _ANY_STRING.sub(b'""', data)  # what is left outside strings: numbers and syntax
    for match in _HUGE_CANDIDATE.finditer(numbers):
        if math.isinf(float(match.group())):
            return match.group().decode("ascii")
    return None


# --- the C decoder, with a recursion budget ----------------------------------------------------


def _python_text(data: bytes) -> str:
    """``data`` as text for the C decoder: one character per invalid byte, no NaN or Infinity.

    ``N`` and ``I`` never stand outside a string in JSON, but Python's decoder reads them as
    ``NaN`` and ``Infinity``; as ``?`` they are errors at the same place for both decoders, and
    inside a string they change nothing that matters here.
    """
    text = data.decode("utf-8", "surrogateescape")
    if "N" in text:
        text = text.replace("N", "?")
    if "I" in text:
        text = text.replace("I", "?")
    return text


_ScanOnce = Callable[[str, int], tuple[Any, int]]


class _Decoder:
    """``scan_once`` of the C decoder, called so that it opens at most a given number of levels.

    The C decoder counts its levels against Python's recursion limit, so a call made that many
    frames below the limit opens exactly that many. The walk always calls from the same depth:
    the frames left there are measured once.
    """

    def __init__(self) -> None:
        # The C scanner each decoder builds (typeshed does not declare it). Integers past int()'s
        # digit limit are read again as floats.
        self._plain: _ScanOnce = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
        self._float_ints: _ScanOnce = json.JSONDecoder(parse_int=float).scan_once  # type: ignore[attr-defined]
        self._frames_left: int | None = None

    def value_end(self, text: str, index: int, levels: int) -> int:
        """Where the value at ``index`` ends; raise ``RecursionError`` past ``levels`` levels.

        Raises:
            json.JSONDecodeError: the value is not JSON (Python's message and position).
            RecursionError: the value is nested deeper than ``levels`` (or than Python allows).
        """
        if self._frames_left is None:
            self._frames_left = _frames_left()
        # _call runs two frames below this one, plus one per padding frame.
        return self._padded(max(0, self._frames_left - 2 - levels), text, index)

    def _padded(self, pad: int, text: str, index: int) -> int:
        if pad:
            return self._padded(pad - 1, text, index)
        return self._call(text, index)

    def _call(self, text: str, index: int) -> int:
        try:
            try:
                return int(self._plain(text, index)[1])
            except json.JSONDecodeError:
                raise
            except ValueError:  # an integer past int()'s digit limit: read numbers as floats
                return int(self._float_ints(text, index)[1])
        except StopIteration as missing:  # a member that starts no value, as json.loads words it
            raise json.JSONDecodeError("Expecting value", text, int(missing.value)) from None


def _frames_left() -> int:
    """How many more nested calls (Python or C decoder levels) the caller's frame can make."""
    depth = 0
    frame: Any = sys._getframe(1)
    while frame is not None:
        depth += 1
        frame = frame.f_back
    return sys.getrecursionlimit() - depth


def _cut_short(exc: json.JSONDecodeError, length: int) -> bool:
    """Whether the error may come from cutting the text at ``length`` rather than from the text.

    A cut leaves at most an unterminated string, or a token of a few characters (``\\u12``,
    ``-``, ``tru``, ``1.``) at the very end.
    """
    return exc.msg == "Unterminated string starting at" or exc.pos >= length - 8


# --- the walk ---------------------------------------------------------------------------------


class _Offsets:
    """Byte offsets in the document and character indexes in its text, converted forwards."""

    def __init__(self, data: bytes, text: str) -> None:
        self.data = data
        self.text = text
        self.same = len(data) == len(text)
        self.byte = 0
        self.char = 0

    def to_char(self, byte: int) -> int:
        if self.same:
            return byte
        self.char += len(self.data[self.byte : byte].decode("utf-8", "surrogateescape"))
        self.byte = byte
        return self.char

    def to_byte(self, char: int) -> int:
        if self.same:
            return char
        self.byte += len(self.text[self.char : char].encode("utf-8", "surrogateescape"))
        self.char = char
        return self.byte


class _Walk:
    """Go's scanner over one document, handing valid stretches to faster readers."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.text = _python_text(data)
        self.offsets = _Offsets(data, self.text)
        self.decoder = _Decoder()
        self.wasted = 0  # characters read by C decoder calls refused for depth

    def verdict(self) -> tuple[str, int] | None:
        """Go's syntax error, or None; run close to the recursion limit (see :class:`_Decoder`)."""
        return self._near_limit(max(0, _frames_left() - _WALK_FRAMES))

    def _near_limit(self, pad: int) -> tuple[str, int] | None:
        if pad:
            return self._near_limit(pad - 1)
        s = scan._Scanner(self.data, False)
        scan.run(s, 0, self._fast_forward, _FAST_STATES)
        return s.err

    def _fast_forward(self, s: scan._Scanner, i: int) -> int:
        if s.step is scan._end_value:
            return self._close(s, i)
        top = s.stack[-1] if s.stack else None
        if s.step in _KEY_STATES:
            run = _PAIR_RUN.match(self.data, i)
            if run is not None:
                s.step = scan._begin_string
                return run.end()
            return i
        if top == _ARRAY_VALUE:
            run = _ELEMENT_RUN.match(self.data, i)
            if run is not None:
                s.step = scan._begin_value
                return run.end()
        byte = self.data[i]
        if byte not in _OPENING_BYTES:
            return i
        if _DEEP_OPENING.match(self.data, i) is not None:
            return self._open(s, i)
        return self._container(s, i)

    def _open(self, s: scan._Scanner, i: int) -> int:
        """Enter a run of containers opened one inside the other, as Go's scanner would."""
        room = MAX_DEPTH - len(s.stack)
        data, stack = self.data, s.stack
        step = s.step
        while room > 0:
            opener = _OPENING.match(data, i)
            if opener is None:
                break
            array = data[i] == 0x5B
            stack.append(_ARRAY_VALUE if array else _OBJECT_VALUE)
            room -= 1
            i = opener.end()
            bare = array and data.find(b",", opener.start(), i) < 0  # nothing after the [
            step = scan._begin_value_or_empty if bare else scan._begin_value
        s.step = step
        return i

    def _close(self, s: scan._Scanner, i: int) -> int:
        """Leave a run of containers closed one after the other, each with its own bracket."""
        closers = _CLOSING.match(self.data, i)
        if closers is None:
            return i
        stack, end = s.stack, i
        for at, byte in enumerate(closers.group(), i):
            if byte in _CLOSING_BYTES:
                if not stack or stack[-1] != (_ARRAY_VALUE if byte == 0x5D else _OBJECT_VALUE):
                    break
                stack.pop()
                end = at + 1
                if not stack:
                    break
        if end == i:
            return i
        s.step = scan._end_value if stack else scan._end_top
        s.end_top = not stack
        return end

    def _container(self, s: scan._Scanner, i: int) -> int:
        """Read the array or object at ``i`` with the C decoder, if it is shallow enough.

        The decoder reads a window of the text that grows fourfold until the container fits, so
        a refusal for depth costs about the distance to the deep part, not the whole container.
        What refusals cost is counted: once they have read as much as the document holds, the
        window stops growing past a few kilobytes, so reading no document costs more than a few
        times what decoding it would.
        """
        levels = min(CALL_DEPTH, MAX_DEPTH - len(s.stack))
        if levels <= 0:
            return i  # the scanner steps in, and reports Go's depth limit
        limit = _SPENT_WINDOW if self.wasted > len(self.text) else len(self.text)
        start = self.offsets.to_char(i)
        window = _FIRST_WINDOW if s.stack else len(self.text)  # the document itself: read it whole
        while True:
            whole = start + window >= len(self.text)
            text = self.text if whole else self.text[start : start + window]
            try:
                end = self.decoder.value_end(text, start if whole else 0, levels)
            except RecursionError:
                self.wasted += len(text) if not whole else len(self.text) - start
                return i  # deeper than one call goes: the scanner enters it
            except json.JSONDecodeError as exc:
                if not whole and _cut_short(exc, len(text)):
                    if window >= limit:
                        self.wasted += window
                        return i  # too large to try again: the scanner enters it
                    window *= 4
                    continue
                s.err = self._explain(start, exc.msg, exc.pos if whole else start + exc.pos)
                s.step = scan._error
                return i
            break
        s.step = scan._end_value if s.stack else scan._end_top
        s.end_top = not s.stack
        return self.offsets.to_byte(end if whole else start + end)

    # -- explaining a refusal

    def _explain(self, start: int, message: str, at: int) -> tuple[str, int] | None:
        """Go's error for the container at ``start``, which the C decoder refused at ``at``."""
        restart = self._restart(start, message, at)
        if restart is not None:
            char, step, top = restart
            s = scan._Scanner(self.data, False)
            s.step, s.stack = step, [top]
            scan.run(s, self.offsets.to_byte(char))
            if s.err is not None and not s.end_top:
                return s.err
        return scan.scan(self.data, check_numbers=False)[0]  # not expected: the exact, slow way

    def _restart(self, start: int, message: str, at: int) -> tuple[int, scan.Step, int] | None:
        """Where Go's scanner can resume before Go's error, in which state, inside what.

        The C decoder stops at the first token Go's scanner cannot complete, so Go's error is in
        that token (a number ending before ``at`` included); the state follows from what the
        decoder expected and from the last significant character before ``at``.
        """
        text = self.text
        before = text[start:at].rstrip(_SPACES)
        last = before[-1] if before else ""
        if message == "Expecting value":
            step = scan._begin_value_or_empty if last == "[" else scan._begin_value
            return at, step, _OBJECT_VALUE if last == ":" else _ARRAY_VALUE
        if message == "Expecting property name enclosed in double quotes":
            step = scan._begin_string_or_empty if last == "{" else scan._begin_string
            return at, step, _OBJECT_KEY
        if message == "Expecting ':' delimiter":
            return at, scan._end_value, _OBJECT_KEY
        if message == "Expecting ',' delimiter":
            top = _OBJECT_VALUE if self._in_object(start, at) else _ARRAY_VALUE
            if last.isdigit():  # Go is still reading that number: restart at its first character
                return start + len(before.rstrip(_NUMBER_CHARS)), scan._begin_value, top
            return at, scan._end_value, top
        if message == "Unterminated string starting at":
            return at + 1, scan._in_string, _ARRAY_VALUE
        if message in ("Invalid control character at", "Invalid \\escape"):
            return at, scan._in_string, _ARRAY_VALUE
        if message == "Invalid \\uXXXX escape":
            return at - 1, scan._in_string, _ARRAY_VALUE  # at is the u; resume at its backslash
        return None

    def _in_object(self, start: int, at: int) -> bool:
        """Whether the innermost container open at ``at`` is an object.

        Closing it with ``]`` right there is accepted for an array and refused at once for an
        object.
        """
        probe = self.text[start:at] + "]"
        try:
            self.decoder.value_end(probe, 0, CALL_DEPTH + 8)  # called a few frames deeper
        except json.JSONDecodeError as exc:
            return exc.pos == at - start
        except RecursionError:
            return False
        return False


def syntax_error(data: bytes) -> tuple[str, int] | None:
    """Go's syntax error for ``data`` as ``(message, offset)``, or None when Go reads it."""
    return _Walk(data).verdict()
