"""Tekton's core ``gitlab`` interceptor.

GitLab does not sign payloads: it sends the configured secret back verbatim in ``X-Gitlab-Token``.
Tekton compares it to the secret in constant time, byte-exact; here the token may also equal any
non-blank line of the stored secret (one per line, for rotation; see
:func:`~kfp_triggers.interceptors.signature.secret_candidates`), each compared in constant time.
Order: params (code 3), ``eventTypes`` against ``X-Gitlab-Event`` (code 9), empty ``secretKey`` (9),
missing token header (3), no request context (3), secret lookup (9), token mismatch (3). The body
is never parsed. Unlike Tekton, an empty or blank stored secret fails the lookup (9): a token
compared against nothing authenticates nobody.
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
from kfp_triggers.interceptors.signature import matches_any, secret_candidates
from kfp_triggers.secretstore import verification_secret
from kfp_triggers.tekton.headers import canonicalise, first
from kfp_triggers.tekton.interceptor_protocol import (
    InterceptorRequest,
    InterceptorResponse,
    InterceptorServices,
    StatusCode,
)


class GitLabInterceptor:
    """Filters GitLab events by type and checks the ``X-Gitlab-Token`` shared secret."""

    def __init__(self, services: InterceptorServices) -> None:
        self.services = services

    def process(self, request: InterceptorRequest) -> InterceptorResponse:
        """Apply Tekton's GitLab checks to one request."""
        params = parse_params(request.interceptor_params, SCM_PARAMS)
        if isinstance(params, InterceptorResponse):
            return params
        headers = canonicalise(request.header)
        event = first(headers, "X-Gitlab-Event")
        if not event_allowed(params.get("eventTypes"), event):
            return event_rejected(event)
        ref = SecretRef.from_param(params.get("secretRef"))
        if ref is None:
            return InterceptorResponse.proceed()
        if not ref.secret_key:
            return InterceptorResponse.stop(
                StatusCode.FAILED_PRECONDITION, "gitlab interceptor secretRef.secretKey is empty"
            )
        token = first(headers, "X-Gitlab-Token")
        if not token:
            return InterceptorResponse.stop(StatusCode.INVALID_ARGUMENT, "no X-Gitlab-Token header set")
        if request.context is None:
            return no_context()
        try:
            secret = verification_secret(self.services.secrets, ref.secret_name, ref.secret_key)
        except SecretError as exc:
            return secret_failure(exc, request.context)
        if not matches_any(token.encode("utf-8"), secret_candidates(secret)):
            return InterceptorResponse.stop(StatusCode.INVALID_ARGUMENT, "Invalid X-GitLab-Token")
        return InterceptorResponse.proceed()
