"""Tekton's interceptor contract: InterceptorRequest, InterceptorResponse and status codes.

These mirror ``triggers.tekton.dev/v1alpha1`` ``InterceptorRequest``/``InterceptorResponse`` on the
wire (JSON field names, ``omitempty`` rules, gRPC status codes), so a Tekton ClusterInterceptor
can be called with them and our core interceptors can be served to Tekton. In process the body is
kept as exact bytes; on the wire it is a string, as in Go.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Protocol

from kfp_triggers.errors import InvalidRequestError
from kfp_triggers.golang.fmt import decode_utf8
from kfp_triggers.secretstore import NoSecrets, SecretStore
from kfp_triggers.tekton.headers import Headers


class StatusCode(IntEnum):
    """gRPC status codes, as Tekton interceptors use them."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


# The names grpc-go accepts when a code is given as a quoted JSON string.
_CODE_NAMES = {
    "OK": 0, "CANCELED": 1, "UNKNOWN": 2, "INVALIDARGUMENT": 3, "DEADLINEEXCEEDED": 4, "NOTFOUND": 5,
    "ALREADYEXISTS": 6, "PERMISSIONDENIED": 7, "RESOURCEEXHAUSTED": 8, "FAILEDPRECONDITION": 9,
    "ABORTED": 10, "OUTOFRANGE": 11, "UNIMPLEMENTED": 12, "INTERNAL": 13, "UNAVAILABLE": 14,
    "DATALOSS": 15, "UNAUTHENTICATED": 16,
}  # fmt: skip


@dataclass(slots=True)
class TriggerContext:
    """Where the event came from and which trigger is being processed."""

    event_url: str = ""
    event_id: str = ""
    trigger_id: str = ""

    def to_wire(self) -> dict[str, str]:
        """JSON form with Go's ``omitempty`` on every field."""
        out = {"event_url": self.event_url, "event_id": self.event_id, "trigger_id": self.trigger_id}
        return {k: v for k, v in out.items() if v}

    def namespace(self) -> str:
        """The trigger's namespace, from ``namespaces/<ns>/triggers/<name>`` (``""`` otherwise).

        Tekton's ``ParseTriggerID``: core interceptors read secrets in this namespace.
        """
        parts = self.trigger_id.split("/")
        return parts[1] if len(parts) == 4 else ""


@dataclass(slots=True)
class InterceptorRequest:
    """What an interceptor is given: the event so far, its own params, and the trigger context.

    ``context`` is ``None`` when a request sent to a served interceptor has no ``context`` (or
    ``"context": null``), Go's nil pointer: Tekton's core interceptors then answer code 3 ``no
    request context passed`` wherever they need it (see :data:`NO_CONTEXT`).
    """

    body: bytes = b""
    header: Headers = field(default_factory=dict)
    extensions: dict[str, Any] = field(default_factory=dict)
    interceptor_params: dict[str, Any] = field(default_factory=dict)
    context: TriggerContext | None = field(default_factory=TriggerContext)

    def body_text(self) -> str:
        """The body as a string, each invalid UTF-8 byte replaced by U+FFFD as Go's JSON encoder does."""
        return decode_utf8(self.body)

    def to_wire(self) -> dict[str, Any]:
        """JSON form exactly as Tekton's sink sends it (``omitempty`` except ``context``)."""
        out: dict[str, Any] = {}
        if self.body:
            out["body"] = self.body_text()
        if self.header:
            out["header"] = self.header
        if self.extensions:
            out["extensions"] = self.extensions
        if self.interceptor_params:
            out["interceptor_params"] = self.interceptor_params
        out["context"] = None if self.context is None else self.context.to_wire()
        return out

    @classmethod
    def from_wire(cls, data: bytes | str | Mapping[str, Any]) -> InterceptorRequest:
        """Parse the JSON form; raises :class:`InvalidRequestError` when it is not one."""
        obj = _load_object(data, "InterceptorRequest")
        body = _field(obj, "body", "")
        header = _field(obj, "header", {})
        ctx = obj.get("context")
        if not isinstance(body, str) or not isinstance(header, dict) or not isinstance(ctx, dict | None):
            raise InvalidRequestError("failed to parse body as InterceptorRequest: wrong field types")
        for name, values in header.items():
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise InvalidRequestError(f"failed to parse body as InterceptorRequest: header {name!r}")
        extensions = _field(obj, "extensions", {})
        params = _field(obj, "interceptor_params", {})
        if not isinstance(extensions, dict) or not isinstance(params, dict):
            raise InvalidRequestError("failed to parse body as InterceptorRequest: wrong field types")
        return cls(
            body=body.encode("utf-8"),
            header={str(k): list(v) for k, v in header.items()},
            extensions=extensions,
            interceptor_params=params,
            context=None
            if ctx is None
            else TriggerContext(
                event_url=str(ctx.get("event_url", "")),
                event_id=str(ctx.get("event_id", "")),
                trigger_id=str(ctx.get("trigger_id", "")),
            ),
        )


