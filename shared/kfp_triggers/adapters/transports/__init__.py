"""Transports that carry events between stages: in-process bus, Pub/Sub, HTTP (Knative ``K_SINK``).

Only :mod:`.base` and :mod:`.factory` are imported here; the Pub/Sub adapter loads
google-cloud-pubsub only when it is used, so a stage on another transport never pays for it.
"""

from __future__ import annotations

from kfp_triggers.adapters.transports.base import Publisher, TransportConfigError, TransportError
from kfp_triggers.adapters.transports.factory import publisher_from_env

__all__ = ["Publisher", "TransportConfigError", "TransportError", "publisher_from_env"]
