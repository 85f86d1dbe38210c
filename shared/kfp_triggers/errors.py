"""The engine's exception tree.

Every error the engine raises derives from :class:`KfptError`; each class says whether a
stage should retry (``retryable``) and which HTTP status a request-facing adapter should answer.

::

    KfptError
    ├── ConfigError            configuration could not be loaded (carries every problem)
    ├── InvalidRequestError    malformed HTTP request or event (400)
    │   └── PayloadTooLargeError (413)
    ├── SecretError            a secret could not be read
    ├── BindingError           a TriggerBinding expression could not be resolved
    ├── TemplateError          a TriggerTemplate could not be rendered
    ├── CelError               a CEL expression failed to compile or evaluate
    │   ├── CelCompileError
    │   └── CelEvalError
    └── InterceptorError       an interceptor could not be called or answered badly
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import ClassVar


class KfptError(Exception):
    """Root of every error raised by kfp-triggers."""

    retryable: ClassVar[bool] = False
    http_status: ClassVar[HTTPStatus] = HTTPStatus.INTERNAL_SERVER_ERROR


@dataclass(frozen=True)
class Problem:
    """One configuration problem, located by file and line."""

    file: str
    line: int
    message: str
    severity: str = "error"  # "error" | "warning"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.severity}: {self.message}"


class ConfigError(KfptError, ValueError):
    """The configuration has errors; ``problems`` lists all of them (and the warnings)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        super().__init__("\n".join(str(p) for p in errors) or "invalid configuration")


class SettingError(KfptError, ValueError):
    """A ``KFPT_*`` setting is unusable; the message names it and says why."""


class InvalidRequestError(KfptError, ValueError):
    """The incoming request or event is malformed."""

    http_status = HTTPStatus.BAD_REQUEST


class PayloadTooLargeError(InvalidRequestError):
    """The request body exceeds the configured size limit."""

    http_status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class SecretError(KfptError, LookupError):
    """A secret named by the configuration could not be read."""


class BindingError(KfptError, ValueError):
    """A binding expression could not be resolved against the event."""

    def __init__(self, message: str, *, param: str | None = None, expression: str | None = None) -> None:
        self.param = param
        self.expression = expression
        super().__init__(message)


class TemplateError(KfptError, ValueError):
    """A TriggerTemplate could not be rendered."""


class CelError(KfptError, ValueError):
    """A CEL expression could not be compiled or evaluated."""


class CelCompileError(CelError):
    """A CEL expression has a syntax or type error."""


class CelEvalError(CelError):
    """A CEL expression failed at evaluation time (missing key, no such overload, ...)."""


class InterceptorError(KfptError):
    """An interceptor could not be reached or gave an unusable answer."""

    retryable = True
