"""How the dashboard shows values: times, bodies, commits and links, as Jinja filters.

Everything here returns plain text; Jinja escapes it when the page is rendered, so a value a sender
wrote can never become markup. A body is shown the way ``events explain`` decodes it (pretty JSON
or text), never as base64: a body that is not UTF-8 is described, not shown.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

BODY_CHARS = 256 * 1024
"""Characters of a decoded body one page shows; the rest is cut with a note saying how much."""


def when(value: object) -> str:
    """An RFC 3339 time as ``2026-12-01 12:00:05 UTC``; anything else as it is, or empty."""
    if not isinstance(value, str) or not value:
        return ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def short(value: object, length: int = 12) -> str:
    """A long id or commit sha cut to ``length`` characters, for tables."""
    text = "" if value is None else str(value)
    return text if len(text) <= length else text[:length] + "…"


def pretty(value: object) -> str:
    """A JSON value as indented JSON text, non-ASCII characters kept."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)


def body_text(body: Mapping[str, Any] | None) -> str:
    """The decoded body of :func:`kfp_triggers.app.explain.explain`'s ``body`` entry, for a ``<pre>``."""
    if not body:
        return "(no body journalled)"
    omitted = body.get("omitted")
    if isinstance(omitted, Mapping):
        size = body.get("bytes") or omitted.get("bytes")
        reason = omitted.get("reason") or "too large for the journal"
        return f"(body not in the journal: {size if size is not None else 'unknown'} bytes; {reason})"
    if "json" in body:
        text = pretty(body["json"])
    elif "text" in body:
        text = str(body["text"])
    else:
        return f"(binary body of {body.get('bytes')} bytes, not UTF-8 text: not shown)"
    if not text:
        return "(empty body)"
    if len(text) > BODY_CHARS:
        return f"{text[:BODY_CHARS]}\n… {len(text) - BODY_CHARS} more characters not shown"
    return text


def web_link(url: object) -> str | None:
    """``url`` when it is an absolute http(s) link, else ``None`` (never a ``javascript:`` href)."""
    if not isinstance(url, str):
        return None
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else None


FILTERS = {"when": when, "short": short, "pretty": pretty, "body_text": body_text, "web_link": web_link}
"""The filters the templates use, by name."""
