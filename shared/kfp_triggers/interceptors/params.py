"""Interceptor params decoded the way Tekton's Go interceptors decode them.

Tekton marshals ``interceptor_params`` to JSON (map keys sorted) and unmarshals the result into
a Go struct. That gives params these rules, which :func:`decode_params` reproduces:

* keys match struct fields exactly or, failing that, case-insensitively; unknown keys are ignored;
* ``null`` leaves a field unset (so ``eventTypes: null`` means "no filter", ``[]`` means "nothing");
* a value of the wrong JSON kind fails with Go's ``UnmarshalTypeError`` text, the first one in
  sorted-key order, as ``failed to parse interceptor params: invalid json: json: ...`` (code 3).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kfp_triggers.errors import SecretError
from kfp_triggers.golang.json import kind, type_error
from kfp_triggers.secretstore import secret_message
from kfp_triggers.tekton.interceptor_protocol import (
    NO_CONTEXT,
    InterceptorResponse,
    InterceptorServices,
    StatusCode,
    TriggerContext,
)


@dataclass(frozen=True)
class GoType:
    """A Go type a param decodes into: ``kind`` is ``string``, ``bool``, ``slice`` or ``struct``."""

    kind: str
    name: str
    elem: GoType | None = None
    fields: dict[str, GoType] = field(default_factory=dict)


STRING = GoType("string", "string")
BOOL = GoType("bool", "bool")
STRINGS = GoType("slice", "[]string", elem=STRING)
SECRET_REF = GoType("struct", "v1beta1.SecretRef", fields={"secretKey": STRING, "secretName": STRING})


def struct(name: str, **fields: GoType) -> GoType:
    """A Go struct type named ``name`` (``pkg.Type``) with JSON fields ``fields``."""
    return GoType("struct", name, fields=dict(fields))


# The params of the GitLab and Bitbucket interceptors (GitHub adds two more fields).
SCM_PARAMS = struct("x.InterceptorParams", eventTypes=STRINGS, secretRef=SECRET_REF)


class ParamsError(ValueError):
    """Params that Go's ``json.Unmarshal`` would reject; the message is Tekton's."""


@dataclass(frozen=True)
class SecretRef:
    """A reference to one key of a named secret."""

    secret_name: str
    secret_key: str

    @classmethod
    def from_param(cls, value: Mapping[str, Any] | None) -> SecretRef | None:
        """Build from a decoded ``{secretName, secretKey}`` param (``None`` when unset)."""
        if value is None:
            return None
        return cls(str(value.get("secretName", "")), str(value.get("secretKey", "")))


def decode_params(params: Mapping[str, Any], schema: GoType) -> dict[str, Any]:
    """Decode ``params`` into ``schema``; the result holds only the fields that were set.

    Raises:
        ParamsError: a value has the wrong JSON kind (message as Tekton reports it).
    """
    errors: list[str] = []
    struct_name = schema.name.rsplit(".", 1)[-1]
    decoded = _decode_struct(params, schema, struct_name, [], errors)
    if errors:
        raise ParamsError(f"failed to parse interceptor params: invalid json: {errors[0]}")
    return decoded


def parse_params(params: Mapping[str, Any], schema: GoType) -> dict[str, Any] | InterceptorResponse:
    """Decode params, or return the code 3 failure Tekton answers for malformed params."""
    try:
        return decode_params(params, schema)
    except ParamsError as exc:
        return InterceptorResponse.stop(StatusCode.INVALID_ARGUMENT, str(exc))


def event_allowed(event_types: list[str] | None, actual: str) -> bool:
    """Tekton's allow-list: unset allows everything, an empty list allows nothing."""
    return event_types is None or actual in event_types


def event_rejected(actual: str) -> InterceptorResponse:
    """The failure for an event type outside ``eventTypes`` (code 9)."""
    return InterceptorResponse.stop(StatusCode.FAILED_PRECONDITION, f"event type {actual} is not allowed")


def read_secret(services: InterceptorServices, ref: SecretRef) -> bytes:
    """Read the secret a ref names. Raises :class:`SecretError` (message safe to show)."""
    return services.secrets.get(ref.secret_name, ref.secret_key)


def secret_failure(exc: SecretError, context: TriggerContext) -> InterceptorResponse:
    """Tekton's ``error getting secret: ...`` failure (code 9); the message never holds the value.

    The reason is the secret getter's, in the trigger's namespace (``secrets "x" not found``,
    ``cannot find token key in secret default/x``).
    """
    reason = secret_message(exc, context.namespace())
    return InterceptorResponse.stop(StatusCode.FAILED_PRECONDITION, f"error getting secret: {reason}")


def no_context() -> InterceptorResponse:
    """Tekton's answer when a check needs the request context and none was sent (code 3)."""
    return InterceptorResponse.stop(StatusCode.INVALID_ARGUMENT, NO_CONTEXT)


def _unmarshal_error(value: object, go_type: GoType, struct_name: str, path: list[str]) -> str:
    field = f"{struct_name}.{'.'.join(path)}" if path else ""
    return str(type_error(kind(value), go_type.name, field))


def _decode(value: object, go_type: GoType, struct_name: str, path: list[str], errors: list[str]) -> Any:
    if go_type.kind == "string":
        if isinstance(value, str):
            return value
    elif go_type.kind == "bool":
        if isinstance(value, bool):
            return value
    elif go_type.kind == "slice":
        if isinstance(value, list | tuple):
            assert go_type.elem is not None
            items = [_decode(v, go_type.elem, struct_name, path, errors) for v in value]
            return [v for v in items if v is not None]
    elif isinstance(value, Mapping):
        return _decode_struct(value, go_type, go_type.name.rsplit(".", 1)[-1], path, errors)
    errors.append(_unmarshal_error(value, go_type, struct_name, path))
    return None


def _decode_struct(
    value: Mapping[str, Any], go_type: GoType, struct_name: str, path: list[str], errors: list[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in sorted(value):
        name = key if key in go_type.fields else _fold(key, go_type.fields)
        if name is None or value[key] is None:
            continue
        decoded = _decode(value[key], go_type.fields[name], struct_name, [*path, name], errors)
        if decoded is not None:
            out[name] = decoded
    return out


def _fold(key: str, fields: Mapping[str, GoType]) -> str | None:
    lowered = key.lower()
    return next((name for name in fields if name.lower() == lowered), None)
