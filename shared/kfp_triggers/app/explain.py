"""``events explain``: one journalled event told for people, and the same account for machines.

``events show`` prints the journal as it is stored (the request's body in base64, each
interceptor's raw response). Explaining reads the same record and says what it means: who sent
what (sender, event type, delivery id, repository, ref and commit), what each trigger decided and
which interceptor decided it (a CEL filter's expression and the values its body paths held), the
params it bound, the run it rendered, what became of the run, and every error with the stage that
met it.

Only what the journal and the run records hold is reported. A redelivery of the same webhook is
not journalled again (the journal keeps one record per eventID), so it leaves no trace to show;
what is shown is what the journal does record about duplicates: a signed body refused as a replay
of an earlier event, a request journalled under an id of its own because another request held its
eventID, and the concurrency group's note on a launch. The request's credential headers are
journalled already redacted and are redacted once more here.

:func:`explain` builds the machine form (camelCase keys, stable names);
:func:`kfp_triggers.app.explain_text.render_text` turns it into the human form.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from kfp_triggers.adapters.store.base import EventRecord, RunRecord, TriggerRecord
from kfp_triggers.tekton.formbody import form_as_json_body
from kfp_triggers.tekton.headers import first, without_credentials
from kfp_triggers.tekton.interceptor_protocol import StatusCode

"""Lines of the body the human form shows before it says how many more there are."""
VALUE_CHARS = 200
"""Characters of one param or header value the human form shows."""
"""Characters of one value a CEL filter saw, as the human form shows it."""
SEEN_PATHS = 8
"""At most this many of a CEL filter's paths are looked up."""

_CEL_FILTER = re.compile(r"\Aexpression (?P<expression>.*) did not return true\Z", re.DOTALL)
"""Tekton's message for a CEL filter that did not evaluate to ``true``."""
_REPLAY = re.compile(r"first delivered as event (?P<event>\S+)")
"""How intercept words the refusal of a signed body already delivered under another eventID."""
_PATH = re.compile(
    r"(?<![\w.])(?P<root>body|extensions)(?P<path>(?:\.[A-Za-z_][A-Za-z0-9_]*)+)(?P<call>\s*\()?"
)
_HEADER = re.compile(
    r"(?<![\w.])header(?P<how>\.canonical\(|\.match\(|\[)\s*(?P<q>['\"])(?P<name>[^'\"]+)(?P=q)"
)
_STAGES = ("intercept", "render", "launch")
"""Characters a terminal would act on (escape sequences, bidirectional overrides), not show."""


def explain(record: EventRecord, runs: Mapping[str, RunRecord] | None = None) -> dict[str, Any]:
    """The machine form of one event's account.

    ``runs`` maps run ids to their records (state, link, times); without it a run is described by
    what the journal holds (its id, backend and last state).
    """
    request = record.request or {}
    headers = _headers(request.get("headers"))
    body = _body(request, headers)
    document = _document(body)
    claimed, _, _ = record.event_id.partition("~")
    return {
        "eventID": record.event_id,
        # "~" never appears in a sender's id: it marks a request journalled under an id of its own
        # because another request (another body or listener) already held the id it claimed.
        "claimedEventID": claimed if "~" in record.event_id else None,
        "listener": record.listener,
        "receivedAt": _iso(record.received_at),
        "configVersion": record.config_version,
        "request": _summary(request, headers, document) if record.request is not None else None,
        "headers": headers,
        "body": body if record.request is not None else None,
        "triggers": [
            _trigger(t, (runs or {}).get(t.run_id or ""), document, headers) for t in record.triggers
        ],
    }


# -- the request ------------------------------------------------------------------------------


def _headers(raw: object) -> dict[str, list[str]]:
    """The journalled headers, credential values redacted (again: older journals may hold them)."""
    if not isinstance(raw, Mapping):
        return {}
    clean = {str(k): [str(v) for v in vs] for k, vs in raw.items() if isinstance(vs, list)}
    return without_credentials(clean)


