"""Tekton's CEL environment: the public entry point for compiling and evaluating expressions.

A :class:`CelEnvironment` compiles each expression once (cached) and evaluates it against an
:class:`Activation` built from one event. The event's body is decoded once and shared by every
trigger that looks at the same event; only ``extensions`` differ between triggers. Two engines
can run the expressions (see :mod:`kfp_triggers.cel.backend`): the in-process evaluator
(``celpy``, the default: it parses with cel-python's grammar and evaluates with cel-go's rules) and
Google's C++ runtime (``cel-expr``, from cel-expr-python). Both give the same results; measured on
the matching benchmark the in-process one is the faster here, because the C++ runtime pays a
conversion of the event into its own values. ``KFPT_CEL_BACKEND=celpy|cel-expr`` chooses.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kfp_triggers.cel.backend import Backend, Checked, parse_and_check
from kfp_triggers.cel.celpy_backend import CelPyBackend
from kfp_triggers.cel.values import CelValue
from kfp_triggers.errors import CelCompileError, CelError, CelEvalError
from kfp_triggers.golang import json as gojson
from kfp_triggers.secretstore import SecretStore
from kfp_triggers.tekton.headers import Headers
from kfp_triggers.tekton.request import RawRequest

BACKEND_ENV = "KFPT_CEL_BACKEND"
_BODY_CACHE_SIZE = 16


class CelBodyError(CelEvalError):
    """The request body is not a JSON object, so no evaluation context can be made."""


@dataclass(frozen=True)
class CompiledExpression:
    """An expression compiled for one environment's backend."""

    text: str
    checked: Checked
    program: Any
    backend: str


@dataclass
class Activation:
    """The variables of one evaluation: ``body``, ``header``, ``extensions`` and ``requestURL``."""

    variables: dict[str, Any]
    _bound: dict[str, Any] = field(default_factory=dict, repr=False)

    def bound(self, backend: Backend) -> Any:
        """The variables prepared for ``backend`` (prepared once per activation)."""
        found = self._bound.get(backend.name)
        if found is None:
            found = backend.bind(self.variables)
            self._bound[backend.name] = found
        return found


def available_backends() -> list[str]:
    """Backends that can run here: always ``celpy``, plus ``cel-expr`` when it is importable."""
    names = ["celpy"]
    try:
        import cel_expr_python.cel  # noqa: F401
    except ImportError:
        return names
    return [*names, "cel-expr"]


def _make_backend(requested: str | None, secrets: SecretStore | None) -> Backend:
    choice = requested or os.environ.get(BACKEND_ENV, "").strip() or None
    if choice in (None, "auto"):
        choice = "celpy"
    if choice == "celpy":
        return CelPyBackend(secrets)
    if choice == "cel-expr":
        try:
            from kfp_triggers.cel.celexpr_backend import CelExprBackend
        except ImportError as exc:
            raise CelError(f"CEL backend 'cel-expr' needs the cel-expr-python package: {exc}") from None
        backend: Backend = CelExprBackend(secrets)
        return backend
    raise CelError(f"unknown CEL backend {choice!r} (expected 'celpy' or 'cel-expr')")