#: What Tekton's core interceptors answer (code 3) when they need the request context and it is nil.
NO_CONTEXT = "no request context passed"


@dataclass(frozen=True)
class Status:
    """The outcome of an interceptor: a gRPC code and a message."""

    code: StatusCode = StatusCode.OK
    message: str = ""

    def to_wire(self) -> dict[str, Any]:
        """JSON form: ``code`` and ``message`` are both ``omitempty``."""
        out: dict[str, Any] = {}
        if self.code:
            out["code"] = int(self.code)
        if self.message:
            out["message"] = self.message
        return out


@dataclass(frozen=True)
class InterceptorResponse:
    """An interceptor's answer: whether the trigger continues, extensions to add, and a status."""

    continue_: bool
    extensions: dict[str, Any] | None = None
    status: Status = field(default_factory=Status)

    @classmethod
    def proceed(cls, extensions: dict[str, Any] | None = None) -> InterceptorResponse:
        """Continue the chain, optionally adding extensions."""
        return cls(continue_=True, extensions=extensions or None)

    @classmethod
    def stop(cls, code: StatusCode, message: str) -> InterceptorResponse:
        """Stop this trigger with a status code and message."""
        return cls(continue_=False, status=Status(code, message))

    def to_wire(self) -> dict[str, Any]:
        """JSON form exactly as Tekton writes it (``continue`` and ``status`` always present)."""
        out: dict[str, Any] = {}
        if self.extensions:
            out["extensions"] = self.extensions
        out["continue"] = self.continue_
        out["status"] = self.status.to_wire()
        return out

    @classmethod
    def from_wire(cls, data: bytes | str | Mapping[str, Any]) -> InterceptorResponse:
        """Parse an InterceptorResponse; codes may be numbers or quoted gRPC names."""
        obj = _load_object(data, "InterceptorResponse")
        cont = obj.get("continue", False)
        ext = obj.get("extensions")
        status = obj.get("status") or {}
        if not isinstance(cont, bool) or not isinstance(status, dict) or not isinstance(ext, dict | None):
            raise InvalidRequestError("failed to parse InterceptorResponse: wrong field types")
        message = status.get("message", "")
        return cls(
            continue_=cont,
            extensions=ext or None,
            status=Status(_parse_code(status.get("code", 0)), str(message)),
        )


def _field(obj: Mapping[str, Any], name: str, empty: Any) -> Any:
    """A field's value, with JSON null or absence read as Go's zero value."""
    value = obj.get(name)
    return empty if value is None else value


def _parse_code(raw: object) -> StatusCode:
    if isinstance(raw, bool):
        raise InvalidRequestError(f"invalid status code {raw!r}")
    if isinstance(raw, int):
        if 0 <= raw <= 16:
            return StatusCode(raw)
        raise InvalidRequestError(f"invalid status code {raw}")
    if isinstance(raw, str):
        key = raw.replace("_", "").upper()
        if key in _CODE_NAMES:
            return StatusCode(_CODE_NAMES[key])
    raise InvalidRequestError(f"invalid status code {raw!r}")


def _load_object(data: bytes | str | Mapping[str, Any], what: str) -> dict[str, Any]:
    if isinstance(data, Mapping):
        return dict(data)
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequestError(f"failed to parse body as {what}: {exc}") from exc
    if not isinstance(obj, dict):
        raise InvalidRequestError(f"failed to parse body as {what}: not a JSON object")
    return obj


@dataclass(frozen=True)
class InterceptorServices:
    """What core interceptors may use besides the request: secrets and outbound HTTP settings."""

    secrets: SecretStore = field(default_factory=NoSecrets)
    github_api_url: str = "https://api.github.com/"
    http_timeout_s: float = 3.0


class Interceptor(Protocol):
    """Anything that turns an InterceptorRequest into an InterceptorResponse."""

    def process(self, request: InterceptorRequest) -> InterceptorResponse:
        """Decide on one request. Must not raise for a decision; raise only for broken plumbing."""
        ...
