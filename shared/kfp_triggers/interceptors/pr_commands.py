"""The ``pr-commands.kfp-triggers.dev`` interceptor: ``/retest``, ``/cancel`` and ``/ok-to-test`` comments.

People steer a pull request's runs by commenting on it, as with pipelines-as-code: a GitHub
``issue_comment`` on a pull request, or a GitLab ``Note Hook`` on a merge request, whose first line
is a command. Params::

    secretRef: {secretName, secretKey}   # a GitHub token, or a GitLab token, for the API calls
    okToTest: true | false               # default false; true holds fork pull requests (below)
    commands: [retest, cancel, ok-to-test]   # the commands this trigger acts on (default: all)
    gitlabApiUrl: https://gitlab.example.com/api/v4/   # GitLab only; default gitlab.com's

For a pull request event (GitHub ``pull_request``/``pull_request_target``, GitLab ``Merge Request
Hook``) the interceptor continues with ``extensions.pull_request``, the pull request as GitHub
writes it (GitLab's merge request mapped to the same keys). With ``okToTest: true`` a pull request
from a fork whose author has no write access stops (code 7), awaiting a collaborator's ``/ok-to-test``.

For a comment, the first line is read: ``/retest [trigger]``, ``/cancel [trigger]`` or
``/ok-to-test``. Anything else stops quietly (code 9, ``not a command``). The commenter must have
write access (GitHub ``admin``/``maintain``/``write``; GitLab Developer or above), else code 7;
answers are kept a few minutes (:class:`~kfp_triggers.interceptors.pr_api.AccessCache`). The pull
request is then fetched from the API, so its head commit is the current one, and the interceptor
continues with ``extensions.pull_request`` and ``extensions.command = {name, args, author,
comment_id}``. A command naming a trigger continues only in that trigger. ``/cancel`` launches
nothing: the intercept stage cancels the trigger's runs of the head commit instead
(:mod:`kfp_triggers.stages.commands`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kfp_triggers.config.models import PR_COMMANDS_INTERCEPTOR
from kfp_triggers.errors import SecretError
from kfp_triggers.interceptors import changed_files as payloads
from kfp_triggers.interceptors.github_api import ApiRoots, GitHubAPIError, GitHubClient
from kfp_triggers.interceptors.params import (
    BOOL,
    SECRET_REF,
    STRING,
    STRINGS,
    SecretRef,
    parse_params,
    secret_failure,
    struct,
)
from kfp_triggers.interceptors.pr_api import (
    DEVELOPER_ACCESS,
    GITHUB_WRITE_PERMISSIONS,
    AccessCache,
    GitLabAPIError,
    GitLabClient,
    whole_number,
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

__all__ = ["COMMANDS", "PR_COMMANDS_INTERCEPTOR", "Command", "PrCommandsInterceptor", "parse_command"]

COMMANDS = ("retest", "cancel", "ok-to-test")
SCOPED = ("retest", "cancel")
"""Commands that may name the one trigger they are for."""
DEFAULT_GITLAB_API = "https://gitlab.com/api/v4/"
PARAMS = struct(
    "prcommands.InterceptorParams",
    secretRef=SECRET_REF,
    okToTest=BOOL,
    commands=STRINGS,
    gitlabApiUrl=STRING,
)
PULL_REQUEST_EVENTS = ("pull_request", "pull_request_target")
_COMMAND = re.compile(r"^/([a-z][a-z-]*)(?:[ \t]+(.*))?$")
_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?$")
_FP = StatusCode.FAILED_PRECONDITION
_DENIED = StatusCode.PERMISSION_DENIED
_AWAITING = "awaiting /ok-to-test from a collaborator"


@dataclass(frozen=True)
class Command:
    """A command read from a comment: its name (without ``/``) and its words after it."""

    name: str
    args: tuple[str, ...] = ()


def parse_command(text: str) -> Command | None:
    """The command on the first line of a comment, or ``None`` when that line is not one."""
    lines = text.strip().splitlines()
    found = _COMMAND.match(lines[0].strip()) if lines else None
    if found is None or found.group(1) not in COMMANDS:
        return None
    return Command(found.group(1), tuple((found.group(2) or "").split()))


class PrCommandsInterceptor:
    """Pull request events pass with their pull request; comments pass when they are allowed commands.

    ``enterprise_hosts`` are the GitHub Enterprise Server hosts ``X-GitHub-Enterprise-Host`` may
    name, as for the GitHub interceptor. Raises ``ValueError`` for a malformed entry.
    """

    def __init__(
        self,
        services: InterceptorServices,
        *,
        enterprise_hosts: Iterable[str] = (),
        cache: AccessCache | None = None,
    ) -> None:
        self.services = services
        self.api_roots = ApiRoots(services.github_api_url, enterprise_hosts)
        self.cache = cache or AccessCache()

    def process(self, request: InterceptorRequest) -> InterceptorResponse:
        """Decide on one event; see the module docstring."""
        params = parse_params(request.interceptor_params, PARAMS)
        if isinstance(params, InterceptorResponse):
            return params
        unknown = [c for c in params.get("commands", []) if c not in COMMANDS]
        if unknown:
            return InterceptorResponse.stop(
                StatusCode.INVALID_ARGUMENT, f"unknown commands {unknown}; the commands are {list(COMMANDS)}"
            )
        headers = canonicalise(request.header)
        try:
            if github := first(headers, "X-Github-Event"):
                return self._github(github, json_payload(request.body), headers, params, request.context)
            if gitlab := first(headers, "X-Gitlab-Event"):
                return self._gitlab(gitlab, json_payload(request.body), params, request.context)
        except StopError as stop:
            return InterceptorResponse.stop(stop.code, str(stop))
        except SecretError as exc:
            return secret_failure(exc, request.context or TriggerContext())
        except (payloads.PayloadError, ValueError) as exc:
            return InterceptorResponse.stop(_FP, f"error parsing body: {exc}")
        except (GitHubAPIError, GitLabAPIError) as exc:
            return InterceptorResponse.stop(_FP, f"error calling the API: {exc}")
        return InterceptorResponse.stop(_FP, "only GitHub and GitLab events carry pull requests and comments")

    # ------------------------------------------------------------------------------ GitHub

    def _github(
        self,
        event: str,
        payload: dict[str, Any],
        headers: Headers,
        params: dict[str, Any],
        context: TriggerContext | None,
    ) -> InterceptorResponse:
        if event in PULL_REQUEST_EVENTS:
            pull = _object(payload, "pull_request")
            if params.get("okToTest") and _github_fork(pull):
                repo = payloads.github_repo(payload)
                author = _login(_object(pull, "user").get("login"))
                if not self._github_may(repo, author, headers, params):
                    number = payloads.pull_request_number(payload)
                    raise StopError(
                        _DENIED,
                        f"{_AWAITING}: pull request #{number} comes from a fork and its author "
                        f"{author} has no write access to {repo.owner}/{repo.name}",
                    )
            return InterceptorResponse.proceed({"pull_request": pull})
        if event != "issue_comment":
            raise StopError(_FP, f"GitHub {event} events are neither pull requests nor comments")
        if payload.get("action") != "created":
            raise StopError(_FP, f"a comment {payload.get('action')} is not read: only new comments are")
        issue = _object(payload, "issue")
        if not isinstance(issue.get("pull_request"), dict):
            raise StopError(_FP, "not a pull request comment")
        comment = _object(payload, "comment")
        command = _command(comment.get("body"), params, context)
        author = _login(_object(comment, "user").get("login"))
        repo = payloads.github_repo(payload)
        if not self._github_may(repo, author, headers, params):
            raise StopError(_DENIED, _refusal(command, author, f"{repo.owner}/{repo.name}"))
        number = whole_number(issue.get("number"), "issue number")
        pull = self._github_client(headers, params).get_pull_request(repo.owner, repo.name, number)
        return _continue(pull, command, author, comment.get("id"))

    def _github_may(self, repo: payloads.Repo, login: str, headers: Headers, params: dict[str, Any]) -> bool:
        client = self._github_client(headers, params)
        key = AccessCache.key(client.base_url, f"{repo.owner}/{repo.name}", login, self._token(params))
        found = self.cache.get(key, lambda: client.collaborator_permission(repo.owner, repo.name, login))
        return found in GITHUB_WRITE_PERMISSIONS

    def _github_client(self, headers: Headers, params: dict[str, Any]) -> GitHubClient:
        return github_client(self.api_roots, headers, self.services, self._token(params))

    # ------------------------------------------------------------------------------ GitLab

    def _gitlab(
        self, event: str, payload: dict[str, Any], params: dict[str, Any], context: TriggerContext | None
    ) -> InterceptorResponse:
        project = whole_number(_object(payload, "project").get("id"), "project.id")
        attrs = _object(payload, "object_attributes")
        if event == "Merge Request Hook":
            pull = _gitlab_pull_request(
                attrs, sha=_object(attrs, "last_commit").get("id"), url=attrs.get("url")
            )
            fork = attrs.get("source_project_id") != attrs.get("target_project_id")
            if params.get("okToTest") and fork:
                author = whole_number(attrs.get("author_id"), "object_attributes.author_id")
                if not self._gitlab_may(project, author, params):
                    raise StopError(
                        _DENIED,
                        f"{_AWAITING}: merge request !{pull['number']} comes from a fork and its "
                        f"author (user {author}) is not a Developer of project {project}",
                    )
            return InterceptorResponse.proceed({"pull_request": pull})
        if event != "Note Hook":
            raise StopError(_FP, f"GitLab {event} events are neither merge requests nor comments")
        if attrs.get("noteable_type") != "MergeRequest":
            raise StopError(_FP, "not a merge request comment")
        if attrs.get("action") not in (None, "create"):
            raise StopError(_FP, f"a comment {attrs.get('action')} is not read: only new comments are")
        command = _command(attrs.get("note"), params, context)
        user = _object(payload, "user")
        user_id = whole_number(user.get("id"), "user.id")
        username = user.get("username")
        commenter = username if isinstance(username, str) else str(user_id)
        if not self._gitlab_may(project, user_id, params):
            raise StopError(_DENIED, _refusal(command, commenter, f"project {project}"))
        iid = whole_number(_object(payload, "merge_request").get("iid"), "merge_request.iid")
        found = self._gitlab_client(params).merge_request(project, iid)
        pull = _gitlab_pull_request(found, sha=found.get("sha"), url=found.get("web_url"))
        return _continue(pull, command, commenter, attrs.get("id"))

    def _gitlab_may(self, project: int, user_id: int, params: dict[str, Any]) -> bool:
        client = self._gitlab_client(params)
        key = AccessCache.key(client.base_url, str(project), str(user_id), self._token(params))
        level = self.cache.get(key, lambda: str(client.access_level(project, user_id)))
        return int(level) >= DEVELOPER_ACCESS

    def _gitlab_client(self, params: dict[str, Any]) -> GitLabClient:
        base = params.get("gitlabApiUrl") or DEFAULT_GITLAB_API
        return GitLabClient(base, self._token(params), self.services.http_timeout_s)

    def _token(self, params: dict[str, Any]) -> str:
        ref = SecretRef.from_param(params.get("secretRef"))
        if ref is None:
            raise StopError(
                StatusCode.INVALID_ARGUMENT, f"the {PR_COMMANDS_INTERCEPTOR} interceptor needs a secretRef"
            )
        return api_token(self.services, ref, f"{PR_COMMANDS_INTERCEPTOR} secretRef")


def _command(text: object, params: dict[str, Any], context: TriggerContext | None) -> Command:
    """The comment's command, checked against ``commands`` and the trigger it may name."""
    command = parse_command(text) if isinstance(text, str) else None
    if command is None:
        raise StopError(_FP, "not a command")
    enabled = params.get("commands")
    if enabled is not None and command.name not in enabled:
        raise StopError(_FP, f"/{command.name} is not enabled for this trigger")
    if command.name in SCOPED and command.args:
        if context is None or "/triggers/" not in context.trigger_id:
            raise StopError(StatusCode.INVALID_ARGUMENT, "no trigger context to match the named trigger")
        here = context.trigger_id.rsplit("/", 1)[-1]
        if command.args[0] != here:
            raise StopError(_FP, f"/{command.name} names trigger {command.args[0]!r}, not {here!r}")
    return command


