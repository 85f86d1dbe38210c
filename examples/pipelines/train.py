"""A small pipeline the example listeners launch: record the event, prepare a config, then "train".

It runs offline under kfp.local (components carry no pip installs), so ``make run`` can execute
it for real. Recompile after editing: ``.venv/bin/python examples/pipelines/train.py``.

The first step records the webhook event that started the run as an artifact (from
``kfp_triggers.pipeline.lineage``); ``train`` takes it as an input, so the lineage graph of KFP's
ML Metadata or Vertex ML Metadata runs from the event through the training step to the model.
The event's identity comes in as pipeline parameters the listeners' templates pass; they default
to empty for a run started by hand.
"""

from pathlib import Path

from kfp import compiler, dsl
from kfp.dsl import Artifact, Dataset, Input, Model, Output

from kfp_triggers.pipeline.lineage import triggering_event


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def prepare(repo: str, commit_sha: str, config: Output[Dataset]) -> str:
    """Write the training configuration for this commit."""
    text = f"repo={repo}\ncommit={commit_sha}\n"
    with open(config.path, "w") as f:
        f.write(text)
    return commit_sha[:7]


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def train(
    config: Input[Dataset], event: Input[Artifact], epochs: int, learning_rate: float, model: Output[Model]
) -> float:
    """Pretend to train: the score depends on the config, epochs and learning rate.

    The model names the event that started its run in its metadata too, so the model alone says
    where it came from.
    """
    import json

    with open(config.path) as f:
        size = len(f.read())
    score = round(size * epochs * learning_rate, 6)
    with open(model.path, "w") as f:
        json.dump({"score": score}, f)
    model.metadata.update({"score": score, "eventID": event.metadata.get("eventID", "")})
    return score


@dsl.pipeline(name="train", description="Train a model for one commit.")
def train_pipeline(
    repo: str,
    commit_sha: str,
    epochs: int = 2,
    learning_rate: float = 0.01,
    event_id: str = "",
    listener: str = "",
    trigger: str = "",
) -> float:
    """Record the event, prepare, then train on both."""
    event = triggering_event(
        event_id=event_id, listener=listener, trigger=trigger, repository=repo, commit_sha=commit_sha
    )
    prepared = prepare(repo=repo, commit_sha=commit_sha)
    trained = train(
        config=prepared.outputs["config"],
        event=event.outputs["event"],
        epochs=epochs,
        learning_rate=learning_rate,
    )
    return trained.outputs["Output"]


if __name__ == "__main__":
    compiler.Compiler().compile(train_pipeline, str(Path(__file__).with_name("train.yaml")))
