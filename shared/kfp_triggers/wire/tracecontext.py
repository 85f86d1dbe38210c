"""W3C Trace Context ``traceparent`` values, as every inter-stage event carries one.

A ``traceparent`` is ``<version>-<trace-id>-<parent-id>-<trace-flags>`` in lower-case hex
(https://www.w3.org/TR/trace-context/#traceparent-header). Each stage hop is a child span: it
keeps the trace id and the flags of its parent and gets a fresh span (parent) id, so one webhook
can be followed through ingest, intercept, render, launch and status in any tracing backend.

Parsing follows the specification's rules: version ``ff`` is invalid; version ``00`` has exactly
four fields; a higher version may append further ``-``-separated fields, which are ignored; an
all-zero trace id or parent id is invalid. We always write version ``00``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from kfp_triggers.errors import InvalidRequestError

_FIELDS = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16
SAMPLED = 0x01
_KNOWN_FLAGS = 0x03  # sampled, and "random" from Trace Context level 2; other bits are reset when writing


@dataclass(frozen=True)
class TraceParent:
    """A parsed ``traceparent``: trace id, parent (span) id and flags, all lower-case hex."""

    trace_id: str
    parent_id: str
    flags: str = "01"

    @property
    def sampled(self) -> bool:
        """Whether the caller recorded this trace (bit 0 of the flags)."""
        return bool(int(self.flags, 16) & SAMPLED)

    def __str__(self) -> str:
        return f"00-{self.trace_id}-{self.parent_id}-{self.flags}"


def parse_traceparent(value: str) -> TraceParent:
    """Parse and validate a ``traceparent`` value.

    Raises:
        InvalidRequestError: the value breaks the W3C format (wrong field lengths or case,
            version ``ff``, extra fields on version ``00``, an all-zero trace or parent id).
    """
    match = _FIELDS.match(value.strip(" \t"))
    if match is None:
        raise InvalidRequestError(
            f"invalid traceparent {value!r}: expected 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>"
        )
    version, trace_id, parent_id, flags, rest = match.groups()
    if version == "ff":
        raise InvalidRequestError(f"invalid traceparent {value!r}: version ff is forbidden")
    if version == "00" and rest is not None:
        raise InvalidRequestError(f"invalid traceparent {value!r}: version 00 has exactly four fields")
    if trace_id == _ZERO_TRACE:
        raise InvalidRequestError(f"invalid traceparent {value!r}: the trace id is all zeros")
    if parent_id == _ZERO_SPAN:
        raise InvalidRequestError(f"invalid traceparent {value!r}: the parent id is all zeros")
    return TraceParent(trace_id=trace_id, parent_id=parent_id, flags=flags)


def is_valid_traceparent(value: str | None) -> bool:
    """Tell whether ``value`` is a well-formed ``traceparent`` (``None`` is not)."""
    if value is None:
        return False
    try:
        parse_traceparent(value)
    except InvalidRequestError:
        return False
    return True


def _random_hex(n_bytes: int) -> str:
    while True:
        value = os.urandom(n_bytes).hex()
        if value.strip("0"):  # all-zero ids are invalid; astronomically rare, but never emit one
            return value


def new_traceparent(*, sampled: bool = True) -> str:
    """Start a new trace: a random trace id and span id, version ``00``."""
    flags = "01" if sampled else "00"
    return str(TraceParent(trace_id=_random_hex(16), parent_id=_random_hex(8), flags=flags))


def child_traceparent(parent: str | None) -> str:
    """Return the ``traceparent`` of a child span of ``parent``.

    The child keeps the trace id and the known flags and gets a new span id. When ``parent`` is
    missing or invalid a new trace is started, as the W3C specification tells a receiver to do.
    """
    if parent is None or not is_valid_traceparent(parent):
        return new_traceparent()
    parsed = parse_traceparent(parent)
    flags = f"{int(parsed.flags, 16) & _KNOWN_FLAGS:02x}"
    return str(TraceParent(trace_id=parsed.trace_id, parent_id=_random_hex(8), flags=flags))
