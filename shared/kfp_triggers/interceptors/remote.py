"""Calling interceptors over HTTP(S), as Tekton's event listener does.

* :class:`RemoteInterceptor` speaks the ClusterInterceptor/Interceptor protocol: POST the
  ``InterceptorRequest`` as JSON, require HTTP 200, read an ``InterceptorResponse``. Such an
  interceptor can only add extensions or stop the chain.
* :class:`LegacyWebhookInterceptor` is the deprecated ``webhook:`` interceptor: the event itself
  (body with the extensions merged in, headers plus configured ones) is POSTed, and the reply's
  body and headers *replace* the event's for the rest of the chain and for the bindings.
* :func:`interceptor_url` resolves a ClusterInterceptor/Interceptor document to its address.

Calls go through the engine's pooled HTTP client, so the interceptors of a chain keep their
connections open between events; TLS settings are made once per ``caBundle``. Differences from
Go's client, kept small on purpose: redirects are not followed, and an ``https`` interceptor
without a ``caBundle`` is verified against the system roots (Tekton uses only the pool of
configured ``caBundle`` s).
"""

from __future__ import annotations

import base64
import binascii
import functools
import ssl
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kfp_triggers.adapters.http import AnswerTimeoutError, HttpClient, NoAnswerError, default_client
from kfp_triggers.errors import InterceptorError, InvalidRequestError
from kfp_triggers.golang.fmt import quote
from kfp_triggers.golang.json import GoJsonError, marshal, unmarshal
from kfp_triggers.golang.textproto import canonical_header_key
from kfp_triggers.tekton.headers import Headers, headers_from_pairs
from kfp_triggers.tekton.interceptor_protocol import InterceptorRequest, InterceptorResponse

WEBHOOK_URL_HEADER = "Eventlistener-Request-Url"
# Headers the HTTP client itself writes; copies from the incoming request are not forwarded.
_CLIENT_MANAGED = frozenset({"Host", "Content-Length", "Transfer-Encoding", "Trailer", "Connection"})
_EXCERPT = 500


@dataclass(frozen=True)
class WebhookResult:
    """What a legacy webhook interceptor answered: the new body and headers of the event."""

    body: bytes
    header: Headers


class WebhookTarget(Protocol):
    """A configured ``webhook:`` interceptor (``objectRef`` with its namespace filled in, or ``url``)."""

    @property
    def url(self) -> str | None: ...

    @property
    def service(self) -> Mapping[str, Any] | None: ...

    @property
    def header(self) -> Sequence[tuple[str, str | Sequence[str]]]: ...


class RemoteInterceptor:
    """An interceptor reached over HTTP(S) with Tekton's InterceptorRequest/Response protocol."""

    def __init__(
        self,
        url: str,
        *,
        ca_bundle: bytes | str | None = None,
        timeout_s: float = 3.0,
        http: HttpClient | None = None,
    ) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self._ssl = _ssl_context(ca_bundle) if url.lower().startswith("https:") else None
        self._http = http or default_client()

    def process(self, request: InterceptorRequest) -> InterceptorResponse:
        """POST the request; raise :class:`InterceptorError` unless a valid 200 reply comes back."""
        wire = request.to_wire()
        wire["context"] = _InOrder(wire["context"])  # a Go struct: fields in declaration order
        payload = _wire_json(wire)
        headers = [("Content-Type", "application/json")]
        status, reason, _, body = _post(self._http, self.url, payload, headers, self.timeout_s, self._ssl)
        if status != 200:
            raise InterceptorError(f"interceptor response was not 200: {status} {reason}: {_excerpt(body)}")
        try:
            return InterceptorResponse.from_wire(body)
        except InvalidRequestError as exc:
            raise InterceptorError(f"interceptor at {self.url} sent an invalid response: {exc}") from None


