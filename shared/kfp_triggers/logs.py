"""Logging for deployed functions: one JSON line per record, as Cloud Logging reads it.

functions-framework leaves logging alone, so in a Cloud Run function or a Knative Service our
INFO lines would be dropped and warnings written as bare text. :func:`configure` (called when a
stage first builds its context) writes each record of the ``kfp_triggers`` loggers as a JSON
object on stdout with Cloud Logging's special fields: ``severity``, ``message`` (with the
traceback, so Error Reporting picks it up), and ``logging.googleapis.com/trace`` / ``spanId`` /
``trace_sampled`` from the W3C ``traceparent`` the event carries, so every line of one webhook's
journey through the five stages is found under one trace. :func:`log_context` adds the eventID and
the stage to every line written while it is active.

Settings: ``KFPT_LOG_FORMAT`` (``json``, or ``text`` for people; default ``json`` when
``K_SERVICE`` says we run on Cloud Run or Knative, else ``text``) and ``KFPT_LOG_LEVEL``
(default ``INFO``).

JSON lines go through a handler on the ``kfp_triggers`` logger itself, which does not pass its
records on to the root logger: whatever the process set up at the root (functions-framework installs
a root handler when ``LOG_EXECUTION_ID`` is set, a platform may install its own), our lines keep
their severity, trace and eventID, written once. With ``LOG_EXECUTION_ID`` they are written through
functions-framework's execution-id stream, which adds the ``execution_id`` label to each. Text lines
for people go to the root logger, and only when nothing is set up there yet (a test runner, say).
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TextIO, cast

from kfp_triggers.errors import SettingError

_CONTEXT: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "kfpt_log_context", default=MappingProxyType({})
)
_SEVERITY = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARNING",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "CRITICAL",
}
_TRACE = "logging.googleapis.com/trace"
_SPAN = "logging.googleapis.com/spanId"
_SAMPLED = "logging.googleapis.com/trace_sampled"
ENGINE_LOGGER = "kfp_triggers"
RECORD_FIELDS = "kfpt_fields"
"""A record attribute (``extra={"kfpt_fields": {...}}``) whose fields the JSON line carries."""
_TRUTHY = ("y", "yes", "t", "true", "on", "1")
"""The values functions-framework reads as ``LOG_EXECUTION_ID`` on."""


class log_context:  # noqa: N801 - used like a function: ``with log_context(eventID=...):``
    """Add ``fields`` (``eventID``, ``stage``, ``traceparent``, ...) to every record written inside.

    A plain class rather than a generator: ingest enters one per webhook.
    """

    __slots__ = ("_fields", "_token")

    def __init__(self, **fields: str | None) -> None:
        self._fields = fields
        self._token: contextvars.Token[Mapping[str, str]] | None = None

    def __enter__(self) -> None:
        current = _CONTEXT.get()
        added = {k: v for k, v in self._fields.items() if v}
        self._token = _CONTEXT.set({**current, **added} if current else added)

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _CONTEXT.reset(self._token)


class CloudLoggingFormatter(logging.Formatter):
    """A record as one JSON object with Cloud Logging's special fields."""

    def __init__(self, project: str | None = None) -> None:
        super().__init__()
        self.project = project

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message = f"{message}\n{self.formatException(record.exc_info)}"
        entry: dict[str, object] = {
            "severity": _SEVERITY.get(record.levelno, "DEFAULT"),
            "message": message,
            "time": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "logger": record.name,
        }
        context = dict(_CONTEXT.get())
        traceparent = context.pop("traceparent", None)
        entry.update(context)
        fields = getattr(record, RECORD_FIELDS, None)
        if isinstance(fields, Mapping):
            entry.update(fields)
        if traceparent:
            entry.update(self._trace_fields(traceparent))
        return json.dumps(entry, ensure_ascii=False, default=str)

    def _trace_fields(self, traceparent: str) -> dict[str, object]:
        from kfp_triggers.wire.tracecontext import is_valid_traceparent, parse_traceparent

        if not is_valid_traceparent(traceparent):
            return {}
        parsed = parse_traceparent(traceparent)
        trace = f"projects/{self.project}/traces/{parsed.trace_id}" if self.project else parsed.trace_id
        return {_TRACE: trace, _SPAN: parsed.parent_id, _SAMPLED: parsed.sampled}


def configure(environ: Mapping[str, str]) -> logging.Handler | None:
    """Install the handler the settings ask for; returns it (``None``: text, and the root is set up).

    Raises:
        SettingError: ``KFPT_LOG_FORMAT`` or ``KFPT_LOG_LEVEL`` is not a known value.
    """
    kind = (environ.get("KFPT_LOG_FORMAT") or ("json" if environ.get("K_SERVICE") else "text")).lower()
    if kind not in ("json", "text"):
        raise SettingError(f"KFPT_LOG_FORMAT must be 'json' or 'text', not {kind!r}")
    level_name = (environ.get("KFPT_LOG_LEVEL") or "INFO").upper()
    level = logging.getLevelName(level_name)
    if not isinstance(level, int):
        raise SettingError(f"KFPT_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {level_name!r}")
    if kind == "json":
        return _json_handler(environ, level)
    root = logging.getLogger()
    if root.handlers:
        return None
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    # Only our loggers go down to the level asked for; other libraries keep the root's WARNING.
    logging.getLogger(ENGINE_LOGGER).setLevel(level)
    return handler


def _json_handler(environ: Mapping[str, str], level: int) -> logging.Handler:
    """Our JSON handler on the engine's logger (installed once), records kept from the root's handlers."""
    engine = logging.getLogger(ENGINE_LOGGER)
    engine.setLevel(level)
    for existing in engine.handlers:
        if isinstance(existing.formatter, CloudLoggingFormatter):
            return existing
    handler = logging.StreamHandler(_stream(environ))
    project = environ.get("KFPT_PUBSUB_PROJECT") or environ.get("GOOGLE_CLOUD_PROJECT") or None
    handler.setFormatter(CloudLoggingFormatter(project))
    engine.addHandler(handler)
    engine.propagate = False  # the root's handlers would write each record a second time
    return handler


def _stream(environ: Mapping[str, str]) -> TextIO:
    """stdout, or functions-framework's execution-id stream when it labels lines with execution ids."""
    if environ.get("LOG_EXECUTION_ID") not in _TRUTHY:
        return sys.stdout
    try:
        from functions_framework.execution_id import logging_stream
    except ImportError:  # not under functions-framework: nothing adds execution ids
        return sys.stdout
    # A proxy to the current request's stream, the one functions-framework's own handler writes to.
    return cast(TextIO, logging_stream)
