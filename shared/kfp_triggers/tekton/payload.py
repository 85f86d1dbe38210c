"""Tekton's payload validation: an EventListener only accepts a body that is a JSON object.

Tekton decodes the body with ``json.Unmarshal`` into ``map[string]interface{}`` and answers 400
with the decoder's message when that fails, so senders see exactly what a Tekton EventListener
would have told them. (Go accepts ``null`` here: decoding null into a map is not an error.)
"""

from __future__ import annotations

from kfp_triggers.golang import fastjson


def payload_problem(body: bytes) -> str | None:
    """Return Go's error decoding ``body`` into a ``map[string]interface{}``, or None when it decodes."""
    if fastjson.is_go_object(body):
        return None  # the common case, settled by the fast strict decoder
    from kfp_triggers.golang import json as gojson  # the exact decoder, for everything else

    # Most bodies the fast decoder refuses are not JSON: find Go's syntax error first (at about
    # the cost of decoding), so that decoding only runs for the few it refused for stricter rules.
    syntax = gojson.syntax_error(body)
    if syntax is not None:
        return str(syntax)
    try:
        gojson.unmarshal_object(body, valid=True)
    except gojson.NestingError:
        return None  # an object Go reads (it allows 10000 levels) but too deep to build here
    except gojson.GoJsonError as exc:
        return str(exc)
    return None


def invalid_body_message(problem: str) -> str:
    """The ``errorMessage`` Tekton returns with its 400."""
    return f"Invalid event body format : {problem}"