class LegacyWebhookInterceptor:
    """Tekton's deprecated ``webhook`` interceptor (5 s timeout); may replace body and headers."""

    def __init__(
        self,
        webhook: WebhookTarget,
        *,
        timeout_s: float = 5.0,
        ca_bundle: bytes | str | None = None,
        http: HttpClient | None = None,
    ) -> None:
        self.url = webhook_url(webhook)
        self.header_params = list(webhook.header)
        self.timeout_s = timeout_s
        self._ssl = _ssl_context(ca_bundle) if self.url.lower().startswith("https:") else None
        self._http = http or default_client()

    def call(
        self, body: bytes, header: Headers, extensions: Mapping[str, Any], event_url: str
    ) -> WebhookResult:
        """Send the event; return the reply's body and headers.

        Raises:
            InterceptorError: the extensions cannot be merged, the call fails, or the status is
                not 200 (``request rejected; status: <code> <reason>; message: <body>``).
        """
        sent_body = merge_extensions(body, extensions)
        sent = {canonical_header_key(k): list(v) for k, v in header.items()}
        sent[WEBHOOK_URL_HEADER] = [event_url]
        for name, value in self.header_params:
            key = canonical_header_key(name)
            sent[key] = [value] if isinstance(value, str) else list(value)
        pairs = [(k, v) for k, vs in sent.items() if k not in _CLIENT_MANAGED for v in vs]
        status, reason, reply_headers, reply = _post(
            self._http, self.url, sent_body, pairs, self.timeout_s, self._ssl
        )
        if status != 200:
            text = reply.decode("utf-8", errors="replace")
            raise InterceptorError(f"request rejected; status: {status} {reason}; message: {text}")
        return WebhookResult(reply, reply_headers)

    def execute(self, request: InterceptorRequest) -> WebhookResult:
        """:meth:`call` with the body, headers, extensions and event URL of ``request``."""
        event_url = request.context.event_url if request.context is not None else ""
        return self.call(request.body, request.header, request.extensions, event_url)


def webhook_url(webhook: WebhookTarget) -> str:
    """Tekton's address for a webhook: ``url``, else ``http://<name>.<namespace>.svc/`` for a v1 Service."""
    if webhook.url:
        return webhook.url
    ref = webhook.service or {}
    if ref.get("kind") == "Service" and ref.get("apiVersion") == "v1":
        return f"http://{ref.get('name', '')}.{ref.get('namespace') or 'default'}.svc/"
    raise InterceptorError("invalid objRef")


def merge_extensions(body: bytes, extensions: Mapping[str, Any]) -> bytes:
    """Put each extension at ``extensions.<key>`` of the JSON body (dots in a key nest, as sjson).

    Without extensions the body is returned unchanged, byte for byte; with some, the JSON value is
    what Tekton produces though it is written compactly rather than edited in place.
    """
    if not extensions:
        return body
    try:
        # sjson edits the body's text in place: numbers keep their exact value.
        document = unmarshal(body, numbers="exact") if body.strip() else {}
    except GoJsonError as exc:
        raise InterceptorError(f"could not merge extensions with body: {exc}") from None
    if not isinstance(document, dict):
        raise InterceptorError("could not merge extensions with body: the body is not a JSON object")
    for key, value in extensions.items():
        node = document
        path = ["extensions", *key.split(".")]
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[path[-1]] = value
    return _wire_json(document)


