"""Tekton's CEL functions (``pkg/interceptors/cel/triggers.go``), with Tekton's error messages.

``match``, ``canonical``, ``truncate``, ``compareSecret``, ``parseJSON``, ``parseYAML``,
``parseURL``, ``marshalJSON``, ``first``, ``last`` and ``translate``. They operate on the shared
value model; ``compareSecret`` reads secrets through a :class:`SecretStore` (Tekton's namespace
argument is accepted and ignored, as Tekton ignores it: the secret is the trigger's namespace's,
which the CEL interceptor sets in :data:`TRIGGER_NAMESPACE` for the messages that name it).
"""

from __future__ import annotations

import functools
import hmac
import math
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from kfp_triggers.cel import goregex
from kfp_triggers.cel.values import (
    CelType,
    Duration,
    EvalError,
    Timestamp,
    Uint,
    no_such_overload,
    plain_key,
)
from kfp_triggers.errors import SecretError
from kfp_triggers.golang import fmt as gofmt
from kfp_triggers.golang import json as gojson
from kfp_triggers.golang import url as gourl
from kfp_triggers.golang.textproto import canonical_header_key
from kfp_triggers.secretstore import SecretNotFoundError, SecretStore, secret_message, verification_secret

_canonical = functools.lru_cache(maxsize=512)(canonical_header_key)

#: The namespace of the trigger whose expressions are being evaluated (Tekton's ``defaultNS``).
TRIGGER_NAMESPACE: ContextVar[str] = ContextVar("TRIGGER_NAMESPACE", default="")

# The last map found to be a valid http.Header: filters call match/canonical on the same request
# headers many times, and the check is a loop over every header.
_VALID_HEADER: list[Any] = [None]


def _header_values(h: Any, key: str) -> str:
    """``http.Header(h).Get(key)``, after converting the CEL map as cel-go would."""
    if _VALID_HEADER[0] is not h:
        _check_header(h)
        _VALID_HEADER[0] = h
    values = h.get(_canonical(key))
    return str(values[0]) if values else ""


def _check_header(h: dict[Any, Any]) -> None:
    for name, values in h.items():
        if type(name) is not str:
            raise EvalError("failed to convert to http.Header: unsupported type conversion to 'string'")
        if type(values) not in (list, tuple):
            kind = "string" if type(values) is str else type(values).__name__
            raise EvalError(
                f"failed to convert to http.Header: unsupported native conversion from {kind} to '[]string'"
            )
        for v in values:
            if type(v) is not str:
                raise EvalError("failed to convert to http.Header: type conversion error to 'string'")


def match(h: Any, key: Any, value: Any) -> bool:
    if type(h) is not dict or type(key) is not str or type(value) is not str:
        raise no_such_overload("match", h, key, value)
    return _header_values(h, key) == value


def canonical(h: Any, key: Any) -> str:
    if type(h) is not dict or type(key) is not str:
        raise no_such_overload("canonical", h, key)
    return _header_values(h, key)


def truncate(s: Any, n: Any) -> str:
    """Tekton's ``str[:min(n, len(str))]``: bytes, so a cut character leaves its first bytes.

    Those bytes are kept (see :func:`~kfp_triggers.golang.fmt.go_string`): ``bytes()`` of the
    result, ``==``, ``size()`` and a second ``truncate`` see what Go sees, and JSON shows each as
    U+FFFD.
    """
    if type(s) is not str or type(n) is not int:
        raise no_such_overload("truncate", s, n)
    raw = gofmt.go_bytes(s)
    if n < 0:
        raise EvalError(f"internal error: runtime error: slice bounds out of range [:{n}]")
    return gofmt.go_string(raw[: min(n, len(raw))])


def compare_secret(secrets: SecretStore | None) -> Callable[..., bool]:
    """``compareSecret`` bound to a secret store (both the 2- and 3-argument forms)."""

    def impl(value: Any, key: Any, name: Any, *namespace: Any) -> bool:
        args = (value, key, name, *namespace)
        if len(namespace) > 1 or any(type(a) is not str for a in args):
            raise no_such_overload("compareSecret", *args)
        ref = f"v1beta1.SecretRef{{SecretKey:{gofmt.quote(key)}, SecretName:{gofmt.quote(name)}}}"
        try:
            if secrets is None:
                raise SecretNotFoundError(name)  # no secrets directory configured
            secret = verification_secret(secrets, name, key)  # an empty secret would match anyone
        except SecretError as exc:
            reason = secret_message(exc, TRIGGER_NAMESPACE.get())
            raise EvalError(f"failed to find secret '{ref}' in compareSecret: {reason}") from None
        return hmac.compare_digest(secret, gofmt.go_bytes(value))

    return impl


