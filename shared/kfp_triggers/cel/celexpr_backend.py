"""The optional native backend: Google's C++ CEL runtime through cel-expr-python.

Expressions are still parsed and checked by our own checker first, so compile errors read exactly
as with the other backend. The C++ environment declares Tekton's variables and loads its Strings,
Math and Encoders extensions; it evaluates expressions built from those and the standard library.
Expressions that need anything else (Tekton's functions, the Sets and Lists extensions) or where
the C++ runtime answers differently from cel-go run on the in-process evaluator instead; see
:mod:`kfp_triggers.cel.routing`. When the C++ runtime reports an error, the expression is
re-evaluated in process so that the outcome and its message are exactly cel-go's.

C++ activations are shared by all triggers that evaluate the same event with the same extensions,
because converting a body into one is the expensive part (about 50 µs for 6 KB).
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

from kfp_triggers.cel import interp, library, timeutil
from kfp_triggers.cel import typesys as ts
from kfp_triggers.cel.backend import Checked
from kfp_triggers.cel.celpy_backend import InterpretedProgram, fail
from kfp_triggers.cel.routing import routing_reason
from kfp_triggers.cel.values import CelType, Duration, EvalError, Timestamp, Uint
from kfp_triggers.golang import fastjson
from kfp_triggers.secretstore import SecretStore

_MAP_STRING_DYN = cel.Type.Map(cel.Type.STRING, cel.Type.DYN)
_VARIABLES = {
    "body": _MAP_STRING_DYN,
    "header": _MAP_STRING_DYN,
    "extensions": _MAP_STRING_DYN,
    "requestURL": cel.Type.STRING,
}
_TYPE_NAMES = {
    "NULL": "null_type",
    "TIMESTAMP": "google.protobuf.Timestamp",
    "DURATION": "google.protobuf.Duration",
}
_NATIVE_CACHE_SIZE = 32


@dataclass
class NativeProgram:
    """An expression compiled by the C++ runtime, plus its in-process twin for error reporting."""

    text: str
    expression: Any
    checked: Checked
    boolean: bool = False
    twin: InterpretedProgram | None = None


@dataclass
class _Native:
    """A C++ activation and the lock that keeps its lazy conversion single-threaded."""

    activation: Any
    body: Any
    header: Any
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Bound:
    """Variables for both engines: the Python data, and a C++ activation made on first use."""

    variables: dict[str, Any]
    key: tuple[int, int, str, str]
    native: _Native | None = None
    nul: bool = False


class CelExprBackend:
    """See the module docstring."""

    name = "cel-expr"

    def __init__(
        self, secrets: SecretStore | None = None, variables: Mapping[str, ts.T] | None = None
    ) -> None:
        """``variables`` replaces Tekton's declarations (the conformance suite declares its own)."""
        self.library = library.build(secrets)
        declared = _VARIABLES if variables is None else {k: native_type(t) for k, t in variables.items()}
        self.env = cel.NewEnv(
            variables=declared,
            extensions=[ext_strings.ExtStrings(), ext_math.ExtMath(), ext_encoders.ExtEncoders()],
        )
        self._natives: OrderedDict[tuple[int, int, str, str], _Native] = OrderedDict()
        self._lock = threading.Lock()

    def compile(self, checked: Checked) -> NativeProgram | InterpretedProgram:
        if routing_reason(checked) is None:
            try:
                boolean = checked.types.get(id(checked.tree)) == ts.BOOL
                return NativeProgram(checked.text, self.env.compile(checked.text), checked, boolean)
            except RuntimeError:
                pass  # the C++ checker is stricter here (e.g. 1 < 1.5); run it in process
        return self._interpreted(checked)

    def _interpreted(self, checked: Checked) -> InterpretedProgram:
        return InterpretedProgram(checked.text, interp.compile_expr(checked.tree, self.library))

    def bind(self, variables: Mapping[str, Any]) -> Bound:
        extensions = variables.get("extensions") or {}
        fingerprint = json.dumps(extensions, sort_keys=True, default=repr) if extensions else ""
        body, header = variables.get("body"), variables.get("header")
        key = (id(body), id(header), str(variables.get("requestURL")), fingerprint)
        return Bound(dict(variables), key, nul=_has_nul(variables))

    def _native(self, bound: Bound) -> _Native:
        """The C++ activation for these variables, shared with earlier triggers of the same event."""
        body, header = bound.variables.get("body"), bound.variables.get("header")
        with self._lock:
            found = self._natives.get(bound.key)
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
        if isinstance(program, NativeProgram) and bound.nul:
            if program.twin is None:
                program.twin = self._interpreted(program.checked)
            program = program.twin
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
            program.twin = self._interpreted(program.checked)
        try:
            return program.twin.fn(bound.variables)
        except EvalError as exc:
            raise fail(program.text, exc.message) from None
        except Exception:  # pragma: no cover - the in-process evaluator only raises EvalError
            raise fail(program.text, translate_error(native_error)) from None


