"""Tekton's core ``github`` interceptor.

Checks run in Tekton's order and the first failure decides:

1. ``Content-Type: application/x-www-form-urlencoded`` (exactly) is refused (code 3);
2. params are decoded (code 3 when malformed);
3. ``eventTypes``, when set (even to ``[]``), must contain ``X-Github-Event`` (code 9);
4. ``secretRef``: ``X-Hub-Signature-256`` is checked with go-github's rules (code 9); the legacy
   ``X-Hub-Signature`` header is never read; the secret may hold several keys, one per line, for
   rotation (see :mod:`~kfp_triggers.interceptors.signature`);

Every step that reads a secret needs the request context (the trigger's namespace): without one,
a request sent to the served interceptor gets Tekton's code 3 ``no request context passed``
(for ``githubOwners``' token: code 9 ``error getting github token: no request context passed``),
and ``addChangedFiles`` asks for it before reading any token, as Tekton does.
5. when the GitHub API is to be called, ``X-GitHub-Enterprise-Host`` must name an allowed host
   (see :class:`~kfp_triggers.interceptors.github_api.ApiRoots`), else the request is refused
   (code 9) before any token is read or sent;
6. ``githubOwners`` (``pull_request``/``issue_comment`` only) lets the event through when the
   sender is an org member, a collaborator or in the ``OWNERS`` file, or (for comments) when such
   a sender wrote ``/ok-to-test``;
7. ``addChangedFiles`` (``push``/``pull_request`` only) adds ``extensions.changed_files``.

Two departures from Tekton close holes in it. Tekton follows ``X-GitHub-Enterprise-Host`` to any
host, although the header is not signed. And Tekton returns as soon as ``addChangedFiles`` is
enabled (straight away for an event it does not handle), so the owners check never runs with it;
here both run, the owners check first, so a sender who fails it costs no file listing.

Without ``secretRef`` nothing is authenticated, exactly as in Tekton. An empty or blank secret is
refused (code 9): an HMAC keyed by nothing can be computed by anyone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kfp_triggers.errors import SecretError
from kfp_triggers.golang.fmt import format_v
from kfp_triggers.golang.json import GoJsonError, unmarshal_object
from kfp_triggers.interceptors.github_api import (
    ENTERPRISE_HOST_HEADER,
    ApiRoots,
    EnterpriseHostError,
    GitHubAPIError,
    GitHubClient,
)
from kfp_triggers.interceptors.params import (
    BOOL,
    SECRET_REF,
    STRINGS,
    GoType,
    SecretRef,
    event_allowed,
    event_rejected,
    no_context,
    parse_params,
    read_secret,
    secret_failure,
    struct,
)
from kfp_triggers.interceptors.signature import SignatureError, validate_signature
from kfp_triggers.secretstore import secret_message, verification_secret
from kfp_triggers.tekton.headers import canonicalise, first
from kfp_triggers.tekton.interceptor_protocol import (
    NO_CONTEXT,
    InterceptorRequest,
    InterceptorResponse,
    InterceptorServices,
    StatusCode,
    TriggerContext,
)

FORM_ENCODING_REFUSED = "form parameter encoding not supported, please change the hook to send JSON payloads"
OK_TO_TEST = re.compile(r"(?:\A|\n)/ok-to-test(?:\r\n|\r|\n|\Z)")
CHANGED_FILES_EVENTS = ("pull_request", "push")
OWNERS_EVENTS = ("pull_request", "issue_comment")

PARAMS = struct(
    "github.InterceptorParams",
    secretRef=SECRET_REF,
    eventTypes=STRINGS,
    addChangedFiles=struct("github.AddChangedFiles", enabled=BOOL, personalAccessToken=SECRET_REF),
    githubOwners=struct(
        "github.Owners",
        enabled=BOOL,
        personalAccessToken=SECRET_REF,
        checkType=GoType("string", "github.CheckType"),
    ),
)

_FP = StatusCode.FAILED_PRECONDITION


class _BodyError(ValueError):
    """The webhook body lacks what a check needs; the message is Tekton's."""


@dataclass(frozen=True)
class _Repo:
    owner: str
    name: str


