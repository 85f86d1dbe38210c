"""Render function (CloudEvent): bind params, render the template, publish run.requested.

Deploy with entry point ``render_run``, triggered by its input topic. Settings come from ``KFPT_*``
environment variables. A retryable failure raises (the platform redelivers); anything else returns.
"""

import functions_framework

from kfp_triggers.app.runtime import handle_event
from kfp_triggers.wire.events import CloudEvent


@functions_framework.cloud_event
def render_run(event: CloudEvent) -> None:
    """Decode whichever envelope carried the event and run the render stage."""
    handle_event("render", event)
