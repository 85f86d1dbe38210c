"""The GitHub REST calls Tekton's GitHub interceptor makes, through the engine's pooled HTTP client.

Tekton uses go-github v31 with an oauth2 client. We send what that sends: ``GET`` with
``Accept: application/vnd.github.v3+json``, ``Authorization: Bearer <token>`` only when a token
is configured, and the same paths and queries:

* ``repos/{owner}/{repo}/pulls/{number}/files?per_page=100`` (then ``page=N&per_page=100``,
  following the ``rel="next"`` link) — list pull request files;
* ``orgs/{org}/public_members`` — list public organisation members (first page only, as Tekton);
* ``repos/{owner}/{repo}/collaborators`` — list collaborators (first page only, as Tekton);
* ``repos/{owner}/{repo}/contents/OWNERS`` — get repository content.

The pull request comment commands add two more (not Tekton's either):

* ``repos/{owner}/{repo}/collaborators/{username}/permission`` — a user's permission on a
  repository (``admin``, ``maintain``, ``write``, ``triage``, ``read`` or ``none``);
* ``repos/{owner}/{repo}/pulls/{number}`` — get a pull request.

The changed-path filter adds two calls of its own (not Tekton's), with the same headers:

* ``repos/{owner}/{repo}/pulls/{number}/files`` as above, keeping ``previous_filename`` of renames;
* ``repos/{owner}/{repo}/compare/{base}...{head}?per_page=1`` — compare two commits. Paging
  applies to the commits only (one is enough); the changed files come on the first page, at
  most 300 of them for the whole comparison, as GitHub documents.

A failed call raises :class:`GitHubAPIError` whose text is go-github's
(``GET <url>: <status> <message> [<errors>]``), since Tekton puts it in its status messages.

Which API root is called is decided by :class:`ApiRoots`: a webhook's ``X-GitHub-Enterprise-Host``
header is not covered by its signature, so it may only choose among the hosts the operator lists.
A token is sent only in a header value Go would send (no control characters) and, on a redirect,
only to the same host or a subdomain.
"""

from __future__ import annotations

import base64
import binascii
import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kfp_triggers.adapters.http import (
    AnswerTimeoutError,
    HttpClient,
    NoAnswerError,
    Redirects,
    default_client,
)
from kfp_triggers.golang.fmt import quote
from kfp_triggers.golang.json import GoJsonError, kind, type_error, unmarshal
from kfp_triggers.tekton.github_commit import enterprise_host_set
from kfp_triggers.tekton.headers import Headers, first, headers_from_pairs

ACCEPT = "application/vnd.github.v3+json"
USER_AGENT = "kfp-triggers"
_PATH_SAFE = "/$&+,:;=@"
ENTERPRISE_HOST_HEADER = "X-GitHub-Enterprise-Host"
# Go's httpguts.ValidHeaderFieldValue: control characters other than tab are refused.
_HEADER_UNSAFE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# GitHub lists at most 3000 files of a pull request, 100 a page; stop a server that never ends.
MAX_PAGES = 100
MAX_PULL_REQUEST_FILES = 3000
COMPARE_MAX_FILES = 300


