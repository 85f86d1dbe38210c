"""GitHub Actions filter patterns, as ``on.push.paths`` and ``paths-ignore`` read them.

One job: turn a pattern list into a decision per path, by the rules of GitHub's "Filter pattern
cheat sheet" (workflow syntax reference), so a Trigger filters changed files exactly as a
workflow would. A pattern matches the *whole* path, from the repository root, case-sensitively:

* ``*`` matches any run of characters except ``/``;
* ``**`` matches any run of characters, ``/`` included; at the start of a path segment and
  followed by ``/`` it may also match no directory at all (``**/README.md`` matches
  ``README.md``, ``docs/**/*.md`` matches ``docs/a.md``), as the cheat sheet's examples require;
* ``?`` makes the character (or ``[]`` class) before it optional, ``+`` repeats it one or more
  times (``*.jsx?`` matches ``page.js`` and ``page.jsx``); with nothing before it to apply to,
  either is refused, since GitHub's meaning is then undefined (write ``\\?`` for a question mark);
* ``[...]`` matches one character listed, or within ranges ``a-z``, ``A-Z``, ``0-9``; only letters,
  digits and such ranges may appear between the brackets;
* ``\\`` makes the next character literal;
* ``!`` as the first character negates the pattern; anywhere else it is an ordinary character.

Dot files get no special treatment: ``*`` matches ``.gitignore`` and ``**`` crosses ``.github/``.

A list is read in order and the last pattern that matches a path decides: a matching ``!``
pattern takes the path out again, a later positive pattern puts it back. :func:`path_rule` adds
the rules of the two lists: ``paths`` selects, ``pathsIgnore`` ignores, never both at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_RANGE_CLASSES = (("a", "z"), ("A", "Z"), ("0", "9"))


class PatternError(ValueError):
    """A pattern GitHub's filter syntax does not define; the message says where and why."""


@dataclass(frozen=True)
class FilterPattern:
    """One compiled pattern: its text, whether it starts with ``!``, and the whole-path regex."""

    text: str
    negated: bool
    regex: re.Pattern[str]

    def matches(self, path: str) -> bool:
        """Whether the pattern (ignoring its ``!``) matches the whole of ``path``."""
        return self.regex.fullmatch(path) is not None


def compile_pattern(text: str) -> FilterPattern:
    """Compile one filter pattern.

    Raises:
        PatternError: the pattern is empty, has an unclosed or invalid ``[]`` class, a dangling
            ``\\``, or a ``?``/``+`` with nothing before it to apply to.
    """
    negated = text.startswith("!")
    body = text[1:] if negated else text
    if not body:
        raise PatternError(
            "a pattern must not be empty" if not negated else "'!' must be followed by a pattern"
        )
    return FilterPattern(text, negated, re.compile(_translate(body)))


def compile_patterns(texts: Iterable[str]) -> tuple[FilterPattern, ...]:
    """Compile a list of patterns in order.

    Raises:
        PatternError: the first pattern that does not compile; the message quotes it.
    """
    out: list[FilterPattern] = []
    for text in texts:
        try:
            out.append(compile_pattern(text))
        except PatternError as exc:
            raise PatternError(f"pattern {text!r}: {exc}") from None
    return tuple(out)


def selected(patterns: Sequence[FilterPattern], path: str) -> bool:
    """Whether ``path`` is in the set a pattern list describes: the last matching pattern decides.

    No matching pattern means not selected; a matching ``!`` pattern deselects.
    """
    for pattern in reversed(patterns):
        if pattern.matches(path):
            return not pattern.negated
    return False


@dataclass(frozen=True)
class PathRule:
    """A compiled ``paths`` (``ignore`` False) or ``pathsIgnore`` (``ignore`` True) list."""

    name: str
    patterns: tuple[FilterPattern, ...]
    ignore: bool

    def keeps(self, path: str) -> bool:
        """Whether ``path`` counts towards continuing: selected by ``paths``, not by ``pathsIgnore``."""
        return selected(self.patterns, path) != self.ignore


