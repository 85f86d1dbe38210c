"""Report a run's state back to GitHub as a commit status on the commit that started it.

The status appears next to the commit and on its pull requests, with a link to the run. GitHub
keeps at most 1000 statuses per sha and context, so a status is posted only when the GitHub state
changes (PENDING -> RUNNING stays ``pending`` and posts nothing; RUNNING -> SUCCEEDED posts
``success``). States map as follows:

==========================================  =============================
KFP state                                   GitHub commit status
==========================================  =============================
PENDING, RUNNING, CANCELING, PAUSED         ``pending``
SUCCEEDED, SKIPPED                          ``success``
FAILED                                      ``failure``
CANCELED                                    ``error`` (or ``failure``)
UNKNOWN (and anything unrecognised)         nothing is posted
==========================================  =============================

Only runs whose trigger verified GitHub's webhook signature (a ``github`` interceptor with a
``secretRef``) get statuses, on the repository and commit that signed body names (the run's
origin, captured when the trigger was accepted): an unauthenticated trigger (CEL only, Slack, no
secret) could name any repository. ``repositories`` narrows that further to an allow-list. The
context is ``<prefix>/<listener>/<trigger>`` (``<prefix>/<namespace>/<listener>/<trigger>`` outside
the ``default`` namespace), so a same-named trigger of another listener cannot write it.

The call is ``POST {api}/repos/{owner}/{repo}/statuses/{sha}`` with GitHub's REST headers
(``Accept: application/vnd.github+json``, ``X-GitHub-Api-Version: 2022-11-28``, a bearer token
and a ``User-Agent``). The token is sent only to the configured API, or to a GitHub Enterprise
Server host the webhook names in ``X-GitHub-Enterprise-Host`` when that host is allowed: a header
is not covered by the webhook signature, so following any host named there would hand our token
to whoever forged it. Redirects are never followed, for the same reason.
"""

from __future__ import annotations

import json
import logging
import ssl
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kfp_triggers.adapters.http import (
    Answer,
    AnswerTimeoutError,
    ConnectError,
    HttpClient,
    NoAnswerError,
    default_client,
)
from kfp_triggers.adapters.launchers.base import RunState
from kfp_triggers.adapters.notifiers.base import (
    NotifierError,
    NotifierUnavailableError,
    RunStateChange,
    Supersession,
)
from kfp_triggers.interceptors.github_api import api_base_url
from kfp_triggers.tekton.github_commit import GitHubCommit, commit_from_origin, valid_host

log = logging.getLogger(__name__)

ACCEPT = "application/vnd.github+json"
API_VERSION = "2022-11-28"
USER_AGENT = "kfp-triggers"
DEFAULT_API_URL = "https://api.github.com/"
GITHUB_STATES = frozenset({"error", "failure", "pending", "success"})
MAX_DESCRIPTION = 140
"""GitHub refuses a longer description with 422."""

_PENDING = frozenset({RunState.PENDING, RunState.RUNNING, RunState.CANCELING, RunState.PAUSED})
_SUCCESS = frozenset({RunState.SUCCEEDED, RunState.SKIPPED})
_WORDS = {
    RunState.PENDING: "is queued",
    RunState.RUNNING: "is running",
    RunState.CANCELING: "is being canceled",
    RunState.PAUSED: "is paused",
    RunState.SUCCEEDED: "succeeded",
    RunState.SKIPPED: "was skipped",
    RunState.FAILED: "failed",
    RunState.CANCELED: "was canceled",
}
_RETRYABLE_4XX = frozenset({408, 429})
_MAX_MESSAGE = 300


def run_state(name: str | None) -> RunState:
    """A state name as :class:`RunState`; unknown, empty or ``None`` give ``UNKNOWN``."""
    try:
        return RunState((name or "").strip().upper())
    except ValueError:
        return RunState.UNKNOWN


def github_state(state: str | None, canceled_as: str = "error") -> str | None:
    """The GitHub commit status state for a KFP state, or ``None`` when nothing should be posted."""
    known = run_state(state)
    if known in _PENDING:
        return "pending"
    if known in _SUCCESS:
        return "success"
    if known is RunState.FAILED:
        return "failure"
    if known is RunState.CANCELED:
        return canceled_as
    return None


