"""``kfp-triggers lineage``: from any link of the chain to the whole chain.

commit and sender -> event -> trigger -> run -> artifacts. The entry point may be an event id, a
run id, a commit sha (4 to 40 hex digits, matched as a prefix of a run's *verified* commit) or an
artifact URI a run produced. The commit a run is linked to is the one its origin verified (a
GitHub signature over the body); what the journalled request says is shown beside it as the
request's own claim (``request``), never in its place.

Runs are read from the newest :data:`RUNS_SCANNED` for the commit and artifact searches: the store
keeps no index on them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kfp_triggers.adapters.store.base import RunRecord, Store
from kfp_triggers.app.explain import explain
from kfp_triggers.errors import InvalidRequestError

RUNS_SCANNED = 2000
_SHA = re.compile(r"[0-9a-f]{4,64}")


def lineage(store: Store, ref: str) -> dict[str, Any]:
    """Every chain ``ref`` belongs to, and what ``ref`` was found as.

    Raises:
        InvalidRequestError: nothing in the store matches ``ref``.
    """
    ref = ref.strip()
    found_as, runs, events = _resolve(store, ref)
    if not found_as:
        raise InvalidRequestError(
            f"{ref!r} is no event id, run id, commit of a run or artifact URI in the store"
        )
    chains = [_chain(store, run.event_id, run) for run in runs]
    linked = {run.event_id for run in runs}
    chains += [_chain(store, event_id, None) for event_id in events if event_id not in linked]
    return {"query": ref, "foundAs": found_as, "chains": chains}


def _resolve(store: Store, ref: str) -> tuple[str, list[RunRecord], list[str]]:
    """What ``ref`` is, the runs it names, and the events it names that launched no run."""
    run = store.get_run(ref)
    if run is not None:
        return "run", [run], []
    record = store.get_event(ref)
    if record is not None:
        runs = [r for t in record.triggers if t.run_id for r in [store.get_run(t.run_id)] if r is not None]
        return "event", runs, [ref]
    recent = store.list_runs(RUNS_SCANNED)
    if _SHA.fullmatch(ref.lower()):
        by_commit = [r for r in recent if (_commit(r) or {}).get("sha", "").startswith(ref.lower())]
        if by_commit:
            return "commit", by_commit, []
    by_artifact = [r for r in recent if any(o.get("uri") == ref for o in _outputs(r))]
    if by_artifact:
        return "artifact", by_artifact, []
    return "", [], []


def _chain(store: Store, event_id: str, run: RunRecord | None) -> dict[str, Any]:
    record = store.get_event(event_id)
    told = explain(record) if record is not None else None
    request = (told or {}).get("request") or {}
    commit = _commit(run) if run is not None else None
    chain: dict[str, Any] = {
        "commit": commit,
        "request": {
            k: request.get(k) for k in ("sender", "eventType", "deliveryID", "repository", "ref", "commit")
        }
        if told
        else None,
        "event": {
            "eventID": event_id,
            "listener": record.listener if record is not None else None,
            "receivedAt": (told or {}).get("receivedAt"),
            "journalled": record is not None,
        },
        "trigger": run.trigger if run is not None else None,
        "run": None,
        "artifacts": [],
    }
    if run is not None:
        chain["run"] = {
            "runID": run.run_id,
            "backend": run.backend,
            "state": run.state,
            "runURL": run.run_url,
            "createdAt": run.to_json()["createdAt"],
        }
        chain["artifacts"] = [o for o in _outputs(run) if "uri" in o or "artifactId" in o]
    elif told:
        chain["triggers"] = [
            {"trigger": t.get("name"), "verdict": t.get("verdict")} for t in told.get("triggers") or []
        ]
    return chain


def _commit(run: RunRecord) -> dict[str, str] | None:
    """The commit a run's origin verified, as ``{repository, sha, verifiedBy}``."""
    origin = run.details.get("origin")
    github = origin.get("github") if isinstance(origin, Mapping) else None
    if (
        not isinstance(github, Mapping)
        or not isinstance(origin, Mapping)
        or origin.get("verifiedBy") != "github"
    ):
        return None
    return {
        "repository": f"{github.get('owner')}/{github.get('repo')}",
        "sha": str(github.get("sha") or ""),
        "verifiedBy": "github",
    }


def _outputs(run: RunRecord) -> list[dict[str, Any]]:
    outputs = run.details.get("outputs")
    return [o for o in outputs if isinstance(o, dict)] if isinstance(outputs, list) else []


def render_lineage(found: Mapping[str, Any]) -> str:
    """The readable form: one block per chain, from the commit to the artifacts."""
    from kfp_triggers.app.explain_text import clip, plain, safe_lines, when

    lines = [
        f"{found['query']} is {'an' if found['foundAs'] in ('event', 'artifact') else 'a'} {found['foundAs']}"
    ]
    for chain in found["chains"]:
        lines.append("")
        commit, request, event = chain.get("commit"), chain.get("request") or {}, chain["event"]
        if commit:
            lines.append(
                f"commit   {commit['repository']}@{commit['sha']} (verified by {commit['verifiedBy']})"
            )
        elif request.get("commit"):
            claimed = f"{request.get('repository')}@{request['commit']}"
            lines.append(f"commit   {claimed} (claimed by the request, unverified)")
        if request.get("sender"):
            delivery = f", delivery {request['deliveryID']}" if request.get("deliveryID") else ""
            lines.append(f"sender   {request['sender']} {request.get('eventType') or ''}{delivery}".rstrip())
        received = when(event.get("receivedAt"))
        lines.append(
            f"event    {event['eventID']} for {event.get('listener') or '?'}"
            + (f", received {received}" if received else "")
            + ("" if event.get("journalled") else " (no longer in the journal)")
        )
        if chain.get("trigger"):
            lines.append(f"trigger  {chain['trigger']}")
        for trigger in chain.get("triggers") or []:
            lines.append(f"trigger  {trigger['trigger']}: {trigger['verdict']} (no run)")
        run = chain.get("run")
        if run:
            link = f" {run['runURL']}" if run.get("runURL") else ""
            lines.append(f"run      {run['runID']} on {run['backend']}: {run['state']}{link}")
        for artifact in chain.get("artifacts") or []:
            where = artifact.get("uri") or f"artifact {artifact.get('artifactId')}"
            kind = f" ({artifact['type']})" if artifact.get("type") else ""
            lines.append(f"artifact {artifact['task']}/{artifact['name']}{kind}: {clip(plain(where), 200)}")
    return safe_lines(lines)
