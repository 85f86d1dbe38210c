"""The CEL conformance cases (cel-spec ``tests/simple``) as plain Python values.

Each ``SimpleTest`` of the vendored files becomes a :class:`Case`: the expression, the variables
it declares and binds, and what it must produce (a value, or an error at evaluation). Values are
converted into the engine's value model (``Uint``, ``Timestamp``, ``Duration``, ``CelType``; maps
are built with :func:`kfp_triggers.cel.values.map_insert`, so ``1`` and ``true`` stay two keys).
A case that cannot be expressed here (a protobuf message, an unsupported declaration) gets a
``skip`` reason; the deliberate skips are listed in :mod:`tests.conformance.skips`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kfp_triggers.cel import typesys as ts
from kfp_triggers.cel.typesys import T
from kfp_triggers.cel.values import CelType, Duration, Timestamp, Uint, map_insert
from tests.conformance import textproto
from tests.conformance.textproto import Message

DATA = Path(__file__).with_name("cel_spec")

_PRIMITIVES = {"BOOL": ts.BOOL, "INT64": ts.INT, "UINT64": ts.UINT, "DOUBLE": ts.DOUBLE,
               "STRING": ts.STRING, "BYTES": ts.BYTES}  # fmt: skip
_WELL_KNOWN = {"TIMESTAMP": ts.TIMESTAMP, "DURATION": ts.DURATION}
_NANOS = 1_000_000_000


class UnsupportedCaseError(Exception):
    """The case needs something this harness cannot express (the message says what)."""


@dataclass
class Case:
    """One conformance test, ready to run."""

    id: str
    expr: str
    variables: dict[str, T] = field(default_factory=dict)
    bindings: dict[str, Any] = field(default_factory=dict)
    expect_error: bool = False
    value: Any = None
    disable_check: bool = False
    skip: str | None = None


def load_cases(directory: Path = DATA) -> list[Case]:
    """Every test of every vendored file, in file order.

    A few tests share a name within their section (``string_ext/index_of/char_index``); the
    second and later ones get ``#2``, ``#3`` appended, so that every case id is unique.
    """
    cases: list[Case] = []
    seen: dict[str, int] = {}
    for path in sorted(directory.glob("*.textproto")):
        file = textproto.load(path)
        file_name = _text(file, "name")
        for section in file.get("section", []):
            for test in section.get("test", []):
                case_id = f"{file_name}/{_text(section, 'name')}/{_text(test, 'name')}"
                seen[case_id] = seen.get(case_id, 0) + 1
                if seen[case_id] > 1:
                    case_id += f"#{seen[case_id]}"
                cases.append(_case(case_id, test))
    return cases


def _text(message: Message, name: str) -> str:
    values = message.get(name)
    return values[-1].decode("utf-8") if values else ""


def _flag(message: Message, name: str) -> bool:
    values = message.get(name)
    return bool(values) and values[-1] == "true"


def _one(message: Message, name: str) -> Any:
    values = message.get(name)
    if not values:
        raise KeyError(name)
    return values[-1]


# A message type in the expression: cel-spec's test messages, or a protobuf type other than the
# Timestamp and Duration every CEL environment knows.
_MESSAGE = re.compile(r"TestAllTypes|conformance\.proto|google\.protobuf\.(?!Timestamp\b|Duration\b)\w")


def _case(case_id: str, test: Message) -> Case:
    case = Case(case_id, _text(test, "expr"), disable_check=_flag(test, "disable_check"))
    try:
        if _MESSAGE.search(re.sub(r"\s+", "", case.expr)):
            raise UnsupportedCaseError("uses a protobuf message type (Tekton declares none)")
        if _flag(test, "disable_macros"):
            raise UnsupportedCaseError(
                "macros disabled (Tekton's environment always has the standard macros)"
            )
        if _flag(test, "check_only") or "typed_result" in test:
            raise UnsupportedCaseError("compares deduced types in protobuf form (type checker output only)")
        if _text(test, "container"):
            raise UnsupportedCaseError("a container (namespace for message types); Tekton sets none")
        if "unknown" in test or "any_unknowns" in test:
            raise UnsupportedCaseError("unknown values (partial evaluation)")
        for decl in test.get("type_env", []):
            case.variables[_text(decl, "name")] = _declared_type(decl)
        for binding in test.get("bindings", []):
            expr_value = _one(binding, "value")
            case.bindings[_text(binding, "key")] = to_value(_one(expr_value, "value"))
        if "eval_error" in test or "any_eval_errors" in test:
            case.expect_error = True
        elif "value" in test:
            case.value = to_value(_one(test, "value"))
        else:
            case.value = True  # cel-go's runner: no result matcher means the expression is true
    except UnsupportedCaseError as exc:
        case.skip = str(exc)
    return case


def _declared_type(decl: Message) -> T:
    if "ident" not in decl:
        raise UnsupportedCaseError("declares a function (custom type environment)")
    return to_type(_one(_one(decl, "ident"), "type"))


def to_type(message: Message) -> T:
    """A ``cel.expr.Type`` as the checker's type, for the declarations the suite uses."""
    if "primitive" in message:
        return _PRIMITIVES[str(_one(message, "primitive"))]
    if "well_known" in message:
        name = str(_one(message, "well_known"))
        if name not in _WELL_KNOWN:
            raise UnsupportedCaseError(f"declares a {name} (protobuf Any)")
        return _WELL_KNOWN[name]
    if "list_type" in message:
        return ts.list_of(to_type(_one(_one(message, "list_type"), "elem_type")))
    if "map_type" in message:
        entry = _one(message, "map_type")
        return ts.map_of(to_type(_one(entry, "key_type")), to_type(_one(entry, "value_type")))
    if "dyn" in message:
        return ts.DYN
    if "null" in message:
        return ts.NULL
    raise UnsupportedCaseError(f"declares a {next(iter(message), 'type')} (custom type environment)")


