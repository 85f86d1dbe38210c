"""Provenance labels: Tekton's three on every run, repository and commit only from a verified origin."""

from __future__ import annotations

from typing import Any

from kfp_triggers.stages.provenance import LABEL_COMMIT, LABEL_REPOSITORY, LABEL_VERIFIED_BY, run_labels
from kfp_triggers.wire.events import ObjectRef, RunRequested

SHA = "0123456789abcdef" * 2 + "01234567"


def _requested(origin: dict[str, Any]) -> RunRequested:
    return RunRequested(
        event_id="delivery-7",
        listener=ObjectRef("default", "github-push"),
        trigger=ObjectRef("default", "train-on-main"),
        idempotency_key="k",
        uid="u",
        origin=origin,
    )


def test_a_github_verified_origin_names_repository_and_commit() -> None:
    origin = {
        "verifiedBy": "github",
        "github": {"owner": "acme", "repo": "models", "sha": SHA, "event": "push"},
    }
    assert run_labels(_requested(origin)) == {
        "triggers.tekton.dev/eventlistener": "github-push",
        "triggers.tekton.dev/trigger": "train-on-main",
        "triggers.tekton.dev/eventid": "delivery-7",
        LABEL_VERIFIED_BY: "github",
        LABEL_REPOSITORY: "acme/models",
        LABEL_COMMIT: SHA,
    }


def test_an_unverified_or_malformed_origin_names_no_commit() -> None:
    unsigned = {"verifiedBy": None, "github": {"owner": "acme", "repo": "models", "sha": SHA}}
    assert LABEL_COMMIT not in run_labels(_requested(unsigned))
    assert LABEL_VERIFIED_BY not in run_labels(_requested(unsigned))
    hostile = {"verifiedBy": "github", "github": {"owner": "acme/../x", "repo": "models", "sha": SHA}}
    labels = run_labels(_requested(hostile))
    assert LABEL_REPOSITORY not in labels and labels[LABEL_VERIFIED_BY] == "github"
    gitlab = {"verifiedBy": "gitlab"}
    assert run_labels(_requested(gitlab))[LABEL_VERIFIED_BY] == "gitlab"
