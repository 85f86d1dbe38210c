"""GitLab's ``PRIVATE-TOKEN`` never follows a redirect, and a redirected answer authorises nobody.

Two real local HTTP servers: the configured GitLab answers 302 to another host, which would answer
``access_level: 50`` to whoever asks; the client must neither send the token there nor believe it.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import ClassVar

import pytest

from kfp_triggers.interceptors.pr_api import GitLabAPIError, GitLabClient


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, str]]] = []
    redirect_to: ClassVar[str] = ""

    def do_GET(self) -> None:
        type(self).seen.append({k.lower(): v for k, v in self.headers.items()})
        if self.redirect_to:
            self.send_response(302)
            self.send_header("Location", self.redirect_to + self.path)
            self.end_headers()
            return
        body = json.dumps({"access_level": 50}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _serve(handler: type[_Recorder]) -> tuple[http.server.HTTPServer, str]:
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def servers() -> Iterator[tuple[type[_Recorder], type[_Recorder], str]]:
    other = type("Other", (_Recorder,), {"seen": [], "redirect_to": ""})
    other_server, other_url = _serve(other)
    gitlab = type(
        "GitLab", (_Recorder,), {"seen": [], "redirect_to": other_url.replace("127.0.0.1", "localhost")}
    )
    gitlab_server, gitlab_url = _serve(gitlab)
    yield gitlab, other, gitlab_url
    for server in (other_server, gitlab_server):
        server.shutdown()
        server.server_close()


def test_a_redirect_is_not_followed_with_the_token(
    servers: tuple[type[_Recorder], type[_Recorder], str],
) -> None:
    gitlab, other, url = servers
    client = GitLabClient(f"{url}/api/v4/", token="glpat-secret")
    with pytest.raises(GitLabAPIError):
        client.access_level(7, 9)
    assert gitlab.seen and gitlab.seen[0]["private-token"] == "glpat-secret"
    assert other.seen == []  # the other host was never asked: no token, no answer believed
