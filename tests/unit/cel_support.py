"""Shared helpers for the CEL tests: the backends to run every table on, and one-shot evaluation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kfp_triggers.cel import CelEnvironment, available_backends
from kfp_triggers.secretstore import SecretStore

CEL_EXPR_AVAILABLE = "cel-expr" in available_backends()

BACKENDS = [
    pytest.param("celpy", id="celpy"),
    pytest.param(
        "cel-expr",
        id="cel-expr",
        marks=pytest.mark.skipif(not CEL_EXPR_AVAILABLE, reason="cel-expr-python is not installed"),
    ),
]
"""Every table runs on each backend; cel-expr is skipped only when cel-expr-python is missing."""

_ENVIRONMENTS: dict[str, CelEnvironment] = {}


def environment(backend: str, secrets: SecretStore | None = None) -> CelEnvironment:
    """One environment per backend reused across tests like a configuration (a fresh one with secrets)."""
    if secrets is not None:
        return CelEnvironment(secrets=secrets, backend=backend)
    if backend not in _ENVIRONMENTS:
        _ENVIRONMENTS[backend] = CelEnvironment(backend=backend)
    return _ENVIRONMENTS[backend]


def evaluate(
    backend: str,
    expression: str,
    body: Any = None,
    header: dict[str, list[str]] | None = None,
    extensions: dict[str, Any] | None = None,
    request_url: str = "https://example.com/testing?param=value",
    secrets: SecretStore | None = None,
) -> tuple[str, Any]:
    """Evaluate and return ``(type_name, json_value)``; errors propagate."""
    env = environment(backend, secrets)
    raw = b"" if body is None else json.dumps(body).encode()
    activation = env.activation(raw, header or {}, extensions or {}, request_url)
    value = env.evaluate(env.compile(expression), activation)
    return value.type_name, value.to_json()
