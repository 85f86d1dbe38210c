"""Header names and values behave as Go's net/http does, since Tekton's rules are written in Go."""

from __future__ import annotations

import pytest
from werkzeug.test import EnvironBuilder

from kfp_triggers.tekton.headers import (
    canonical_header_key,
    canonicalise,
    first,
    header_text,
    headers_from_pairs,
    headers_from_wsgi,
)


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("x-github-event", "X-Github-Event"),
        ("X-GITHUB-EVENT", "X-Github-Event"),
        ("content-type", "Content-Type"),
        ("x-hub-signature-256", "X-Hub-Signature-256"),
        ("ce-specversion", "Ce-Specversion"),
        ("x--double", "X--Double"),
        ("-leading", "-Leading"),
        ("a1b-2c", "A1b-2c"),
        ("x_under_score", "X_under_score"),
        ("has space", "has space"),  # invalid token byte: left untouched, as Go does
        ("ümlaut-key", "ümlaut-key"),
        ("", ""),
    ],
)
def test_canonical_header_key_matches_go(raw: str, want: str) -> None:
    assert canonical_header_key(raw) == want


def test_pairs_keep_order_and_merge_case_variants() -> None:
    headers = headers_from_pairs([("x-test", "1"), ("X-Test", "2"), ("accept", "*/*")])
    assert headers == {"X-Test": ["1", "2"], "Accept": ["*/*"]}


def test_canonicalise_accepts_strings_and_lists() -> None:
    assert canonicalise({"x-a": "1", "X-A": ["2", "3"]}) == {"X-A": ["1", "2", "3"]}


def test_first_is_case_insensitive_and_empty_when_missing() -> None:
    headers = {"X-Github-Event": ["push", "ignored"]}
    assert first(headers, "x-github-event") == "push"
    assert first(headers, "X-Missing") == ""


def test_wsgi_environ_gives_the_same_headers_as_werkzeug() -> None:
    sent = [
        ("X-GitHub-Event", "push"),
        ("x-hub-signature-256", "sha256=ab"),
        ("Content-Type", "application/json"),
        ("X-Multi", "a, b"),
        ("User-Agent", "GitHub-Hookshot/1"),
    ]
    environ = EnvironBuilder(method="POST", path="/", headers=sent, data=b"{}").get_environ()
    from werkzeug.datastructures import EnvironHeaders

    # werkzeug shows Host too; Go's server (and so a Tekton EventListener) moves it out.
    expected = headers_from_pairs((k, v) for k, v in EnvironHeaders(environ).items() if k != "Host")
    got = headers_from_wsgi(environ)
    assert "Host" not in got and environ["HTTP_HOST"]
    assert got == expected
    assert got["X-Github-Event"] == ["push"]
    assert got["Content-Length"] == ["2"]
    assert list(got) == list(expected)


def test_wsgi_environ_skips_cgi_variables_and_empty_content_headers() -> None:
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "CONTENT_TYPE": "",
        "CONTENT_LENGTH": "7",
        "HTTP_CONTENT_LENGTH": "999",
        "HTTP_X_GITLAB_TOKEN": "t",
        "wsgi.input": None,
    }
    assert headers_from_wsgi(environ) == {"Content-Length": ["7"], "X-Gitlab-Token": ["t"]}


@pytest.mark.parametrize(
    ("latin1", "text"),
    [
        ("plain-ascii", "plain-ascii"),
        ("tÃ¸ken", "tøken"),  # the UTF-8 bytes of "tøken", one character per byte
        ("a\xffb", "a\ufffdb"),  # a byte that is not UTF-8: one U+FFFD, as Go reads it
        ("\xe2\x82", "\ufffd\ufffd"),  # a cut-off sequence: one U+FFFD per byte
        ("ok ☃", "ok ☃"),  # already text (beyond Latin-1): left alone
    ],
)
def test_header_text_reads_server_latin1_as_utf8(latin1: str, text: str) -> None:
    assert header_text(latin1) == text


def test_wsgi_headers_with_utf8_values_read_as_sent() -> None:
    # PEP 3333: a server puts each header value in the environ as its bytes decoded as Latin-1.
    sent = "tøken-123".encode()
    environ = {"REQUEST_METHOD": "POST", "HTTP_X_GITLAB_TOKEN": sent.decode("latin-1")}
    assert headers_from_wsgi(environ)["X-Gitlab-Token"] == ["tøken-123"]


def test_the_server_consumed_headers_are_left_out_as_go_leaves_them_out() -> None:
    environ = {
        "HTTP_HOST": "hooks.example.com",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "HTTP_X_GITHUB_EVENT": "push",
        "CONTENT_TYPE": "application/json",
    }
    assert headers_from_wsgi(environ) == {"X-Github-Event": ["push"], "Content-Type": ["application/json"]}


def test_credentials_are_redacted_whatever_the_names_case() -> None:
    from kfp_triggers.tekton.headers import without_credentials

    headers = {
        "x-gitlab-token": ["t1", "t2"],
        "Authorization": ["Bearer x"],
        "X-Hub-Signature-256": ["sha256=ab"],
    }
    assert without_credentials(headers) == {
        "x-gitlab-token": ["[redacted]", "[redacted]"],
        "Authorization": ["[redacted]"],
        "X-Hub-Signature-256": ["sha256=ab"],  # a signature is no secret
    }
    assert headers["Authorization"] == ["Bearer x"]  # the original is left alone
