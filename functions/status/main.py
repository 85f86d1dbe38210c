"""Status function (CloudEvent): follow runs on run.created and status.tick; publish run.state changes.

Deploy with entry point ``collect_status``, triggered by its input topic. Settings come from ``KFPT_*``
environment variables. A retryable failure raises (the platform redelivers); anything else returns.
"""

import functions_framework

from kfp_triggers.app.runtime import handle_event
from kfp_triggers.wire.events import CloudEvent


@functions_framework.cloud_event
def collect_status(event: CloudEvent) -> None:
    """Decode whichever envelope carried the event and run the status stage."""
    handle_event("status", event)
