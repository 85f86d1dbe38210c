"""``runs show`` for people: one run, where it came from, where it is, what it produced."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kfp_triggers.app.explain import VALUE_CHARS
from kfp_triggers.app.explain_text import clip, plain, safe_lines, when

PROVENANCE = (
    ("kfp-triggers.dev/repository", "repository"),
    ("kfp-triggers.dev/commit", "commit"),
    ("kfp-triggers.dev/verified-by", "verified by"),
)


def render_run(run: Mapping[str, Any]) -> str:
    """The readable form of a run's JSON (:meth:`RunRecord.to_json`)."""
    details = _mapping(run.get("details"))
    lines = [
        f"run {run.get('runID')} on {run.get('backend')}: {run.get('state')}",
        f"  trigger {run.get('trigger')} of listener {run.get('listener')}, event {run.get('eventID')}",
        f"  created {when(run.get('createdAt')) or '?'}, last change {when(run.get('updatedAt')) or '?'}",
    ]
    if run.get("runURL"):
        lines.append(f"  link {run['runURL']}")
    if details.get("displayName"):
        lines.append(f"  name {plain(details['displayName'])}")
    if details.get("concurrencyGroup"):
        lines.append(f"  concurrency group {details['concurrencyGroup']}")
    origin = _mapping(details.get("origin"))
    github = _mapping(origin.get("github"))
    if github:
        lines.append(
            f"  from {github.get('owner')}/{github.get('repo')} commit {github.get('sha')}"
            f" (verified by {origin.get('verifiedBy')})"
        )
    elif origin.get("verifiedBy"):
        lines.append(f"  sender verified by {origin['verifiedBy']}")
    outputs = details.get("outputs")
    outputs = outputs if isinstance(outputs, list) else []
    if outputs:
        lines.append("  outputs:")
        for output in outputs:
            if not isinstance(output, Mapping):
                continue
            name = f"{output.get('task')}/{output.get('name')}"
            if "uri" in output or "artifactId" in output:
                kind = f" ({output['type']})" if output.get("type") else ""
                where = output.get("uri") or f"artifact {output.get('artifactId')}"
                lines.append(f"    {name}{kind}: {clip(plain(where), VALUE_CHARS)}")
            else:
                lines.append(f"    {name} = {clip(plain(output.get('value')), VALUE_CHARS)}")
    if run.get("idempotencyKey"):
        lines.append(f"  idempotency key {run['idempotencyKey']}")
    return safe_lines(lines)


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
