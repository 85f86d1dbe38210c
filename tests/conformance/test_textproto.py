"""The text-format reader the conformance cases are loaded with."""

from __future__ import annotations

import math

import pytest

from tests.conformance.textproto import TextFormatError, Word, parse


def test_fields_repeat_and_nest() -> None:
    message = parse('name: "a" section { test { name: "t1" } test: { name: "t2" } } # comment\n')
    assert message["name"] == [b"a"]
    tests = message["section"][0]["test"]
    assert [t["name"] for t in tests] == [[b"t1"], [b"t2"]]


def test_strings_are_bytes_with_c_escapes_and_concatenation() -> None:
    message = parse(r"""a: "\x00\377\n\"" 'it''s' b: "\u00e9" c: '\101\?' """)
    assert message["a"] == [b'\x00\xff\n"its']  # adjacent literals are one string
    assert message["b"] == ["é".encode()]
    assert message["c"] == [b"A?"]


def test_numbers_words_lists_and_bracketed_names() -> None:
    message = parse(
        "i: -9223372036854775808 u: 18446744073709551615 d: 1e3 f: 2.5f n: -inf h: 0x1F "
        "b: true e: NULL_VALUE l: [1, 2] o { [type.googleapis.com/google.protobuf.Duration] < seconds: 1 > }"
    )
    assert message["i"] == [-(2**63)]
    assert message["u"] == [2**64 - 1]
    assert message["d"] == [1000.0]
    assert message["f"] == [2.5]
    assert message["n"] == [-math.inf]
    assert message["h"] == [31]
    assert message["b"] == ["true"] and isinstance(message["b"][0], Word)
    assert message["e"] == [Word("NULL_VALUE")]
    assert message["l"] == [1, 2]
    assert message["o"][0]["[type.googleapis.com/google.protobuf.Duration]"] == [{"seconds": [1]}]


@pytest.mark.parametrize("text", ['a: "unterminated', "a: }", 'a: "\\q"', "{"])
def test_invalid_text_is_an_error(text: str) -> None:
    with pytest.raises(TextFormatError):
        parse(text)
