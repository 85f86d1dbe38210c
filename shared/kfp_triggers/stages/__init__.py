"""The five stages as pure logic over ports: ingest, intercept, render, launch, status.

Each stage takes its input (a request or one of our CloudEvents) and the ports it needs, does its
work, and publishes its output. A stage returns normally when it is done, including when it gave
up for good (the reason is journalled); it raises an error whose ``retryable`` is True when the
platform should deliver the same input again. Adapters (functions/, ``serve``) only translate.
"""

from __future__ import annotations

from kfp_triggers.stages.context import StageContext
from kfp_triggers.stages.ingest import HttpAnswer, ingest
from kfp_triggers.stages.pipeline import intercept, render
from kfp_triggers.stages.runs import launch, status

__all__ = ["HttpAnswer", "StageContext", "ingest", "intercept", "launch", "render", "status"]
