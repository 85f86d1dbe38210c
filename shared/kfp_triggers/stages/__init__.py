"""The five stages as pure logic over ports: ingest, intercept, render, launch, status.

Each stage takes its input (a request or one of our CloudEvents) and the ports it needs, does its
work, and publishes its output. A stage returns normally when it is done, including when it gave
up for good (the reason is journalled); it raises an error whose ``retryable`` is True when the
platform should deliver the same input again. Adapters (functions/, ``serve``) only translate.

Names are loaded on first use, so the ingest function does not import the launch and status code.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kfp_triggers.stages.context import StageContext
    from kfp_triggers.stages.ingest import HttpAnswer, ingest
    from kfp_triggers.stages.pipeline import intercept, render
    from kfp_triggers.stages.runs import launch, status

_HOME = {
    "StageContext": "context",
    "HttpAnswer": "ingest",
    "ingest": "ingest",
    "intercept": "pipeline",
    "render": "pipeline",
    "launch": "runs",
    "status": "runs",
}

__all__ = ["HttpAnswer", "StageContext", "ingest", "intercept", "launch", "render", "status"]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
