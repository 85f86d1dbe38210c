"""Answering a single Tekton InterceptorRequest with one of the core interceptors.

Used by ``kfp-triggers interceptor NAME`` (stdin to stdout) and by any HTTP front end that wants to
offer our core interceptors to a Tekton installation with the same wire format.
"""

from __future__ import annotations

from typing import Any

from kfp_triggers.cel import CelEnvironment
from kfp_triggers.errors import InvalidRequestError
from kfp_triggers.interceptors.cel import CelInterceptor
from kfp_triggers.interceptors.core import BUILTIN_INTERCEPTORS, core_interceptor
from kfp_triggers.secretstore import SecretStore
from kfp_triggers.tekton.interceptor_protocol import InterceptorRequest, InterceptorServices


def answer(name: str, data: bytes, *, secrets: SecretStore, github_api_url: str) -> dict[str, Any]:
    """Parse ``data`` as an InterceptorRequest, run interceptor ``name``, return the response JSON.

    Raises:
        InvalidRequestError: unknown interceptor name, or a body that is not an InterceptorRequest.
    """
    key = name.lower()
    if key not in BUILTIN_INTERCEPTORS:
        raise InvalidRequestError(
            f"path did not match any interceptors: {name!r} (known: {', '.join(BUILTIN_INTERCEPTORS)})"
        )
    request = InterceptorRequest.from_wire(data)
    services = InterceptorServices(secrets=secrets, github_api_url=github_api_url)
    env = CelEnvironment(secrets=secrets)
    interceptor = core_interceptor(key, services, cel_factory=lambda: CelInterceptor(env))
    return interceptor.process(request).to_wire()
