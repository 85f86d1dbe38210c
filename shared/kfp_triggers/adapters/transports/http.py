"""Publish over HTTP to a CloudEvents sink: a Knative Broker (``K_SINK``) or any receiver.

Each event is POSTed in binary mode (``ce-*`` headers, JSON data as body), the mode Knative
components exchange. The topic is not sent: a Knative Broker routes on the event ``type``
through its Triggers. A 2xx answer is the broker's acknowledgement (it has stored the event);
anything else, including a redirect, a time-out or a refused connection, is a
:class:`TransportError`, so the caller retries. Uses only the standard library.

With ``token_file`` (Knative Eventing's OIDC: a SinkBinding mounts its identity's token at
``/oidc/token``), every POST carries ``Authorization: Bearer <token>``, read from the file each
time since it rotates, so a Broker that authenticates senders can tell the stages apart.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from http import HTTPStatus
from http.client import HTTPException
from pathlib import Path
from urllib.parse import urlsplit

from kfp_triggers.adapters.httpopener import no_redirect_opener
from kfp_triggers.adapters.transports.base import MessageTooLargeError, TransportConfigError, TransportError
from kfp_triggers.wire.events import CloudEvent, to_http_binary

_MAX_ERROR_BODY = 200


class HttpSinkPublisher:
    """POSTs binary-mode CloudEvents to one URL."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
        token_file: str | os.PathLike[str] | None = None,
    ) -> None:
        """Create a publisher for ``url``.

        Raises:
            TransportConfigError: ``url`` is not an http(s) URL.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise TransportConfigError(f"the CloudEvents sink must be an http(s) URL, got {url!r}")
        self.url = url
        self.timeout = timeout
        self.extra_headers = dict(headers or {})
        self.token_file = Path(token_file) if token_file is not None else None

    def publish(self, topic: str, event: CloudEvent) -> str:
        """POST ``event``; returns its CloudEvent id once the sink answered 2xx.

        Raises:
            TransportError: non-2xx answer, time-out or connection failure.
            MessageTooLargeError: the sink answered 413 (a Knative broker's size limit, say).
        """
        headers, body = to_http_binary(event)
        auth = {"Authorization": f"Bearer {self._token()}"} if self.token_file is not None else {}
        post_binary(
            self.url,
            {**self.extra_headers, **auth, **headers},
            body,
            self.timeout,
            what=f"event {event['id']!r}",
        )
        return str(event["id"])

    def _token(self) -> str:
        assert self.token_file is not None
        try:
            token = self.token_file.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise TransportError(
                f"cannot read the sink token {self.token_file}: {type(exc).__name__}"
            ) from None
        if not token or any(c.isspace() or not c.isprintable() for c in token):
            raise TransportError(
                f"the sink token in {self.token_file} is empty or not a single printable word"
            )
        return token


_OPENER = no_redirect_opener()


def post_binary(url: str, headers: Mapping[str, str], body: bytes, timeout: float, *, what: str) -> None:
    """POST one binary-mode CloudEvent (``ce-*`` headers, data as body); return once it is 2xx.

    Raises:
        TransportError: non-2xx answer (a redirect too), time-out or connection failure.
        MessageTooLargeError: the receiver answered 413: sending it again cannot help.
    """
    try:
        request = urllib.request.Request(url, data=body, method="POST", headers=dict(headers))
        with _OPENER.open(request, timeout=timeout) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        detail = exc.read(_MAX_ERROR_BODY).decode("utf-8", "replace").strip()
        exc.close()
        message = f"sink {url} refused {what} with HTTP {exc.code}" + (f": {detail}" if detail else "")
        if exc.code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
            raise MessageTooLargeError(f"{message} ({len(body)} bytes)") from exc
        raise TransportError(message) from exc
    except (urllib.error.URLError, HTTPException, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TransportError(f"sink {url} unreachable for {what}: {reason}") from exc
    if not 200 <= status < 300:  # 1xx/3xx that urllib did not raise on
        raise TransportError(f"sink {url} answered HTTP {status} for {what}")