def to_value(message: Message) -> Any:
    """A ``cel.expr.Value`` in the engine's value model."""
    kind = next(iter(message), None)
    if kind is None:
        raise UnsupportedCaseError("an empty value")
    raw = _one(message, kind)
    if kind == "null_value":
        return None
    if kind == "bool_value":
        return raw == "true"
    if kind == "int64_value":
        return int(raw)
    if kind == "uint64_value":
        return Uint(raw)
    if kind == "double_value":
        return float(raw)
    if kind == "string_value":
        return raw.decode("utf-8")
    if kind == "bytes_value":
        return bytes(raw)
    if kind == "type_value":
        return CelType(raw.decode("utf-8"))
    if kind == "list_value":
        return [to_value(v) for v in raw.get("values", [])]
    if kind == "map_value":
        out: dict[Any, Any] = {}
        for entry in raw.get("entries", []):
            map_insert(out, to_value(_one(entry, "key")), to_value(_one(entry, "value")))
        return out
    if kind == "object_value":
        return _object(raw)
    raise UnsupportedCaseError(f"a {kind} (protobuf enum or message)")


def _object(any_message: Message) -> Any:
    (type_url, body), *_ = any_message.items()
    fields = body[-1]
    seconds = int(fields.get("seconds", [0])[-1])
    nanos = int(fields.get("nanos", [0])[-1])
    if type_url == "[type.googleapis.com/google.protobuf.Duration]":
        return Duration(seconds * _NANOS + nanos)
    if type_url == "[type.googleapis.com/google.protobuf.Timestamp]":
        return Timestamp(seconds * _NANOS + nanos)
    raise UnsupportedCaseError(f"a protobuf message {type_url.strip('[]').rsplit('/', 1)[-1]}")


def same(want: Any, got: Any) -> bool:
    """Whether two results are the same CEL value: same types, NaN equal to NaN, maps by key.

    As cel-go's runner compares protobuf values, ``-0.0`` equals ``0.0``.
    """
    if type(want) is not type(got):
        return False
    if type(want) is float:
        return (math.isnan(want) and math.isnan(got)) or want == got
    if type(want) is list:
        return len(want) == len(got) and all(same(w, g) for w, g in zip(want, got, strict=True))
    if type(want) is dict:
        if len(want) != len(got):
            return False
        keyed = {(type(k), k): v for k, v in got.items()}
        return all((type(k), k) in keyed and same(v, keyed[(type(k), k)]) for k, v in want.items())
    if type(want) is Timestamp:
        return bool(want.nanos == got.nanos)
    return bool(want == got)
