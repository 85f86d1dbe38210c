"""Choose the transport from the environment (``KFPT_TRANSPORT``).

========== ============================================================================
value      publisher
========== ============================================================================
memory     :class:`~kfp_triggers.adapters.transports.memory.MemoryBus` (default; one process)
pubsub     :class:`~kfp_triggers.adapters.transports.pubsub_rest.PubSubRestPublisher` (REST, no gRPC):
           project from ``KFPT_PUBSUB_PROJECT`` / ``GOOGLE_CLOUD_PROJECT``, ``PUBSUB_EMULATOR_HOST``
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
from typing import TypeVar

from kfp_triggers import settings as registry
from kfp_triggers.adapters.transports.base import Publisher, TransportConfigError

TRANSPORTS = registry.TRANSPORTS
OIDC_TOKEN = "/oidc/token"
"""Where a Knative SinkBinding mounts its identity's token when Eventing's OIDC is enabled."""

T = TypeVar("T")


def _read(environ: Mapping[str, str], setting: registry.Setting[T]) -> T:
    """``setting``'s checked value, a malformed one reported as a transport configuration error."""
    try:
        return registry.value(environ, setting)
    except registry.InvalidSettingError as exc:
        raise TransportConfigError(f"{exc.name} must be {exc.expected}; got {exc.shown}") from None


def publisher_from_env(environ: Mapping[str, str]) -> Publisher:
    """Build the publisher ``KFPT_TRANSPORT`` names (``memory`` when unset).

    Raises:
        TransportConfigError: unknown transport, or its settings are missing or invalid.
    """
    kind = _read(environ, registry.TRANSPORT)
    timeout = _read(environ, registry.PUBLISH_TIMEOUT)
    if kind == "pubsub":
        from kfp_triggers.adapters.transports.pubsub_rest import PubSubRestPublisher

        project = _read(environ, registry.PUBSUB_PROJECT)
        if not project:
            raise TransportConfigError(
                "KFPT_TRANSPORT=pubsub needs KFPT_PUBSUB_PROJECT or GOOGLE_CLOUD_PROJECT"
            )
        prefix = _read(environ, registry.TOPIC_PREFIX)
        emulator = environ.get("PUBSUB_EMULATOR_HOST") or None
        return PubSubRestPublisher(
            project, topic_prefix=prefix, emulator_host=emulator, timeout=timeout or 30.0
        )
    if kind == "http":
        from kfp_triggers.adapters.transports.http import HttpSinkPublisher

        url = _read(environ, registry.SINK_URL)
        if not url:
            raise TransportConfigError("KFPT_TRANSPORT=http needs KFPT_SINK_URL or K_SINK (the Knative sink)")
        token_file = _read(environ, registry.SINK_TOKEN_FILE) or (
            OIDC_TOKEN if os.path.exists(OIDC_TOKEN) else None
        )
        return HttpSinkPublisher(url, timeout=timeout or 10.0, token_file=token_file)
    from kfp_triggers.adapters.transports.memory import MemoryBus

    return MemoryBus()
