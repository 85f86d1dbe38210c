"""Ingest function (HTTP): a webhook in, an ``event.received`` CloudEvent out, 202 after hand-off.

Deploy with entry point ``ingest_webhook``. Settings come from ``KFPT_*`` environment variables.
The request is answered by the engine's ingest edge, the code ``kfp-triggers serve`` runs too.
"""

import flask
import functions_framework

from kfp_triggers.app.edge import answer


@functions_framework.http
def ingest_webhook(request: flask.Request) -> flask.Response:
    """Answer from the request's WSGI environ, its body read only up to the size limit."""
    reply = answer(request.environ)
    # functions-framework reads the rest of the body into memory once a view returns, unless the
    # answer is streamed: answered this way, a body refused as too large is left to the server,
    # which discards it without holding it.
    headers = {**reply.headers, "Content-Length": str(len(reply.body))}
    return flask.Response(iter((reply.body,)), status=reply.status, headers=headers)
