"""OAuth access tokens for Google's REST APIs (Firestore, Pub/Sub), without their gRPC clients.

On Cloud Run, Cloud Functions and GKE the metadata server hands the service account's token out
over plain HTTP; elsewhere Application Default Credentials do, through ``google.auth`` when it is
installed (imported on first use, never at module import). A :class:`BearerTokens` keeps a token
until a minute before it expires, so an event's calls share one.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from kfp_triggers.adapters.http import NoAnswerError, Redirects, default_client
from kfp_triggers.errors import KfptError

METADATA_TOKEN_URL = (
    "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token"
)
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"


class CredentialsError(KfptError):
    """No Google credentials are configured: retrying will not help."""


class CredentialsUnavailableError(CredentialsError):
    """The token source could not be reached or refused for now: retry later."""

    retryable = True


def fetch_access_token(scope: str) -> tuple[str, float]:
    """An access token for ``scope`` and its expiry (epoch seconds).

    Raises:
        CredentialsError: no credentials are configured.
        CredentialsUnavailableError: the metadata server or the token endpoint failed.
    """
    try:
        import google.auth
        import google.auth.transport.requests
    except ImportError:
        return metadata_token()
    credentials: Any
    try:
        credentials, _ = google.auth.default(scopes=[scope])
    except Exception as exc:  # no credentials configured: retrying will not help
        raise CredentialsError(f"no Google credentials: {exc}") from exc
    try:
        credentials.refresh(google.auth.transport.requests.Request())
    except Exception as exc:
        raise CredentialsUnavailableError(f"could not refresh Google credentials: {exc}") from exc
    expiry = credentials.expiry.timestamp() if credentials.expiry else time.time() + 300
    return str(credentials.token), expiry


def metadata_token() -> tuple[str, float]:
    """The token the metadata server hands this instance's service account, and its expiry.

    Raises:
        CredentialsUnavailableError: the metadata server did not answer with a token.
    """
    try:
        answer = default_client().request(
            "GET",
            METADATA_TOKEN_URL,
            headers={"Metadata-Flavor": "Google"},
            timeout_s=5,
            redirects=Redirects.WITHIN_HOST,
        )
        if not answer.ok:
            raise CredentialsUnavailableError(
                f"could not get a token from the metadata server: HTTP {answer.status} {answer.reason}"
            )
        found = json.loads(answer.body)
    except (NoAnswerError, ValueError) as exc:
        raise CredentialsUnavailableError(f"could not get a token from the metadata server: {exc}") from exc
    return str(found["access_token"]), time.time() + float(found.get("expires_in", 300))


class BearerTokens:
    """Caches a bearer token until shortly before it expires.

    ``fixed`` is returned as the token without asking anyone (an emulator's, which takes any).
    """

    def __init__(
        self,
        scope: str,
        *,
        fixed: str | None = None,
        fetch: Callable[[str], tuple[str, float]] = fetch_access_token,
    ) -> None:
        self.scope = scope
        self.fixed = fixed
        self._fetch = fetch
        self._lock = threading.Lock()
        self._token = ""
        self._expiry = 0.0

    def get(self) -> str:
        """A token valid for at least another minute."""
        if self.fixed is not None:
            return self.fixed
        with self._lock:
            if time.time() > self._expiry - 60:
                self._token, self._expiry = self._fetch(self.scope)
            return self._token

    def forget(self) -> None:
        """Drop the cached token (it was refused): the next :meth:`get` fetches a new one."""
        with self._lock:
            self._expiry = 0.0
