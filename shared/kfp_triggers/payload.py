"""Tekton's payload validation: an EventListener only accepts a body that is a JSON object.

Tekton decodes the body into ``map[string]interface{}`` and answers 400 with the decoder's
message when that fails. We reproduce the messages of Go's ``encoding/json`` for the common cases
so that senders see what a Tekton EventListener would have told them. (Go accepts ``null`` here:
decoding null into a map is not an error.)
"""

from __future__ import annotations

import json

_KIND = {dict: "object", list: "array", str: "string", bool: "bool", int: "number", float: "number"}


def payload_problem(body: bytes) -> str | None:
    """Return Go's decoding error for ``body`` as a JSON object, or None when it is acceptable."""
    if not body.strip():
        return "unexpected end of JSON input"
    try:
        value = json.loads(body)
    except UnicodeDecodeError:
        return "invalid character looking for beginning of value"
    except json.JSONDecodeError as exc:
        return _go_syntax_message(exc)
    if value is None or isinstance(value, dict):
        return None
    kind = _KIND.get(type(value), "value")
    return f"json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"


def _go_syntax_message(exc: json.JSONDecodeError) -> str:
    doc, pos = exc.doc, exc.pos
    if pos >= len(doc.rstrip()):
        return "unexpected end of JSON input"
    char = doc[pos]
    if exc.msg.startswith("Extra data"):
        return f"invalid character {_quote(char)} after top-level value"
    if pos == len(doc) - len(doc.lstrip()):
        return f"invalid character {_quote(char)} looking for beginning of value"
    return f"invalid character {_quote(char)} ({exc.msg.lower()})"


def _quote(char: str) -> str:
    if char == "'":
        return "'\\''"
    return f"'{char}'"


def invalid_body_message(problem: str) -> str:
    """The ``errorMessage`` Tekton returns with its 400."""
    return f"Invalid event body format : {problem}"