def _continue(pull: dict[str, Any], command: Command, author: str, comment_id: object) -> InterceptorResponse:
    return InterceptorResponse.proceed(
        {
            "pull_request": pull,
            "command": {
                "name": command.name,
                "args": list(command.args),
                "author": author,
                "comment_id": _whole(comment_id),
            },
        }
    )


def _refusal(command: Command, author: str, where: str) -> str:
    return f"{author} may not run /{command.name}: it needs write access to {where}"


def _github_fork(pull: dict[str, Any]) -> bool:
    """A pull request whose head is in another repository than its base (a deleted fork counts)."""
    head_repo = _object(pull, "head").get("repo")
    base_repo = _object(_object(pull, "base"), "repo")
    if not isinstance(head_repo, dict):
        return True
    return bool(head_repo.get("full_name") != base_repo.get("full_name"))


def _gitlab_pull_request(attrs: dict[str, Any], *, sha: object, url: object) -> dict[str, Any]:
    """A merge request (webhook attributes or API answer) under the keys of a GitHub pull request."""
    author = attrs.get("author")
    author_id = author.get("id") if isinstance(author, dict) else attrs.get("author_id")
    login = author.get("username") if isinstance(author, dict) else None
    return {
        "number": whole_number(attrs.get("iid"), "merge request iid"),
        "title": attrs.get("title"),
        "state": attrs.get("state"),
        "html_url": url,
        "user": {"id": _whole(author_id), "login": login},
        "head": {
            "sha": payloads.commit_sha(sha, "merge request head"),
            "ref": attrs.get("source_branch"),
            "repo": {"id": _whole(attrs.get("source_project_id"))},
        },
        "base": {"ref": attrs.get("target_branch"), "repo": {"id": _whole(attrs.get("target_project_id"))}},
    }


def _whole(value: object) -> object:
    """A JSON number decoded as Go decodes it (a float) back to the whole number GitLab sent."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _object(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise payloads.PayloadError(f"the payload has no {key!r} object")
    return value


def _login(value: object) -> str:
    if not isinstance(value, str) or not _LOGIN.match(value):
        raise payloads.PayloadError(f"{value!r} is not a GitHub login")
    return value
