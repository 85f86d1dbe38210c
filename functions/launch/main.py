"""Launch function (CloudEvent): create the requested run exactly once; publish run.created.

Deploy with entry point ``launch_run``, triggered by its input topic. Settings come from ``KFPT_*``
environment variables. A retryable failure raises (the platform redelivers); anything else returns.
"""

import functions_framework

from kfp_triggers.app.runtime import handle_event
from kfp_triggers.wire.events import CloudEvent


@functions_framework.cloud_event
def launch_run(event: CloudEvent) -> None:
    """Decode whichever envelope carried the event and run the launch stage."""
    handle_event("launch", event)
