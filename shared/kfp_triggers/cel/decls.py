"""Function declarations of Tekton's CEL environment, as the checker sees them.

One line per overload: ``name(args) -> result`` for global functions and ``.name(receiver, args)
-> result`` for member functions. The set is cel-go's standard library, the Strings, Encoders,
Sets, Lists and Math extensions at their latest versions, and Tekton's own functions
(``pkg/interceptors/cel/triggers.go``).
"""

from __future__ import annotations

from dataclasses import dataclass

from kfp_triggers.cel.typesys import T, parse_type

_COMPARABLE = ("int", "uint", "double", "bool", "duration", "timestamp", "string", "bytes")
_ORDER_PAIRS = (
    "bool,bool int,int int,double int,uint uint,uint uint,double uint,int double,double "
    "double,int double,uint string,string bytes,bytes timestamp,timestamp duration,duration"
)
_TS_GETTERS = ("getFullYear", "getMonth", "getDayOfYear", "getDayOfMonth", "getDate", "getDayOfWeek")
_DUR_GETTERS = ("getHours", "getMinutes", "getSeconds", "getMilliseconds")

STANDARD = """
_?_:_(bool, A, A) -> A
!_(bool) -> bool
_==_(A, A) -> bool
_!=_(A, A) -> bool
_+_(bytes, bytes) -> bytes
_+_(double, double) -> double
_+_(duration, duration) -> duration
_+_(duration, timestamp) -> timestamp
_+_(timestamp, duration) -> timestamp
_+_(int, int) -> int
_+_(list(A), list(A)) -> list(A)
_+_(string, string) -> string
_+_(uint, uint) -> uint
_/_(double, double) -> double
_/_(int, int) -> int
_/_(uint, uint) -> uint
_%_(int, int) -> int
_%_(uint, uint) -> uint
_*_(double, double) -> double
_*_(int, int) -> int
_*_(uint, uint) -> uint
-_(double) -> double
-_(int) -> int
_-_(double, double) -> double
_-_(duration, duration) -> duration
_-_(int, int) -> int
_-_(timestamp, duration) -> timestamp
_-_(timestamp, timestamp) -> duration
_-_(uint, uint) -> uint
_[_](list(A), int) -> A
_[_](map(A, B), A) -> B
@in(A, list(A)) -> bool
@in(A, map(A, B)) -> bool
size(bytes) -> int
size(list(A)) -> int
size(map(A, B)) -> int
size(string) -> int
.size(bytes) -> int
.size(list(A)) -> int
.size(map(A, B)) -> int
.size(string) -> int
type(A) -> type(A)
bool(bool) -> bool
bool(string) -> bool
bytes(bytes) -> bytes
bytes(string) -> bytes
double(double) -> double
double(int) -> double
double(string) -> double
double(uint) -> double
duration(duration) -> duration
duration(string) -> duration
dyn(A) -> dyn
int(int) -> int
int(double) -> int
int(duration) -> int
int(string) -> int
int(timestamp) -> int
int(uint) -> int
string(string) -> string
string(bool) -> string
string(bytes) -> string
string(double) -> string
string(duration) -> string
string(int) -> string
string(timestamp) -> string
string(uint) -> string
timestamp(timestamp) -> timestamp
timestamp(int) -> timestamp
timestamp(string) -> timestamp
uint(uint) -> uint
uint(double) -> uint
uint(int) -> uint
uint(string) -> uint
.contains(string, string) -> bool
.endsWith(string, string) -> bool
.startsWith(string, string) -> bool
matches(string, string) -> bool
.matches(string, string) -> bool
"""

EXTENSIONS = """
.charAt(string, int) -> string
.indexOf(string, string) -> int
.indexOf(string, string, int) -> int
.lastIndexOf(string, string) -> int
.lastIndexOf(string, string, int) -> int
.lowerAscii(string) -> string
.upperAscii(string) -> string
.replace(string, string, string) -> string
.replace(string, string, string, int) -> string
.split(string, string) -> list(string)
.split(string, string, int) -> list(string)
.substring(string, int) -> string
.substring(string, int, int) -> string
.trim(string) -> string
.format(string, list(dyn)) -> string
strings.quote(string) -> string
.join(list(string)) -> string
.join(list(string), string) -> string
.reverse(string) -> string
base64.decode(string) -> bytes
base64.encode(bytes) -> string
sets.contains(list(A), list(A)) -> bool
sets.equivalent(list(A), list(A)) -> bool
sets.intersects(list(A), list(A)) -> bool
.slice(list(A), int, int) -> list(A)
.flatten(list(list(A))) -> list(A)
.flatten(list(dyn), int) -> list(dyn)
lists.range(int) -> list(int)
.reverse(list(A)) -> list(A)
.distinct(list(A)) -> list(A)
math.ceil(double) -> double
math.floor(double) -> double
math.round(double) -> double
math.trunc(double) -> double
math.isInf(double) -> bool
math.isNaN(double) -> bool
math.isFinite(double) -> bool
math.abs(double) -> double
math.abs(int) -> int
math.abs(uint) -> uint
math.sign(double) -> double
math.sign(int) -> int
math.sign(uint) -> uint
math.bitAnd(int, int) -> int
math.bitAnd(uint, uint) -> uint
math.bitOr(int, int) -> int
math.bitOr(uint, uint) -> uint
math.bitXor(int, int) -> int
math.bitXor(uint, uint) -> uint
math.bitNot(int) -> int
math.bitNot(uint) -> uint
math.bitShiftLeft(int, int) -> int
math.bitShiftLeft(uint, int) -> uint
math.bitShiftRight(int, int) -> int
math.bitShiftRight(uint, int) -> uint
math.sqrt(double) -> double
math.sqrt(int) -> double
math.sqrt(uint) -> double
"""

