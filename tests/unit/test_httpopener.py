"""Redirect policies of the engine's outbound calls, against real local servers."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from kfp_triggers.adapters.httpopener import credential_keeping_opener, no_redirect_opener
from tests.unit.local_http import Reply, local_server


def _authorized(url: str) -> urllib.request.Request:
    request = urllib.request.Request(url)
    request.add_unredirected_header("Authorization", "Bearer t0ken")
    return request


def test_credentials_follow_a_redirect_on_the_same_host_only() -> None:
    with local_server({"GET /final": Reply(200, b"ok")}) as other:
        elsewhere = other.base_url.replace("127.0.0.1", "localhost") + "/final"
        with local_server() as api:
            api.routes["GET /moved"] = Reply(301, headers={"Location": api.base_url + "/final"})
            api.routes["GET /final"] = Reply(200, b"ok")
            api.routes["GET /away"] = Reply(302, headers={"Location": elsewhere})
            opener = credential_keeping_opener()
            with opener.open(_authorized(api.base_url + "/moved"), timeout=5) as response:
                assert response.read() == b"ok"
            with opener.open(_authorized(api.base_url + "/away"), timeout=5) as response:
                assert response.read() == b"ok"
    same_host = [r for r in api.requests if r.target == "/final"]
    assert [r.headers.get("authorization") for r in same_host] == ["Bearer t0ken"]
    [away] = other.requests
    assert "authorization" not in away.headers  # another host: the token stays behind


def test_the_post_opener_follows_no_redirect() -> None:
    with local_server() as api:
        api.routes["POST /hook"] = Reply(307, headers={"Location": api.base_url + "/other"})
        request = urllib.request.Request(api.base_url + "/hook", data=b"{}", method="POST")
        with pytest.raises(urllib.error.HTTPError) as caught:
            no_redirect_opener().open(request, timeout=5)
        caught.value.close()
    assert caught.value.code == 307
    assert [r.target for r in api.requests] == ["/hook"]


def test_the_firestore_client_does_not_follow_a_redirect_with_its_token() -> None:
    """Contract test: Firestore's REST API never redirects; one that does is an error, not a detour."""
    from kfp_triggers.adapters.store import StoreError
    from kfp_triggers.adapters.store._firestore_rest import FirestoreClient

    with local_server() as api:
        host = api.base_url.removeprefix("http://")
        client = FirestoreClient("p", "(default)", host, timeout_s=5)
        name = client.name("kfpt_runs", "r1")
        target = f"GET /v1/{name}"
        api.routes[target] = Reply(302, headers={"Location": api.base_url + "/elsewhere"})
        with pytest.raises(StoreError, match="302"):
            client.get(name)
    assert api.targets() == [target]


def test_credentials_never_follow_a_redirect_from_https_to_plain_http() -> None:
    from kfp_triggers.adapters.httpopener import _same_site

    assert _same_site("https://ghe.example.com/api/v3/x", "https://ghe.example.com/api/v3/y")
    assert _same_site("https://example.com/a", "https://api.example.com/b")
    assert not _same_site("https://ghe.example.com/api/v3/x", "http://ghe.example.com/api/v3/y")
    assert not _same_site("https://example.com/a", "https://example.com.evil.net/b")
