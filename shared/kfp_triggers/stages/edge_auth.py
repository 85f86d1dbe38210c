"""Optional edge authentication: check a webhook's signature at ingest and answer 401.

Tekton answers 202 to a request with a bad signature and drops it later, so the sender never
learns that its secret is wrong. A listener annotated ``kfp-triggers.dev/verify-at-ingest: "true"``
gets the check at the edge instead: every GitHub, GitLab or Bitbucket interceptor with a
``secretRef`` among the listener's triggers (and groups) is run on the request with only its
secret (event types are left to the triggers); the request is authentic when at least one accepts
it, and is answered ``401`` otherwise, before anything is published.

The sender of a refused request is told only :data:`NOT_AUTHENTIC`: which check refused it and
why (a signature that does not match, a secret that cannot be read or is empty) would help
someone probing the listener, so that goes to the log, which names secrets but never their values.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

from kfp_triggers.config import EventListener, InterceptorSpec
from kfp_triggers.config.models import VERIFY_AT_INGEST_ANNOTATION
from kfp_triggers.errors import KfptError
from kfp_triggers.stages.context import StageContext
from kfp_triggers.tekton.request import RawRequest

log = logging.getLogger(__name__)

ANNOTATION = VERIFY_AT_INGEST_ANNOTATION
SIGNED_INTERCEPTORS = frozenset({"github", "gitlab", "bitbucket"})
NOT_AUTHENTIC = "the request is not authentic"


def wants_edge_auth(listener: EventListener) -> bool:
    """True when the listener asks for signatures to be checked at ingest."""
    return listener.annotations.get(ANNOTATION, "").strip().lower() == "true"


def _signature_checks(ctx: StageContext, listener: EventListener) -> Iterator[InterceptorSpec]:
    seen: set[str] = set()
    chains = [t.interceptors for t in ctx.config.triggers_for(listener)]
    for group in ctx.config.groups_for(listener):
        chains.append(group.interceptors)
        chains.extend(t.interceptors for t in group.triggers)
    for chain in chains:
        for spec in chain:
            if spec.ref_name not in SIGNED_INTERCEPTORS or "secretRef" not in spec.params:
                continue
            only_secret = {"secretRef": spec.params["secretRef"]}
            key = json.dumps([spec.ref_name, only_secret], sort_keys=True)
            if key not in seen:
                seen.add(key)
                yield InterceptorSpec(
                    spec.name, spec.ref_name, spec.ref_kind, only_secret, source=spec.source
                )


def authentication_failure(ctx: StageContext, listener: EventListener, request: RawRequest) -> str | None:
    """None when the request is authentic (or nothing can be checked), else :data:`NOT_AUTHENTIC`.

    The detailed reason is logged here; what is returned is all a sender may be told.
    """
    reasons = refusal_reasons(ctx, listener, request)
    if reasons is None:
        return None
    log.warning("listener %s: no signature check accepted the request: %s", listener.name, reasons)
    return NOT_AUTHENTIC


def refusal_reasons(ctx: StageContext, listener: EventListener, request: RawRequest) -> str | None:
    """None when the request is authentic (or nothing can be checked), else why each check refused it.

    For logs and operators only: the reasons name the interceptors and secrets involved.
    """
    from kfp_triggers.tekton.interceptor_protocol import InterceptorRequest, TriggerContext

    reasons: list[str] = []
    for spec in _signature_checks(ctx, listener):
        probe = InterceptorRequest(
            body=request.body,
            header=request.header_map(),
            interceptor_params=dict(spec.params),
            context=TriggerContext(event_url=request.url),
        )
        try:
            response = ctx.processor.interceptors.interceptor(spec).process(probe)
        except KfptError as exc:
            reasons.append(f"{spec.ref_name}: {exc}")
            continue
        if response.continue_:
            return None
        reasons.append(f"{spec.ref_name}: {response.status.message}")
    if not reasons:
        return None
    return "; ".join(dict.fromkeys(reasons))
