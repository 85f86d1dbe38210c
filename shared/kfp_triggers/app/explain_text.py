"""``events explain`` for people: the machine form of :mod:`kfp_triggers.app.explain` as text.

One line for the request, a block per trigger (its verdict, who decided it and why, the params, the
run), then the headers and the body decoded: pretty JSON or text, cut after :data:`BODY_LINES`
lines, never base64. Whatever the sender wrote has its control characters and bidirectional
overrides escaped, so a webhook cannot drive the terminal it is read on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from kfp_triggers.app.explain import VALUE_CHARS

BODY_LINES = 60
SEEN_VALUE_CHARS = 80
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def render_text(explained: Mapping[str, Any]) -> str:
    """The human form: the event, the request in a line, a block per trigger, headers, the body."""
    lines = [
        f"event {explained['eventID']} for listener {explained.get('listener') or '(unknown)'}, "
        f"received {when(explained.get('receivedAt')) or 'at an unrecorded time'}"
    ]
    if explained.get("claimedEventID"):
        lines.append(
            f"  (it claimed event id {explained['claimedEventID']}, which another request already "
            "held; it was journalled and processed as an event of its own)"
        )
    request = explained.get("request")
    lines.append(_request_line(request, explained.get("body")) if request else "request not journalled")
    outcome = explained.get("outcome")
    if isinstance(outcome, Mapping) and outcome.get("runs"):
        counts = ", ".join(f"{n} {word}" for word, n in (outcome.get("counts") or {}).items())
        lines.append(f"outcome: {outcome.get('outcome')} ({counts})")
    triggers = explained.get("triggers") or []
    if not triggers:
        lines += ["", "no trigger decisions journalled"]
    for trigger in triggers:
        lines += ["", *_trigger_lines(trigger)]
    headers = explained.get("headers") or {}
    if headers:
        lines += ["", "headers:"]
        lines += [f"  {name}: {clip(v, VALUE_CHARS)}" for name, values in headers.items() for v in values]
    if explained.get("body") is not None:
        lines += ["", *_body_lines(explained["body"])]
    return safe_lines(lines)


def safe_lines(lines: list[str]) -> str:
    """The lines as text, control characters escaped.

    Everything shown may come from whoever sent a request: it must not drive the terminal.
    """
    return "\n".join(_UNSAFE.sub(_escaped, line) for line in lines) + "\n"


def _escaped(match: re.Match[str]) -> str:
    """A control character shown as its escape (``\\x1b``, ``\\u202e``), not acted on."""
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _request_line(request: Mapping[str, Any], body: Mapping[str, Any] | None) -> str:
    """``GitHub push to owner/repo refs/heads/main at c0ffee1, delivery <id>``, or what is known of it."""
    sender = request.get("sender")
    what = " ".join(str(p) for p in (request.get("eventType"), request.get("action")) if p)
    if sender == "other":
        size = body.get("bytes") if body else None
        head = f"{request.get('method')} {request.get('url') or '/'} from an unrecognised sender"
        if size is not None:
            head += f", {size} bytes"
    else:
        head = f"{sender} {what}".rstrip() if what else f"{sender} request"
    if request.get("repository"):
        head += f" to {request['repository']}"
    if request.get("ref"):
        head += f" {request['ref']}"
    if request.get("commit"):
        head += f" at {str(request['commit'])[:7]}"
    if request.get("source"):
        head += f" from {request['source']}"
    delivery = request.get("deliveryID")
    return head + (f", delivery {delivery}" if delivery else ", no delivery id")


def _trigger_lines(t: Mapping[str, Any]) -> list[str]:
    """One trigger's block: its verdict and why, its interceptors, params, rendered run, launch, errors.

    The error or refusal told on the first line is not repeated below it.
    """
    name = str(t["name"]) + (f" (group {t['group']})" if t.get("group") else "")
    verdict = t["verdict"]
    errors = list(t.get("errors") or [])
    decided = t.get("decidedBy")
    if verdict == "rejected" and t.get("duplicateOf"):
        shown = next((e for e in errors if e["stage"] == "intercept"), None)
        if shown is not None:
            errors.remove(shown)
        head = f"[rejected] {name}: {shown['message'] if shown else 'a replay of ' + t['duplicateOf']}"
    elif verdict == "rejected":
        head = f"[rejected] {name} {_by(decided)}" if decided else f"[rejected] {name}"
    elif verdict == "error":
        shown = errors.pop(0)
        head = f"[error] {name} at {shown['stage']}: {shown['message']}"
    elif verdict == "not reached":
        head = f"[not reached] {name}: no interceptor decision journalled yet"
    else:
        head = f"[{verdict}] {name}"
    lines = [head]
    if decided and decided.get("values"):
        seen = ", ".join(f"{k} = {clip(_json(v), SEEN_VALUE_CHARS)}" for k, v in decided["values"].items())
        lines.append(f"  it saw {seen}")
    if t.get("interceptors"):
        lines.append("  interceptors: " + ", ".join(_interceptor_word(i) for i in t["interceptors"]))
    elif verdict != "not reached":
        lines.append("  interceptors: none")
    params = t.get("params")
    if params:
        lines.append("  params:")
        lines += [f"    {k} = {clip(plain(params[k]), VALUE_CHARS)}" for k in sorted(params)]
    for resource in t.get("resources") or []:
        lines += _resource_lines(resource)
    launch = t.get("launch")
    if launch:
        lines += _launch_lines(launch)
    elif verdict == "accepted":
        if params is None:
            lines.append("  not rendered yet (nothing journalled by render)")
        else:
            lines.append("  not launched yet (nothing journalled by launch)")
    lines += [f"  error at {e['stage']}: {e['message']}" for e in errors]
    return lines


def _by(decided: Mapping[str, Any]) -> str:
    """Who stopped the trigger and what it said; a CEL filter is named with its expression quoted."""
    who = f'"{decided["name"]}"'
    if decided.get("filter") is not None:
        who = "cel" if decided["name"] == "cel" else f"cel {who}"
        return f'by {who}: expression "{decided["filter"]}" did not return true'
    if decided["outcome"] == "failed":
        return f"by {who}, which failed: {decided['message']}"
    return f"by {who}: {decided.get('message') or '(no message)'}"


def _interceptor_word(item: Mapping[str, Any]) -> str:
    """One interceptor in a few words: ``ok`` (and extensions it added), ``stopped (code)``, ``failed``."""
    name = str(item.get("name"))
    if item.get("error") is not None:
        return f"{name} failed"
    if item.get("continue"):
        keys = sorted(item.get("extensions") or {})
        return f"{name} ok" + (f" (extensions {', '.join(keys)})" if keys else "")
    code = item.get("code")
    return f"{name} stopped ({code} {item.get('codeName')})" if code else f"{name} stopped"


def _resource_lines(resource: Mapping[str, Any]) -> list[str]:
    """A rendered resource: kind and name, pipeline and experiment, then its run parameters."""
    kind = resource.get("kind") or "resource"
    label = resource.get("displayName") or resource.get("name")
    head = f"  renders {kind}" + (f' "{label}"' if label else "")
    pipeline = resource.get("pipeline")
    extra = []
    if pipeline:
        extra.append(f"pipeline {pipeline if isinstance(pipeline, str) else _json(pipeline)}")
    if resource.get("experiment"):
        extra.append(f"experiment {resource['experiment']}")
    if extra:
        head += f" ({', '.join(extra)})"
    lines = [head]
    parameters = resource.get("parameters")
    if parameters:
        shown = ", ".join(f"{k}={clip(plain(v), SEEN_VALUE_CHARS)}" for k, v in parameters.items())
        lines.append(f"    parameters: {shown}")
    return lines


def _launch_lines(launch: Mapping[str, Any]) -> list[str]:
    """``run <id> on <backend>: <state> <link>``, when it was created and last changed, the group's note."""
    lines: list[str] = []
    if launch.get("runID"):
        head = f"  run {launch['runID']} on {launch.get('backend') or 'an unrecorded backend'}: "
        head += str(launch.get("state") or "state unknown")
        if launch.get("runURL"):
            head += f" {launch['runURL']}"
        lines.append(head)
        created, updated = when(launch.get("createdAt")), when(launch.get("updatedAt"))
        if created:
            since = f", {launch.get('state')} since {updated}" if updated and updated != created else ""
            lines.append(f"    created {created}{since}")
    elif not launch.get("error"):
        lines.append("  not launched")
    if launch.get("note"):
        lines.append(f"    note: {launch['note']}" if launch.get("runID") else f"    {launch['note']}")
    return lines


