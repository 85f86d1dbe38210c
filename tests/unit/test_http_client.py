"""The engine's outbound HTTP client against real local servers: pooling, redirects, timeouts, retries."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kfp_triggers.adapters.http import (
    MAX_REDIRECTS,
    AnswerTimeoutError,
    ConnectError,
    ConnectionLostError,
    PooledHttpClient,
    Redirects,
    same_site,
)
from tests.unit.local_http import Reply, local_server

TOKEN = "Bearer t0ken"
Route = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class KeepAliveServer:
    """An HTTP/1.1 server that keeps connections open and counts the TCP connections it accepted."""

    base_url: str = ""
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str], list[tuple[str, str]]]] = field(default_factory=list)
    connections: int = 0

    def targets(self) -> list[str]:
        return [f"{method} {target}" for method, target, _, _ in self.requests]


def answer(
    status: int = 200, body: bytes = b"ok", **headers: str
) -> Callable[[BaseHTTPRequestHandler], None]:
    def reply(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name.replace("_", "-"), value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return reply


def hang_up(handler: BaseHTTPRequestHandler) -> None:
    """Read the request, then close the connection without a word."""
    handler.close_connection = True
    handler.connection.shutdown(socket.SHUT_RDWR)


def answer_then_close(handler: BaseHTTPRequestHandler) -> None:
    """Answer as if the connection stayed open, then close it: an idle connection the server dropped."""
    answer()(handler)
    handler.wfile.flush()
    handler.close_connection = True


@contextmanager
def keep_alive_server() -> Iterator[KeepAliveServer]:
    state = KeepAliveServer()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            state.requests.append((self.command, self.path, headers, list(self.headers.items())))
            route = state.routes.get(f"{self.command} {self.path}", answer(599, b"no such route"))
            route(self)

        do_GET = do_POST = _serve  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:
            return

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def get_request(self) -> tuple[socket.socket, object]:
            accepted = super().get_request()
            state.connections += 1
            return accepted

        def handle_error(self, request: object, client_address: object) -> None:
            return

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def client() -> Iterator[PooledHttpClient]:
    made = PooledHttpClient()
    yield made
    made.clear()


def test_calls_to_one_host_share_one_connection(client: PooledHttpClient) -> None:
    with keep_alive_server() as server:
        server.routes["GET /doc"] = answer(body=b'{"a": 1}')
        server.routes["POST /commit"] = answer(body=b"{}")
        server.routes["GET /missing"] = answer(404, b"not found")
        for _ in range(3):
            assert client.request("GET", server.base_url + "/doc", timeout_s=5).body == b'{"a": 1}'
            assert client.request("POST", server.base_url + "/commit", body=b"{}", timeout_s=5).ok
        missing = client.request("GET", server.base_url + "/missing", timeout_s=5)
        assert (missing.status, missing.reason, missing.body) == (404, "Not Found", b"not found")
        assert client.request("GET", server.base_url + "/doc", timeout_s=5).ok
    assert len(server.requests) == 8
    assert server.connections == 1


def test_a_pooled_connection_the_server_closed_is_replaced(client: PooledHttpClient) -> None:
    with keep_alive_server() as server:
        server.routes["GET /once"] = answer_then_close
        for _ in range(3):
            assert client.request("GET", server.base_url + "/once", timeout_s=5).body == b"ok"
    assert server.targets() == ["GET /once"] * 3
    assert server.connections == 3


def test_a_server_that_closes_after_each_answer_gets_a_new_connection_each_time(
    client: PooledHttpClient,
) -> None:
    with local_server({"GET /x": Reply(200, b"ok")}) as server:  # HTTP/1.0: one request a connection
        for _ in range(3):
            assert client.request("GET", server.base_url + "/x", timeout_s=5).body == b"ok"
    assert server.targets() == ["GET /x"] * 3


def test_headers_go_out_as_given_repeated_names_included_and_no_user_agent_added(
    client: PooledHttpClient,
) -> None:
    with keep_alive_server() as server:
        server.routes["POST /hook"] = answer(Set_Thing="1")
        pairs = [("X-Multi", "1"), ("X-Multi", "2"), ("Content-Type", "application/json")]
        got = client.request("POST", server.base_url + "/hook", headers=pairs, body=b"{}", timeout_s=5)
    [(_, _, headers, lines)] = server.requests
    assert [v for k, v in lines if k == "X-Multi"] == ["1", "2"]
    assert "user-agent" not in headers
    assert headers["content-length"] == "2"
    assert got.header("set-thing") == "1"


def test_credentials_follow_a_redirect_on_the_same_host_only(client: PooledHttpClient) -> None:
    with keep_alive_server() as other, keep_alive_server() as api:
        elsewhere = other.base_url.replace("127.0.0.1", "localhost") + "/final"
        other.routes["GET /final"] = answer()
        api.routes["GET /moved"] = answer(301, b"", Location="/final")
        api.routes["GET /final"] = answer(body=b"here")
        api.routes["GET /away"] = answer(302, b"", Location=elsewhere)
        auth = {"Authorization": TOKEN, "Accept": "application/json"}
        moved = client.request(
            "GET", api.base_url + "/moved", headers=auth, timeout_s=5, redirects=Redirects.WITHIN_HOST
        )
        away = client.request(
            "GET", api.base_url + "/away", headers=auth, timeout_s=5, redirects=Redirects.WITHIN_HOST
        )
    assert (moved.status, moved.body, moved.url) == (200, b"here", api.base_url + "/final")
    assert (away.status, away.url) == (200, elsewhere)
    [final] = [headers for _, target, headers, _ in api.requests if target == "/final"]
    assert final["authorization"] == TOKEN
    [(_, _, away_headers, _)] = other.requests
    assert "authorization" not in away_headers  # another host: the token stays behind
    assert away_headers["accept"] == "application/json"  # other headers travel on


def test_credentials_never_follow_to_plain_http_nor_to_a_lookalike_host() -> None:
    assert same_site("https://ghe.example.com/api/v3/x", "https://ghe.example.com/api/v3/y")
    assert same_site("https://example.com/a", "https://api.example.com/b")
    assert same_site("http://example.com/a", "https://example.com/b")
    assert not same_site("https://ghe.example.com/api/v3/x", "http://ghe.example.com/api/v3/y")
    assert not same_site("https://example.com/a", "https://example.com.evil.net/b")
    assert not same_site("https://api.example.com/a", "https://example.com/b")


@pytest.mark.parametrize("redirects", [Redirects.NONE, Redirects.WITHIN_HOST])
def test_a_post_follows_no_redirect(client: PooledHttpClient, redirects: Redirects) -> None:
    with keep_alive_server() as api:
        api.routes["POST /hook"] = answer(307, b"moved", Location=api.base_url + "/other")
        got = client.request(
            "POST",
            api.base_url + "/hook",
            body=b"{}",
            headers={"Authorization": TOKEN},
            timeout_s=5,
            redirects=redirects,
        )
    assert (got.status, got.body, got.header("Location")) == (307, b"moved", api.base_url + "/other")
    assert api.targets() == ["POST /hook"]


def test_a_token_call_without_redirects_gets_the_3xx(client: PooledHttpClient) -> None:
    with keep_alive_server() as api:
        api.routes["GET /doc"] = answer(302, b"", Location=api.base_url + "/login")
        got = client.request("GET", api.base_url + "/doc", headers={"Authorization": TOKEN}, timeout_s=5)
    assert got.status == 302
    assert api.targets() == ["GET /doc"]


def test_a_redirect_loop_stops_after_ten_hops_with_the_last_3xx(client: PooledHttpClient) -> None:
    with keep_alive_server() as api:
        api.routes["GET /loop"] = answer(302, b"again", Location="/loop")
        got = client.request("GET", api.base_url + "/loop", timeout_s=5, redirects=Redirects.WITHIN_HOST)
    assert (got.status, got.body) == (302, b"again")
    assert len(api.requests) == 1 + MAX_REDIRECTS


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_late_answer_is_a_timeout_and_is_not_sent_again(client: PooledHttpClient, method: str) -> None:
    with local_server({f"{method} /slow": Reply(200, b"late", delay_s=5)}) as server:
        with pytest.raises(AnswerTimeoutError) as caught:
            client.request(method, server.base_url + "/slow", body=b"{}", timeout_s=0.2)
        assert server.targets() == [f"{method} /slow"]
    assert caught.value.url == server.base_url + "/slow"
    assert not caught.value.resendable


def test_a_post_whose_connection_breaks_is_sent_once(client: PooledHttpClient) -> None:
    with keep_alive_server() as server:
        server.routes["POST /commit"] = hang_up
        with pytest.raises(ConnectionLostError):
            client.request("POST", server.base_url + "/commit", body=b"{}", timeout_s=5)
    assert server.targets() == ["POST /commit"]


def test_an_idempotent_call_whose_connection_breaks_is_sent_again_once(client: PooledHttpClient) -> None:
    with keep_alive_server() as server:
        server.routes["GET /doc"] = hang_up
        server.routes["POST /query"] = hang_up
        with pytest.raises(ConnectionLostError):
            client.request("GET", server.base_url + "/doc", timeout_s=5)
        with pytest.raises(ConnectionLostError):  # a read-only query, marked so by its caller
            client.request("POST", server.base_url + "/query", body=b"{}", timeout_s=5, idempotent=True)
    assert server.targets() == ["GET /doc"] * 2 + ["POST /query"] * 2


def test_a_refused_connection_is_a_connect_error_with_the_socket_reason(client: PooledHttpClient) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectError) as caught:
        client.request("POST", f"http://127.0.0.1:{port}/x", body=b"{}", timeout_s=5)
    assert "refused" in caught.value.reason.lower()
    assert caught.value.resendable


def test_an_address_that_is_not_http_is_refused_before_any_connection(client: PooledHttpClient) -> None:
    with pytest.raises(ConnectError, match="unsupported URL"):
        client.request("GET", "ftp://example.com/x", timeout_s=5)


def test_github_reads_follow_a_renamed_repository_with_the_token_and_leave_it_behind_elsewhere(
    client: PooledHttpClient,
) -> None:
    """Contract test (GitHub cannot run here): its 301 for a renamed repository, then another host."""
    from kfp_triggers.interceptors.github_api import GitHubClient

    with keep_alive_server() as other, keep_alive_server() as api:
        mirror = other.base_url.replace("127.0.0.1", "localhost")
        api.routes["GET /orgs/old/public_members"] = answer(301, b"", Location="/orgs/new/public_members")
        api.routes["GET /orgs/new/public_members"] = answer(302, b"", Location=mirror + "/members")
        other.routes["GET /members"] = answer(body=b'[{"login": "octocat"}]')
        github = GitHubClient(api.base_url, "t0ken", timeout_s=5, http=client)
        assert github.list_public_members("old") == ["octocat"]
    assert [h.get("authorization") for _, _, h, _ in api.requests] == ["Bearer t0ken"] * 2
    [(_, _, mirrored, _)] = other.requests
    assert "authorization" not in mirrored


def test_the_firestore_client_does_not_follow_a_redirect_with_its_token(client: PooledHttpClient) -> None:
    """Contract test: Firestore's REST API never redirects; one that does is an error, not a detour."""
    from kfp_triggers.adapters.store import StoreError
    from kfp_triggers.adapters.store._firestore_rest import FirestoreClient

    with keep_alive_server() as api:
        host = api.base_url.removeprefix("http://")
        firestore = FirestoreClient("p", "(default)", host, timeout_s=5, http=client)
        name = firestore.name("kfpt_runs", "r1")
        target = f"GET /v1/{name}"
        api.routes[target] = answer(302, b"", Location=api.base_url + "/elsewhere")
        with pytest.raises(StoreError, match="302"):
            firestore.get(name)
    assert api.targets() == [target]