def parse_json(s: Any) -> dict[str, Any]:
    if type(s) is not str:
        raise no_such_overload("parseJSON", s)
    try:
        return gojson.unmarshal_object(s)
    except gojson.GoJsonError as exc:
        raise EvalError(f"failed to decode '{s}' in parseJSON: {exc}") from None


def parse_yaml(s: Any) -> dict[str, Any]:
    if type(s) is not str:
        raise no_such_overload("parseYAML", s)
    import yaml  # loaded by the first parseYAML, not by every intercept cold start

    from kfp_triggers.cel import goyaml

    try:
        data = goyaml.load(s)
    except goyaml.YAMLLimitError as exc:
        shown = s if len(s) <= goyaml.MAX_DOCUMENT_BYTES else s[:200] + "..."
        raise EvalError(
            f"failed to decode '{shown}' in parseYAML: error converting YAML to JSON: yaml: {exc}"
        ) from None
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", 0) + 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise EvalError(
            f"failed to decode '{s}' in parseYAML: error converting YAML to JSON: "
            f"yaml: line {line}: {problem}"
        ) from None
    except ValueError as exc:
        raise EvalError(f"failed to decode '{s}' in parseYAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        kind = "array" if isinstance(data, list) else ("string" if isinstance(data, str) else "number")
        kind = "bool" if isinstance(data, bool) else kind
        raise EvalError(
            f"failed to decode '{s}' in parseYAML: error unmarshaling JSON: while decoding JSON: "
            f"json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"
        )
    return data


def parse_url(s: Any) -> dict[str, Any]:
    if type(s) is not str:
        raise no_such_overload("parseURL", s)
    try:
        return gourl.to_map(gourl.parse(s))
    except gourl.URLError as exc:
        raise EvalError(f"failed to decode '{s}' in parseURL: {exc}") from None


def to_struct_json(value: Any, container: str) -> Any:
    """Convert a CEL value to JSON data as cel-go converts it to ``structpb`` values."""
    t = type(value)
    if value is None or t is bool or t is str:
        return value
    if t is int or t is Uint or t is float:
        number = float(value)
        if not math.isfinite(number):
            shown = "NaN" if math.isnan(number) else ("+Inf" if number > 0 else "-Inf")
            raise _StructError(
                f"json: error calling MarshalJSON for type *structpb.{container}: "
                f"proto: google.protobuf.Value.number_value: invalid {shown} value"
            )
        return number
    if t is bytes:
        import base64

        return base64.b64encode(value).decode("ascii")
    if t is Timestamp or t is Duration:
        return str(value)
    if t is list or t is tuple:
        return [to_struct_json(v, container) for v in value]
    if t is dict:
        out: dict[str, Any] = {}
        for k, v in value.items():
            if type(k) is not str:
                kind = _kind(plain_key(k))
                raise _StructError(f"unsupported type conversion from '{kind}' to string", native=True)
            out[k] = to_struct_json(v, container)
        return out
    if t is CelType:
        raise _StructError("type conversion not supported for 'type'", native=True)
    raise _StructError(f"unsupported value {value!r}", native=True)


def _kind(v: Any) -> str:
    from kfp_triggers.cel.values import runtime_type_name

    return runtime_type_name(v)


class _StructError(Exception):
    def __init__(self, message: str, native: bool = False) -> None:
        super().__init__(message)
        self.native = native


def marshal_json(value: Any) -> str:
    if type(value) not in (dict, list, tuple):
        raise no_such_overload("marshalJSON", value)
    container = "Struct" if type(value) is dict else "ListValue"
    try:
        return gojson.marshal(to_struct_json(value, container))
    except _StructError as exc:
        prefix = "failed to convert to native" if exc.native else "failed to marshal to json"
        raise EvalError(f"{prefix}: {exc}") from None


def first(lst: Any) -> Any:
    if type(lst) not in (list, tuple):
        raise no_such_overload("first", lst)
    return lst[0] if lst else None


def last(lst: Any) -> Any:
    if type(lst) not in (list, tuple):
        raise no_such_overload("last", lst)
    return lst[-1] if lst else None


def translate(s: Any, regex: Any, repl: Any) -> str:
    if type(s) is not str or type(regex) is not str or type(repl) is not str:
        raise no_such_overload("translate", s, regex, repl)
    try:
        return goregex.replace_all(s, regex, repl)
    except goregex.RegexError as exc:
        raise EvalError(f"failed to parse regular expression for translation: {exc}") from None
