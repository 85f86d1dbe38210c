"""What the pull request comment commands ask GitHub and GitLab, and the answers they keep a while.

GitHub is asked through :class:`~kfp_triggers.interceptors.github_api.GitHubClient`. GitLab (REST
API v4) through :class:`GitLabClient`, over the same pooled HTTP client and with the same care:

* ``GET projects/:id/members/all/:user_id`` — a project member's ``access_level``, inherited
  memberships included (404: not a member);
* ``GET projects/:id/merge_requests/:iid`` — get a merge request.

Both send ``PRIVATE-TOKEN: <token>`` only when a token is configured, follow a redirect only within
the host, and build paths from whole numbers only: a project id, user id or merge request iid read
from a payload is checked to be one before any URL is made, so nothing a sender writes moves a path.

:class:`AccessCache` keeps each answer to "may this user run commands here?" for a few minutes, so
a burst of comments costs one API call per person, not one per comment.
"""

from __future__ import annotations

import hashlib
import threading
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from kfp_triggers.adapters.http import (
    AnswerTimeoutError,
    HttpClient,
    NoAnswerError,
    Redirects,
    default_client,
)
from kfp_triggers.golang.fmt import quote
from kfp_triggers.golang.json import GoJsonError, unmarshal

DEVELOPER_ACCESS = 30
"""GitLab's Developer role: the lowest access level that may push to a project."""
GITHUB_WRITE_PERMISSIONS = frozenset({"admin", "maintain", "write"})
"""GitHub permissions that include pushing to the repository."""
CACHE_SECONDS = 300.0
CACHE_ENTRIES = 4096
_MAX_ID = 2**63 - 1


class GitLabAPIError(Exception):
    """A GitLab API call failed; ``status`` is the HTTP status when there was a response."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def whole_number(value: object, what: str) -> int:
    """A positive whole number read from a payload (``what`` names it in the error).

    Raises:
        ValueError: anything else (a string, a float with a fraction, zero, a bool).
    """
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_ID:
        raise ValueError(f"{what} {value!r} is not a positive whole number")
    return value


class GitLabClient:
    """The two GitLab REST v4 calls the comment commands make."""

    def __init__(
        self, base_url: str, token: str = "", timeout_s: float = 3.0, *, http: HttpClient | None = None
    ) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self._token = token
        self.timeout_s = timeout_s
        self._http = http or default_client()

    def access_level(self, project_id: int, user_id: int) -> int:
        """The user's access level on the project (inherited included); 0 when not a member."""
        try:
            data = self._get(f"projects/{int(project_id)}/members/all/{int(user_id)}")
        except GitLabAPIError as exc:
            if exc.status == 404:
                return 0
            raise
        level = data.get("access_level") if isinstance(data, dict) else None
        if isinstance(level, bool) or not isinstance(level, int | float):
            raise GitLabAPIError("no 'access_level' in the GitLab API reply")
        return int(level)

    def merge_request(self, project_id: int, iid: int) -> dict[str, Any]:
        """A merge request as the API returns it."""
        data = self._get(f"projects/{int(project_id)}/merge_requests/{int(iid)}")
        if not isinstance(data, dict):
            raise GitLabAPIError("the GitLab API did not answer with a merge request object")
        return data

    def _get(self, relative: str) -> Any:
        url = urllib.parse.urljoin(self.base_url, relative)
        sent = {"Accept": "application/json", "User-Agent": "kfp-triggers"}
        if self._token:
            if any(ord(c) < 0x20 or ord(c) == 0x7F for c in self._token):
                raise GitLabAPIError(f"GET {quote(url)}: the token holds a control character")
            sent["PRIVATE-TOKEN"] = self._token.encode().decode("latin-1")
        try:
            answer = self._http.request(
                # No redirects: PRIVATE-TOKEN is not a header the client strips when a redirect
                # leaves the host, and an answer from elsewhere must not authorise anyone.
                "GET",
                url,
                headers=sent,
                timeout_s=self.timeout_s,
                redirects=Redirects.NONE,
            )
        except AnswerTimeoutError:
            raise GitLabAPIError(f"GET {url}: no answer in time") from None
        except NoAnswerError as exc:
            raise GitLabAPIError(f"GET {url}: {exc.reason}") from None
        if not answer.ok:
            raise GitLabAPIError(f"GET {url}: {answer.status} {_message(answer.body)}", answer.status)
        try:
            return unmarshal(answer.body, numbers="exact")
        except GoJsonError as exc:
            raise GitLabAPIError(f"GET {url}: {exc}", answer.status) from None


def _message(body: bytes) -> str:
    """GitLab's ``message`` (or ``error``) of an error answer, else the start of the body."""
    try:
        data = unmarshal(body, numbers="exact")
    except GoJsonError:
        data = None
    if isinstance(data, dict):
        for key in ("message", "error"):
            if isinstance(data.get(key), str):
                return str(data[key])
    return body[:200].decode("utf-8", "replace")


class AccessCache:
    """Answers to "may this user run commands on this repository?", each kept ``ttl_s`` seconds.

    Keyed by the API root, the repository, the user and a hash of the token (two triggers whose
    tokens see different things never share an answer). Refusals are kept as long as grants, so a
    stranger commenting many times costs one call; a change of someone's access therefore takes
    effect within ``ttl_s``. At most ``max_entries`` answers are kept, the oldest dropped first.
    """

    def __init__(
        self,
        ttl_s: float = CACHE_SECONDS,
        max_entries: int = CACHE_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, ...], tuple[float, str]] = OrderedDict()

    @staticmethod
    def key(api: str, repository: str, user: str, token: str) -> tuple[str, ...]:
        """The cache key; the token enters only as a hash."""
        return (api, repository, user, hashlib.sha256(token.encode()).hexdigest()[:16])

    def get(self, key: tuple[str, ...], fetch: Callable[[], str]) -> str:
        """The kept answer for ``key``, or ``fetch()``'s (kept when it returns; not when it raises)."""
        now = self._clock()
        with self._lock:
            found = self._entries.get(key)
            if found is not None and found[0] > now:
                return found[1]
        answer = fetch()
        with self._lock:
            self._entries[key] = (now + self.ttl_s, answer)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return answer
