"""A read-only web dashboard over the store: events and their verdicts, runs, refusals and errors.

``kfp-triggers dashboard`` serves it alone; :func:`mounted` serves it beside the ingest edge on
one server. Pages (under the prefix, ``/dashboard`` by default):

* ``/events``: the newest events with each trigger's verdict (``?view=rejected|errors``,
  ``?trigger=``, ``?listener=``, ``?limit=``);
* ``/events/<id>``: one event explained as ``events explain`` explains it, headers redacted and the
  body decoded, with a replay form when replay is allowed;
* ``/runs`` (reloads itself every few seconds) and ``/runs/<id>``: runs with their state, backend
  link and concurrency group, and the event and trigger behind each;
* ``/problems``: the events a trigger refused and those with an error;
* ``/search?q=``: an event id, run id, delivery id or commit sha.

The dashboard has no authentication: whoever reaches it reads the journal (credentials are
redacted there) and, with replay allowed, can replay events. Bind it to loopback, or put an
authenticating proxy in front of it.
"""

from __future__ import annotations

from kfp_triggers.app.dashboard._app import DEFAULT_PREFIX, dashboard_app
from kfp_triggers.app.dashboard._mount import mounted

__all__ = ["DEFAULT_PREFIX", "dashboard_app", "mounted"]