class GitHubInterceptor:
    """Validates GitHub webhooks and optionally enforces OWNERS or adds changed files.

    ``enterprise_hosts`` lists the GitHub Enterprise Server hosts (``host`` or ``host:port``) a
    webhook may direct the API calls, and so the token, to; the configured API's host always may.
    A malformed entry raises ``ValueError``.
    """

    def __init__(self, services: InterceptorServices, *, enterprise_hosts: Iterable[str] = ()) -> None:
        self.services = services
        self.api_roots = ApiRoots(services.github_api_url, enterprise_hosts)

    def process(self, request: InterceptorRequest) -> InterceptorResponse:
        """Apply Tekton's GitHub checks to one request."""
        headers = canonicalise(request.header)
        if first(headers, "Content-Type") == "application/x-www-form-urlencoded":
            return InterceptorResponse.stop(StatusCode.INVALID_ARGUMENT, FORM_ENCODING_REFUSED)
        params = parse_params(request.interceptor_params, PARAMS)
        if isinstance(params, InterceptorResponse):
            return params
        event = first(headers, "X-Github-Event")
        if not event_allowed(params.get("eventTypes"), event):
            return event_rejected(event)

        ref = SecretRef.from_param(params.get("secretRef"))
        if ref is not None:
            failed = self._check_signature(ref, first(headers, "X-Hub-Signature-256"), request)
            if failed is not None:
                return failed

        changed = params.get("addChangedFiles", {})
        owners = params.get("githubOwners", {})
        list_files = bool(changed.get("enabled")) and event in CHANGED_FILES_EVENTS
        check_owners = bool(owners.get("enabled")) and event in OWNERS_EVENTS
        api = ""
        if check_owners or (list_files and event == "pull_request"):
            try:
                api = self.api_roots.api_root(first(headers, ENTERPRISE_HOST_HEADER))
            except EnterpriseHostError as exc:
                return InterceptorResponse.stop(_FP, str(exc))
        if check_owners:
            verdict = self._owners(request.body, event, api, owners, request.context)
            if not verdict.continue_:
                return verdict
        if list_files:
            if request.context is None:
                return no_context()
            return self._changed_files(request.body, event, api, changed, request.context)
        return InterceptorResponse.proceed()

    def _check_signature(
        self, ref: SecretRef, header: str, request: InterceptorRequest
    ) -> InterceptorResponse | None:
        if not ref.secret_key:
            return InterceptorResponse.stop(_FP, "github interceptor secretRef.secretKey is empty")
        if not header:
            return InterceptorResponse.stop(_FP, "no X-Hub-Signature-256 header set")
        if request.context is None:
            return no_context()
        try:
            secret = verification_secret(self.services.secrets, ref.secret_name, ref.secret_key)
        except SecretError as exc:
            return secret_failure(exc, request.context)
        try:
            validate_signature(header, request.body, secret)
        except SignatureError as exc:
            return InterceptorResponse.stop(_FP, str(exc))
        return None

    def _token(self, param: dict[str, Any] | None, what: str, context: TriggerContext | None) -> str:
        """The personal access token a param names ('' when none); raises SecretError.

        The message of the error is Tekton's, in the trigger's namespace.
        """
        ref = SecretRef.from_param(param)
        if ref is None:
            return ""
        if not ref.secret_key:
            raise SecretError(f"github interceptor {what}.secretKey is empty")
        if context is None:
            raise SecretError(NO_CONTEXT)
        try:
            return read_secret(self.services, ref).decode("utf-8", errors="replace")
        except SecretError as exc:
            raise SecretError(secret_message(exc, context.namespace())) from exc

    def _client(self, api: str, token: str) -> GitHubClient:
        return GitHubClient(api, token, self.services.http_timeout_s)

    def _changed_files(
        self, body: bytes, event: str, api: str, param: dict[str, Any], context: TriggerContext
    ) -> InterceptorResponse:
        try:
            token = self._token(param.get("personalAccessToken"), "githubToken", context)
        except SecretError as exc:
            return InterceptorResponse.stop(_FP, f"error getting secret: {exc}")
        try:
            payload = _parse_json_body(body, "body is empty")
            number = _pr_number(payload, required=event == "pull_request")
            repo = _repository(payload)
            pushed = _pushed_files(payload)
        except _BodyError as exc:
            return InterceptorResponse.stop(_FP, f"error parsing body: {exc}")
        if event == "pull_request":
            try:
                files = self._client(api, token).list_pull_request_files(repo.owner, repo.name, number)
            except GitHubAPIError as exc:
                return InterceptorResponse.stop(_FP, f"error getting changed files: {exc}")
        else:
            files = pushed
        return InterceptorResponse(continue_=True, extensions={"changed_files": ",".join(files)})

    def _owners(
        self, body: bytes, event: str, api: str, param: dict[str, Any], context: TriggerContext | None
    ) -> InterceptorResponse:
        try:
            token = self._token(param.get("personalAccessToken"), "personalAccessToken", context)
        except SecretError as exc:
            return InterceptorResponse.stop(_FP, f"error getting github token: {exc}")
        check_type = str(param.get("checkType", ""))
        if not token and check_type != "none":
            return InterceptorResponse.stop(
                _FP, "checkType is set to check org or repo members but no personalAccessToken was supplied"
            )
        client = self._client(api, token)
        try:
            payload = _parse_json_body(body, "payload body is empty")
            repo, sender, comment = _owners_details(payload, event)
        except _BodyError as exc:
            return InterceptorResponse.stop(_FP, f"error parsing body: {exc}")
        try:
            allowed = _sender_qualifies(client, repo, sender, check_type)
        except (GitHubAPIError, _BodyError) as exc:
            return InterceptorResponse.stop(_FP, f"error checking owner verification: {exc}")
        if allowed and event == "pull_request":
            return InterceptorResponse.proceed()
        try:
            # Tekton checks the sender a second time here, so the API is called again.
            ok = bool(OK_TO_TEST.search(comment)) and _sender_qualifies(client, repo, sender, check_type)
        except (GitHubAPIError, _BodyError) as exc:
            return InterceptorResponse.stop(_FP, f"error checking comments for verification: {exc}")
        if not ok:
            return InterceptorResponse.stop(_FP, "owners check requirements not met")
        return InterceptorResponse.proceed()


