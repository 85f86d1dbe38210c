"""The engine's one outbound HTTP client: pooled connections, timeouts, bounded retries, redirect rules.

Every call the engine makes to another service (the KFP and Vertex APIs, GitHub, Firestore,
remote interceptors, CloudEvents sinks) goes through an :class:`HttpClient`. The pooled one
keeps a pool of open connections per host and TLS setting (urllib3's ``PoolManager``), so the
several Firestore calls of one event share one TCP and TLS handshake instead of paying one each.

The rules are the same for every caller:

* Redirects are not followed unless the caller asks for :attr:`Redirects.WITHIN_HOST`, and then
  only for GET and HEAD: a redirected POST would lose its body or be replayed elsewhere, and a
  redirect could carry a bearer token away. Such calls get the 3xx answer and report it. Followed
  redirects (GitHub's, for a renamed repository) re-send credentials (``Authorization``,
  ``Cookie``, ``Proxy-Authorization``) only to the same host or one of its subdomains and never
  from https to plain http, as Go's client does; at most :data:`MAX_REDIRECTS` are followed.
* Every status comes back as an :class:`Answer`: what a 4xx or 5xx means is the caller's call.
* A call that gets no answer raises a :class:`NoAnswerError`: :class:`AnswerTimeoutError` (no answer in
  time), :class:`ConnectError` (refused, unknown host, TLS handshake refused) or
  :class:`ConnectionLostError` (closed or reset during the exchange). ``reason`` is the underlying
  error's own text (``[Errno 111] Connection refused``), so callers' messages stay readable.
* Retries: an idempotent call (GET, HEAD, PUT, DELETE, OPTIONS, or one the caller marks so, such
  as a read-only query sent as POST) is sent again, at most ``retries`` times, when the connection
  could not be opened or broke before an answer came (a pooled connection the server had closed,
  say). Timeouts are never retried, so the caller's time budget holds; a POST is sent once.

Headers go out exactly as given, repeated names as repeated lines; no ``User-Agent`` is added.
Bodies come back as the server sent them: nothing is decompressed. urllib3 is imported when the
first client is made, so a stage that never calls out does not pay for it at cold start.
"""

from __future__ import annotations

import ssl
import threading
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

MAX_REDIRECTS = 10
"""Go's client stops after ten redirects; so does this one (the last 3xx is then the answer)."""

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "private-token"})
"""Headers dropped when a redirect leaves the site (GitLab's ``PRIVATE-TOKEN`` is a credential too)."""
_FOLLOWABLE_METHODS = frozenset({"GET", "HEAD"})

Headers = Mapping[str, str] | Iterable[tuple[str, str]]
"""Request headers: a mapping, or ``(name, value)`` pairs when a name repeats."""


class Redirects(Enum):
    """Which redirects a call follows."""

    NONE = "none"
    """The 3xx is the answer: for POSTs and every call carrying a token to a fixed API."""
    WITHIN_HOST = "within-host"
    """Followed (GET and HEAD only); credentials re-sent only within the host, never to plain http."""


@dataclass(frozen=True)
class Answer:
    """A server's answer: status, reason phrase, every header line in order, the whole body."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    url: str
    """The address that answered (after any redirect followed)."""

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or ``None``."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    @property
    def ok(self) -> bool:
        """True for a 2xx answer."""
        return 200 <= self.status < 300


class NoAnswerError(Exception):
    """No answer came; ``reason`` is the underlying error's text, ``url`` the address called.

    ``resendable`` is false when sending the same request again at once would meet the same end
    (a timeout, a certificate refused, an address that cannot be parsed).
    """

    def __init__(self, url: str, reason: str, *, resendable: bool = False) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.resendable = resendable


class AnswerTimeoutError(NoAnswerError):
    """The connection or the answer took longer than the call's timeout."""


class ConnectError(NoAnswerError):
    """No connection could be opened: refused, unknown host, bad address, TLS handshake refused."""


class ConnectionLostError(NoAnswerError):
    """The connection opened but closed or broke before a whole answer came."""


