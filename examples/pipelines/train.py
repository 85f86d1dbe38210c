"""A small two-step pipeline the example listeners launch: prepare a config, then "train".

It runs offline under kfp.local (components carry no pip installs), so ``make run`` can execute
it for real. Recompile after editing: ``.venv/bin/python examples/pipelines/train.py``.
"""

from pathlib import Path

from kfp import compiler, dsl
from kfp.dsl import Dataset, Input, Output


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def prepare(repo: str, commit_sha: str, config: Output[Dataset]) -> str:
    """Write the training configuration for this commit."""
    text = f"repo={repo}\ncommit={commit_sha}\n"
    with open(config.path, "w") as f:
        f.write(text)
    return commit_sha[:7]


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def train(config: Input[Dataset], epochs: int, learning_rate: float) -> float:
    """Pretend to train: the score depends on the config, epochs and learning rate."""
    with open(config.path) as f:
        size = len(f.read())
    return round(size * epochs * learning_rate, 6)


@dsl.pipeline(name="train", description="Train a model for one commit.")
def train_pipeline(repo: str, commit_sha: str, epochs: int = 2, learning_rate: float = 0.01) -> float:
    """Prepare, then train."""
    prepared = prepare(repo=repo, commit_sha=commit_sha)
    return train(config=prepared.outputs["config"], epochs=epochs, learning_rate=learning_rate).output


if __name__ == "__main__":
    compiler.Compiler().compile(train_pipeline, str(Path(__file__).with_name("train.yaml")))
