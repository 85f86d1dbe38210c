"""What a ``KFPT_*`` setting is, and how its raw environment string becomes a checked value.

A :class:`Setting` pairs a name with a kind of value (:class:`Text`, :class:`Url`,
:class:`Number`, :class:`Choice`, :class:`SecretRef`, :class:`TextList`), a default and a
one-line doc. :func:`value` reads one setting from an environment mapping; a malformed value
raises :class:`InvalidSettingError`, whose message names the setting and what it must be.
Nothing here knows which settings exist: :mod:`kfp_triggers.settings` declares them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from kfp_triggers.errors import SettingError

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Kind(Protocol[T_co]):
    """A kind of setting value: its type's name, what a value must be, and how to read one."""

    @property
    def type_name(self) -> str: ...

    @property
    def expected(self) -> str: ...

    def parse(self, raw: str) -> T_co:
        """The value ``raw`` (stripped, never empty) stands for.

        Raises:
            ValueError: ``raw`` is malformed; a message, if any, says which part and why.
        """
        ...


@dataclass(frozen=True)
class Text:
    """Free text, optionally checked by ``check`` (which raises ValueError when it refuses)."""

    type_name: str = "text"
    expected: str = "text"
    check: Callable[[str], object] | None = None

    def parse(self, raw: str) -> str:
        if self.check is not None:
            self.check(raw)
        return raw


@dataclass(frozen=True)
class Url:
    """An ``http://`` or ``https://`` URL with a host."""

    type_name: str = "url"
    expected: str = "an http(s) URL"

    def parse(self, raw: str) -> str:
        scheme, sep, rest = raw.partition("://")
        if not sep or scheme.lower() not in ("http", "https") or not rest.split("/", 1)[0]:
            raise ValueError
        return raw


@dataclass(frozen=True)
class Number:
    """A finite number from ``minimum`` to ``maximum`` (``minimum`` excluded when ``positive``)."""

    minimum: float = 0.0
    maximum: float = math.inf
    positive: bool = False
    whole: bool = False
    described: str = ""

    @property
    def type_name(self) -> str:
        return "int" if self.whole else "float"

    @property
    def expected(self) -> str:
        if self.described:
            return self.described
        noun = "a whole number" if self.whole else "a number"
        return f"a positive {noun[2:]}" if self.positive else f"{noun} of at least {self.minimum:g}"

    def parse(self, raw: str) -> float:
        try:
            number = float(raw)
        except ValueError:
            raise ValueError from None  # "could not convert string to float" adds nothing
        low_ok = number > self.minimum if self.positive else number >= self.minimum
        if not (math.isfinite(number) and low_ok and number <= self.maximum):
            raise ValueError
        if self.whole and not number.is_integer():
            raise ValueError
        return int(number) if self.whole else number


@dataclass(frozen=True)
class Choice:
    """One of a fixed set of words, compared case-insensitively (kept lower-case, or upper)."""

    values: tuple[str, ...]
    upper: bool = False

    @property
    def type_name(self) -> str:
        return "choice"

    @property
    def expected(self) -> str:
        if len(self.values) == 2:
            return f"{self.values[0]!r} or {self.values[1]!r}"
        return f"one of {', '.join(self.values)}"

    def parse(self, raw: str) -> str:
        word = raw.upper() if self.upper else raw.lower()
        if word not in self.values:
            raise ValueError
        return word


@dataclass(frozen=True)
class SecretRef:
    """``<secretName>/<key>``: a secret in the secrets directory, never the secret itself."""

    type_name: str = "secret reference"
    expected: str = "<secretName>/<key>"

    def parse(self, raw: str) -> str:
        name, _, key = raw.partition("/")
        if not name or not key or "/" in key:
            raise ValueError
        return raw


@dataclass(frozen=True)
class TextList:
    """Comma-separated entries (blank ones dropped), the whole list checked by ``check``."""

    expected: str = "comma-separated entries"
    check: Callable[[tuple[str, ...]], object] | None = None
    type_name: str = "list"

    def parse(self, raw: str) -> tuple[str, ...]:
        entries = tuple(e.strip() for e in raw.split(",") if e.strip())
        if self.check is not None:
            self.check(entries)
        return entries


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One ``KFPT_*`` setting: everything the runtime, the ``settings`` command and the README use.

    ``default_doc`` describes a default that is not a plain value (derived from another setting or
    from the platform); ``fallback`` names a platform variable read when the setting is unset;
    ``secret`` settings never have their value shown.
    """

    name: str
    kind: Kind[Any]
    default: T
    doc: str
    stages: tuple[str, ...]
    default_doc: str = ""
    fallback: str = ""
    secret: bool = False


class InvalidSettingError(SettingError):
    """A setting's value is malformed; the message names the setting and what it must be."""

    def __init__(self, setting: Setting[Any], raw: str, detail: str = "") -> None:
        self.name = setting.name
        self.expected = setting.kind.expected
        self.shown = "a hidden value" if setting.secret else repr(raw)
        self.detail = "" if setting.secret else detail
        why = f" ({self.detail})" if self.detail else ""
        super().__init__(f"{self.name} must be {self.expected}, got {self.shown}{why}")


def raw_value(environ: Mapping[str, str], setting: Setting[Any]) -> str:
    """The setting's stripped string (its fallback's when unset); empty when neither is set."""
    raw = (environ.get(setting.name) or "").strip()
    if not raw and setting.fallback:
        raw = (environ.get(setting.fallback) or "").strip()
    return raw


def value(environ: Mapping[str, str], setting: Setting[T]) -> T:
    """The checked value of ``setting`` in ``environ``; its default when unset or empty.

    Raises:
        InvalidSettingError: the value is malformed.
    """
    raw = raw_value(environ, setting)
    if not raw:
        return setting.default
    try:
        parsed: T = setting.kind.parse(raw)
    except ValueError as exc:
        raise InvalidSettingError(setting, raw, str(exc)) from None
    return parsed
