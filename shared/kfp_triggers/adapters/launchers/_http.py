"""JSON over HTTP for the KFP and Vertex launchers, mapping failures to launch errors.

The KFP and Vertex launchers speak REST directly rather than through kfp.Client or the Google SDK:
no heavy imports in the launch and status functions. Calls go through the engine's pooled client
(:mod:`kfp_triggers.adapters.http`), so a launch and its status polls reuse one connection.
Failures map to what the caller should do:

* 2xx with a JSON body: returned; 2xx with something else: :class:`LaunchUnavailable`.
* 3xx: :class:`LaunchRejected` (redirects are not followed: a redirect to a login page means
  an authenticating proxy sits in front of the API and a token is missing).
* 408 and 429: :class:`LaunchUnavailable` (retry later); any other 4xx: :class:`LaunchRejected`.
* 5xx, timeouts, refused or reset connections: :class:`LaunchUnavailable`.

Error messages carry the method, the URL path and the server's own message, never a header.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from kfp_triggers.adapters.http import (
    AnswerTimeoutError,
    ConnectError,
    HttpClient,
    NoAnswerError,
    default_client,
)
from kfp_triggers.adapters.launchers.base import LaunchRejected, LaunchUnavailable

USER_AGENT = "kfp-triggers"
_RETRYABLE_4XX = frozenset({408, 429})
_MAX_MESSAGE = 300

TokenProvider = Callable[[], str | None]


def _server_message(raw: bytes) -> str:
    """The human part of an error body: Google's ``error.message``, grpc-gateway's ``message``."""
    text = raw.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:_MAX_MESSAGE]
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return str(err["message"])[:_MAX_MESSAGE]
        for key in ("message", "error"):
            if isinstance(data.get(key), str) and data[key]:
                return str(data[key])[:_MAX_MESSAGE]
    return text[:_MAX_MESSAGE]


def _where(location: str | None) -> str:
    if not location:
        return "elsewhere"
    parts = urllib.parse.urlsplit(location)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def request_json(
    method: str,
    url: str,
    *,
    body: Mapping[str, Any] | None = None,
    token: str | None = None,
    timeout_s: float,
    headers: Mapping[str, str] | None = None,
    client: HttpClient | None = None,
) -> dict[str, Any]:
    """Send one request (through ``client``, the shared one by default); return the JSON object answered.

    Raises:
        LaunchRejected: 3xx, or a 4xx other than 408/429 (``status`` holds the code).
        LaunchUnavailable: 5xx, 408, 429, timeouts, connection errors, a non-JSON 2xx body.
    """
    path = urllib.parse.urlsplit(url).path
    what = f"{method} {path}"
    data = None if body is None else json.dumps(body).encode("utf-8")
    sent = {"Accept": "application/json", "User-Agent": USER_AGENT}
    if data is not None:
        sent["Content-Type"] = "application/json"
    if token:
        sent["Authorization"] = f"Bearer {token}"
    sent.update(headers or {})
    try:
        answer = (client or default_client()).request(
            method, url, headers=sent, body=data, timeout_s=timeout_s
        )
    except AnswerTimeoutError as exc:
        raise LaunchUnavailable(f"{what}: no answer within {timeout_s:g} s") from exc
    except ConnectError as exc:
        raise LaunchUnavailable(f"{what}: cannot connect: {exc.reason}") from exc
    except NoAnswerError as exc:
        raise LaunchUnavailable(f"{what}: connection failed: {exc.reason}") from exc
    code, raw = answer.status, answer.body
    if not 200 <= code < 300:
        message = _server_message(raw)
        text = f"{what}: HTTP {code} {answer.reason}" + (f": {message}" if message else "")
        if 300 <= code < 400:
            raise LaunchRejected(
                f"{what}: redirected (HTTP {code}) to {_where(answer.header('Location'))}; "
                "is an authenticating proxy in front of the API (a token missing)?",
                status=code,
            )
        if 400 <= code < 500 and code not in _RETRYABLE_4XX:
            raise LaunchRejected(text, status=code)
        raise LaunchUnavailable(text, status=code)
    if not raw.strip():
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise LaunchUnavailable(f"{what}: HTTP {code} with a body that is not a JSON object")
    return parsed
