"""Form bodies: Go's url.ParseQuery rules and Tekton's conversion of multi-key forms to JSON."""

from __future__ import annotations

import pytest

from kfp_triggers.tekton.formbody import form_as_json_body, parse_query


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("a=1&b=2", {"a": ["1"], "b": ["2"]}),
        ("a=1&a=2", {"a": ["1", "2"]}),
        ("a=x+y%21", {"a": ["x y!"]}),
        ("a", {"a": [""]}),
        ("a=1&&b=", {"a": ["1"], "b": [""]}),
        ("a=1;b=2&c=3", {"c": ["3"]}),  # a pair with ';' is rejected since Go 1.17
        ("a=%zz&b=1", {"b": ["1"]}),  # bad escape drops the pair
        ("a=%4&b=1", {"b": ["1"]}),
        ('{"json": "body"}', {'{"json": "body"}': [""]}),
    ],
)
def test_parse_query_like_go(text: str, want: dict[str, list[str]]) -> None:
    assert parse_query(text) == want


def test_multi_key_form_is_converted() -> None:
    form = form_as_json_body("application/x-www-form-urlencoded", b"text=hi&user_id=U1")
    assert form == {"text": ["hi"], "user_id": ["U1"]}


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", b"payload=%7B%22a%22%3A1%7D"),  # one key: GitHub's form
        ("application/x-www-form-urlencoded; charset=utf-8", b"a=1&b=2"),  # not exactly the type
        ("application/json", b"a=1&b=2"),
    ],
)
def test_raw_body_is_kept(content_type: str, body: bytes) -> None:
    assert form_as_json_body(content_type, body) is None