def _has_nul(variables: Mapping[str, Any]) -> bool:
    """Whether a string in the variables holds a NUL character (JSON's ``\\u0000``).

    cel-expr-python cuts a Python string at its first NUL when it converts it (``'a\\x00b'`` reads
    as ``'a'``, in values and in map keys alike), where Go keeps the whole string; such variables
    are evaluated in process. Serialising them is the quickest complete search (a few
    microseconds for a large body); a value that cannot be serialised counts as suspect.
    """
    try:
        return b"\\u0000" in fastjson.dumps(variables)
    except (TypeError, ValueError):
        return True


_ERRORS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r'Key not found in map : "(.*)"\Z', re.S), lambda m: f"no such key: {m.group(1)}"),
    (re.compile(r"Key not found in map : (.*)\Z", re.S), lambda m: f"no such key: {m.group(1)}"),
    (re.compile(r"No matching overloads found : .*", re.S), lambda m: "no such overload"),
    (re.compile(r"(?:divide|division) by zero\Z"), lambda m: "division by zero"),
    (re.compile(r"modulus by zero\Z"), lambda m: "modulus by zero"),
    (re.compile(r"(?:int64|integer) overflow\Z"), lambda m: "integer overflow"),
    (re.compile(r"(?:uint64|unsigned integer) overflow\Z"), lambda m: "unsigned integer overflow"),
]


def translate_error(message: str) -> str:
    """A C++ runtime error in cel-go's words (only used if the in-process re-run fails).

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


_NATIVE_SCALARS = {
    "int": cel.Type.INT, "uint": cel.Type.UINT, "double": cel.Type.DOUBLE, "bool": cel.Type.BOOL,
    "string": cel.Type.STRING, "bytes": cel.Type.BYTES, "null": cel.Type.NULL,
    "timestamp": cel.Type.TIMESTAMP, "duration": cel.Type.DURATION,
}  # fmt: skip


def native_type(t: ts.T) -> Any:
    """A checker type as the C++ runtime's declaration type (``dyn`` for anything else)."""
    if t.kind == "list":
        return cel.Type.List(native_type(t.params[0]))
    if t.kind == "map":
        return cel.Type.Map(native_type(t.params[0]), native_type(t.params[1]))
    return _NATIVE_SCALARS.get(t.kind, cel.Type.DYN)


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
        # cel-expr-python has already made the keys Python values here, merging true with 1 and
        # 1u with 1: expressions that could build such maps run in process (see routing).
        return {key: from_native(raw[key]) for key in raw}
    if kind == "TIMESTAMP":
        delta = raw - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        return Timestamp((delta.days * 86400 + delta.seconds) * timeutil.NANOS + delta.microseconds * 1000)
    if kind == "DURATION":
        return Duration((raw.days * 86400 + raw.seconds) * timeutil.NANOS + raw.microseconds * 1000)
    if kind == "TYPE":
        base = raw.name().split("<", 1)[0]
        return CelType(_TYPE_NAMES.get(base, base.lower()))
    return raw
