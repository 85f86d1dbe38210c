"""Pieces shared by the project's own API-calling interceptors (changed paths, pull request commands).

Each decides deep inside its helpers that the trigger stops; :class:`StopError` carries the code and
message up to ``process``, which answers it. The payload is decoded as Go decodes it, and the GitHub
client is made for the API root the webhook may name, with the token of a ``{secretName,
secretKey}`` param.
"""

from __future__ import annotations

from typing import Any

from kfp_triggers.golang.json import GoJsonError, unmarshal_object
from kfp_triggers.interceptors.github_api import (
    ENTERPRISE_HOST_HEADER,
    ApiRoots,
    EnterpriseHostError,
    GitHubClient,
)
from kfp_triggers.interceptors.params import SecretRef, read_secret
from kfp_triggers.tekton.headers import Headers, first
from kfp_triggers.tekton.interceptor_protocol import InterceptorServices, StatusCode


class StopError(Exception):
    """The interceptor stops with this code and message."""

    def __init__(self, code: StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def json_payload(body: bytes) -> dict[str, Any]:
    """The body as a JSON object.

    Raises:
        StopError: empty or not a JSON object (code 9, Go's message).
    """
    if not body:
        raise StopError(StatusCode.FAILED_PRECONDITION, "error parsing body: body is empty")
    try:
        return unmarshal_object(body)
    except GoJsonError as exc:
        raise StopError(StatusCode.FAILED_PRECONDITION, f"error parsing body: {exc}") from None


def api_token(services: InterceptorServices, ref: SecretRef | None, what: str) -> str:
    """The token ``ref`` names (``""`` without one); ``what`` names the param in errors.

    Raises:
        StopError: the ref has an empty key (code 9).
        SecretError: the secret cannot be read.
    """
    if ref is None:
        return ""
    if not ref.secret_key:
        raise StopError(StatusCode.FAILED_PRECONDITION, f"{what}.secretKey is empty")
    # A token never holds whitespace: a trailing newline in the secret file is not part of it.
    return read_secret(services, ref).decode("utf-8", errors="replace").strip()


def github_client(
    roots: ApiRoots, headers: Headers, services: InterceptorServices, token: str
) -> GitHubClient:
    """A client for the API root the webhook's ``X-GitHub-Enterprise-Host`` may choose.

    Raises:
        StopError: the header names a host that is not allowed (code 9).
    """
    try:
        api = roots.api_root(first(headers, ENTERPRISE_HOST_HEADER))
    except EnterpriseHostError as exc:
        raise StopError(StatusCode.FAILED_PRECONDITION, str(exc)) from None
    return GitHubClient(api, token, services.http_timeout_s)
