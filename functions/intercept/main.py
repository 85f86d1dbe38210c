"""Intercept function (CloudEvent): run each trigger's interceptor chain; publish the accepted ones.

Deploy with entry point ``intercept_event``, triggered by its input topic. Settings come from ``KFPT_*``
environment variables. A retryable failure raises (the platform redelivers); anything else returns.
"""

import functions_framework

from kfp_triggers.app.runtime import handle_event
from kfp_triggers.wire.events import CloudEvent


@functions_framework.cloud_event
def intercept_event(event: CloudEvent) -> None:
    """Decode whichever envelope carried the event and run the intercept stage."""
    handle_event("intercept", event)