class GitHubAPIError(Exception):
    """A GitHub API call failed; ``status`` is the HTTP status when there was a response."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def api_base_url(default_url: str, enterprise_host: str) -> str:
    """The API root: ``https://<enterprise host>/api/v3/`` when the webhook names one, else ``default_url``.

    Mirrors go-github's ``NewEnterpriseClient``: a trailing ``/`` and then ``api/v3/`` are added
    unless already there.
    """
    base = f"https://{enterprise_host}" if enterprise_host else default_url
    parts = urllib.parse.urlsplit(base)
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    if enterprise_host and not path.endswith("/api/v3/"):
        path += "api/v3/"
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


class EnterpriseHostError(ValueError):
    """A webhook names a GitHub Enterprise host the interceptor may not call; the text says which."""


class ApiRoots:
    """The API roots a webhook may direct the calls (and the token) to.

    Without ``X-GitHub-Enterprise-Host`` the configured ``default_url`` is used. With it, the
    host must be the configured API's own host (which then means ``default_url``) or one of
    ``enterprise_hosts`` (``host`` or ``host:port``, compared without regard to case), whose root
    is ``https://<host>/api/v3/``. Any other host is refused: the header is not covered by the
    webhook signature, so following it would hand the token, and the owners decision, to whoever
    sent the request.

    Raises:
        ValueError: an entry of ``enterprise_hosts`` is not a bare ``host`` or ``host:port``.
    """

    def __init__(self, default_url: str, enterprise_hosts: Iterable[str] = ()) -> None:
        self.default_url = default_url
        self._default_host = (urllib.parse.urlsplit(default_url).netloc or "").lower()
        self._hosts = enterprise_host_set(enterprise_hosts)

    def api_root(self, enterprise_host: str) -> str:
        """The API root for a webhook's ``X-GitHub-Enterprise-Host`` value (``""``: none sent).

        Raises:
            EnterpriseHostError: the host is not allowed.
        """
        if not enterprise_host:
            return self.default_url
        host = enterprise_host.lower()
        if host == self._default_host:
            return self.default_url
        if host not in self._hosts:
            raise EnterpriseHostError(
                f"{ENTERPRISE_HOST_HEADER} {quote(enterprise_host)} is not an allowed GitHub Enterprise host"
            )
        return api_base_url(self.default_url, host)


@dataclass(frozen=True)
class ChangedFiles:
    """Paths the API lists as changed, in its order without repeats; ``complete`` is False at its limit."""

    names: tuple[str, ...]
    complete: bool


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: Headers
    data: Any


class GitHubClient:
    """A minimal GitHub REST client with go-github's requests, errors and pagination."""

    def __init__(
        self, base_url: str, token: str = "", timeout_s: float = 3.0, *, http: HttpClient | None = None
    ) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self._token = token
        self.timeout_s = timeout_s
        self._http = http or default_client()

    def list_pull_request_files(self, owner: str, repo: str, number: int) -> list[str]:
        """File names of a pull request, every page, in API order."""
        names: list[str] = []
        page = 0
        for _ in range(MAX_PAGES):
            query = f"page={page}&per_page=100" if page else "per_page=100"
            reply = self._get(f"repos/{_seg(owner)}/{_seg(repo)}/pulls/{number}/files?{query}")
            for item in _list_of_objects(reply.data, "[]*github.CommitFile"):
                name = item.get("filename")
                if not isinstance(name, str):
                    raise GitHubAPIError("pull request file without a 'filename' in the GitHub API reply")
                names.append(name)
            page = _next_page(reply.headers)
            if not page:
                break
        return names

    def pull_request_changes(self, owner: str, repo: str, number: int) -> ChangedFiles:
        """Every path a pull request touches, the old name of a renamed file included.

        GitHub lists at most 3000 files of a pull request; a list of that length may be cut.
        """
        names: list[str] = []
        listed = 0
        page = 0
        for _ in range(MAX_PAGES):
            query = f"page={page}&per_page=100" if page else "per_page=100"
            reply = self._get(f"repos/{_seg(owner)}/{_seg(repo)}/pulls/{int(number)}/files?{query}")
            found, count = _file_names(reply.data, "[]*github.CommitFile")
            names.extend(found)
            listed += count
            page = _next_page(reply.headers)
            if not page:
                break
        complete = listed < MAX_PULL_REQUEST_FILES and not page
        return ChangedFiles(tuple(dict.fromkeys(names)), complete=complete)

    def compare_changes(self, owner: str, repo: str, base: str, head: str) -> ChangedFiles:
        """Every path changed between two commits (the old name of a renamed file included).

        GitHub lists at most 300 files of a comparison; a list of that length may be cut.
        """
        path = f"repos/{_seg(owner)}/{_seg(repo)}/compare/{_seg(base)}...{_seg(head)}?per_page=1"
        data = self._get(path).data
        if not isinstance(data, dict):
            raise GitHubAPIError(str(type_error(kind(data), "github.CommitsComparison")))
        names, count = _file_names(data.get("files"), "[]*github.CommitFile")
        return ChangedFiles(tuple(dict.fromkeys(names)), complete=count < COMPARE_MAX_FILES)

    def list_public_members(self, org: str) -> list[str] | None:
        """Logins of the organisation's public members; ``None`` when GitHub answers 404."""
        try:
            reply = self._get(f"orgs/{_seg(org)}/public_members")
        except GitHubAPIError as exc:
            if exc.status == 404:
                return None
            raise
        return _logins(reply.data)

    def list_collaborators(self, owner: str, repo: str) -> list[str]:
        """Logins of the repository's collaborators (first page, as Tekton)."""
        return _logins(self._get(f"repos/{_seg(owner)}/{_seg(repo)}/collaborators").data)

    def collaborator_permission(self, owner: str, repo: str, username: str) -> str:
        """``username``'s permission on the repository; ``"none"`` when GitHub answers 404 (no such user)."""
        path = f"repos/{_seg(owner)}/{_seg(repo)}/collaborators/{_seg(username)}/permission"
        try:
            data = self._get(path).data
        except GitHubAPIError as exc:
            if exc.status == 404:
                return "none"
            raise
        found = data.get("permission") if isinstance(data, dict) else None
        if not isinstance(found, str):
            raise GitHubAPIError("no 'permission' in the GitHub API reply")
        return found

    def get_pull_request(self, owner: str, repo: str, number: int) -> dict[str, Any]:
        """A pull request as the API returns it (the webhook's ``pull_request`` object, fresh)."""
        data = self._get(f"repos/{_seg(owner)}/{_seg(repo)}/pulls/{int(number)}").data
        if not isinstance(data, dict):
            raise GitHubAPIError(str(type_error(kind(data), "github.PullRequest")))
        return data

    def get_file(self, owner: str, repo: str, path: str) -> str:
        """Text of a repository file, decoded from the contents API's base64."""
        escaped = urllib.parse.quote(path, safe=_PATH_SAFE)
        reply = self._get(f"repos/{_seg(owner)}/{_seg(repo)}/contents/{escaped}")
        data = reply.data
        if isinstance(data, list):
            raise GitHubAPIError(f"referenced file inside the Github Repository {path} is a directory")
        if not isinstance(data, dict):
            error = type_error(kind(data), "github.RepositoryContent")
            raise GitHubAPIError(f"unmarshalling failed for both file and directory content: {error}")
        encoding = data.get("encoding") or ""
        content = data.get("content")
        if encoding == "base64":
            if not isinstance(content, str):
                raise GitHubAPIError("malformed response: base64 encoding of null content")
            return _b64decode(content)
        if encoding == "":
            return content if isinstance(content, str) else ""
        raise GitHubAPIError(f"unsupported content encoding: {encoding}")

    def _get(self, relative: str) -> _Reply:
        url = urllib.parse.urljoin(self.base_url, relative)
        sent = {"Accept": ACCEPT, "User-Agent": USER_AGENT}
        if self._token:
            if _HEADER_UNSAFE.search(self._token):
                # Go's client refuses to send such a value; http.client would fail with it in its message.
                raise GitHubAPIError(
                    f'Get {quote(url)}: net/http: invalid header field value for "Authorization"'
                )
            # http.client writes header values as Latin-1; this sends the token's UTF-8 bytes, as Go does.
            sent["Authorization"] = f"Bearer {self._token}".encode().decode("latin-1")
        try:
            # Redirects are followed as Go's client does: the token only within the host.
            answer = self._http.request(
                "GET", url, headers=sent, timeout_s=self.timeout_s, redirects=Redirects.WITHIN_HOST
            )
        except AnswerTimeoutError:
            raise GitHubAPIError("context deadline exceeded") from None
        except NoAnswerError as exc:
            raise GitHubAPIError(f"Get {quote(url)}: {exc.reason}") from None
        status, raw = answer.status, answer.body
        if not answer.ok:
            raise GitHubAPIError(_error_text(url, status, raw), status)
        headers = headers_from_pairs(answer.headers)
        if status == 202:
            raise GitHubAPIError("job scheduled on GitHub side; try again later", status)
        if not raw.strip():
            return _Reply(status, headers, None)
        try:
            return _Reply(status, headers, _decode(raw))
        except GoJsonError as exc:
            raise GitHubAPIError(str(exc), status) from None


