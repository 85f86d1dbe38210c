"""What a run is stamped with so it can be traced back to the webhook and commit that started it.

Every launch carries these labels (kfp.local keeps them in ``run.json``, Vertex AI as PipelineJob
labels rewritten to its rules, KFP, whose v2beta1 runs have no labels, as a line of the run's
description). The repository and commit come only from the run's *origin*, what intercept verified
(a GitHub signature over the body), never from the request itself, so a run's provenance cannot be
written by whoever can reach a listener.
"""

from __future__ import annotations

from kfp_triggers.tekton.github_commit import commit_from_origin
from kfp_triggers.tekton.processing import LABEL_EVENT_ID, LABEL_LISTENER, LABEL_TRIGGER
from kfp_triggers.wire.events import RunRequested

LABEL_REPOSITORY = "kfp-triggers.dev/repository"
"""``owner/repo`` of the GitHub repository a verified webhook was about."""
LABEL_COMMIT = "kfp-triggers.dev/commit"
"""The commit sha that webhook named."""
LABEL_VERIFIED_BY = "kfp-triggers.dev/verified-by"
"""The interceptor whose secret check proved the sender (``github``, ``gitlab``, ``bitbucket``)."""


def run_labels(requested: RunRequested) -> dict[str, str]:
    """The labels a run of ``requested`` is launched with: Tekton's three, then its verified origin."""
    labels = {
        LABEL_LISTENER: requested.listener.name,
        LABEL_TRIGGER: requested.trigger.name,
        LABEL_EVENT_ID: requested.event_id,
    }
    verified_by = requested.origin.get("verifiedBy")
    if isinstance(verified_by, str) and verified_by:
        labels[LABEL_VERIFIED_BY] = verified_by
    commit = commit_from_origin(requested.origin)
    if commit is not None:
        labels[LABEL_REPOSITORY] = f"{commit.owner}/{commit.repo}"
        labels[LABEL_COMMIT] = commit.sha
    return labels
