"""Tekton's core ``slack`` interceptor.

Slack slash commands and interactive messages arrive form-encoded; the event listener turns a
form with more than one key into JSON ``{"field": ["value", ...]}`` before interceptors run, and
this interceptor copies the ``requestedFields`` of that JSON into extensions, each as a *list*.

As in Tekton, ``X-Slack-Signature`` is only required to be present: the signature is **not**
verified (a CEL or custom interceptor must do that). Both header failures share Tekton's message.
Codes: 3 for headers or an unparsable body, 3 for malformed params, 5 when ``requestedFields`` is
missing or a field is absent from the payload.
"""

from __future__ import annotations

from typing import Any

from kfp_triggers.golang.fmt import format_v
from kfp_triggers.golang.json import GoJsonError, kind, type_error, unmarshal_object
from kfp_triggers.interceptors.params import STRINGS, parse_params, struct
from kfp_triggers.tekton.headers import canonicalise, first
from kfp_triggers.tekton.interceptor_protocol import (
    InterceptorRequest,
    InterceptorResponse,
    InterceptorServices,
    StatusCode,
)

MISSING_HEADER = "missing header in payload: ContentType application/x-www-form-urlencoded"
PARAMS = struct("slack.InterceptorParams", requestedFields=STRINGS)


class SlackInterceptor:
    """Copies requested Slack form fields into extensions (no signature verification, as Tekton)."""

    def __init__(self, services: InterceptorServices | None = None) -> None:
        self.services = services

    def process(self, request: InterceptorRequest) -> InterceptorResponse:
        """Apply Tekton's Slack checks and extraction to one request."""
        headers = canonicalise(request.header)
        if first(headers, "Content-Type") != "application/x-www-form-urlencoded":
            return InterceptorResponse.stop(StatusCode.INVALID_ARGUMENT, MISSING_HEADER)
        if not first(headers, "X-Slack-Signature"):
            return InterceptorResponse.stop(StatusCode.INVALID_ARGUMENT, MISSING_HEADER)
        try:
            payload = _form_payload(request.body)
        except GoJsonError as exc:
            return InterceptorResponse.stop(
                StatusCode.INVALID_ARGUMENT, f"failed to unmarshl slack payload: {exc}"
            )
        params = parse_params(request.interceptor_params, PARAMS)
        if isinstance(params, InterceptorResponse):
            return params
        fields = params.get("requestedFields")
        if fields is None:
            return InterceptorResponse.stop(StatusCode.NOT_FOUND, "missing requested field definition")
        extensions: dict[str, Any] = {}
        for name in fields:
            if name not in payload:
                return InterceptorResponse.stop(
                    StatusCode.NOT_FOUND,
                    f"requested field does not exists in payload {_go_map(payload)}",
                )
            extensions[name] = payload[name]
        return InterceptorResponse.proceed(extensions)


def _form_payload(body: bytes) -> dict[str, list[str] | None]:
    """Decode the body as Go decodes it into ``map[string][]string``."""
    raw = unmarshal_object(body, "map[string][]string", numbers="exact")  # numbers are type errors
    out: dict[str, list[str] | None] = {}
    for key, value in raw.items():
        if value is None:
            out[key] = None
            continue
        if not isinstance(value, list):
            raise type_error(kind(value), "[]string")
        items: list[str] = []
        for item in value:
            if item is not None and not isinstance(item, str):
                raise type_error(kind(item), "string")
            items.append(item or "")
        out[key] = items
    return out


def _go_map(payload: dict[str, list[str] | None]) -> str:
    """``%v`` of a ``map[string][]string`` (keys sorted, nil slices as ``[]``)."""
    return format_v({k: v or [] for k, v in payload.items()})
