"""The fast JSON paths answer exactly as the standard library and Go's decoder do."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kfp_triggers.golang import fastjson
from kfp_triggers.golang import json as gojson
from kfp_triggers.tekton import payload

DOCUMENTS_TO_WRITE: list[Any] = [
    {"a": 1, "b": [True, False, None], "c": {"d": 2.5, "e": -0.0}},
    {"text": 'quote " backslash \\ newline \n tab \t nul \x00 del \x7f'},
    {"unicode": "é ☃ 😀 \u2028 \u2029 </script> & <"},
    {"big": 2**70, "neg": -(2**64)},  # beyond orjson's integers: the standard library writes them
    {"floats": [0.1, 1e16, 1e-7, 123456789.123, 5e-324, 1.7976931348623157e308]},
    [],
    {"nested": [[[{"x": "y"}]]]},
]


@pytest.mark.parametrize("obj", DOCUMENTS_TO_WRITE)
def test_dumps_writes_the_standard_librarys_document(obj: Any) -> None:
    expected = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    written = fastjson.dumps(obj)
    assert json.loads(written) == obj
    if "floats" not in obj:
        assert written == expected  # byte for byte; only float spellings may differ


def test_dumps_refuses_what_json_cannot_hold() -> None:
    with pytest.raises(TypeError):
        fastjson.dumps({"when": object()})
    with pytest.raises(ValueError, match="surrogates"):
        fastjson.dumps({"lone": "\ud800"})


# Documents where a lenient decoder would disagree with Go: fast=True would be a lie for every one
# that Go refuses, so the check may only answer True where Go's decoder says the body is an object.
DOCUMENTS_TO_CHECK = [
    b'{"a": 1}',
    b" \t\r\n{}\n",
    b"null",
    b'{"a": 1e400}',
    b'{"a": ' + b"9" * 400 + b"}",
    b'{"a": 18446744073709551616}',
    b'{"a": NaN}',
    b'{"a": Infinity}',
    b'{"a": "\\ud800"}',
    b'{"a": "\xff\xfe"}',
    b'\xef\xbb\xbf{"a": 1}',
    b"\x0c{}",
    b'{"a": 1}x',
    b'{"a": 1,}',
    b"[1, 2]",
    b'"text"',
    b"12",
    b"",
    b'{"a": "\x01"}',
    b"[" * 1100 + b"]" * 1100,
    b'{"a":' * 1100 + b"1" + b"}" * 1100,
    b'{"dup": 1, "dup": 2}',
    b'{"a": 1.0e-400}',
]


@pytest.mark.parametrize("document", DOCUMENTS_TO_CHECK)
def test_go_object_check_only_vouches_for_what_go_accepts(document: bytes) -> None:
    try:
        gojson.unmarshal_object(document)
        go_accepts = True
    except gojson.NestingError:
        go_accepts = True
    except gojson.GoJsonError:
        go_accepts = False
    if fastjson.is_go_object(document):
        assert go_accepts


@pytest.mark.parametrize("document", DOCUMENTS_TO_CHECK)
def test_payload_problem_is_the_same_with_and_without_the_fast_check(
    document: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = payload.payload_problem(document)
    monkeypatch.setattr(fastjson, "orjson", None)
    assert fastjson.is_go_object(document) is False
    assert payload.payload_problem(document) == fast


def test_the_fast_check_settles_an_ordinary_webhook_body() -> None:
    assert fastjson.AVAILABLE
    assert fastjson.is_go_object(b'{"ref": "refs/heads/main", "commits": [{"id": "3e12ab"}]}')


def test_dumps_without_orjson_is_the_standard_library(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fastjson, "orjson", None)
    assert fastjson.dumps({"a": "é", "n": [1, 2.5]}) == '{"a":"é","n":[1,2.5]}'.encode()