def _body(request: Mapping[str, Any], headers: Mapping[str, list[str]]) -> dict[str, Any]:
    """The body decoded: ``json`` (a JSON value), ``text``, ``base64`` (not UTF-8) or ``omitted``."""
    content_type = first(headers, "Content-Type") or None
    omitted = request.get("bodyOmitted")
    if isinstance(omitted, Mapping):
        return {"contentType": content_type, "bytes": omitted.get("bytes"), "omitted": dict(omitted)}
    stored = request.get("bodyRef")
    if isinstance(stored, Mapping):
        reason = "kept in the body store (over KFPT_CLAIM_CHECK_BYTES); replay fetches it from there"
        return {
            "contentType": content_type,
            "bytes": stored.get("bytes"),
            "omitted": {**stored, "reason": reason},
        }
    encoded = request.get("bodyBase64")
    try:
        raw = base64.b64decode(str(encoded or ""), validate=True)
    except (binascii.Error, ValueError):
        return {"contentType": content_type, "bytes": None, "omitted": {"reason": "not valid base64"}}
    out: dict[str, Any] = {"contentType": content_type, "bytes": len(raw)}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        out["base64"] = base64.b64encode(raw).decode("ascii")
        return out
    stripped = text.strip()
    if stripped[:1] in ("{", "[") or "json" in (content_type or "").lower():
        try:
            out["json"] = json.loads(text)
            return out
        except ValueError:
            pass
    out["text"] = text
    return out


def _document(body: Mapping[str, Any]) -> dict[str, Any] | None:
    """The body as an object to read fields from: JSON, or a form as Tekton turns it into JSON."""
    value = body.get("json")
    if isinstance(value, dict):
        return value
    text = body.get("text")
    if isinstance(text, str):
        form = form_as_json_body(str(body.get("contentType") or ""), text.encode("utf-8"))
        if form is not None:
            return dict(form)
    return None


def _summary(
    request: Mapping[str, Any], headers: Mapping[str, list[str]], doc: Mapping[str, Any] | None
) -> dict[str, Any]:
    """One line's worth of the request: sender, event type, delivery id, repository, ref, commit."""
    out: dict[str, Any] = {
        "method": request.get("method"),
        "url": request.get("url"),
        "sender": "other",
        "eventType": None,
        "action": _text(doc, "action"),
        "deliveryID": first(headers, "Idempotency-Key") or None,
        "source": None,
        "repository": None,
        "ref": None,
        "commit": None,
    }
    doc = doc or {}
    if request.get("method") == "DISPATCH":  # journalled by `dispatch` or `rerun`, not received
        rerun_of = first(headers, "Kfpt-Rerun-Of")
        out.update(sender="manual", eventType="rerun" if rerun_of else "dispatch")
        out["source"] = first(headers, "Kfpt-Dispatched-By") + (
            f", rerun of run {rerun_of}" if rerun_of else ""
        )
    elif first(headers, "X-Github-Event"):
        out.update(sender="GitHub", eventType=first(headers, "X-Github-Event"))
        out["deliveryID"] = first(headers, "X-Github-Delivery") or None
        pull = doc.get("pull_request") if isinstance(doc.get("pull_request"), dict) else None
        out["repository"] = _text(doc, "repository", "full_name")
        out["ref"] = _text(pull, "head", "ref") if pull else _text(doc, "ref")
        out["commit"] = (
            _text(pull, "head", "sha") if pull else _text(doc, "after") or _text(doc, "head_commit", "id")
        )
    elif first(headers, "X-Gitlab-Event"):
        out.update(sender="GitLab", eventType=first(headers, "X-Gitlab-Event"))
        out["deliveryID"] = first(headers, "Idempotency-Key") or first(headers, "X-Gitlab-Event-Uuid") or None
        attributes = doc.get("object_attributes") if isinstance(doc.get("object_attributes"), dict) else {}
        out["repository"] = _text(doc, "project", "path_with_namespace")
        out["ref"] = _text(doc, "ref") or _text(attributes, "source_branch") or _text(attributes, "ref")
        out["commit"] = (
            _text(doc, "checkout_sha")
            or _text(doc, "after")
            or _text(attributes, "last_commit", "id")
            or _text(attributes, "sha")
        )
        out["action"] = out["action"] or _text(attributes, "action")
    elif first(headers, "X-Event-Key"):
        out.update(sender="Bitbucket", eventType=first(headers, "X-Event-Key"))
        out["deliveryID"] = first(headers, "X-Request-Uuid") or first(headers, "X-Request-Id") or None
        out.update(_bitbucket(doc))
    elif first(headers, "Ce-Type") or first(headers, "Ce-Id"):
        out.update(sender="CloudEvent", eventType=first(headers, "Ce-Type") or None)
        out["deliveryID"] = first(headers, "Ce-Id") or None
        out["source"] = first(headers, "Ce-Source") or None
    elif first(headers, "Content-Type").lower().startswith("application/cloudevents+json"):
        out.update(sender="CloudEvent", eventType=_text(doc, "type"))
        out["deliveryID"], out["source"] = _text(doc, "id"), _text(doc, "source")
    elif first(headers, "X-Slack-Signature") or first(headers, "X-Slack-Request-Timestamp"):
        out["sender"] = "Slack"
        out["eventType"] = _slack_type(doc)
    return out