def describe(run_id: str, state: str, superseded_by: Supersession | None = None) -> str:
    """``KFP run <id> <what happened>``, the run id shortened so the text fits 140 characters.

    A run a newer invocation of its concurrency group cancelled says so: ``... was canceled:
    superseded by run <id>`` (or by the newer event, while its run does not exist yet).
    """
    words = _WORDS.get(run_state(state), "changed state")
    if superseded_by is not None and run_state(state) in (RunState.CANCELED, RunState.CANCELING):
        newer = f"run {superseded_by.run_id}" if superseded_by.run_id else f"event {superseded_by.event_id}"
        words = f"{words}: superseded by {newer}"[: MAX_DESCRIPTION - 20]
    text = f"KFP run {run_id} {words}"
    if len(text) <= MAX_DESCRIPTION:
        return text
    room = MAX_DESCRIPTION - len(f"KFP run  {words}") - 1
    return f"KFP run {run_id[: max(room, 0)]}… {words}"[:MAX_DESCRIPTION]


@dataclass(frozen=True)
class CommitStatus:
    """One status to post: where (``url``) and the documented request fields."""

    url: str
    state: str
    description: str
    context: str
    target_url: str | None = None

    def body(self) -> dict[str, Any]:
        """The JSON request body; ``target_url`` is left out when there is no web link to give."""
        data: dict[str, Any] = {"state": self.state, "description": self.description, "context": self.context}
        if self.target_url:
            data["target_url"] = self.target_url
        return data