def interceptor_url(interceptor: Mapping[str, Any]) -> str:
    """The address of a ClusterInterceptor/Interceptor document, resolved as Tekton resolves it.

    ``status.address.url``, else ``spec.clientConfig.url``, else ``spec.clientConfig.service`` as
    ``http://<name>.<namespace>.svc:<port, default 80><path>`` or, when ``caBundle`` is non-empty,
    ``https://<name>.<namespace>.svc:<port, default 8443><path>``.

    Raises:
        InterceptorError: none of those is set (``... interceptor URL was nil``).
    """
    name = str(_get(interceptor, "metadata", "name") or "")
    status_url = _get(interceptor, "status", "address", "url")
    if status_url:
        return str(status_url)
    client = _get(interceptor, "spec", "clientConfig") or {}
    if client.get("url"):
        return str(client["url"])
    service = client.get("service")
    if not isinstance(service, Mapping):
        raise InterceptorError(f"url resolution failed for interceptor {name} with: interceptor URL was nil")
    https = bool(client.get("caBundle"))
    port = service.get("port")
    if port is None:
        port = 8443 if https else 80
    path = str(service.get("path") or "")
    if path and not path.startswith("/"):
        path = "/" + path
    path = urllib.parse.quote(path, safe="/$&+,:;=@")
    scheme = "https" if https else "http"
    return f"{scheme}://{service.get('name', '')}.{service.get('namespace', '')}.svc:{port}{path}"


def decode_ca_bundle(ca_bundle: bytes | str) -> bytes:
    """PEM bytes from a ``caBundle``: PEM as is, or base64 of PEM as Kubernetes stores ``[]byte``."""
    raw = ca_bundle.encode("ascii", errors="replace") if isinstance(ca_bundle, str) else ca_bundle
    if b"-----BEGIN" in raw:
        return raw
    try:
        return base64.b64decode(raw, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise InterceptorError(f"caBundle is neither PEM nor base64: {exc}") from None


@functools.lru_cache(maxsize=64)
def _ssl_context(ca_bundle: bytes | str | None) -> ssl.SSLContext:
    """TLS settings for a ``caBundle`` (the system roots without one), made once per bundle.

    One context per bundle, not per call, lets the HTTP client keep that interceptor's
    connections pooled: its pools are keyed by host and TLS settings.
    """
    if not ca_bundle:
        context = ssl.create_default_context()
    else:
        pem = decode_ca_bundle(ca_bundle).decode("ascii", errors="replace")
        try:
            context = ssl.create_default_context(cadata=pem)
        except (ssl.SSLError, ValueError) as exc:
            raise InterceptorError(f"unable to parse cert from caBundle: {exc}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _post(
    http: HttpClient,
    url: str,
    body: bytes,
    headers: list[tuple[str, str]],
    timeout_s: float,
    context: ssl.SSLContext | None,
) -> tuple[int, str, Headers, bytes]:
    """POST (repeated header lines kept, no redirect followed); returns status, reason, headers, body."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InterceptorError(f"Post {quote(url)}: unsupported protocol scheme {quote(parts.scheme)}")
    try:
        answer = http.request(
            "POST", url, headers=headers, body=body, timeout_s=timeout_s, ssl_context=context
        )
    except AnswerTimeoutError:
        raise InterceptorError(
            f"Post {quote(url)}: context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
        ) from None
    except NoAnswerError as exc:
        raise InterceptorError(f"Post {quote(url)}: {exc.reason}") from None
    return answer.status, answer.reason, headers_from_pairs(answer.headers), answer.body


class _InOrder:
    """A mapping the Go encoder writes as a struct: keys in their order, not sorted."""

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self.fields = list(fields.items())

    def go_json_fields(self) -> list[tuple[str, Any]]:
        return self.fields


def _wire_json(value: Mapping[str, Any]) -> bytes:
    """The JSON Go's ``json.Marshal`` writes for a struct whose fields are ``value``'s keys, in order.

    Every value is written as Go writes it (float64 formatting, HTML-safe escapes, map keys sorted).

    Raises:
        InterceptorError: a value JSON cannot hold (a NaN, say), as Go's marshaller refuses it.
    """
    try:
        fields = [marshal(k) + ":" + marshal(v) for k, v in value.items()]
    except GoJsonError as exc:
        raise InterceptorError(f"failed to marshal the interceptor request: {exc}") from None
    return ("{" + ",".join(fields) + "}").encode("utf-8")


def _excerpt(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace").strip()
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "..."


def _get(obj: Mapping[str, Any], *keys: str) -> Any:
    node: Any = obj
    for key in keys:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node
