"""Time as the store writes it: aware UTC datetimes, RFC 3339 text with microseconds."""

from __future__ import annotations

import re
from datetime import UTC, datetime


def utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime (a naive datetime is taken to be UTC already)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_time(moment: datetime) -> str:
    """RFC 3339 text with microseconds and ``Z``: sortable as text, exact on a round trip."""
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    """Parse RFC 3339 text such as Firestore returns (up to nanoseconds; no offset means UTC)."""
    match = _RFC3339.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    base, fraction, offset = match.groups()
    micros = (fraction or "")[:6].ljust(6, "0")
    if offset in (None, "Z", "z"):
        offset = "+00:00"
    return utc(datetime.fromisoformat(f"{base}.{micros}{offset}"))


_RFC3339 = re.compile(r"(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})?")
