"""Tekton's CEL interceptor: a ``filter`` expression and ``overlays`` written into extensions.

Behaviour and messages follow ``pkg/interceptors/cel/cel.go``: parameters are decoded as Go
decodes them into ``InterceptorParams`` (so a non-string filter is code 3 with Go's message), an
empty body counts as ``{}``, a filter that is not exactly ``true`` stops the trigger with code 9,
any parse, check or evaluation error is code 3, and each overlay's result is stored at its key
(an sjson path) in a fresh extensions document. Overlays all see the original event.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from kfp_triggers.cel import CelBodyError, CelEnvironment
from kfp_triggers.cel.functions import TRIGGER_NAMESPACE, to_struct_json
from kfp_triggers.cel.sjson import SjsonError, set_path
from kfp_triggers.cel.values import CelType, CelValue, Duration, Timestamp, Uint
from kfp_triggers.errors import CelError
from kfp_triggers.golang.fmt import valid_text
from kfp_triggers.tekton.interceptor_protocol import (
    NO_CONTEXT,
    InterceptorRequest,
    InterceptorResponse,
    StatusCode,
)

_UNPARSEABLE = "failed to unmarshal extensions into map: invalid character '}' looking for beginning of value"
_KIND = {str: "string", bool: "bool", int: "number", float: "number", list: "array", dict: "object"}


class _ParamsError(ValueError):
    pass


@dataclass(frozen=True)
class Overlay:
    """One overlay: where to store the result (an sjson path) and the expression."""

    key: str
    expression: str


@dataclass(frozen=True)
class CelParams:
    """The interceptor's parameters after Go-style decoding."""

    filter: str = ""
    overlays: tuple[Overlay, ...] = ()

    @cached_property
    def rejection(self) -> InterceptorResponse:
        """The response when the filter is not true: the same (immutable) answer at every event."""
        return InterceptorResponse.stop(
            StatusCode.FAILED_PRECONDITION, f"expression {self.filter} did not return true"
        )


def _kind(value: Any) -> str:
    return _KIND.get(type(value), "object")


