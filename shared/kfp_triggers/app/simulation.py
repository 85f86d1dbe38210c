"""Dry runs: one raw HTTP request through a listener, or one binding against a request.

Nothing is launched. Output is deterministic when the event id and uid are fixed, so a simulation
can be checked into a repository next to the configuration and diffed in review.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kfp_triggers.app.validation import load
from kfp_triggers.errors import InvalidRequestError
from kfp_triggers.interceptors.resolve import InterceptorFactory
from kfp_triggers.secretstore import SecretStore
from kfp_triggers.tekton.bindings import event_data, resolve_params
from kfp_triggers.tekton.interceptor_protocol import InterceptorServices
from kfp_triggers.tekton.payload import invalid_body_message, payload_problem
from kfp_triggers.tekton.processing import EventProcessor, new_uid
from kfp_triggers.tekton.request import read_http_request


def simulate(
    *,
    config_paths: Sequence[Path],
    request_path: Path,
    secrets: SecretStore,
    listener_name: str | None,
    event_id: str,
    uid: str | None,
    github_api_url: str = "https://api.github.com/",
) -> dict[str, Any]:
    """Process one request as the listener would and report every trigger's outcome.

    Raises:
        ConfigError: the configuration has errors.
        InvalidRequestError: the request file is malformed, or the listener would answer 400.
    """
    config = load(config_paths)
    request = read_http_request(request_path)
    listener = config.listener(listener_name)
    if listener.payload_validation:
        problem = payload_problem(request.body)
        if problem is not None:
            raise InvalidRequestError(invalid_body_message(problem))
    services = InterceptorServices(secrets=secrets, github_api_url=github_api_url)
    processor = EventProcessor(config, InterceptorFactory(services))
    uid_factory = (lambda: uid) if uid else new_uid
    outcomes = processor.process(listener, request, event_id, uid_factory)
    return {
        "eventID": event_id,
        "listener": listener.name,
        "namespace": listener.namespace,
        "eventListenerUID": listener.uid,
        "triggers": [o.to_json() for o in outcomes],
    }


def binding_eval(
    *,
    binding_path: Path,
    request_path: Path,
    extensions: dict[str, Any],
    template_path: Path | None,
    event_id: str,
) -> dict[str, str]:
    """Resolve every TriggerBinding in ``binding_path`` against a request, as Tekton's binding-eval.

    The params of all bindings in the file are resolved together (a name bound twice is an
    error); with a template, its param defaults are pre-seeded and used as fallbacks exactly as
    when a trigger fires. Output is sorted by param name.

    Raises:
        ConfigError: a file does not load. BindingError: a param cannot be resolved.
    """
    bindings = load([binding_path]).bindings.values()
    if not bindings:
        raise InvalidRequestError(f"{binding_path}: no TriggerBinding or ClusterTriggerBinding found")
    defaults: dict[str, str] = {}
    if template_path is not None:
        templates = list(load([template_path]).templates.values())
        if not templates:
            raise InvalidRequestError(f"{template_path}: no TriggerTemplate found")
        defaults = {p.name: p.default for p in templates[0].params if p.default is not None}
    request = read_http_request(request_path)
    event = event_data(request.body, request.headers, extensions, event_id)
    params = [(p.name, p.value) for binding in bindings for p in binding.params]
    resolved = resolve_params(params, event, defaults)
    bound = {name for name, _ in params}
    return {name: resolved[name] for name in sorted(resolved) if name in bound or template_path is not None}
