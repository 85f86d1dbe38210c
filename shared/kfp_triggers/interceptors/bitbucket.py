"""Tekton's core ``bitbucket`` interceptor, for Bitbucket Server and Bitbucket Cloud.

Both products send ``X-Event-Key`` (the event) and, when a webhook secret is configured,
``X-Hub-Signature: <alg>=<hex>`` (Server: ``sha256`` or ``sha1``; Cloud: ``sha256``). The
signature is checked with go-github's rules, so one code path verifies either product. Order:
params (code 3), ``eventTypes`` (9), empty ``secretKey`` (9), missing ``X-Hub-Signature`` (3),
no request context (3), secret lookup (9; an empty or blank secret fails it, unlike in Tekton,
since anyone can sign with it), bad signature (9, ``error validating signature: <reason>``). A
stored secret may hold several keys, one per line, for rotation (see
:mod:`~kfp_triggers.interceptors.signature`).

Header quirk kept on purpose: Tekton reads ``X-Event-Key`` from the header map *as received*,
without canonicalising its keys first (it does canonicalise before reading the signature). So the
event is found only under the exact key ``X-Event-Key``; a map holding ``x-event-key`` (possible
when the interceptor is called over HTTP with hand-written JSON) sees an empty event type and
fails any ``eventTypes`` filter. Requests reaching the engine over HTTP always have canonical keys,
so webhooks behave normally.
"""

from __future__ import annotations

from kfp_triggers.errors import SecretError
from kfp_triggers.interceptors.params import (
    SCM_PARAMS,
    SecretRef,
    event_allowed,
    event_rejected,
    no_context,
    parse_params,
    secret_failure,
)
from kfp_triggers.interceptors.signature import SignatureError, validate_signature
from kfp_triggers.secretstore import verification_secret
from kfp_triggers.tekton.headers import canonicalise, first
from kfp_triggers.tekton.interceptor_protocol import (
    InterceptorRequest,
    InterceptorResponse,
    InterceptorServices,
    StatusCode,
)


class BitbucketInterceptor:
    """Filters Bitbucket events by ``X-Event-Key`` and verifies ``X-Hub-Signature`` HMACs."""

    def __init__(self, services: InterceptorServices) -> None:
        self.services = services

    def process(self, request: InterceptorRequest) -> InterceptorResponse:
        """Apply Tekton's Bitbucket checks to one request."""
        params = parse_params(request.interceptor_params, SCM_PARAMS)
        if isinstance(params, InterceptorResponse):
            return params
        raw_event = request.header.get("X-Event-Key") or []
        event = raw_event[0] if raw_event else ""
        if not event_allowed(params.get("eventTypes"), event):
            return event_rejected(event)
        ref = SecretRef.from_param(params.get("secretRef"))
        if ref is None:
            return InterceptorResponse.proceed()
        if not ref.secret_key:
            return InterceptorResponse.stop(
                StatusCode.FAILED_PRECONDITION, "bitbucket interceptor secretRef.secretKey is empty"
            )
        signature = first(canonicalise(request.header), "X-Hub-Signature")
        if not signature:
            return InterceptorResponse.stop(StatusCode.INVALID_ARGUMENT, "no X-Hub-Signature header set")
        if request.context is None:
            return no_context()
        try:
            secret = verification_secret(self.services.secrets, ref.secret_name, ref.secret_key)
        except SecretError as exc:
            return secret_failure(exc, request.context)
        try:
            validate_signature(signature, request.body, secret)
        except SignatureError as exc:
            return InterceptorResponse.stop(
                StatusCode.FAILED_PRECONDITION, f"error validating signature: {exc}"
            )
        return InterceptorResponse.proceed()