def _decode(raw: bytes) -> Any:
    """A GitHub answer as go-github decodes it into structs: numbers in fields it ignores never fail."""
    return unmarshal(raw, numbers="exact")


def _seg(value: str) -> str:
    """One path segment, escaped; a segment that would move the path (``.``, ``..``, empty) is refused."""
    if value in ("", ".", ".."):
        raise GitHubAPIError(f"{quote(value)} cannot be a segment of a GitHub API path")
    return urllib.parse.quote(value, safe="$&+,:;=@")


def _file_names(data: Any, go_type: str) -> tuple[list[str], int]:
    """Each file's ``filename``, after its ``previous_filename`` when renamed; and the number of files."""
    names: list[str] = []
    items = _list_of_objects(data, go_type)
    for item in items:
        name = item.get("filename")
        if not isinstance(name, str):
            raise GitHubAPIError("changed file without a 'filename' in the GitHub API reply")
        previous = item.get("previous_filename")
        if isinstance(previous, str) and previous:
            names.append(previous)
        names.append(name)
    return names, len(items)


def _error_text(url: str, status: int, body: bytes) -> str:
    """go-github's ``ErrorResponse.Error()``: ``GET <url>: <status> <message> [<errors>]``."""
    message, errors = "", []
    try:
        parsed = _decode(body)
    except GoJsonError:
        parsed = None
    if isinstance(parsed, dict):
        found = parsed.get("message")
        message = found if isinstance(found, str) else ""
        raw_errors = parsed.get("errors")
        if isinstance(raw_errors, list):
            for raw in raw_errors:
                item = raw if isinstance(raw, dict) else {}
                fields = ("Resource", "Field", "Code", "Message")
                errors.append("{" + " ".join(f"{f}:{item.get(f.lower(), '')}" for f in fields) + "}")
    return f"GET {url}: {status} {message} [{' '.join(errors)}]"


def _list_of_objects(data: Any, go_type: str) -> list[dict[str, Any]]:
    if data is None:
        return []
    if not isinstance(data, list):
        raise GitHubAPIError(str(type_error(kind(data), go_type)))
    return [item for item in data if isinstance(item, dict)]


def _logins(data: Any) -> list[str]:
    return [u["login"] for u in _list_of_objects(data, "[]*github.User") if isinstance(u.get("login"), str)]


def _next_page(headers: Headers) -> int:
    """The ``page`` of the ``rel="next"`` link in the first ``Link`` header (0: no more pages)."""
    links = first(headers, "Link")
    for link in links.split(","):
        segments = link.strip().split(";")
        if len(segments) < 2 or not (segments[0].startswith("<") and segments[0].endswith(">")):
            continue
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(segments[0][1:-1]).query)
        page = query.get("page", [""])[0]
        if page and any(s.strip() == 'rel="next"' for s in segments[1:]):
            return int(page) if page.isdigit() else 0
    return 0


def _b64decode(content: str) -> str:
    try:
        raw = base64.b64decode(content.replace("\n", "").replace("\r", ""), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise GitHubAPIError(f"illegal base64 data: {exc}") from None
    return raw.decode("utf-8", errors="replace")
