"""Raw HTTP/1.1 request files, the input format of simulate, binding-eval and cel-eval."""

from __future__ import annotations

import pytest

from kfp_triggers.errors import InvalidRequestError
from kfp_triggers.tekton.request import parse_http_request


def test_crlf_request_keeps_exact_body() -> None:
    body = b'{"a": "\xc3\xa9"}\r\n'
    raw = b"POST /hook?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\nX-Test: one\r\n\r\n" % len(body)
    req = parse_http_request(raw + body)
    assert req.method == "POST"
    assert req.url == "/hook?x=1"
    assert req.body == body
    assert req.headers["X-Test"] == ["one"]
    assert req.header("content-length") == str(len(body))


def test_lf_only_request_without_length_takes_rest_of_file() -> None:
    req = parse_http_request(b'POST / HTTP/1.1\nx-a: 1\nx-a: 2\n\n{"k": 1}\n')
    assert req.body == b'{"k": 1}\n'
    assert req.headers == {"X-A": ["1", "2"]}


def test_header_values_are_read_as_utf8_like_go_reads_header_bytes() -> None:
    req = parse_http_request(
        "POST / HTTP/1.1\r\nX-Gitlab-Token: tøken\r\n".encode() + b"X-Bad: a\xffb\r\n\r\n"
    )
    assert req.header("X-Gitlab-Token") == "tøken"
    assert req.header("X-Bad") == "a\ufffdb"


def test_header_value_whitespace_is_trimmed_but_inner_kept() -> None:
    req = parse_http_request(b"GET / HTTP/1.1\r\nX-A:   a  b \t\r\n\r\n")
    assert req.header("X-A") == "a  b"
    assert req.method == "GET"
    assert req.body == b""


@pytest.mark.parametrize("length", [b"3", b"999", b"ten"])
def test_stale_content_length_is_ignored_as_tekton_tools_do(length: bytes) -> None:
    req = parse_http_request(b"POST / HTTP/1.1\r\nContent-Length: " + length + b'\r\n\r\n{"a": 1}')
    assert req.body == b'{"a": 1}'


def test_targets_read_as_gos_server_reads_them() -> None:
    """``request.URL.String()``: an absolute-form target stays absolute (Go ignores the Host
    header then), and characters Go escapes in a path are escaped."""
    req = parse_http_request(b"POST http://el.example:8080/p/q?z=2 HTTP/1.1\r\n\r\n")
    assert req.url == "http://el.example:8080/p/q?z=2"
    assert (
        parse_http_request(b"POST /a|b/%2F/\xc3\xa9?q=\xc3\xa9 HTTP/1.1\r\n\r\n").url
        == "/a%7Cb///%C3%A9?q=\u00e9"
    )
    with pytest.raises(
        InvalidRequestError, match='request target refused: parse "/%zz": invalid URL escape "%zz"'
    ):
        parse_http_request(b"POST /%zz HTTP/1.1\r\n\r\n")


def test_chunked_body_is_decoded() -> None:
    raw = b'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"a"\r\n5;ext=1\r\n: 1}\n\r\n0\r\n\r\n'
    assert parse_http_request(raw).body == b'{"a": 1}\n'


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"", "no blank line"),
        (b"POST /\r\n\r\n", "malformed request line"),
        (b"POST / HTTP/1.1\r\nno colon here\r\n\r\n", "malformed header line"),
        (b"POST / HTTP/1.1\r\n : v\r\n\r\n", "malformed header line"),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"),
    ],
)
def test_malformed_requests_say_what_is_wrong(raw: bytes, fragment: str) -> None:
    with pytest.raises(InvalidRequestError, match=fragment):
        parse_http_request(raw, source="req.http")
