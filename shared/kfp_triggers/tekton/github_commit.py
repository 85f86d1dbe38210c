"""Which repository and commit a GitHub webhook is about, read where its signature was verified.

Only requests with an ``X-GitHub-Event`` header are GitHub's; anything else (GitLab, Bitbucket,
Slack, a CloudEvent) has no commit to report on and gives ``None``. Per event:

* ``push``: ``repository.full_name`` and ``after``; nothing when the push deleted the ref
  (``deleted`` or an all-zero ``after``: there is no commit left to mark). For a tag, the
  pushed commit is ``head_commit.id`` (``after`` names the tag object of an annotated tag);
* anything with a ``pull_request`` object (``pull_request``, ``pull_request_review``, ...):
  ``pull_request.head.sha`` on ``repository.full_name``, the base repository: GitHub shows a pull
  request the statuses of its head commit posted there, also for pull requests from forks;
* anything else whose object carries a ``head_sha`` (``check_suite``, ``check_run``,
  ``workflow_run``, ``workflow_job``, ``merge_group``): that sha. A ``status`` event has none,
  so a status we post can never start a run that posts another.

GitHub sends the payload as JSON, or form-encoded in a ``payload`` field when the webhook's
content type is ``application/x-www-form-urlencoded``; both are read.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_NAME_PART = re.compile(r"^[A-Za-z0-9._-]+$")
HOSTS_SETTING = "KFPT_GITHUB_ENTERPRISE_HOSTS"
_HOST_CHARS = re.compile(r"[a-z0-9.:\[\]-]+")
_HOST = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?$")


@dataclass(frozen=True)
class GitHubCommit:
    """A commit of a repository; ``enterprise_host`` is the GitHub Enterprise Server host, if any."""

    owner: str
    repo: str
    sha: str
    event: str
    enterprise_host: str = ""


def header(headers: Mapping[str, Sequence[str]], name: str) -> str:
    """The first value of header ``name``, matched without regard to case; ``""`` when absent."""
    wanted = name.lower()
    for key, values in headers.items():
        if key.lower() == wanted and values:
            return str(values[0]).strip()
    return ""


def github_commit(headers: Mapping[str, Sequence[str]], body: bytes) -> GitHubCommit | None:
    """The repository and commit a GitHub webhook names, or ``None`` (not GitHub, no commit)."""
    event = header(headers, "X-GitHub-Event")
    if not event:
        return None
    payload = _payload(body, header(headers, "Content-Type"))
    if payload is None:
        return None
    found = _commit_of(event, payload)
    if found is None:
        return None
    full_name, sha = found[0], found[1].lower()
    owner, _, repo = full_name.partition("/")
    if not (_NAME_PART.match(owner) and _NAME_PART.match(repo)) or not _SHA.match(sha):
        return None
    host = header(headers, "X-GitHub-Enterprise-Host")
    return GitHubCommit(owner, repo, sha, event, host)


def commit_from_origin(origin: Mapping[str, Any]) -> GitHubCommit | None:
    """The commit a run's origin names, only when GitHub's signature was verified; else ``None``.

    The fields are checked again as if they came from outside: a run's origin travels in messages
    between the stages.
    """
    found = origin.get("github")
    if origin.get("verifiedBy") != "github" or not isinstance(found, Mapping):
        return None
    owner, repo, sha = (str(found.get(k) or "") for k in ("owner", "repo", "sha"))
    host = str(found.get("enterpriseHost") or "")
    if not (_NAME_PART.match(owner) and _NAME_PART.match(repo) and _SHA.match(sha)):
        return None
    if host and not valid_host(host):
        return None
    return GitHubCommit(owner, repo, sha, str(found.get("event") or ""), host)


def valid_host(host: str) -> bool:
    """True for a bare ``host`` or ``host:port``: nothing that could redirect a URL elsewhere."""
    return bool(_HOST.match(host))


def _payload(body: bytes, content_type: str) -> dict[str, Any] | None:
    text = body.decode("utf-8", "replace")
    if content_type.split(";", 1)[0].strip().lower() == "application/x-www-form-urlencoded":
        fields = urllib.parse.parse_qs(text)
        text = fields.get("payload", [""])[0]
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _text(data: Any, *path: str) -> str:
    for key in path:
        if not isinstance(data, dict):
            return ""
        data = data.get(key)
    return data if isinstance(data, str) else ""


def _commit_of(event: str, payload: dict[str, Any]) -> tuple[str, str] | None:
    full_name = _text(payload, "repository", "full_name")
    if event == "push":
        after = _text(payload, "after")
        if payload.get("deleted") is True or not after or set(after) == {"0"}:
            return None
        if _text(payload, "ref").startswith("refs/tags/") and _text(payload, "head_commit", "id"):
            after = _text(payload, "head_commit", "id")
        return full_name, after
    pull = payload.get("pull_request")
    if isinstance(pull, dict) and _text(pull, "head", "sha"):
        return full_name or _text(pull, "base", "repo", "full_name"), _text(pull, "head", "sha")
    named = payload.get(event)
    candidates = [named] + [v for k, v in payload.items() if k != event and isinstance(v, dict)]
    for candidate in candidates:
        sha = _text(candidate, "head_sha")
        if sha:
            return full_name, sha
    return None


def enterprise_host_set(entries: Iterable[str]) -> frozenset[str]:
    """The allowed GitHub Enterprise hosts, lower-cased.

    Raises:
        ValueError: an entry is not a bare ``host`` or ``host:port`` (the message names the setting).
    """
    return frozenset(_checked_host(entry) for entry in entries)


def _checked_host(entry: str) -> str:
    host = entry.strip().lower()
    parts = urllib.parse.urlsplit(f"https://{host}")
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if not (_HOST_CHARS.fullmatch(host) and parts.netloc == host and parts.hostname and port_ok):
        raise ValueError(f"{HOSTS_SETTING} entries must be host or host:port, not {entry!r}")
    return host
