"""The fast backend: Google's C++ CEL runtime through cel-expr-python (optional dependency).

Expressions are still parsed and checked by our own checker first, so compile errors read exactly
as with the other backend. The C++ environment declares Tekton's variables, loads its Strings,
Math and Encoders extensions and gets Tekton's functions plus the Sets and Lists extensions as
Python callbacks. Some expressions run on the in-process evaluator instead, because the C++ runtime
would answer differently from cel-go:

* ``sortBy`` (a macro the C++ parser does not know) and ``reverse`` on lists (the name is taken by
  the C++ Strings extension);
* ``timestamp()``/``duration()`` (C++ drops the written UTC offset and sub-microsecond digits);
* calls into Python callbacks when the expression can create uint, bytes, timestamp or type
  values, since the bridge hands such values to Python as plain ints or cannot pass them at all.

Evaluation errors, which C++ reports with its own wording, are translated to cel-go's messages.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cel_expr_python import cel
from cel_expr_python.ext import ext_encoders, ext_math, ext_strings

from kfp_triggers.cel import decls, interp, library, timeutil
from kfp_triggers.cel import typesys as ts
from kfp_triggers.cel.backend import Checked
from kfp_triggers.cel.celpy_backend import InterpretedProgram, fail
from kfp_triggers.cel.routing import routing_reason
from kfp_triggers.cel.values import CelType, Duration, EvalError, Timestamp, Uint
from kfp_triggers.secrets import SecretStore

_PYTHON_MEMBERS = frozenset(n for n, o in decls.TEKTON_FUNCTIONS.items()) | frozenset(
    library.PYTHON_ONLY_MEMBERS
)
_PYTHON_GLOBALS = frozenset(library.PYTHON_ONLY_GLOBALS)
_EXOTIC_CALLS = frozenset({"uint", "bytes", "type", "base64.decode", "timestamp", "duration"})
_ROUTED_CALLS = frozenset({"timestamp", "duration", "format"})
# Conversions whose C++ result differs from cel-go's for some argument types: int(bool) is 1 in C++
# (an error in cel-go) and string(double) prints NaN and infinities differently.
_ROUTED_ARGUMENTS = {"int": frozenset({"bool", "dyn"}), "string": frozenset({"double", "dyn"})}
_SCALARS = {
    "int": cel.Type.INT, "uint": cel.Type.UINT, "double": cel.Type.DOUBLE, "bool": cel.Type.BOOL,
    "string": cel.Type.STRING, "bytes": cel.Type.BYTES, "dyn": cel.Type.DYN, "null": cel.Type.NULL,
}  # fmt: skip
_TYPE_NAMES = {
    "NULL": "null_type",
    "TIMESTAMP": "google.protobuf.Timestamp",
    "DURATION": "google.protobuf.Duration",
}


def _cel_type(t: ts.T) -> Any:
    if t.kind == "list":
        return cel.Type.List(_cel_type(t.params[0]))
    if t.kind == "map":
        return cel.Type.Map(_cel_type(t.params[0]), _cel_type(t.params[1]))
    return _SCALARS.get(t.kind, cel.Type.DYN)


def _dynamic(t: ts.T) -> ts.T:
    """The same shape with every element type made ``dyn`` (``list(int)`` -> ``list(dyn)``)."""
    return ts.T(t.kind, tuple(ts.DYN for _ in t.params)) if t.params else t


def _to_python(value: Any) -> Any:
    if isinstance(value, bytearray):
        return bytes(value)
    if isinstance(value, list):
        return [_to_python(v) for v in value]
    return value


def _bridge(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an implementation for C++: plain arguments in, errors out as ``RuntimeError``."""

    def call(*args: Any) -> Any:
        try:
            result = fn(*[_to_python(a) for a in args])
        except EvalError as exc:
            raise RuntimeError(exc.message) from None
        return int(result) if type(result) is Uint else result

    return call


