"""Static CEL types for the checker: representation, parsing from declarations, unification.

This mirrors the parts of cel-go's checker that decide whether an expression type-checks: type
parameters (``A``) bound per overload, ``dyn`` and error types assignable to and from anything,
and the ``list(int)`` / ``map(string, dyn)`` spelling used in messages.
"""

from __future__ import annotations

from dataclasses import dataclass

SCALARS = (
    "int",
    "uint",
    "double",
    "bool",
    "string",
    "bytes",
    "null",
    "timestamp",
    "duration",
    "dyn",
    "error",
)


@dataclass(frozen=True, slots=True)
class T:
    """A static type: ``kind`` plus parameters (element types, or the name of a type parameter)."""

    kind: str
    params: tuple[T, ...] = ()
    name: str = ""

    def __str__(self) -> str:
        if self.kind == "param":
            return self.name
        if self.kind == "error":
            return "!error!"
        if not self.params:
            return self.kind
        return f"{self.kind}({', '.join(str(p) for p in self.params)})"


INT, UINT, DOUBLE, BOOL, STRING, BYTES, NULL, TIMESTAMP, DURATION, DYN, ERROR = (T(k) for k in SCALARS)


def list_of(elem: T) -> T:
    return T("list", (elem,))


def map_of(key: T, value: T) -> T:
    return T("map", (key, value))


def type_of(t: T | None = None) -> T:
    return T("type", (t,)) if t is not None else T("type")


def param(name: str) -> T:
    return T("param", name=name)


def parse_type(text: str) -> T:
    """Parse ``int``, ``list(A)``, ``map(string, dyn)``; single capital letters are type parameters."""
    t, rest = _parse(text.replace(" ", ""))
    if rest:
        raise ValueError(f"trailing text in type {text!r}")
    return t


def _parse(text: str) -> tuple[T, str]:
    i = 0
    while i < len(text) and (text[i].isalnum() or text[i] == "_"):
        i += 1
    name, rest = text[:i], text[i:]
    if len(name) == 1 and name.isupper():
        return param(name), rest
    if not rest.startswith("("):
        return T(name), rest
    params: list[T] = []
    rest = rest[1:]
    while True:
        p, rest = _parse(rest)
        params.append(p)
        if rest.startswith(","):
            rest = rest[1:]
            continue
        if rest.startswith(")"):
            return T(name, tuple(params)), rest[1:]
        raise ValueError(f"bad type near {rest!r}")


Mapping = dict[str, T]


def substitute(m: Mapping, t: T, params_to_dyn: bool = False) -> T:
    """Replace bound type parameters (recursively); unbound ones become ``dyn`` if asked."""
    if t.kind == "param":
        bound = m.get(t.name)
        if bound is not None and bound != t:
            return substitute(m, bound, params_to_dyn)
        return DYN if params_to_dyn else t
    if not t.params:
        return t
    return T(t.kind, tuple(substitute(m, p, params_to_dyn) for p in t.params), t.name)


def _occurs(name: str, t: T, m: Mapping) -> bool:
    t = substitute(m, t)
    if t.kind == "param":
        return t.name == name
    return any(_occurs(name, p, m) for p in t.params)


def _assign(m: Mapping, want: T, got: T) -> bool:
    want = substitute(m, want)
    got = substitute(m, got)
    if want.kind == "param":
        if got.kind == "param" and got.name == want.name:
            return True
        if _occurs(want.name, got, m):
            return False
        m[want.name] = got
        return True
    if got.kind == "param":
        m[got.name] = want
        return True
    if want.kind in ("dyn", "error") or got.kind in ("dyn", "error"):
        return True
    if want.kind == "null" or got.kind == "null":
        other = got if want.kind == "null" else want
        return other.kind in ("null", "timestamp", "duration")
    if want.kind != got.kind:
        return False
    if want.kind == "type":
        return True  # cel-go: any type value is assignable to any other (type(1) == type(1u))
    if len(want.params) != len(got.params):
        return False
    return all(_assign(m, w, g) for w, g in zip(want.params, got.params, strict=True))


def assignable(m: Mapping, want: T, got: T) -> Mapping | None:
    """A new mapping if ``got`` can be passed where ``want`` is expected, else None."""
    trial = dict(m)
    return trial if _assign(trial, want, got) else None


def assignable_list(m: Mapping, wants: tuple[T, ...], gots: list[T]) -> Mapping | None:
    """Like :func:`assignable` for whole argument lists."""
    if len(wants) != len(gots):
        return None
    trial = dict(m)
    for w, g in zip(wants, gots, strict=True):
        if not _assign(trial, w, g):
            return None
    return trial


def is_dyn_or_error(t: T) -> bool:
    return t.kind in ("dyn", "error", "param")


def most_general(a: T, b: T) -> T:
    """The more general of two compatible types (``dyn`` wins; otherwise the first)."""
    if a.kind == "dyn" or b.kind == "dyn":
        return DYN
    return a


def rename_params(t: T, suffix: str) -> T:
    """Give the parameters of a declaration fresh names for one use of it."""
    if t.kind == "param":
        return param(t.name + suffix)
    if not t.params:
        return t
    return T(t.kind, tuple(rename_params(p, suffix) for p in t.params), t.name)
