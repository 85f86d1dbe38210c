"""Bodies in a Google Cloud Storage bucket, over the JSON API on the engine's pooled HTTP client.

The client library would import about 330 ms of modules on a stage's first large body; one upload
and one download are two plain requests (``uploadType=media`` and ``alt=media``), authorised with
the metadata server's token, none for the emulator (``STORAGE_EMULATOR_HOST``). An upload asks for
``ifGenerationMatch=0``: a body already stored under its digest is the same body, so "already
there" (412) is success. Overwriting would need the right to delete, which ingest's account does
not have (object creator only, see infra/terraform). So a body keeps the age of its first upload:
the bucket's lifecycle rule (the journal's retention) may remove it while a later event that came
with the very same body is still journalled, whose replay then says the body is gone.
"""

from __future__ import annotations

import urllib.parse
from datetime import datetime

from kfp_triggers.adapters.bodies.base import (
    BodyMissingError,
    BodyStoreConfigError,
    BodyStoreError,
    checked,
    is_digest,
)
from kfp_triggers.adapters.gcp_token import BearerTokens, CredentialsError, CredentialsUnavailableError
from kfp_triggers.adapters.http import HttpClient, NoAnswerError, default_client

PRODUCTION_ROOT = "https://storage.googleapis.com"
STORAGE_SCOPE = "https://www.googleapis.com/auth/devstorage.read_write"
_BUCKET_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.")


class GcsBodyStore:
    """Bodies as objects ``<prefix>/<digest>`` of one bucket."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        emulator_host: str | None = None,
        timeout_s: float = 30.0,
        http: HttpClient | None = None,
        tokens: BearerTokens | None = None,
    ) -> None:
        if not (3 <= len(bucket) <= 222) or not set(bucket) <= _BUCKET_CHARS:
            raise BodyStoreConfigError(f"{bucket!r} is not a Cloud Storage bucket name")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        if emulator_host:
            self.root = emulator_host if "://" in emulator_host else f"http://{emulator_host}"
        else:
            self.root = PRODUCTION_ROOT
        self.root = self.root.rstrip("/")
        self.timeout_s = timeout_s
        self._http = http or default_client()
        self._tokens = tokens or BearerTokens(STORAGE_SCOPE, fixed="" if emulator_host else None)

    def _name(self, digest: str) -> str:
        if not is_digest(digest):
            raise BodyMissingError(f"{digest[:80]!r} is not a SHA-256 digest")
        return f"{self.prefix}/{digest}" if self.prefix else digest

    def _headers(self) -> dict[str, str]:
        try:
            token = self._tokens.get()
        except CredentialsUnavailableError as exc:
            raise BodyStoreError(f"Cloud Storage credentials: {exc}") from exc
        except CredentialsError as exc:
            raise BodyStoreConfigError(f"Cloud Storage credentials: {exc}") from exc
        return {"Authorization": f"Bearer {token}"} if token else {}

    def put(self, digest: str, body: bytes) -> None:
        query = urllib.parse.urlencode(
            {"uploadType": "media", "name": self._name(digest), "ifGenerationMatch": "0"}
        )
        url = f"{self.root}/upload/storage/v1/b/{self.bucket}/o?{query}"
        headers = {**self._headers(), "Content-Type": "application/octet-stream"}
        try:
            # Safe to send again: the same name can only ever hold the same bytes.
            answer = self._http.request(
                "POST", url, headers=headers, body=body, timeout_s=self.timeout_s, idempotent=True
            )
        except NoAnswerError as exc:
            raise BodyStoreError(f"Cloud Storage did not answer an upload: {exc.reason}") from exc
        if answer.ok or answer.status == 412:  # 412: stored already (see the module docstring)
            return
        raise BodyStoreError(f"Cloud Storage refused an upload to {self.describe()}: HTTP {answer.status}")

    def get(self, digest: str) -> bytes:
        name = urllib.parse.quote(self._name(digest), safe="")
        url = f"{self.root}/storage/v1/b/{self.bucket}/o/{name}?alt=media"
        try:
            answer = self._http.request("GET", url, headers=self._headers(), timeout_s=self.timeout_s)
        except NoAnswerError as exc:
            raise BodyStoreError(f"Cloud Storage did not answer a download: {exc.reason}") from exc
        if answer.status == 404:
            raise BodyMissingError(f"no body {digest[:12]}... in {self.describe()}")
        if not answer.ok:
            raise BodyStoreError(
                f"Cloud Storage refused a download from {self.describe()}: HTTP {answer.status}"
            )
        return checked(digest, answer.body)

    def purge(self, before: datetime) -> int:
        """Nothing: the bucket's lifecycle rule deletes old bodies."""
        return 0

    def describe(self) -> str:
        return f"gs://{self.bucket}/{self.prefix}" if self.prefix else f"gs://{self.bucket}"
