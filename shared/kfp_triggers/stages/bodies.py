"""The claim check: large bodies travel between the stages as a digest, not as bytes.

A Pub/Sub message holds 10 MB, a Firestore document 1 MiB, and GitHub sends webhooks of up to 25 MB.
Above ``KFPT_CLAIM_CHECK_BYTES`` ingest leaves the body in the body store (``KFPT_BODY_STORE``) and
the event carries its SHA-256 and size; intercept and render check it out when they need it, the
journal keeps the reference, so such an event can be replayed whatever its size. A reference
names a digest only; the store's location is the deployment's setting, and what comes back is
hashed again, so a forged message can neither point a stage at other data nor swap the body.
"""

from __future__ import annotations

import dataclasses

from kfp_triggers.adapters.bodies import BodyMismatchError, BodyMissingError, digest_of
from kfp_triggers.stages.context import PermanentStageError, StageContext
from kfp_triggers.wire.events import BodyRef, HttpRequestData


def check_in(ctx: StageContext, request: HttpRequestData, *, known: BodyRef | None = None) -> HttpRequestData:
    """``request`` to send on: its body left in the store when over the threshold.

    ``known`` is the reference the body already has when it is the one a stage checked out, so it
    is not hashed and stored again.

    Raises:
        BodyStoreError: the store could not take the body now (retryable).
    """
    if (
        request.body_ref is not None
        or not ctx.claim_check_bytes
        or len(request.body) <= ctx.claim_check_bytes
    ):
        return request
    digest = digest_of(request.body)
    if known is not None and known.size == len(request.body) and digest == known.sha256:
        return dataclasses.replace(request, body=b"", body_ref=known)
    ctx.body_store.put(digest, request.body)
    return dataclasses.replace(request, body=b"", body_ref=BodyRef(digest, len(request.body)))


def check_out(ctx: StageContext, request: HttpRequestData) -> HttpRequestData:
    """``request`` with its body, fetched from the store when it travelled as a reference.

    Raises:
        PermanentStageError: the store holds no body under the reference, or another one.
        BodyStoreError: the store could not answer now (retryable).
    """
    ref = request.body_ref
    if ref is None:
        return request
    try:
        body = ctx.body_store.get(ref.sha256)
    except (BodyMissingError, BodyMismatchError) as exc:
        raise PermanentStageError(f"the request body is not in the body store: {exc}") from exc
    if len(body) != ref.size:
        raise PermanentStageError(f"the stored body is {len(body)} bytes, its reference says {ref.size}")
    return dataclasses.replace(request, body=body)


def without_body(request: HttpRequestData) -> HttpRequestData:
    """The request as the journal keeps it: with a reference, the body stays in the store."""
    return dataclasses.replace(request, body=b"") if request.body_ref is not None else request