def _fields(obj: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """Match JSON keys to struct fields as ``encoding/json`` does: exact, else case-insensitive."""
    found: dict[str, Any] = {}
    for key in sorted(obj):
        for name in names:
            if key == name or key.lower() == name.lower():
                found[name] = obj[key]
                break
    return found


def _string_field(value: Any, struct: str, path: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _ParamsError(
            f"json: cannot unmarshal {_kind(value)} into Go struct field {struct}.{path} of type string"
        )
    return value


def decode_params(params: dict[str, Any]) -> CelParams:
    """Decode ``interceptor_params`` like Tekton's ``UnmarshalParams``; raise with Go's message."""
    for value in _walk(params):
        if isinstance(value, float) and not math.isfinite(value):
            shown = "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
            raise _ParamsError(f"failed to marshal json: json: unsupported value: {shown}")
    fields = _fields(params, ("filter", "overlays"))
    try:
        flt = _string_field(fields.get("filter"), "InterceptorParams", "filter")
        raw_overlays = fields.get("overlays")
        overlays: list[Overlay] = []
        if raw_overlays is not None:
            if not isinstance(raw_overlays, list):
                raise _ParamsError(
                    f"json: cannot unmarshal {_kind(raw_overlays)} into Go struct field "
                    "InterceptorParams.overlays of type []cel.Overlay"
                )
            for item in raw_overlays:
                if item is None:
                    overlays.append(Overlay("", ""))
                    continue
                if not isinstance(item, dict):
                    raise _ParamsError(
                        f"json: cannot unmarshal {_kind(item)} into Go struct field "
                        "InterceptorParams.overlays of type cel.Overlay"
                    )
                sub = _fields(item, ("key", "expression"))
                overlays.append(
                    Overlay(
                        _string_field(sub.get("key"), "Overlay", "overlays.key"),
                        _string_field(sub.get("expression"), "Overlay", "overlays.expression"),
                    )
                )
    except _ParamsError as exc:
        raise _ParamsError(f"invalid json: {exc}") from None
    return CelParams(flt, tuple(overlays))


def _walk(value: Any) -> Any:
    yield value
    if isinstance(value, dict):
        for v in value.values():
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)


class _OverlayError(Exception):
    """Code 13: the overlay result cannot be written into the extensions."""


def overlay_json(value: CelValue) -> Any:
    """The JSON value Tekton stores for an overlay result (bytes as base64, numbers as doubles)."""
    v = value.value
    t = type(v)
    if t is str:
        return valid_text(v)  # json.Marshal writes each byte truncate() cut off as \ufffd
    if t is bool:
        return v
    if t is bytes or t is int or t is float:
        if t is float and not math.isfinite(v):
            shown = "NaN" if math.isnan(v) else ("+Inf" if v > 0 else "-Inf")
            raise _OverlayError(f"proto: google.protobuf.Value.number_value: invalid {shown} value")
        return to_struct_json(v, "Value")
    if t in (list, tuple, dict):
        try:
            return to_struct_json(v, "Struct" if t is dict else "ListValue")
        except Exception as exc:
            if "invalid" in str(exc) and "number_value" in str(exc):
                # Tekton ignores this marshalling error and writes an empty value, which then
                # makes the whole extensions document unparseable.
                raise _OverlayError("unmarshal") from None
            raise _OverlayError(str(exc)) from None
    if v is None:
        raise _OverlayError("type conversion error from 'null_type' to '[]uint8'")
    if t is Uint:
        raise _OverlayError("unsupported type conversion from 'uint' to []uint8")
    if t is Timestamp:
        raise _OverlayError("type conversion error from 'Timestamp' to '[]uint8'")
    if t is Duration:
        raise _OverlayError("type conversion error from 'Duration' to '[]uint8'")
    if t is CelType:
        raise _OverlayError("type conversion not supported for 'type'")
    raise _OverlayError(f"unsupported value of type {t.__name__}")


class CelInterceptor:
    """Tekton's ``cel`` ClusterInterceptor, in process."""

    def __init__(self, env: CelEnvironment) -> None:
        self.env = env
        # Params of configured triggers are the same (never modified) dict at every event: decode
        # them once. The entry keeps the dict alive, so its id cannot be reused by another object.
        self._decoded: dict[int, tuple[dict[str, Any], CelParams]] = {}

    def _params(self, raw: dict[str, Any]) -> CelParams:
        cached = self._decoded.get(id(raw))
        if cached is not None and cached[0] is raw:
            return cached[1]
        params = decode_params(raw)
        if len(self._decoded) < 10_000:
            self._decoded[id(raw)] = (raw, params)
        return params

    def process(self, request: InterceptorRequest) -> InterceptorResponse:
        """Filter and overlay one request; every outcome is a response, never an exception."""
        namespace = TRIGGER_NAMESPACE.set(request.context.namespace() if request.context else "")
        try:
            return self._process(request)
        finally:
            TRIGGER_NAMESPACE.reset(namespace)

    def _process(self, request: InterceptorRequest) -> InterceptorResponse:
        try:
            params = self._params(request.interceptor_params or {})
        except _ParamsError as exc:
            return InterceptorResponse.stop(
                StatusCode.INVALID_ARGUMENT, f"failed to parse interceptor params: {exc}"
            )
        if request.context is None:
            return InterceptorResponse.stop(StatusCode.INVALID_ARGUMENT, NO_CONTEXT)
        try:
            activation = self.env.activation(
                request.body, request.header, request.extensions or {}, request.context.event_url
            )
        except CelBodyError as exc:
            return InterceptorResponse.stop(
                StatusCode.INVALID_ARGUMENT, f"error making the evaluation context: {exc}"
            )
        if params.filter:
            try:
                result = self.env.evaluate_value(self.env.compile(params.filter), activation)
            except CelError as exc:
                return _invalid(exc)
            if result is not True:
                return params.rejection
        if not params.overlays:
            return _PROCEED
        extensions: dict[str, Any] = {}
        for overlay in params.overlays:
            try:
                value = self.env.evaluate(self.env.compile(overlay.expression), activation)
            except CelError as exc:
                return _invalid(exc)
            try:
                raw = overlay_json(value)
            except _OverlayError as exc:
                if str(exc) == "unmarshal":
                    return InterceptorResponse.stop(StatusCode.INTERNAL, _UNPARSEABLE)
                return InterceptorResponse.stop(
                    StatusCode.INTERNAL, f"failed to convert overlay result to type: {exc}"
                )
            try:
                extensions = set_path(extensions, overlay.key, raw)
            except SjsonError as exc:
                shown = value.to_json() if not isinstance(value.value, str) else value.value
                return InterceptorResponse.stop(
                    StatusCode.INTERNAL, f"failed to sjson for key '{overlay.key}' to '{shown}': {exc}"
                )
        return InterceptorResponse.proceed(extensions)


_PROCEED = InterceptorResponse(continue_=True)


def _invalid(exc: CelError) -> InterceptorResponse:
    return InterceptorResponse.stop(StatusCode.INVALID_ARGUMENT, f"error evaluating cel expression: {exc}")
