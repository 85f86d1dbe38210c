"""What a webhook payload says about the files a push changed, and whether it says all of it.

The changed files of a push are the union, in first-seen order, of every listed commit's
``added``, ``modified`` and ``removed`` lists: a rename shows as the old name removed and the new
one added, so both count; a deleted file counts. GitHub and GitLab send the same three lists.

A payload can hold less than the whole push. :func:`github_push` reports it incomplete when

* ``commits`` is missing, or a commit lacks one of its three lists (the copy of the payload
  GitHub Actions hands to workflows leaves them out);
* ``size`` (present in the Events API's copy of a push, which lists at most 20 commits) is
  larger than the number of commits listed;
* it lists 2048 commits, the most a webhook delivery carries.

:func:`gitlab_push` reports it incomplete when ``total_commits_count`` exceeds the commits listed
(GitLab lists at most 20). The caller then asks the API for the whole comparison when it can.

Values read from a payload are chosen by whoever sent it, and some end up in API paths: the
``owner``, ``repo``, commit SHAs and pull request numbers returned here are checked against what
GitHub allows for each, so that no ``..``, ``/``, ``%2F``, ``?`` or ``#`` reaches a URL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

WEBHOOK_MAX_COMMITS = 2048
ZERO_SHA = re.compile(r"^0+$")
_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_REPO = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_MAX_NUMBER = 2**31 - 1
_LISTS = ("added", "modified", "removed")


class PayloadError(ValueError):
    """The payload lacks or misstates something the filter needs; the message says what."""


@dataclass(frozen=True)
class PushFiles:
    """The files a push payload lists, in first-seen order, and whether that is all of them."""

    files: tuple[str, ...]
    complete: bool
    reason: str = ""


@dataclass(frozen=True)
class Repo:
    """A repository named by a payload, already checked to be safe in an API path."""

    owner: str
    name: str


def union(names: list[str]) -> tuple[str, ...]:
    """``names`` without repeats, first occurrence kept."""
    return tuple(dict.fromkeys(names))


def github_push(payload: dict[str, Any]) -> PushFiles:
    """The changed files of a GitHub push payload (webhook or Events API shape).

    A new branch whose push lists no commits (a branch made at an existing commit) is read from
    ``head_commit``, the commit GitHub compares against its parent for such a push.

    Raises:
        PayloadError: ``commits`` or a file list holds something other than what GitHub sends.
    """
    commits = payload.get("commits")
    if commits is None:
        return PushFiles((), False, "the payload has no 'commits'")
    if not isinstance(commits, list):
        raise PayloadError("'commits' is not a list")
    if not commits and payload.get("created") is True and isinstance(payload.get("head_commit"), dict):
        commits = [payload["head_commit"]]
    files, missing = _commit_files(commits)
    if missing:
        return PushFiles(files, False, missing)
    size = _count(payload.get("size"))
    if size is not None and size > len(commits):
        return PushFiles(files, False, f"'size' is {size} but {len(commits)} commits are listed")
    if len(commits) >= WEBHOOK_MAX_COMMITS:
        return PushFiles(files, False, f"{len(commits)} commits listed, the most a webhook carries")
    return PushFiles(files, True)


def gitlab_push(payload: dict[str, Any]) -> PushFiles:
    """The changed files of a GitLab ``Push Hook`` payload.

    Raises:
        PayloadError: ``commits`` or a file list holds something other than what GitLab sends.
    """
    commits = payload.get("commits")
    if not isinstance(commits, list):
        raise PayloadError("'commits' is not a list")
    files, missing = _commit_files(commits)
    if missing:
        return PushFiles(files, False, missing)
    total = _count(payload.get("total_commits_count"))
    if total is not None and total > len(commits):
        return PushFiles(
            files, False, f"'total_commits_count' is {total} but {len(commits)} commits are listed"
        )
    return PushFiles(files, True)


def _count(value: object) -> int | None:
    """A whole JSON number (decoded as Go does, so possibly a float), else ``None``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if float(value).is_integer() else None


def _commit_files(commits: list[Any]) -> tuple[tuple[str, ...], str]:
    """(union of the lists, reason the lists are incomplete or ``""``)."""
    names: list[str] = []
    missing = ""
    for index, commit in enumerate(commits):
        if not isinstance(commit, dict):
            raise PayloadError(f"'commits[{index}]' is not an object")
        for key in _LISTS:
            value = commit.get(key)
            if value is None:
                missing = missing or f"'commits[{index}]' has no '{key}' list"
                continue
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise PayloadError(f"'commits[{index}].{key}' is not a list of file names")
            names.extend(value)
    return union(names), missing


def github_repo(payload: dict[str, Any]) -> Repo:
    """The repository of a GitHub payload, from ``repository.full_name``.

    Raises:
        PayloadError: missing, or not ``owner/name`` with characters GitHub allows in each.
    """
    section = payload.get("repository")
    full_name = section.get("full_name") if isinstance(section, dict) else None
    if not isinstance(full_name, str):
        raise PayloadError("the payload has no 'repository.full_name'")
    owner, sep, name = full_name.partition("/")
    if not sep or not _OWNER.match(owner) or not _REPO.match(name) or name in (".", ".."):
        raise PayloadError(f"'repository.full_name' {full_name!r} is not a GitHub owner/name")
    return Repo(owner, name)


def commit_sha(value: object, what: str) -> str:
    """A full commit SHA (40 or 64 lower-case hex digits) read from ``what``.

    Raises:
        PayloadError: anything else.
    """
    if not isinstance(value, str) or not _SHA.match(value):
        raise PayloadError(f"{what} {value!r} is not a full commit SHA")
    return value


def is_zero_sha(value: object) -> bool:
    """Whether a push's ``before``/``after`` is the all-zero SHA (branch created or deleted)."""
    return isinstance(value, str) and bool(ZERO_SHA.match(value))


def pull_request_number(payload: dict[str, Any]) -> int:
    """The pull request number of a ``pull_request`` payload (``number``, else ``pull_request.number``).

    Raises:
        PayloadError: missing, or not a whole number from 1 to 2^31-1.
    """
    value = payload.get("number")
    if value is None and isinstance(payload.get("pull_request"), dict):
        value = payload["pull_request"].get("number")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_NUMBER:
        raise PayloadError(f"pull request number {value!r} is not a positive whole number")
    return value