def _declarations(lib: library.Library) -> list[Any]:
    wanted = {**decls.TEKTON_FUNCTIONS}
    for name in (*library.PYTHON_ONLY_MEMBERS, *library.PYTHON_ONLY_GLOBALS):
        if name in decls.FUNCTIONS and not name.startswith("@"):
            wanted[name] = decls.FUNCTIONS[name]
    out = []
    for name, overloads in wanted.items():
        impl = lib.members[name] if overloads[0].member else lib.globals[name]
        shapes = [tuple(p.kind for p in o.params) for o in overloads]
        seen: set[tuple[str, ...]] = set()
        cel_overloads = []
        for index, overload in enumerate(overloads):
            # C++ rejects overlapping signatures, so overloads that differ only in element types
            # (``sort`` on list(int), list(string), ...) become one overload on list(dyn).
            shape = shapes[index]
            if shape in seen:
                continue
            seen.add(shape)
            merged = shapes.count(shape) > 1
            params = [_cel_type(_dynamic(p) if merged else p) for p in overload.params]
            result = _cel_type(_dynamic(overload.result) if merged else overload.result)
            cel_overloads.append(
                cel.Overload(
                    f"kfpt_{name.replace('.', '_')}_{index}",
                    return_type=result,
                    parameters=params,
                    is_member=overload.member,
                    impl=_bridge(impl),
                )
            )
        out.append(cel.FunctionDecl(name, cel_overloads))
    return out


@dataclass
class NativeProgram:
    """An expression compiled by the C++ runtime, plus its in-process twin for error reporting."""

    text: str
    expression: Any
    checked: Checked
    boolean: bool = False
    twin: InterpretedProgram | None = None


@dataclass
class Bound:
    """Variables for both engines: the Python data, and a C++ activation made on first use."""

    variables: dict[str, Any]
    key: tuple[int, int, str, str]
    native: _Native | None = field(default=None)


@dataclass
class _Native:
    """A C++ activation and the lock that keeps its lazy conversion single-threaded."""

    activation: Any
    body: Any
    header: Any
    lock: threading.Lock = field(default_factory=threading.Lock)


class CelExprBackend:
    """See the module docstring."""

    name = "cel-expr"

    def __init__(self, secrets: SecretStore | None = None) -> None:
        self.library = library.build(secrets)
        variables = {name: _cel_type(t) for name, t in _VARIABLES.items()}
        self.env = cel.NewEnv(
            variables=variables,
            extensions=[ext_strings.ExtStrings(), ext_math.ExtMath(), ext_encoders.ExtEncoders()],
            functions=_declarations(self.library),
        )
        self.env.compile("body")  # surface declaration problems now rather than per expression
        # Converting a 6 KB body into a C++ activation costs ~50 µs, so triggers of one event that
        # see the same variables share one activation.
        self._natives: OrderedDict[tuple[int, int, str, str], _Native] = OrderedDict()
        self._lock = threading.Lock()

    def compile(self, checked: Checked) -> NativeProgram | InterpretedProgram:
        if routing_reason(checked) is None:
            try:
                boolean = checked.types.get(id(checked.tree)) == ts.BOOL
                return NativeProgram(checked.text, self.env.compile(checked.text), checked, boolean)
            except RuntimeError:
                pass  # the C++ checker is stricter here; the in-process evaluator runs it
        return InterpretedProgram(checked.text, interp.compile_expr(checked.tree, self.library))

    def bind(self, variables: Mapping[str, Any]) -> Bound:
        extensions = variables.get("extensions") or {}
        fingerprint = json.dumps(extensions, sort_keys=True, default=repr) if extensions else ""
        key = (
            id(variables.get("body")),
            id(variables.get("header")),
            str(variables.get("requestURL")),
            fingerprint,
        )
        return Bound(dict(variables), key)

    def _native(self, bound: Bound) -> _Native:
        with self._lock:
            found = self._natives.get(bound.key)
            body, header = bound.variables.get("body"), bound.variables.get("header")
            if found is None or found.body is not body or found.header is not header:
                found = _Native(self.env.Activation(data=bound.variables), body, header)
                self._natives[bound.key] = found
                while len(self._natives) > _NATIVE_CACHE_SIZE:
                    self._natives.popitem(last=False)
            else:
                self._natives.move_to_end(bound.key)
        bound.native = found
        return found

    def evaluate(self, program: NativeProgram | InterpretedProgram, bound: Bound) -> Any:
        if isinstance(program, InterpretedProgram):
            try:
                return program.fn(bound.variables)
            except EvalError as exc:
                raise fail(program.text, exc.message) from None
        native = bound.native or self._native(bound)
        try:
            with native.lock:
                result = program.expression.eval(native.activation)
        except RuntimeError as exc:
            return self._explain(program, bound, str(exc))
        if program.boolean:
            value = result.plain_value()
            if type(value) is bool:
                return value
        if result.type().name() == "ERROR":
            return self._explain(program, bound, str(result.value()))
        return from_native(result)

    def _explain(self, program: NativeProgram, bound: Bound, native_error: str) -> Any:
        """Re-run a failed expression in process, so the error (or value) is exactly cel-go's."""
        if program.twin is None:
            program.twin = InterpretedProgram(
                program.text, interp.compile_expr(program.checked.tree, self.library)
            )
        try:
            return program.twin.fn(bound.variables)
        except EvalError as exc:
            raise fail(program.text, exc.message) from None
        except Exception:  # pragma: no cover - the in-process evaluator only raises EvalError
            raise fail(program.text, translate_error(native_error)) from None