class GitHubStatusNotifier:
    """Posts GitHub commit statuses for runs started by GitHub webhooks; other runs are ignored.

    Args:
        token_provider: returns the token to send; called for each post, so a rotated secret
            is picked up without a restart.
        api_url: the REST API root (``https://<host>/api/v3/`` for GitHub Enterprise Server).
        timeout_s: how long to wait for GitHub's answer.
        context_prefix: statuses are posted under context ``<prefix>/<listener>/<trigger>``.
        canceled_as: the GitHub state for a canceled run, ``error`` or ``failure``.
        enterprise_hosts: GitHub Enterprise Server hosts (``host`` or ``host:port``) whose
            webhooks may direct the status, and so the token, to ``https://<host>/api/v3/``.
            The host of ``api_url`` is always allowed.
        ssl_context: TLS settings for the API (a private CA); the system's when ``None``.
        repositories: when given, the only repositories statuses are posted to: ``owner/repo``
            or ``owner/*``, compared without regard to case.
        http: the HTTP client (redirects never followed); the engine's shared one by default.
    """

    def __init__(
        self,
        token_provider: Callable[[], str],
        api_url: str = DEFAULT_API_URL,
        timeout_s: float = 10,
        context_prefix: str = "kfp-triggers",
        canceled_as: str = "error",
        *,
        enterprise_hosts: Iterable[str] = (),
        ssl_context: ssl.SSLContext | None = None,
        repositories: Iterable[str] = (),
        http: HttpClient | None = None,
    ) -> None:
        if canceled_as not in {"error", "failure"}:
            raise ValueError(f"canceled_as must be 'error' or 'failure', not {canceled_as!r}")
        parts = urllib.parse.urlsplit(api_url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError(f"api_url must be an http(s) URL, not {api_url!r}")
        self._token_provider = token_provider
        self.api_url = api_url if api_url.endswith("/") else api_url + "/"
        self.timeout_s = timeout_s
        self.context_prefix = context_prefix.strip("/")
        self.canceled_as = canceled_as
        self.allowed_hosts = frozenset(h.lower() for h in enterprise_hosts) | {parts.netloc.lower()}
        self.repositories = frozenset(r.strip().lower() for r in repositories if r.strip())
        for pattern in self.repositories:
            owner, _, repo = pattern.partition("/")
            if not owner or not repo or "/" in repo:
                raise ValueError(f"a repository must be owner/repo or owner/*, not {pattern!r}")
        self._ssl_context = ssl_context
        self._http = http or default_client()

    def status_for(self, change: RunStateChange) -> CommitStatus | None:
        """The status to post for ``change``, or ``None`` when there is nothing to post.

        Nothing is posted for a run whose trigger did not verify a GitHub webhook naming a commit,
        for a repository outside the allow-list, for an unknown state, when the GitHub state is the
        one already posted for the previous state, or when the webhook names an Enterprise host
        that is not allowed.
        """
        state = github_state(change.state, self.canceled_as)
        if state is None or state == github_state(change.previous_state, self.canceled_as):
            return None
        commit = commit_from_origin(change.origin)
        if commit is None or not self._repository_allowed(commit):
            return None
        base = self._api_for(commit)
        if base is None:
            return None
        owner, repo, sha = (urllib.parse.quote(p, safe="") for p in (commit.owner, commit.repo, commit.sha))
        path = f"repos/{owner}/{repo}/statuses/{sha}"
        target = change.run_url if _is_web_url(change.run_url) else None
        newer = change.superseded_by
        if newer is not None and run_state(change.state) is RunState.CANCELED and _is_web_url(newer.run_url):
            target = newer.run_url  # where the work went on
        context = "/".join(
            p for p in (self.context_prefix, _listener_part(change.listener), change.trigger) if p
        )
        description = describe(change.run_id, change.state, change.superseded_by)
        return CommitStatus(base + path, state, description, context, target)

    def _repository_allowed(self, commit: GitHubCommit) -> bool:
        if not self.repositories:
            return True
        owner, repo = commit.owner.lower(), commit.repo.lower()
        if f"{owner}/{repo}" in self.repositories or f"{owner}/*" in self.repositories:
            return True
        log.warning("repository %s/%s is not in the status allow-list; no status posted", owner, repo)
        return False

    def notify(self, change: RunStateChange) -> None:
        """Post the commit status for ``change`` when there is one to post.

        Raises:
            NotifierUnavailableError: GitHub answered 5xx, 408 or 429, a rate limit, or did not
                answer in time; posting again later may succeed.
            NotifierError: GitHub refused the status (another 4xx, a redirect) or the token is
                unusable. The message carries GitHub's own message, never the token.
            SecretError: the token could not be read.
        """
        status = self.status_for(change)
        if status is None:
            return
        token = self._token_provider()
        if not token or any(c.isspace() or not c.isprintable() for c in token):
            raise NotifierError("the GitHub token is empty or holds whitespace or control characters")
        try:
            self._post(status, token)
        except NotifierError as exc:
            message = str(exc).replace(token, "***")
            raise type(exc)(message, status=exc.status) from None
        log.info("run %s: GitHub status %s posted to %s", change.run_id, status.state, status.url)

    def _api_for(self, commit: GitHubCommit) -> str | None:
        host = commit.enterprise_host
        if not host:
            return self.api_url
        if not valid_host(host) or host.lower() not in self.allowed_hosts:
            log.warning("GitHub Enterprise host %r is not an allowed status host; no status posted", host)
            return None
        if host.lower() == urllib.parse.urlsplit(self.api_url).netloc.lower():
            return self.api_url
        return api_base_url("", host)

    def _post(self, status: CommitStatus, token: str) -> None:
        what = f"POST {urllib.parse.urlsplit(status.url).path}"
        headers = {
            "Accept": ACCEPT,
            "Authorization": f"Bearer {token}",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": USER_AGENT,
            "Content-Type": "application/json",
        }
        try:
            answer = self._http.request(
                "POST",
                status.url,
                headers=headers,
                body=json.dumps(status.body()).encode(),
                timeout_s=self.timeout_s,
                ssl_context=self._ssl_context,
            )
        except AnswerTimeoutError:
            raise NotifierUnavailableError(f"{what}: no answer within {self.timeout_s:g} s") from None
        except ConnectError as exc:
            raise NotifierUnavailableError(f"{what}: cannot connect: {exc.reason}") from None
        except NoAnswerError as exc:
            raise NotifierUnavailableError(f"{what}: connection failed: {exc.reason}") from None
        if not answer.ok:
            raise _http_error(what, answer)


def _listener_part(listener: str) -> str:
    """``name`` for a listener in the ``default`` namespace, else ``namespace/name``."""
    namespace, _, name = listener.rpartition("/")
    return name if namespace in {"", "default"} else f"{namespace}/{name}"


def _is_web_url(url: str | None) -> bool:
    if not url:
        return False
    parts = urllib.parse.urlsplit(url)
    return parts.scheme in {"http", "https"} and bool(parts.netloc)


def _http_error(what: str, answer: Answer) -> NotifierError:
    code = answer.status
    message = _github_message(answer.body)
    text = f"{what}: HTTP {code}" + (f": {message}" if message else "")
    if 300 <= code < 400:
        return NotifierError(f"{text} (redirects are not followed)", status=code)
    rate_limited = answer.header("Retry-After") is not None or answer.header("X-RateLimit-Remaining") == "0"
    if code >= 500 or code in _RETRYABLE_4XX or (code == 403 and rate_limited):
        return NotifierUnavailableError(text, status=code)
    return NotifierError(text, status=code)


def _github_message(raw: bytes) -> str:
    """GitHub's ``message`` plus each ``errors[].message`` (``Validation Failed: ...``)."""
    text = raw.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:_MAX_MESSAGE]
    if not isinstance(data, dict):
        return text[:_MAX_MESSAGE]
    parts = [str(data["message"])] if isinstance(data.get("message"), str) else []
    for item in data.get("errors") or []:
        if isinstance(item, dict) and isinstance(item.get("message"), str):
            parts.append(item["message"])
        elif isinstance(item, dict) and item.get("code"):
            parts.append(f"{item.get('field', '')} {item['code']}".strip())
    return ": ".join(parts)[:_MAX_MESSAGE]
