"""Choose the transport from the environment (``KFPT_TRANSPORT``).

========== ============================================================================
value      publisher
========== ============================================================================
memory     :class:`~kfp_triggers.adapters.transports.memory.MemoryBus` (default; one process)
pubsub     :class:`~kfp_triggers.adapters.transports.pubsub.PubSubPublisher`: project from
           ``KFPT_PUBSUB_PROJECT`` / ``GOOGLE_CLOUD_PROJECT``, ``PUBSUB_EMULATOR_HOST``
http       :class:`~kfp_triggers.adapters.transports.http.HttpSinkPublisher` to ``KFPT_SINK_URL``,
           else ``K_SINK`` (injected by a Knative SinkBinding); with a bearer token from
           ``KFPT_SINK_TOKEN_FILE``, else Knative's OIDC token ``/oidc/token`` when mounted
========== ============================================================================

``KFPT_PUBLISH_TIMEOUT`` (seconds) bounds one publish on the pubsub and http transports.
Each transport module is imported only when chosen.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from kfp_triggers.adapters.transports.base import Publisher, TransportConfigError

TRANSPORTS = ("memory", "pubsub", "http")
OIDC_TOKEN = "/oidc/token"
"""Where a Knative SinkBinding mounts its identity's token when Eventing's OIDC is enabled."""


def _timeout(environ: Mapping[str, str], default: float) -> float:
    raw = environ.get("KFPT_PUBLISH_TIMEOUT", "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise TransportConfigError(f"KFPT_PUBLISH_TIMEOUT must be a positive number of seconds, got {raw!r}")
    return value


def publisher_from_env(environ: Mapping[str, str]) -> Publisher:
    """Build the publisher ``KFPT_TRANSPORT`` names (``memory`` when unset).

    Raises:
        TransportConfigError: unknown transport, or its settings are missing or invalid.
    """
    kind = (environ.get("KFPT_TRANSPORT") or "memory").strip().lower()
    if kind == "memory":
        from kfp_triggers.adapters.transports.memory import MemoryBus

        return MemoryBus()
    if kind == "pubsub":
        from kfp_triggers.adapters.transports.pubsub import PubSubPublisher

        return PubSubPublisher(environ=environ, timeout=_timeout(environ, 30.0))
    if kind == "http":
        from kfp_triggers.adapters.transports.http import HttpSinkPublisher

        url = environ.get("KFPT_SINK_URL") or environ.get("K_SINK")
        if not url:
            raise TransportConfigError("KFPT_TRANSPORT=http needs KFPT_SINK_URL or K_SINK (the Knative sink)")
        token_file = environ.get("KFPT_SINK_TOKEN_FILE") or (
            OIDC_TOKEN if os.path.exists(OIDC_TOKEN) else None
        )
        return HttpSinkPublisher(url, timeout=_timeout(environ, 10.0), token_file=token_file)
    raise TransportConfigError(f"KFPT_TRANSPORT must be one of {', '.join(TRANSPORTS)}; got {kind!r}")
