"""Publish over HTTP to a CloudEvents sink: a Knative Broker (``K_SINK``) or any receiver.

Each event is POSTed in binary mode (``ce-*`` headers, JSON data as body), the mode Knative
components exchange. The topic is not sent: a Knative Broker routes on the event ``type``
through its Triggers. A 2xx answer is the broker's acknowledgement (it has stored the event);
anything else, including a redirect, a time-out or a refused connection, is a
:class:`TransportError`, so the caller retries. Posts go through the engine's pooled HTTP client,
so a stage keeps one connection to its broker; a POST is never sent twice by the client itself.

With ``token_file`` (Knative Eventing's OIDC: a SinkBinding mounts its identity's token at
``/oidc/token``), every POST carries ``Authorization: Bearer <token>``, read from the file each
time since it rotates, so a Broker that authenticates senders can tell the stages apart.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlsplit

from kfp_triggers.adapters.http import HttpClient, NoAnswerError, default_client
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
        http: HttpClient | None = None,
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
        self.http = http

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
            http=self.http,
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


def post_binary(
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    timeout: float,
    *,
    what: str,
    http: HttpClient | None = None,
) -> None:
    """POST one binary-mode CloudEvent (``ce-*`` headers, data as body); return once it is 2xx.

    ``http`` is the client to post with (no redirect followed), the engine's shared one by default.

    Raises:
        TransportError: non-2xx answer (a redirect too), time-out or connection failure.
        MessageTooLargeError: the receiver answered 413: sending it again cannot help.
    """
    try:
        answer = (http or default_client()).request(
            "POST", url, headers=headers, body=body, timeout_s=timeout
        )
    except NoAnswerError as exc:
        raise TransportError(f"sink {url} unreachable for {what}: {exc.reason}") from exc
    if answer.ok:
        return
    detail = answer.body[:_MAX_ERROR_BODY].decode("utf-8", "replace").strip()
    message = f"sink {url} refused {what} with HTTP {answer.status}" + (f": {detail}" if detail else "")
    if answer.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
        raise MessageTooLargeError(f"{message} ({len(body)} bytes)")
    raise TransportError(message)