TEKTON = """
.match(map(string, dyn), string, string) -> bool
.canonical(map(string, dyn), string) -> string
.truncate(string, int) -> string
.compareSecret(string, string, string, string) -> bool
.compareSecret(string, string, string) -> bool
.parseJSON(string) -> map(string, dyn)
.parseYAML(string) -> map(string, dyn)
.parseURL(string) -> map(string, dyn)
.marshalJSON(map(string, dyn)) -> string
.marshalJSON(list(dyn)) -> string
.last(list(dyn)) -> dyn
.first(list(dyn)) -> dyn
.translate(string, string, string) -> string
"""


@dataclass(frozen=True)
class Overload:
    """One overload: member or global, parameter types (receiver first) and the result type."""

    member: bool
    params: tuple[T, ...]
    result: T


def _generated() -> str:
    lines: list[str] = []
    for op in ("_<_", "_<=_", "_>_", "_>=_"):
        for pair in _ORDER_PAIRS.split():
            a, b = pair.split(",")
            lines.append(f"{op}({a}, {b}) -> bool")
    for name in _TS_GETTERS + _DUR_GETTERS:
        lines.append(f".{name}(timestamp) -> int")
        lines.append(f".{name}(timestamp, string) -> int")
    for name in _DUR_GETTERS:
        lines.append(f".{name}(duration) -> int")
    for t in _COMPARABLE:
        lines.append(f".sort(list({t})) -> list({t})")
        lines.append(f".@sortByAssociatedKeys(list(A), list({t})) -> list(A)")
    for fn in ("math.@max", "math.@min"):
        for t in ("double", "int", "uint"):
            lines.append(f"{fn}({t}) -> {t}")
            lines.append(f"{fn}({t}, {t}) -> {t}")
            lines.append(f"{fn}(list({t})) -> {t}")
        for a, b in (("int", "uint"), ("int", "double"), ("double", "int"), ("double", "uint"),
                     ("uint", "int"), ("uint", "double")):  # fmt: skip
            lines.append(f"{fn}({a}, {b}) -> dyn")
    return "\n".join(lines)


def _parse_line(line: str) -> tuple[str, Overload]:
    head, _, result = line.partition("->")
    member = head.startswith(".")
    head = head.lstrip(".").strip()
    name, _, args = head.partition("(")
    inner = args.rstrip().removesuffix(")")
    params: list[T] = []
    depth, current = 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            params.append(parse_type(current))
            current = ""
            continue
        depth += (ch == "(") - (ch == ")")
        current += ch
    if current.strip():
        params.append(parse_type(current))
    return name, Overload(member, tuple(params), parse_type(result.strip()))


def _table(*blocks: str) -> dict[str, list[Overload]]:
    table: dict[str, list[Overload]] = {}
    for block in blocks:
        for raw in block.strip().splitlines():
            if raw.strip():
                name, overload = _parse_line(raw.strip())
                table.setdefault(name, []).append(overload)
    return table


FUNCTIONS: dict[str, list[Overload]] = _table(STANDARD, EXTENSIONS, TEKTON, _generated())
"""Every declared function name (``_+_``, ``size``, ``math.abs``, ``truncate``) and its overloads."""

TEKTON_FUNCTIONS: dict[str, list[Overload]] = _table(TEKTON)
"""Only Tekton's own functions (the cel-expr backend declares these itself)."""

TYPE_NAMES = ("int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type",
              "google.protobuf.Timestamp", "google.protobuf.Duration")  # fmt: skip
"""Identifiers that denote type values (``type(x) == string``), as cel-go's standard library
declares them; ``dyn`` is not one (a bare ``dyn`` is an undeclared reference)."""