def _jsonish(value: Any) -> Any:
    """Extensions as Tekton sees them after a JSON round trip: every number is a double."""
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonish(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonish(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _decode(body: bytes) -> dict[str, Any] | CelBodyError:
    """The body decoded as CEL sees it, or the error that stops every trigger of its event."""
    if not body:
        return {}
    try:
        return gojson.unmarshal_object(body)
    except gojson.GoJsonError as exc:
        return CelBodyError(f"failed to parse the body as JSON: {exc}")


class CelEnvironment:
    """Tekton's CEL environment with one backend, an expression cache and a body cache."""

    def __init__(self, secrets: SecretStore | None = None, backend: str | None = None) -> None:
        self.secrets = secrets
        self.backend: Backend = _make_backend(backend, secrets)
        self._compiled: dict[str, CompiledExpression] = {}
        self._bodies: OrderedDict[bytes, dict[str, Any] | CelBodyError] = OrderedDict()
        self._last_plain: tuple[bytes, Headers, str, Activation] | None = None
        self._lock = threading.Lock()

    @property
    def backend_name(self) -> str:
        return self.backend.name

    def compile(self, expression: str) -> CompiledExpression:
        """Parse, check and prepare ``expression`` once; raise :class:`CelCompileError`."""
        found = self._compiled.get(expression)
        if found is not None:
            return found
        checked = parse_and_check(expression)
        compiled = CompiledExpression(expression, checked, self.backend.compile(checked), self.backend.name)
        with self._lock:
            self._compiled.setdefault(expression, compiled)
        return compiled

    def check(self, expression: str) -> str | None:
        """The compile error Tekton would report for ``expression``, or None when it is valid."""
        try:
            self.compile(expression)
        except CelCompileError as exc:
            return str(exc)
        return None

    def decode_body(self, body: bytes) -> dict[str, Any]:
        """The body as CEL's ``body``: a JSON object (empty body: ``{}``), decoded once per event.

        Every trigger of an event gets the same decoded value, or the same error: a body is
        decoded (or found to be no JSON object) once, not once per trigger. The cache is keyed
        by the bytes themselves (a bytes object hashes once), so a body rebuilt with the same
        content, as a form body is for each trigger, is found too. Sharing is safe because
        nothing downstream modifies the value: evaluation reads it, and results are built anew.
        """
        with self._lock:
            cached = self._bodies.get(body)
            if cached is not None:
                self._bodies.move_to_end(body)
        if cached is None:
            cached = _decode(body)
            with self._lock:
                self._bodies[body] = cached
                while len(self._bodies) > _BODY_CACHE_SIZE:
                    self._bodies.popitem(last=False)
        if isinstance(cached, CelBodyError):
            raise CelBodyError(str(cached))
        return cached

    def activation(
        self, body: bytes, header: Headers, extensions: Mapping[str, Any], request_url: str
    ) -> Activation:
        """Variables for one trigger of one event; raise :class:`CelBodyError` for a non-object body.

        Triggers whose chain has added no extensions see the same variables, so the activation of
        the last such event is reused (with whatever each backend prepared from it): one event
        matched against many triggers prepares its variables once.
        """
        if not extensions:
            last = self._last_plain
            if last is not None and last[0] is body and last[1] is header and last[2] == request_url:
                return last[3]
        variables = {
            "body": self.decode_body(body),
            "header": header,
            "extensions": _jsonish(extensions) if extensions else {},
            "requestURL": request_url,
        }
        activation = Activation(variables)
        if not extensions:
            self._last_plain = (body, header, request_url, activation)
        return activation

    def evaluate(self, compiled: CompiledExpression, activation: Activation) -> CelValue:
        """Evaluate; raise :class:`CelEvalError` (``expression "..." failed to evaluate: ...``)."""
        return CelValue(self.evaluate_value(compiled, activation))

    def evaluate_value(self, compiled: CompiledExpression, activation: Activation) -> Any:
        """As :meth:`evaluate`, the bare value: a filter only asks whether it is ``True``."""
        backend = self.backend
        if compiled.backend != backend.name:
            compiled = self.compile(compiled.text)
        return backend.evaluate(compiled.program, activation.bound(backend))


def cel_eval(expression: str, request: RawRequest, secrets: SecretStore | None = None) -> dict[str, Any]:
    """Evaluate one expression against a request, as ``kfp-triggers cel-eval`` prints it."""
    env = CelEnvironment(secrets)
    compiled = env.compile(expression)
    activation = env.activation(request.body, request.headers, {}, request.url)
    value = env.evaluate(compiled, activation)
    return {"type": value.type_name, "value": value.to_json()}


__all__ = ["Activation", "CelBodyError", "CelEnvironment", "CelValue", "CompiledExpression", "cel_eval"]