def _sender_qualifies(client: GitHubClient, repo: _Repo, sender: str, check_type: str) -> bool:
    """Org membership, then collaborators (per ``checkType``), then the ``OWNERS`` file."""
    if check_type in ("orgMembers", "all"):
        members = client.list_public_members(repo.owner)
        if members is not None and sender in members:
            return True
    if check_type in ("repoMembers", "all") and sender in client.list_collaborators(repo.owner, repo.name):
        return True
    try:
        owners_file = client.get_file(repo.owner, repo.name, "OWNERS")
    except GitHubAPIError as exc:
        if "404" in str(exc):
            return False
        raise
    return _in_owners_file(owners_file, sender)


def _in_owners_file(text: str, sender: str) -> bool:
    """Whether ``sender`` is among the file's approvers or reviewers (case-insensitive)."""
    import yaml  # only githubOwners reads YAML: loaded on its first use

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _BodyError(f"yaml: {exc}") from None
    if data is None:
        return False
    if not isinstance(data, dict):
        raise _BodyError("yaml: unmarshal errors: OWNERS is not a mapping")
    names: list[str] = []
    for key in ("approvers", "reviewers"):
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, list):
            raise _BodyError(f"yaml: unmarshal errors: {key} is not a list")
        names.extend(str(v) for v in value if v is not None)
    return any(name.casefold() == sender.casefold() for name in names)


def _parse_json_body(body: bytes, empty_message: str) -> dict[str, Any]:
    if not body:
        raise _BodyError(empty_message)
    try:
        return unmarshal_object(body)
    except GoJsonError as exc:
        raise _BodyError(str(exc)) from None


def _int_field(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _BodyError(f"{what} is not a number")
    return int(value)


def _pr_number(payload: dict[str, Any], *, required: bool) -> int:
    if "number" not in payload:
        if required:
            raise _BodyError("pull_request body missing 'number' field")
        return -1
    return _int_field(payload["number"], "'number' field")


def _repository(payload: dict[str, Any]) -> _Repo:
    section = payload.get("repository")
    if not isinstance(section, dict):
        raise _BodyError("payload body missing 'repository' field")
    full_name = section.get("full_name")
    if not isinstance(full_name, str):
        raise _BodyError("payload body missing 'repository.full_name' field")
    parts = full_name.split("/")
    if len(parts) < 2:
        raise _BodyError("payload body 'repository.full_name' field is not owner/name")
    return _Repo(parts[0], parts[1])


def _pushed_files(payload: dict[str, Any]) -> list[str]:
    """Per commit: added, then modified, then removed; duplicates kept, as Tekton does."""
    commits = payload.get("commits")
    if not isinstance(commits, list):
        return []
    files: list[str] = []
    for commit in commits:
        if not isinstance(commit, dict):
            raise _BodyError("payload body 'commits.*' entry is not an object")
        lists = []
        for key in ("added", "modified", "removed"):
            value = commit.get(key)
            if not isinstance(value, list):
                raise _BodyError(f"payload body missing 'commits.*.{key}' field")
            lists.append(value)
        for names in lists:
            files.extend(format_v(name) for name in names)
    return files


def _owners_details(payload: dict[str, Any], event: str) -> tuple[_Repo, str, str]:
    """(repository, sender login, comment body) as Tekton's owners check reads them."""
    comment = ""
    if event == "pull_request":
        _pr_number(payload, required=True)
    if event == "issue_comment":
        issue = payload.get("issue")
        if not isinstance(issue, dict):
            raise _BodyError("issue_comment body missing 'issue' section")
        if "number" not in issue:
            raise _BodyError("'number' field missing in the issue section of issue_comment body")
        _int_field(issue["number"], "'issue.number' field")
        section = payload.get("comment")
        if not isinstance(section, dict):
            raise _BodyError("issue_comment body missing 'comment' section")
        if "body" not in section:
            raise _BodyError("'body' field missing in the comment section of issue_comment body")
        if not isinstance(section["body"], str):
            raise _BodyError("'body' field in the comment section is not a string")
        comment = section["body"]
    repo = _repository(payload)
    sender_section = payload.get("sender")
    if not isinstance(sender_section, dict):
        raise _BodyError("payload body missing 'sender' field")
    login = sender_section.get("login")
    return repo, login if isinstance(login, str) else "", comment