class HttpClient(Protocol):
    """What the engine needs of an HTTP client; tests may pass their own."""

    def request(
        self,
        method: str,
        url: str,
        *,
        timeout_s: float,
        headers: Headers = (),
        body: bytes | None = None,
        redirects: Redirects = Redirects.NONE,
        idempotent: bool | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> Answer:
        """Send one request and return the answer, whatever its status.

        ``idempotent`` defaults to what ``method`` implies; ``ssl_context`` replaces the system's
        TLS settings (a private CA bundle, say).

        Raises:
            NoAnswerError: no answer (:class:`AnswerTimeoutError`, :class:`ConnectError`,
                :class:`ConnectionLostError`).
        """
        ...


class PooledHttpClient:
    """:class:`HttpClient` over urllib3: one pool of kept-alive connections per host and TLS setting."""

    def __init__(self, *, retries: int = 1, num_pools: int = 32, maxsize: int = 8) -> None:
        """``retries``: extra attempts of an idempotent call whose connection failed before an answer.

        ``num_pools`` hosts keep connections open (least recently used dropped first), each up to
        ``maxsize`` idle connections; more concurrent calls open extra ones, closed after use.
        """
        if retries < 0:
            raise ValueError("retries must be 0 or more")
        import urllib3

        self.retries = retries
        self._pools = urllib3.PoolManager(num_pools=num_pools, maxsize=maxsize, block=False)

    def request(
        self,
        method: str,
        url: str,
        *,
        timeout_s: float,
        headers: Headers = (),
        body: bytes | None = None,
        redirects: Redirects = Redirects.NONE,
        idempotent: bool | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> Answer:
        method = method.upper()
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        follow = redirects is Redirects.WITHIN_HOST and method in _FOLLOWABLE_METHODS
        pairs = list(headers.items() if isinstance(headers, Mapping) else headers)
        answer = self._send(method, url, pairs, body, timeout_s, idempotent, ssl_context)
        for _ in range(MAX_REDIRECTS):
            target = _redirect_target(answer) if follow else None
            if target is None:
                return answer
            if not same_site(answer.url, target):
                pairs = [(k, v) for k, v in pairs if k.lower() not in CREDENTIAL_HEADERS]
            answer = self._send(method, target, pairs, None, timeout_s, idempotent, ssl_context)
        return answer

    def clear(self) -> None:
        """Close every pooled connection (they reopen on the next call)."""
        self._pools.clear()

    def _send(
        self,
        method: str,
        url: str,
        pairs: list[tuple[str, str]],
        body: bytes | None,
        timeout_s: float,
        idempotent: bool,
        ssl_context: ssl.SSLContext | None,
    ) -> Answer:
        attempts = 1 + (self.retries if idempotent else 0)
        for attempt in range(1, attempts + 1):
            try:
                return self._once(method, url, pairs, body, timeout_s, ssl_context)
            except NoAnswerError as exc:
                if attempt == attempts or not exc.resendable:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(
        self,
        method: str,
        url: str,
        pairs: list[tuple[str, str]],
        body: bytes | None,
        timeout_s: float,
        ssl_context: ssl.SSLContext | None,
    ) -> Answer:
        import urllib3
        from urllib3.util import SKIP_HEADER

        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConnectError(url, f"unsupported URL scheme or no host: {url!r}")
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        sent = urllib3.HTTPHeaderDict()
        for name, value in pairs:
            sent.add(name, value)
        if body is not None and "Content-Length" not in sent:
            sent["Content-Length"] = str(len(body))
        if "User-Agent" not in sent:
            sent["User-Agent"] = SKIP_HEADER  # urllib3 would add its own
        kwargs = {"ssl_context": ssl_context} if ssl_context is not None and parts.scheme == "https" else None
        try:
            pool = self._pools.connection_from_host(
                parts.hostname, parts.port, parts.scheme, pool_kwargs=kwargs
            )
            response = pool.urlopen(
                method,
                target,
                body=body,
                headers=sent,
                retries=False,
                redirect=False,
                assert_same_host=False,
                timeout=urllib3.Timeout(connect=timeout_s, read=timeout_s),
                preload_content=True,
                decode_content=False,
            )
        except (urllib3.exceptions.HTTPError, ValueError, OSError) as exc:
            raise _failure(url, exc) from exc
        return Answer(
            status=response.status,
            reason=response.reason or "",
            headers=tuple(response.headers.items()),
            body=response.data,
            url=url,
        )


def same_site(old: str, new: str) -> bool:
    """True when ``new`` is on the host of ``old`` (or a subdomain) and no less protected.

    A redirect from https to plain http would put a token on the wire in clear text.
    """
    was, now = urllib.parse.urlsplit(old), urllib.parse.urlsplit(new)
    before, after = (was.hostname or "").lower(), (now.hostname or "").lower()
    if was.scheme == "https" and now.scheme != "https":
        return False
    return bool(before) and (after == before or after.endswith("." + before))


def _redirect_target(answer: Answer) -> str | None:
    """Where a 3xx answer points, when it is one to follow (http or https, with a Location)."""
    location = answer.header("Location")
    if answer.status not in REDIRECT_STATUSES or not location:
        return None
    target = urllib.parse.urljoin(answer.url, location)
    return target if urllib.parse.urlsplit(target).scheme in ("http", "https") else None


def _failure(url: str, exc: BaseException) -> NoAnswerError:
    """urllib3's exception as the client's: timeouts, refused connections, broken exchanges."""
    from urllib3.exceptions import LocationValueError, NewConnectionError, ProtocolError, SSLError
    from urllib3.exceptions import TimeoutError as Urllib3Timeout

    reason = _root_reason(exc)
    if isinstance(exc, NewConnectionError):  # before Urllib3Timeout: it subclasses it
        return ConnectError(url, reason, resendable=True)
    if isinstance(exc, Urllib3Timeout | TimeoutError):
        return AnswerTimeoutError(url, reason)
    if isinstance(exc, SSLError | ssl.SSLError | LocationValueError | ValueError):
        return ConnectError(url, reason)
    return ConnectionLostError(url, reason, resendable=isinstance(exc, ProtocolError))


def _root_reason(exc: BaseException) -> str:
    """The text of the innermost error urllib3 wrapped (the socket's or TLS's own message)."""
    seen: set[int] = set()
    current: BaseException = exc
    while id(current) not in seen:
        seen.add(id(current))
        inner = current.__cause__ or next((a for a in current.args if isinstance(a, BaseException)), None)
        if inner is None:
            break
        current = inner
    return str(current) or type(current).__name__


_default: PooledHttpClient | None = None
_default_lock = threading.Lock()


def default_client() -> PooledHttpClient:
    """The process's shared client, made on first use, so every caller shares its pools."""
    global _default  # noqa: PLW0603 - one pool manager per process
    with _default_lock:
        if _default is None:
            _default = PooledHttpClient()
        return _default