_NATIVE_CACHE_SIZE = 32
_VARIABLES = {"body": ts.map_of(ts.STRING, ts.DYN), "header": ts.map_of(ts.STRING, ts.DYN),
              "extensions": ts.map_of(ts.STRING, ts.DYN), "requestURL": ts.STRING}  # fmt: skip

_ERRORS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r'Key not found in map : "(.*)"\Z', re.S), lambda m: f"no such key: {m.group(1)}"),
    (re.compile(r"Key not found in map : (.*)\Z", re.S), lambda m: f"no such key: {m.group(1)}"),
    (re.compile(r"No matching overloads found : .*", re.S), lambda m: "no such overload"),
    (re.compile(r"(?:divide|division) by zero\Z"), lambda m: "division by zero"),
    (re.compile(r"modulus by zero\Z"), lambda m: "modulus by zero"),
    (re.compile(r"(?:int64|integer) overflow\Z"), lambda m: "integer overflow"),
    (re.compile(r"(?:uint64|unsigned integer) overflow\Z"), lambda m: "unsigned integer overflow"),
    (
        re.compile(r"[Ii]ndex out of bounds.*?(-?\d+).*\Z", re.S),
        lambda m: f"index out of bounds: {m.group(1)}",
    ),
]


def translate_error(message: str) -> str:
    """A C++ runtime error in cel-go's words.

    For example ``NOT_FOUND: Key not found in map : "x"`` becomes ``no such key: x``.
    """
    code, sep, text = message.partition(": ")
    if not sep or not code.replace("_", "").isupper():
        text = message
    for pattern, render in _ERRORS:
        m = pattern.match(text)
        if m:
            return render(m)
    return text


def from_native(value: Any) -> Any:
    """A C++ result (``cel.Value`` or item accessor) in the shared value model."""
    kind = value.type().name()
    raw = value.value()
    if kind in ("BOOL", "STRING", "DOUBLE", "NULL"):
        return raw
    if kind == "INT":
        return int(raw)
    if kind == "UINT":
        return Uint(raw)
    if kind == "BYTES":
        return bytes(raw)
    if kind.startswith("LIST"):
        return [from_native(item) for item in raw]
    if kind.startswith("MAP"):
        return {key: from_native(raw[key]) for key in raw}
    if kind == "TIMESTAMP":
        delta = raw - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        return Timestamp((delta.days * 86400 + delta.seconds) * timeutil.NANOS + delta.microseconds * 1000)
    if kind == "DURATION":
        return Duration((raw.days * 86400 + raw.seconds) * timeutil.NANOS + raw.microseconds * 1000)
    if kind == "TYPE":
        name = raw.name()
        base = name.split("<", 1)[0]
        return CelType(_TYPE_NAMES.get(base, base.lower()))
    return raw
