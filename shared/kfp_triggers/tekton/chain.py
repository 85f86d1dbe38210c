"""Running one trigger's interceptor chain with Tekton's semantics.

The rules (Tekton's ``ExecuteInterceptors``):

* no interceptors: the bindings see the original body and headers, and the incoming extensions;
* the chain starts from the raw body, a copy of the headers and a copy of the incoming extensions;
  a form body with several keys becomes a JSON object first (see :mod:`kfp_triggers.tekton.formbody`);
* each ``ref`` interceptor gets its own params; ``continue: false`` stops the trigger quietly; its
  extensions are merged into the running extensions (top-level keys overwrite); it cannot change
  the body or headers;
* the legacy ``webhook`` interceptor may replace the body and headers for the rest of the chain;
* an interceptor that cannot be reached or answers badly aborts the trigger with that error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from kfp_triggers.config import InterceptorSpec
from kfp_triggers.errors import InterceptorError, KfptError
from kfp_triggers.golang.json import marshal
from kfp_triggers.tekton.formbody import form_as_json_body
from kfp_triggers.tekton.headers import Headers, first
from kfp_triggers.tekton.interceptor_protocol import (
    Interceptor,
    InterceptorRequest,
    InterceptorResponse,
    TriggerContext,
)


@dataclass(slots=True)
class Decision:
    """What one interceptor said about one trigger (or why it could not say anything)."""

    name: str
    response: InterceptorResponse | None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Shape used by ``simulate`` and the event journal."""
        out: dict[str, Any] = {"name": self.name, "response": None}
        if self.response is not None:
            out["response"] = self.response.to_wire()
        if self.error is not None:
            out["error"] = self.error
        return out


@dataclass(slots=True)
class ChainOutcome:
    """The result of a chain: whether the trigger goes on, and the event as the bindings see it."""

    accepted: bool
    body: bytes
    header: Headers
    extensions: dict[str, Any]
    decisions: list[Decision] = field(default_factory=list)
    error: str | None = None


class WebhookCaller(Protocol):
    """The legacy webhook interceptor: may return a replacement body and headers."""

    def call(self, body: bytes, header: Headers, extensions: Mapping[str, Any], event_url: str) -> Any:
        """Return an object with ``body: bytes`` and ``header: Headers``."""
        ...


InterceptorResolver = Callable[[InterceptorSpec], Interceptor]
WebhookResolver = Callable[[InterceptorSpec], WebhookCaller]


def run_chain(
    specs: Sequence[InterceptorSpec],
    *,
    body: bytes,
    header: Headers,
    event_url: str,
    event_id: str,
    trigger_id: str,
    extensions: Mapping[str, Any],
    resolve: InterceptorResolver,
    resolve_webhook: WebhookResolver,
) -> ChainOutcome:
    """Run ``specs`` in order over one event for one trigger (or trigger group)."""
    if not specs:
        return ChainOutcome(True, body, header, dict(extensions))
    # Header maps and params are shared read-only between triggers: interceptors never modify them,
    # and only the legacy webhook interceptor replaces the headers (with a new map).
    current_body = body
    current_header = header
    running_ext: dict[str, Any] = dict(extensions)
    first_is_webhook = specs[0].webhook is not None
    form = form_as_json_body(first(header, "Content-Type"), body)
    if form is not None and (not first_is_webhook or running_ext):
        current_body = marshal(form).encode("utf-8")
    decisions: list[Decision] = []
    for spec in specs:
        if spec.webhook is not None:
            try:
                result = resolve_webhook(spec).call(current_body, current_header, running_ext, event_url)
            except KfptError as exc:
                decisions.append(Decision(spec.name, None, str(exc)))
                return ChainOutcome(False, current_body, current_header, running_ext, decisions, str(exc))
            current_body = result.body
            current_header = result.header
            decisions.append(Decision(spec.name, InterceptorResponse.proceed()))
            continue
        request = InterceptorRequest(
            body=current_body,
            header=current_header,
            extensions=dict(running_ext),
            interceptor_params=spec.params,
            context=TriggerContext(event_url=event_url, event_id=event_id, trigger_id=trigger_id),
        )
        try:
            response = resolve(spec).process(request)
        except KfptError as exc:
            message = str(exc)
            if not isinstance(exc, InterceptorError):
                message = f"interceptor {spec.name} failed: {message}"
            decisions.append(Decision(spec.name, None, message))
            return ChainOutcome(False, current_body, current_header, running_ext, decisions, message)
        decisions.append(Decision(spec.name, response))
        if not response.continue_:
            return ChainOutcome(False, current_body, current_header, running_ext, decisions)
        if response.extensions:
            running_ext.update(response.extensions)
    return ChainOutcome(True, current_body, current_header, running_ext, decisions)
