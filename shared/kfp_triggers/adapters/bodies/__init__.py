"""Body stores for the claim check: a local directory or a Cloud Storage bucket."""

from __future__ import annotations

from collections.abc import Mapping

from kfp_triggers.adapters.bodies.base import (
    BodyMismatchError,
    BodyMissingError,
    BodyStore,
    BodyStoreConfigError,
    BodyStoreError,
    digest_of,
    is_digest,
)

__all__ = [
    "BodyMismatchError",
    "BodyMissingError",
    "BodyStore",
    "BodyStoreConfigError",
    "BodyStoreError",
    "body_store_from_url",
    "digest_of",
    "is_digest",
]


def body_store_from_url(url: str, environ: Mapping[str, str]) -> BodyStore:
    """``file://<dir>`` (relative or absolute) or ``gs://<bucket>[/<prefix>]``.

    Raises:
        BodyStoreConfigError: any other URL.
    """
    if url.startswith("file://"):
        from kfp_triggers.adapters.bodies.local import LocalBodyStore

        path = url.removeprefix("file://")
        if not path:
            raise BodyStoreConfigError("KFPT_BODY_STORE file:// needs a directory")
        return LocalBodyStore(path)
    if url.startswith("gs://"):
        from kfp_triggers.adapters.bodies.gcs import GcsBodyStore

        bucket, _, prefix = url.removeprefix("gs://").partition("/")
        return GcsBodyStore(bucket, prefix, emulator_host=environ.get("STORAGE_EMULATOR_HOST") or None)
    raise BodyStoreConfigError(
        f"KFPT_BODY_STORE must be file://<dir> or gs://<bucket>[/<prefix>], not {url!r}"
    )