def _bitbucket(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Repository, ref and commit of a Bitbucket Cloud or Server/Data Center push."""
    repository = _text(doc, "repository", "full_name")
    if repository is None:
        key, slug = _text(doc, "repository", "project", "key"), _text(doc, "repository", "slug")
        repository = f"{key}/{slug}" if key and slug else slug
    ref = commit = None
    push = doc.get("push")
    changes = push.get("changes") if isinstance(push, dict) else doc.get("changes")
    change = changes[0] if isinstance(changes, list) and changes and isinstance(changes[0], dict) else {}
    new = change.get("new") if isinstance(change.get("new"), dict) else None
    if new is not None:  # Cloud
        ref, commit = _text(new, "name"), _text(new, "target", "hash")
    else:  # Server / Data Center
        ref, commit = _text(change, "refId"), _text(change, "toHash")
    return {"repository": repository, "ref": ref, "commit": commit}


def _slack_type(doc: Mapping[str, Any]) -> str | None:
    """A slash command's name, or an Events API event's type."""
    command = doc.get("command")
    if isinstance(command, list) and command and isinstance(command[0], str):
        return command[0]
    event = _text(doc, "event", "type")
    return event or _text(doc, "type")


def _text(doc: Mapping[str, Any] | None, *path: str) -> str | None:
    """The string at ``path`` in ``doc``, or ``None``."""
    value: Any = doc
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value if isinstance(value, str) and value else None


# -- the triggers -----------------------------------------------------------------------------


def _trigger(
    t: TriggerRecord, run: RunRecord | None, doc: Mapping[str, Any] | None, headers: Mapping[str, list[str]]
) -> dict[str, Any]:
    interceptors = [_interceptor(d) for d in t.decisions if isinstance(d, Mapping)]
    errors = [
        {"stage": stage, "message": message}
        for stage, message in zip(_STAGES, (t.decision_error, t.render_error, t.launch_error), strict=True)
        if message
    ]
    replay = _REPLAY.search(t.decision_error or "") if t.decision_error else None
    decided_by = _decided_by(interceptors, t, doc, headers)
    if not t.decided:
        verdict = "not reached"
    elif replay is not None and not t.render_error and not t.launch_error:
        verdict = "rejected"
    elif errors:
        verdict = "error"
    else:
        verdict = "accepted" if t.accepted else "rejected"
    return {
        "name": t.trigger,
        "group": t.group,
        "verdict": verdict,
        "decidedBy": decided_by,
        "duplicateOf": replay.group("event") if replay is not None else None,
        "interceptors": interceptors,
        "extensions": t.extensions,
        "params": t.params if t.rendered and not t.render_error else None,
        "resources": [_resource(r) for r in t.resources or [] if isinstance(r, Mapping)] or None,
        "idempotencyKey": t.idempotency_key,
        "launch": _launch(t, run),
        "errors": errors,
    }


def _interceptor(decision: Mapping[str, Any]) -> dict[str, Any]:
    """One journalled decision, its InterceptorResponse flattened (or the error that replaced it)."""
    response = decision.get("response")
    status = response.get("status") if isinstance(response, Mapping) else None
    code = status.get("code", 0) if isinstance(status, Mapping) else None
    return {
        "name": decision.get("name"),
        "continue": bool(response.get("continue")) if isinstance(response, Mapping) else None,
        "code": code,
        "codeName": _code_name(code),
        "message": (status.get("message") or None) if isinstance(status, Mapping) else None,
        "extensions": (response.get("extensions") or None) if isinstance(response, Mapping) else None,
        "error": decision.get("error"),
    }


def _code_name(code: object) -> str | None:
    """The gRPC name of a status code (``FAILED_PRECONDITION`` for 9), for readers without the table."""
    if isinstance(code, int) and not isinstance(code, bool) and 0 <= code <= 16:
        return StatusCode(code).name
    return None


def _decided_by(
    interceptors: Sequence[Mapping[str, Any]],
    t: TriggerRecord,
    doc: Mapping[str, Any] | None,
    headers: Mapping[str, list[str]],
) -> dict[str, Any] | None:
    """The interceptor that stopped the chain (``continue: false``) or failed, with what it said."""
    for item in interceptors:
        failed = item["error"] is not None
        if not failed and item["continue"] is not False:
            continue
        message = item["error"] if failed else item["message"]
        match = _CEL_FILTER.match(message or "") if not failed else None
        expression = match.group("expression") if match else None
        return {
            "name": item["name"],
            "outcome": "failed" if failed else "stopped",
            "code": item["code"],
            "codeName": item["codeName"],
            "message": message,
            "filter": expression,
            "values": _seen(expression, doc, t.extensions, headers) if expression else None,
        }
    return None


def _seen(
    expression: str,
    doc: Mapping[str, Any] | None,
    extensions: Mapping[str, Any],
    headers: Mapping[str, list[str]],
) -> dict[str, Any]:
    """What the filter's plain field paths held: ``body.a.b``, ``extensions.x`` and named headers.

    A path ending in a method call (``body.ref.startsWith(...)``) names the value it is called on;
    ``header.canonical('X')`` and ``header.match('X', ...)`` name the header's first value,
    ``header['X']`` all its values. An absent field reads ``None``. Only paths are read, nothing
    is evaluated; header values are the journalled ones (credentials redacted).
    """
    found: list[tuple[int, str, Any]] = []
    for match in _PATH.finditer(expression):
        parts = match.group("path").lstrip(".").split(".")
        if match.group("call"):
            parts = parts[:-1]
        if not parts:
            continue
        root = match.group("root")
        value: Any = doc if root == "body" else extensions
        for part in parts:
            value = value.get(part) if isinstance(value, Mapping) else None
        found.append((match.start(), ".".join([root, *parts]), value))
    canonical = {name.lower(): values for name, values in headers.items()}
    for match in _HEADER.finditer(expression):
        name, values = match.group("name"), canonical.get(match.group("name").lower())
        if match.group("how") == "[":
            found.append((match.start(), f"header[{name!r}]", values))
        else:
            found.append((match.start(), f"header.canonical({name!r})", values[0] if values else None))
    seen: dict[str, Any] = {}
    for _, name, value in sorted(found, key=lambda item: item[0]):
        if name not in seen and len(seen) < SEEN_PATHS:
            seen[name] = value
    return seen


def _resource(resource: Mapping[str, Any]) -> dict[str, Any]:
    """A rendered resource in a few fields: what it is, its name, pipeline, experiment, parameters."""
    metadata, spec = _mapping(resource.get("metadata")), _mapping(resource.get("spec"))
    runtime = _mapping(spec.get("runtime_config"))
    reference = spec.get("pipeline_version_reference")
    pipeline: Any = spec.get("pipeline_package")
    if pipeline is None and isinstance(reference, Mapping):
        pipeline = dict(reference)
    elif pipeline is None and spec.get("pipeline_spec") is not None:
        pipeline = "inline pipeline_spec"
    return {
        "apiVersion": resource.get("apiVersion"),
        "kind": resource.get("kind"),
        "name": metadata.get("name") or metadata.get("generateName"),
        "displayName": spec.get("display_name"),
        "pipeline": pipeline,
        "experiment": spec.get("experiment_name") or spec.get("experiment_id"),
        "parameters": dict(_mapping(runtime.get("parameters"))) or None,
    }


def _mapping(value: object) -> Mapping[str, Any]:
    """``value`` when it is a mapping, else an empty one: rendered resources are free-form."""
    return value if isinstance(value, Mapping) else {}


def _launch(t: TriggerRecord, run: RunRecord | None) -> dict[str, Any] | None:
    """What launch journalled (run, note, error), with the run record's state, link and times.

    ``None`` while launch has journalled nothing for the trigger.
    """
    if not t.launched and t.run_id is None:
        return None
    return {
        "runID": t.run_id,
        "backend": (run.backend if run else None) or t.backend,
        "state": run.state if run else t.run_state,
        "runURL": run.run_url if run else None,
        "createdAt": _iso(run.created_at) if run else None,
        "updatedAt": _iso(run.updated_at) if run else None,
        "note": t.launch_note,
        "error": t.launch_error,
    }


def _iso(moment: datetime | None) -> str | None:
    """RFC 3339 text, as ``events show`` writes times."""
    return moment.isoformat() if moment is not None else None


# -- the human form ---------------------------------------------------------------------------
