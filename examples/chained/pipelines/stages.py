"""The two pipelines a trained model goes through next: evaluate it, then deploy it.

Like ../../pipelines/train.py they run offline under kfp.local (no pip installs). Recompile after
editing: ``.venv/bin/python examples/chained/pipelines/stages.py``.
"""

from pathlib import Path

from kfp import compiler, dsl


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def evaluate(model_uri: str, commit_sha: str) -> float:
    """Score the model the training run wrote (here: the size of its file, for the example)."""
    with open(model_uri) as f:
        size = len(f.read())
    print(f"evaluated {model_uri} of {commit_sha}: {size}")
    return float(size)


@dsl.pipeline(name="evaluate", description="Evaluate the model a training run produced.")
def evaluate_pipeline(model_uri: str, commit_sha: str) -> float:
    """Evaluate one model."""
    return evaluate(model_uri=model_uri, commit_sha=commit_sha).output


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def deploy(evaluation_run: str, score: float) -> str:
    """Pretend to deploy the model an evaluation run passed: refuse one that scored nothing."""
    if score <= 0:
        raise ValueError(f"the model of evaluation {evaluation_run} scored {score}: not deployed")
    return f"deployed the model of evaluation {evaluation_run} (score {score})"


@dsl.pipeline(name="deploy", description="Deploy an evaluated model.")
def deploy_pipeline(evaluation_run: str, score: float) -> str:
    """Deploy one model."""
    return deploy(evaluation_run=evaluation_run, score=score).output


if __name__ == "__main__":
    here = Path(__file__).parent
    compiler.Compiler().compile(evaluate_pipeline, str(here / "evaluate.yaml"))
    compiler.Compiler().compile(deploy_pipeline, str(here / "deploy.yaml"))
