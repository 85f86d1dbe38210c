"""The triggering event as a pipeline artifact, so ML Metadata links event -> run -> outputs.

A run launched by kfp-triggers is labelled with its event (see ``stages/provenance.py``), but a
label sits on the run, not in the lineage graph KFP's ML Metadata and Vertex ML Metadata draw
from artifacts and executions. :data:`triggering_event` puts the event there: its task writes one
small artifact naming the event, and every component that takes it as an ``Input[Artifact]``
gets an edge from it, so a model found later leads back to the webhook that started its run,
without a metadata service of our own.

The artifact (output ``event``) is a plain ``system.Artifact``: the generic type that KFP's and
Vertex AI's metadata stores both know as is, where a custom schema title would have to be made
known to each, and would tell a reader nothing the metadata does not. What makes it the
triggering event is its content, the same in the file at its URI (JSON) and in its metadata:

===========  ==========================================================
key          value
===========  ==========================================================
eventID      the event id (``$(context.eventID)``: GitHub's delivery id)
listener     the EventListener that received it
trigger      the trigger that launched the run
repository   ``owner/repo`` the event was about
commitSha    the commit it named
source       ``kfp-triggers``
===========  ==========================================================

The component's code is serialized into the pipeline, so its body imports nothing of ours and
installs nothing: it runs under ``kfp.local`` offline (``SubprocessRunner(use_venv=False)``).
Like every KFP lightweight component it runs through ``kfp.dsl.executor_main``, so on KFP and
Vertex AI its image needs the kfp package: build it with
``triggering_event_component(base_image=...)`` naming an image that has kfp, or with
``install_kfp_package=True`` to have the container pip-install it at start.

Usage in a pipeline::

    from kfp import dsl
    from kfp_triggers.pipeline.lineage import triggering_event

    @dsl.pipeline(name="train")
    def train_pipeline(repo: str, commit_sha: str, event_id: str = "", listener: str = "", trigger: str = ""):
        event = triggering_event(event_id=event_id, listener=listener, trigger=trigger,
                                 repository=repo, commit_sha=commit_sha)
        train(event=event.outputs["event"], ...)  # train takes event: Input[Artifact]
"""

from collections.abc import Callable
from typing import Any

from kfp import dsl
from kfp.dsl import Artifact, Output

BASE_IMAGE = "python:3.11"
"""The image the component runs in unless told otherwise (the example pipeline's)."""
SOURCE = "kfp-triggers"
"""The ``source`` every event artifact carries, to tell it from artifacts of other origins (the
component's body spells it out: it cannot refer to this module)."""
EVENT_KEYS = ("eventID", "listener", "trigger", "repository", "commitSha", "source")
"""The keys of an event artifact's metadata and of its JSON file."""


def _component(func: Callable[..., None]) -> Any:
    """``func`` as a lightweight component on :data:`BASE_IMAGE` that installs nothing."""
    return dsl.component(func, base_image=BASE_IMAGE, install_kfp_package=False)


@_component
def triggering_event(
    event_id: str,
    listener: str,
    trigger: str,
    repository: str,
    commit_sha: str,
    event: Output[Artifact],
) -> None:
    """Record the event that triggered this run as the artifact ``event`` (file and metadata)."""
    import json

    identity = {
        "eventID": event_id,
        "listener": listener,
        "trigger": trigger,
        "repository": repository,
        "commitSha": commit_sha,
        "source": "kfp-triggers",
    }
    with open(event.path, "w", encoding="utf-8") as f:
        json.dump(identity, f, indent=2, sort_keys=True)
        f.write("\n")
    event.metadata.update(identity)


def triggering_event_component(*, base_image: str = BASE_IMAGE, install_kfp_package: bool = False) -> Any:
    """:data:`triggering_event` built for another image.

    The default needs kfp in the image (kfp.local has it); ``install_kfp_package=True`` makes the
    container pip-install kfp first, for clusters whose image lacks it.
    """
    return dsl.component(
        triggering_event.python_func, base_image=base_image, install_kfp_package=install_kfp_package
    )
