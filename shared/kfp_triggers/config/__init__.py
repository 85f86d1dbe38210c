"""Tekton Triggers configuration: models, loading and validation.

Users write the YAML they would write for Tekton Triggers (``triggers.tekton.dev`` ``v1beta1`` and
``v1alpha1``). :func:`check_config` loads files or directories of it and returns every problem with
its file and line; :func:`load_config` does the same but refuses a configuration with errors. The
resulting :class:`Configuration` answers which triggers and trigger groups an
:class:`EventListener` runs, with every reference already resolved.
"""

from __future__ import annotations

from kfp_triggers.config.configuration import Configuration, check_config, load_config
from kfp_triggers.config.hooks import ValidationHooks
from kfp_triggers.config.models import (
    BUILTIN_INTERCEPTORS,
    CORE_INTERCEPTORS,
    PATHS_INTERCEPTOR,
    Binding,
    BindingParam,
    EventListener,
    InterceptorSpec,
    LabelSelector,
    Requirement,
    ResolvedGroup,
    ResolvedTrigger,
    Template,
    TemplateParam,
    TriggerSelector,
    WebhookSpec,
)

__all__ = [
    "BUILTIN_INTERCEPTORS",
    "CORE_INTERCEPTORS",
    "PATHS_INTERCEPTOR",
    "Binding",
    "BindingParam",
    "Configuration",
    "EventListener",
    "InterceptorSpec",
    "LabelSelector",
    "Requirement",
    "ResolvedGroup",
    "ResolvedTrigger",
    "Template",
    "TemplateParam",
    "TriggerSelector",
    "ValidationHooks",
    "WebhookSpec",
    "check_config",
    "load_config",
]