def path_rule(paths: Sequence[str] | None, paths_ignore: Sequence[str] | None) -> PathRule | None:
    """The rule the params ask for; ``None`` when neither list is given.

    Raises:
        PatternError: both lists given, an empty list, a list of ``!`` patterns only, or a
            pattern that does not compile. The message names the param.
    """
    if paths is not None and paths_ignore is not None:
        raise PatternError(
            "paths and pathsIgnore cannot both be given (as in GitHub Actions); "
            "use paths with '!' patterns to exclude"
        )
    if paths is None and paths_ignore is None:
        return None
    name, texts = ("paths", paths) if paths is not None else ("pathsIgnore", paths_ignore)
    assert texts is not None
    if not texts:
        raise PatternError(f"{name} is empty, so no change could ever be selected")
    try:
        patterns = compile_patterns(texts)
    except PatternError as exc:
        raise PatternError(f"{name}: {exc}") from None
    if all(p.negated for p in patterns):
        raise PatternError(f"{name} has only '!' patterns; it needs at least one pattern without '!'")
    return PathRule(name, patterns, ignore=name == "pathsIgnore")


def _translate(body: str) -> str:
    """The regular expression for a pattern without its leading ``!``."""
    parts: list[str] = []
    quantifiable = False  # whether the last part is one character or class a ?/+ may follow
    i, n = 0, len(body)
    while i < n:
        char = body[i]
        if char == "*":
            if body.startswith("**", i):
                segment_start = i == 0 or body[i - 1] == "/"
                if segment_start and body.startswith("**/", i):
                    parts.append("(?:.*/)?")
                    i += 3
                else:
                    parts.append(".*")
                    i += 2
            else:
                parts.append("[^/]*")
                i += 1
            quantifiable = False
        elif char in "?+":
            if not quantifiable:
                raise PatternError(
                    f"{char!r} at position {i + 1} has no character before it to apply to "
                    f"(write '\\{char}' to match a literal {char!r})"
                )
            parts[-1] = f"(?:{parts[-1]}){char}"
            quantifiable = False
            i += 1
        elif char == "[":
            klass, i = _bracket(body, i)
            parts.append(klass)
            quantifiable = True
        elif char == "\\":
            if i + 1 >= n:
                raise PatternError("the pattern ends with a '\\' that escapes nothing")
            parts.append(re.escape(body[i + 1]))
            quantifiable = True
            i += 2
        else:
            parts.append(re.escape(char))
            quantifiable = True
            i += 1
    return "".join(parts)


def _bracket(body: str, start: int) -> tuple[str, int]:
    """Translate the ``[...]`` class opening at ``start``; return it and the index after ``]``."""
    end = body.find("]", start + 1)
    if end < 0:
        raise PatternError(f"'[' at position {start + 1} is never closed")
    inner = body[start + 1 : end]
    if not inner:
        raise PatternError(f"'[]' at position {start + 1} lists no characters")
    items: list[str] = []
    j = 0
    while j < len(inner):
        first = inner[j]
        if j + 2 < len(inner) and inner[j + 1] == "-":
            last = inner[j + 2]
            if not _valid_range(first, last):
                raise PatternError(
                    f"range '{first}-{last}' in '[{inner}]' is not within a-z, A-Z or 0-9 in order"
                )
            items.append(f"{first}-{last}")
            j += 3
            continue
        if not (first.isascii() and first.isalnum()):
            raise PatternError(
                f"'[{inner}]' may hold only letters, digits and ranges a-z, A-Z, 0-9, not {first!r}"
            )
        items.append(first)
        j += 1
    return "[" + "".join(items) + "]", end + 1


def _valid_range(first: str, last: str) -> bool:
    return first <= last and any(lo <= first and last <= hi for lo, hi in _RANGE_CLASSES)
