"""Go's strconv quoting and float formatting, fmt's %v and encoding/hex errors, as reproduced."""

from __future__ import annotations

from typing import Any

import pytest

from kfp_triggers.golang.fmt import decode_utf8, format_e, format_f, format_g, format_v, hex_decode, quote


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("abc", '"abc"'),
        ('a"b\\', '"a\\"b\\\\"'),
        ("\n\t\x00", '"\\n\\t\\x00"'),
        ("\a\b\f\r\v", '"\\a\\b\\f\\r\\v"'),
        ("\x7f\x1b", '"\\x7f\\x1b"'),
        ("é☃ 😀", '"é☃ 😀"'),
        ("\u00a0\u00ad\u2028", '"\\u00a0\\u00ad\\u2028"'),  # not printable for Go
        ("\U000e0001", '"\\U000e0001"'),
        ("'", '"\'"'),
    ],
)
def test_quote(text: str, quoted: str) -> None:
    assert quote(text) == quoted


@pytest.mark.parametrize(
    ("value", "g", "f", "e"),
    [
        (1.0, "1", "1", "1e+00"),
        (1.5, "1.5", "1.5", "1.5e+00"),
        (1234567.0, "1.234567e+06", "1234567", "1.234567e+06"),
        (123456.0, "123456", "123456", "1.23456e+05"),
        (1e21, "1e+21", "1000000000000000000000", "1e+21"),
        (1e20, "1e+20", "100000000000000000000", "1e+20"),
        (0.0001, "0.0001", "0.0001", "1e-04"),
        (0.00001, "1e-05", "0.00001", "1e-05"),
        (1.5e-7, "1.5e-07", "0.00000015", "1.5e-07"),
        (-3.25, "-3.25", "-3.25", "-3.25e+00"),
        (0.30000000000000004, "0.30000000000000004", "0.30000000000000004", "3.0000000000000004e-01"),
        (5e-324, "5e-324", "0." + "0" * 323 + "5", "5e-324"),
        (0.0, "0", "0", "0e+00"),
        (-0.0, "-0", "-0", "-0e+00"),
        (float("inf"), "+Inf", "+Inf", "+Inf"),
        (float("-inf"), "-Inf", "-Inf", "-Inf"),
        (float("nan"), "NaN", "NaN", "NaN"),
    ],
)
def test_float_formats(value: float, g: str, f: str, e: str) -> None:
    assert format_g(value) == g
    assert format_f(value) == f
    assert format_e(value) == e


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (2.5, "2.5"),
        (1000000.0, "1e+06"),  # a JSON number is a float64: %v prints it with %g
        (1000000, "1000000"),  # a Go int prints in full
        (2**60 + 1, "1152921504606846977"),
        (None, "<nil>"),
        (True, "true"),
        ("x y", "x y"),
        ({"b": [1.0], "a": "x", "c": {}}, "map[a:x b:[1] c:map[]]"),
        ([[], [None, False]], "[[] [<nil> false]]"),
    ],
)
def test_format_v(value: Any, text: str) -> None:
    assert format_v(value) == text


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("0g", "encoding/hex: invalid byte: U+0067 'g'"),
        ("abc", "encoding/hex: odd length hex string"),
        ("abz", "encoding/hex: invalid byte: U+007A 'z'"),
        ("zb1", "encoding/hex: invalid byte: U+007A 'z'"),
        ("\x01\x01", "encoding/hex: invalid byte: U+0001"),
        ("é0", "encoding/hex: invalid byte: U+00C3 'Ã'"),  # the first byte of é's UTF-8
    ],
)
def test_hex_errors(text: str, error: str) -> None:
    with pytest.raises(ValueError) as info:
        hex_decode(text)
    assert str(info.value) == error


def test_invalid_utf8_is_one_replacement_character_per_byte() -> None:
    # utf8.DecodeRune refuses one byte at a time; Python's "replace" merges a truncated sequence.
    assert decode_utf8(b"\xe2\x82y") == "\ufffd\ufffdy"
    assert decode_utf8(b"\xe2\x82\xe2\x82\xac \xed\xa0\x80\xff") == "\ufffd\ufffd€ \ufffd\ufffd\ufffd\ufffd"
    assert decode_utf8("é".encode()) == "é"


def test_hex_decodes() -> None:
    assert hex_decode("00fFaB") == b"\x00\xff\xab"
    assert hex_decode("") == b""
