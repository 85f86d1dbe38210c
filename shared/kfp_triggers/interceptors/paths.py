"""The ``paths.kfp-triggers.dev`` interceptor: changed-path filters with GitHub Actions' rules.

Not one of Tekton's: it is named under the project's own domain, like the project's
``kfp-triggers.dev/...`` annotations, so it cannot collide with a ClusterInterceptor a user
installs (Tekton itself would fail such a trigger with "url resolution failed", never run it
unfiltered). Params::

    paths: [glob, ...]          # continue when at least one changed file is selected
    pathsIgnore: [glob, ...]    # continue unless every changed file is ignored
    personalAccessToken: {secretName, secretKey}   # for the GitHub API, as addChangedFiles

Patterns are :mod:`~kfp_triggers.interceptors.globs`. As in GitHub Actions, ``paths`` and
``pathsIgnore`` cannot both be given, a list needs at least one pattern without ``!``, a push of a
tag is not filtered, and an event that changed no file does not continue. With neither list the
interceptor filters nothing and only lists the changed files.

Changed files come from the payload of a GitHub or GitLab push; when a GitHub push payload holds
only part of the push, from the compare API (``before...after``); for ``pull_request`` and
``pull_request_target``, from the pull request files API. When the whole list cannot be had (a new
GitHub branch, or a GitLab push, whose payload is cut), the event continues unfiltered, as GitHub
Actions runs a workflow whose diff it cannot compute. An API call that fails stops the trigger
(code 9), as Tekton's ``addChangedFiles`` does. GitLab merge requests are refused (code 9): their
payload names no files.

Extensions (merged into the chain's, so a later CEL filter can combine them with other
conditions): ``changed_files``, the paths joined by ``,`` as Tekton's ``addChangedFiles`` writes
it, and ``changed_paths``: ``{files, matched, complete, evaluated, source}``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kfp_triggers.config.models import PATHS_INTERCEPTOR
from kfp_triggers.errors import SecretError
from kfp_triggers.interceptors import changed_files as payloads
from kfp_triggers.interceptors.github_api import ApiRoots, GitHubAPIError, GitHubClient
from kfp_triggers.interceptors.globs import PathRule, PatternError, path_rule
from kfp_triggers.interceptors.params import (
    SECRET_REF,
    STRINGS,
    SecretRef,
    parse_params,
    secret_failure,
    struct,
)
from kfp_triggers.interceptors.stops import StopError, api_token, github_client, json_payload
from kfp_triggers.tekton.headers import Headers, canonicalise, first
from kfp_triggers.tekton.interceptor_protocol import (
    InterceptorRequest,
    InterceptorResponse,
    InterceptorServices,
    StatusCode,
    TriggerContext,
)

__all__ = ["PATHS_INTERCEPTOR", "PathRule", "PathsInterceptor", "path_rule"]

log = logging.getLogger(__name__)
PARAMS = struct("paths.InterceptorParams", paths=STRINGS, pathsIgnore=STRINGS, personalAccessToken=SECRET_REF)
PULL_REQUEST_EVENTS = ("pull_request", "pull_request_target")
_FP = StatusCode.FAILED_PRECONDITION


@dataclass(frozen=True)
class _Found:
    files: tuple[str, ...]
    complete: bool
    source: str
    evaluate: bool = True


class PathsInterceptor:
    """Continues an event only when its changed files pass ``paths`` or ``pathsIgnore``.

    ``enterprise_hosts`` are the GitHub Enterprise Server hosts ``X-GitHub-Enterprise-Host`` may
    name, as for the GitHub interceptor. Raises ``ValueError`` for a malformed entry.
    """

    def __init__(self, services: InterceptorServices, *, enterprise_hosts: Iterable[str] = ()) -> None:
        self.services = services
        self.api_roots = ApiRoots(services.github_api_url, enterprise_hosts)

    def process(self, request: InterceptorRequest) -> InterceptorResponse:
        """Find the changed files, filter them, and report both in extensions."""
        params = parse_params(request.interceptor_params, PARAMS)
        if isinstance(params, InterceptorResponse):
            return params
        try:
            rule = path_rule(params.get("paths"), params.get("pathsIgnore"))
        except PatternError as exc:
            return InterceptorResponse.stop(StatusCode.INVALID_ARGUMENT, str(exc))
        headers = canonicalise(request.header)
        try:
            found = self._changed(request.body, headers, params)
        except StopError as stop:
            return InterceptorResponse.stop(stop.code, str(stop))
        except SecretError as exc:
            return secret_failure(exc, request.context or TriggerContext())
        evaluate = rule is not None and found.evaluate
        if rule is None:
            matched = list(found.files)  # nothing to filter by: every file is let through
        elif evaluate:
            if not found.files:
                return InterceptorResponse.stop(_FP, "the event changed no files")
            matched = [f for f in found.files if rule.keeps(f)]
            if not matched:
                return InterceptorResponse.stop(_FP, _rejection(rule, len(found.files)))
        else:
            matched = []  # not filtered (a tag push, an incomplete list): nothing was selected
        return InterceptorResponse.proceed(
            {
                "changed_files": ",".join(found.files),
                "changed_paths": {
                    "files": list(found.files),
                    "matched": matched,
                    "complete": found.complete,
                    "evaluated": evaluate,
                    "source": found.source,
                },
            }
        )

    def _changed(self, body: bytes, headers: Headers, params: dict[str, Any]) -> _Found:
        github_event = first(headers, "X-Github-Event")
        gitlab_event = first(headers, "X-Gitlab-Event")
        if not github_event and not gitlab_event:
            raise StopError(_FP, "only GitHub and GitLab events have changed files to filter")
        payload = json_payload(body)
        try:
            if github_event:
                return self._github(github_event, payload, headers, params)
            return _gitlab(gitlab_event, payload)
        except payloads.PayloadError as exc:
            raise StopError(_FP, f"error parsing body: {exc}") from None
        except GitHubAPIError as exc:
            raise StopError(_FP, f"error getting changed files: {exc}") from None

    def _github(
        self, event: str, payload: dict[str, Any], headers: Headers, params: dict[str, Any]
    ) -> _Found:
        if event == "push":
            ref = payload.get("ref")
            if isinstance(ref, str) and ref.startswith("refs/tags/"):
                return _Found((), True, "push", evaluate=False)
            if payloads.is_zero_sha(payload.get("after")):
                return _Found((), True, "push")  # a deleted branch changes no file
            pushed = payloads.github_push(payload)
            if pushed.complete:
                return _Found(pushed.files, True, "push")
            if payloads.is_zero_sha(payload.get("before")):
                log.info("push payload is cut (%s) and creates the branch: not filtered", pushed.reason)
                return _Found(pushed.files, False, "push", evaluate=False)  # nothing to compare with
            log.info("push payload is cut (%s): asking the compare API", pushed.reason)
            repo = payloads.github_repo(payload)
            base = payloads.commit_sha(payload.get("before"), "'before'")
            head = payloads.commit_sha(payload.get("after"), "'after'")
            listed = self._client(headers, params).compare_changes(repo.owner, repo.name, base, head)
            return _Found(listed.names, listed.complete, "compare")
        if event in PULL_REQUEST_EVENTS:
            repo = payloads.github_repo(payload)
            number = payloads.pull_request_number(payload)
            listed = self._client(headers, params).pull_request_changes(repo.owner, repo.name, number)
            return _Found(listed.names, listed.complete, "pull_request_files")
        raise StopError(_FP, f"GitHub {event} events have no changed files to filter")

    def _client(self, headers: Headers, params: dict[str, Any]) -> GitHubClient:
        ref = SecretRef.from_param(params.get("personalAccessToken"))
        token = api_token(self.services, ref, "paths interceptor personalAccessToken")
        return github_client(self.api_roots, headers, self.services, token)


def _gitlab(event: str, payload: dict[str, Any]) -> _Found:
    if event == "Tag Push Hook":
        return _Found((), True, "gitlab_push", evaluate=False)
    if event == "Push Hook":
        pushed = payloads.gitlab_push(payload)
        if not pushed.complete:
            log.info("GitLab push payload is cut (%s): not filtered", pushed.reason)
        return _Found(pushed.files, pushed.complete, "gitlab_push", evaluate=pushed.complete)
    if event == "Merge Request Hook":
        raise StopError(
            _FP, "changed files of GitLab merge requests are not supported: the payload names none"
        )
    raise StopError(_FP, f"GitLab {event} events have no changed files to filter")


def _rejection(rule: PathRule, count: int) -> str:
    files = "file" if count == 1 else "files"
    if rule.ignore:
        return f"every changed file ({count}) matches pathsIgnore"
    return f"none of the {count} changed {files} matches paths"
