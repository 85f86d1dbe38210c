"""Ingest function (HTTP): a webhook in, an ``event.received`` CloudEvent out, 202 after hand-off.

Deploy with entry point ``ingest_webhook``. Settings come from ``KFPT_*`` environment variables.
"""

import flask
import functions_framework

from kfp_triggers.headers import headers_from_wsgi
from kfp_triggers.request import RawRequest
from kfp_triggers.runtime import handle_http, max_body_bytes


@functions_framework.http
def ingest_webhook(request: flask.Request) -> flask.Response:
    """Read the raw request exactly, run the ingest stage, answer with its status and body."""
    limit = max_body_bytes()
    if request.content_length is not None and request.content_length > limit:
        body = f'{{"error":"request body is {request.content_length} bytes; the limit is {limit}"}}\n'
        return flask.Response(body, status=413, content_type="application/json")
    data = request.stream.read(limit + 1)
    # The request target as sent (gunicorn's RAW_URI), percent-escapes kept as Go's URL.String()
    # keeps them for CEL's requestURL; other servers: werkzeug's reading of it.
    url = request.environ.get("RAW_URI") or (request.full_path if request.query_string else request.path)
    raw = RawRequest(request.method, url, headers_from_wsgi(request.environ), data)
    answer = handle_http(raw)
    return flask.Response(answer.body, status=answer.status, headers=answer.headers)
