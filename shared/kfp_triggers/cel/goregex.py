"""RE2 regular expressions with Go's ``regexp`` behaviour and error messages.

cel-go's ``matches`` and Tekton's ``translate`` use Go's ``regexp`` package (RE2 syntax).
The ``re2`` module is the same engine; what differs is handled here: Go's compile error text
(``error parsing regexp: missing closing ]: `[a` ``), ``ReplaceAllString``'s rule that an empty
match right after a previous match is not replaced, and ``$1`` / ``${name}`` expansion.
"""

from __future__ import annotations

import functools
import unicodedata
from typing import Any

import re2

from kfp_triggers.golang.fmt import valid_text

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False

# RE2 (C++) error text -> Go regexp/syntax error code text.
_GO_CODES = {
    "missing ]": "missing closing ]",
    "missing )": "missing closing )",
    "unexpected )": "unexpected )",
    "missing argument to repetition operator": "missing argument to repetition operator",
    "bad repetition operator": "invalid nested repetition operator",
    "invalid repetition size": "invalid repeat count",
    "invalid escape sequence": "invalid escape sequence",
    "trailing \\": "trailing backslash at end of expression",
    "invalid character class": "invalid character class",
    "invalid character class range": "invalid character class range",
    "invalid named capture group": "invalid named capture",
    "duplicate capture group name": "duplicate capture group name",
    "invalid UTF-8": "invalid UTF-8",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "bad named capture group": "invalid named capture",
    "pattern too large - compile failed": "expression too large",
}


class RegexError(ValueError):
    """A pattern Go's ``regexp.Compile`` rejects; the message is Go's."""


@functools.lru_cache(maxsize=512)
def compile_go(pattern: str) -> Any:
    """Compile ``pattern``; raise :class:`RegexError` with Go's wording when it is invalid."""
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        raw = exc.args[0] if exc.args else b""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        code, sep, fragment = text.partition(": ")
        go_code = _GO_CODES.get(code, code)
        if sep:
            raise RegexError(f"error parsing regexp: {go_code}: `{fragment}`") from None
        raise RegexError(f"error parsing regexp: {go_code}") from None


def matches(text: str, pattern: str) -> bool:
    """``regexp.MatchString``: does the pattern match anywhere in the text.

    RE2 reads each byte of invalid UTF-8 as U+FFFD, so a string ``truncate()`` cut matches so.
    """
    return compile_go(pattern).search(valid_text(text)) is not None


def replace_all(text: str, pattern: str, template: str) -> str:
    """``regexp.ReplaceAllString``: replace every match, expanding ``$1``/``${name}`` in the template."""
    regex = compile_go(pattern)
    text = valid_text(text)  # RE2 reads invalid UTF-8 bytes as U+FFFD
    names = {index: name for name, index in regex.groupindex.items()}
    out: list[str] = []
    last_end = 0
    pos = 0
    n = len(text)
    while pos <= n:
        m = regex.search(text, pos)
        if m is None:
            break
        start, end = m.span()
        out.append(text[last_end:start])
        if end > last_end or start == 0:
            out.append(_expand(template, m, regex.groups, names))
        last_end = end
        pos = pos + 1 if pos + 1 > end else end
    out.append(text[last_end:])
    return "".join(out)


def _expand(template: str, match: Any, groups: int, names: dict[int, str]) -> str:
    """Go's ``Regexp.Expand`` for one match."""
    out: list[str] = []
    rest = template
    while True:
        before, dollar, after = rest.partition("$")
        out.append(before)
        if not dollar:
            return "".join(out)
        rest = after
        if rest.startswith("$"):
            out.append("$")
            rest = rest[1:]
            continue
        parsed = _extract(rest)
        if parsed is None:
            out.append("$")
            continue
        name, num, rest = parsed
        index = num if num >= 0 else next((i for i, nm in names.items() if nm == name), -1)
        if 0 <= index <= groups:
            value = match.group(index)
            if value is not None:
                out.append(value)


def _extract(text: str) -> tuple[str, int, str] | None:
    """Parse a ``name`` or ``{name}`` after ``$``; the number is -1 unless the name is numeric."""
    brace = text.startswith("{")
    body = text[1:] if brace else text
    i = 0
    while i < len(body) and (body[i] == "_" or body[i].isalpha() or unicodedata.category(body[i]) == "Nd"):
        i += 1
    if i == 0:
        return None
    name = body[:i]
    if brace:
        if i >= len(body) or body[i] != "}":
            return None
        i += 1
    num = int(name) if name.isascii() and name.isdigit() and len(name) <= 8 else -1
    if name.startswith("0") and len(name) > 1:
        num = -1
    return name, num, body[i:]