def _body_lines(body: Mapping[str, Any]) -> list[str]:
    """The body pretty-printed (JSON) or as text, cut after :data:`BODY_LINES`; never as base64."""
    described = ", ".join(
        p
        for p in (body.get("contentType"), f"{body['bytes']} bytes" if body.get("bytes") is not None else "")
        if p
    )
    head = f"body ({described})" if described else "body"
    if "omitted" in body:
        omitted = body["omitted"]
        digest = f", sha256 {omitted['sha256']}" if omitted.get("sha256") else ""
        reason = omitted.get("reason") or "too large for the journal"
        return [f"{head}: not journalled ({reason}{digest})"]
    if "base64" in body:
        return [f"{head}: not UTF-8 text, not shown (--output json has it, base64-encoded)"]
    if "json" in body:
        text = json.dumps(body["json"], indent=2, ensure_ascii=False)
    else:
        text = str(body.get("text") or "")
    if not text:
        return [f"{head}: empty"]
    rows = text.splitlines()
    shown = [f"  {row}" for row in rows[:BODY_LINES]]
    if len(rows) > BODY_LINES:
        shown.append(f"  ... {len(rows) - BODY_LINES} more lines")
    return [f"{head}:", *shown]


def when(value: object) -> str | None:
    """An RFC 3339 time as ``YYYY-MM-DD HH:MM:SS UTC``."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _json(value: object) -> str:
    """A value as JSON on one line, non-ASCII kept readable."""
    return json.dumps(value, ensure_ascii=False)


def plain(value: object) -> str:
    """A value on one line: strings as they are (line ends escaped), anything else as JSON."""
    text = value if isinstance(value, str) else _json(value)
    return text.replace("\r", "\\r").replace("\n", "\\n")


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, the cut marked with ``...``."""
    return text if len(text) <= limit else text[: limit - 3] + "..."
