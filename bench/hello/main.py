"""The baseline HTTP function: hello world, served by the same functions-framework command as ingest.

It neither reads the request nor touches the engine, so the difference between it and ingest under
the same server settings is exactly what ingest itself costs.
"""

import flask
import functions_framework


@functions_framework.http
def hello(request: flask.Request) -> str:
    """Answer 200 with a fixed greeting."""
    return "Hello, World!"


@functions_framework.http
def hello_body(request: flask.Request) -> str:
    """Read the whole body, then greet: the least any webhook receiver pays for a body of a size."""
    return f"Hello, {len(request.get_data())} bytes!"
