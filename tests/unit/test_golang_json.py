"""Go's encoding/json as the engine reproduces it: Marshal's text, Unmarshal's values and errors.

The expected errors are what Go's ``json.Unmarshal`` returns for the same bytes.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from kfp_triggers.golang import _jsonscan
from kfp_triggers.golang.fmt import decode_utf8
from kfp_triggers.golang.json import (
    GoJsonError,
    JsonSyntaxError,
    NestingError,
    UnmarshalTypeError,
    escape_string,
    format_float,
    kind,
    marshal,
    type_error,
    unmarshal,
    unmarshal_object,
)

# --- encoding ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ('say "hi"', r"say \"hi\""),
        ("back\\slash", r"back\\slash"),
        ("a\nb", r"a\nb"),
        ("a\rb", r"a\rb"),
        ("a\tb", r"a\tb"),
        ("a\bb", r"a\bb"),  # Go >= 1.22 uses the short \b and \f escapes
        ("a\fb", r"a\fb"),
        ("\x01\x1f", r"\u0001\u001f"),  # other control characters: \u00XX, lower-case hex
        ("\x1b", r"\u001b"),
        ("<a href='x'>&</a>", r"\u003ca href='x'\u003e\u0026\u003c/a\u003e"),
        ("line\u2028sep\u2029", r"line\u2028sep\u2029"),
        ("café 烈 😀", "café 烈 😀"),  # non-ASCII is written raw
        ("\x7f", "\x7f"),  # DEL is not escaped
        ("bad\udc80", r"bad\ufffd"),  # text that is not valid Unicode becomes U+FFFD
        ("", ""),
    ],
)
def test_string_escaping(text: str, want: str) -> None:
    assert escape_string(text) == want
    assert marshal(text) == f'"{want}"'


@pytest.mark.parametrize(
    ("value", "want"),
    [
        (42.0, "42"),
        (1.5, "1.5"),
        (-2.25, "-2.25"),
        (-3.25, "-3.25"),
        (0.1, "0.1"),
        (0.30000000000000004, "0.30000000000000004"),
        (-0.0, "-0"),
        (0.0, "0"),
        (123456.0, "123456"),
        (1234567.0, "1234567"),
        (1e20, "100000000000000000000"),  # 'f' form below 1e21
        (1e21, "1e+21"),  # 'e' form from 1e21 up
        (-1e21, "-1e+21"),
        (1.2345e22, "1.2345e+22"),
        (1e100, "1e+100"),
        (0.0001, "0.0001"),
        (0.00001, "0.00001"),
        (1e-6, "0.000001"),  # 'f' form down to 1e-6
        (1e-7, "1e-7"),  # below: 'e' form, Go strips the exponent's leading zero
        (1.5e-7, "1.5e-7"),
        (1e-10, "1e-10"),
        (123456789.125, "123456789.125"),
        (float(2**53 + 1), "9007199254740992"),
    ],
)
def test_float_formatting(value: float, want: str) -> None:
    assert format_float(value) == want
    assert marshal(value) == want


def test_composites() -> None:
    value = {"b": 1.0, "a": {"d": [True, None, "x<"], "c": 2**60}, "": b"\x00\xff", "t": (1, 2)}
    # keys sorted at every level, compact separators, ints exact, bytes as base64
    assert (
        marshal(value)
        == '{"":"AP8=","a":{"c":1152921504606846976,"d":[true,null,"x\\u003c"]},"b":1,"t":[1,2]}'
    )


def test_structs_keep_their_field_order() -> None:
    class Struct:
        def go_json_fields(self) -> list[tuple[str, Any]]:
            return [("z", 1), ("a", {"y": 2, "x": 3})]

    assert marshal(Struct()) == '{"z":1,"a":{"x":3,"y":2}}'


@pytest.mark.parametrize("value", [float("nan"), float("inf"), {1: "x"}, object()])
def test_marshal_rejects_what_go_cannot_marshal(value: Any) -> None:
    with pytest.raises(GoJsonError):
        marshal(value)


@pytest.mark.parametrize(
    ("value", "message"), [(float("nan"), "NaN"), (float("inf"), "+Inf"), (float("-inf"), "-Inf")]
)
def test_unsupported_float_message_is_gos(value: float, message: str) -> None:
    # Go formats the value with strconv.FormatFloat(f, 'g', -1, 64) in UnsupportedValueError.
    with pytest.raises(GoJsonError) as info:
        marshal([value])
    assert str(info.value) == f"json: unsupported value: {message}"


# --- syntax errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "unexpected end of JSON input"),
        (b"   ", "unexpected end of JSON input"),
        (b'{"a":', "unexpected end of JSON input"),
        (b'{"a": 1', "unexpected end of JSON input"),
        (b'"abc', "unexpected end of JSON input"),
        (b"[1,", "unexpected end of JSON input"),
        (b"hello", "invalid character 'h' looking for beginning of value"),
        (b"{]", "invalid character ']' looking for beginning of object key string"),
        (b"{'a':1}", "invalid character '\\'' looking for beginning of object key string"),
        (b'{"a" 1}', "invalid character '1' after object key"),
        (b'{"a": 1 "b"}', "invalid character '\"' after object key:value pair"),
        (b"[1 2]", "invalid character '2' after array element"),
        (b"[1,]", "invalid character ']' looking for beginning of value"),
        (b"tx", "invalid character 'x' in literal true (expecting 'r')"),
        (b"trux", "invalid character 'x' in literal true (expecting 'e')"),
        (b"nul!", "invalid character '!' in literal null (expecting 'l')"),
        (b"fals", "invalid character ' ' in literal false (expecting 'e')"),
        (b'"a\x01"', "invalid character '\\x01' in string literal"),
        (b'"a\n"', "invalid character '\\n' in string literal"),
        (b'"\\q"', "invalid character 'q' in string escape code"),
        (b'"\\x"', "invalid character 'x' in string escape code"),
        (b'"\\u12g4"', "invalid character 'g' in \\u hexadecimal character escape"),
        (b"-x", "invalid character 'x' in numeric literal"),
        (b"01", "invalid character '1' after top-level value"),
        (b"1.x", "invalid character 'x' after decimal point in numeric literal"),
        (b"1ex", "invalid character 'x' in exponent of numeric literal"),
        (b"'a'", "invalid character '\\'' looking for beginning of value"),
        (b"\\", "invalid character '\\\\' looking for beginning of value"),
        (b"NaN", "invalid character 'N' looking for beginning of value"),
        (b"{} {}", "invalid character '{' after top-level value"),
        (b"{} x", "invalid character 'x' after top-level value"),
        (b"\xff", "invalid character 'ÿ' looking for beginning of value"),  # a byte, shown as rune
        (b"\x80", "invalid character '\\u0080' looking for beginning of value"),
        (b"\xef\xbb\xbf{}", "invalid character 'ï' looking for beginning of value"),  # no BOM
    ],
)
def test_syntax_errors(data: bytes, message: str) -> None:
    with pytest.raises(JsonSyntaxError) as info:
        unmarshal(data)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # At the end of the input Go's scanner is fed one space, so a cut-off literal or number
        # is an "invalid character ' '", not an "unexpected end of JSON input".
        (b"tru", "invalid character ' ' in literal true (expecting 'e')"),
        (b"[n", "invalid character ' ' in literal null (expecting 'u')"),
        (b"-", "invalid character ' ' in numeric literal"),
        (b'{"a": [1, 2.', "invalid character ' ' after decimal point in numeric literal"),
        (b"1e", "invalid character ' ' in exponent of numeric literal"),
        (b"1e+", "invalid character ' ' in exponent of numeric literal"),
        # A complete number at the end is fine, and so is a truncated one inside a container.
        (b"[1.5", "unexpected end of JSON input"),
    ],
)
def test_truncated_literals_and_numbers(data: bytes, message: str) -> None:
    with pytest.raises(JsonSyntaxError) as info:
        unmarshal(data)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("data", "offset"), [(b'{"X": "foo", "Y"}', 17), (b"[1, 2, 3+]", 9), (b"[2, 3", 5), (b"", 0), (b"tru", 3)]
)
def test_syntax_error_offsets_are_gos(data: bytes, offset: int) -> None:
    with pytest.raises(JsonSyntaxError) as info:
        unmarshal(data)
    assert info.value.offset == offset


def test_syntax_errors_win_over_number_errors() -> None:
    # Go checks the whole document's syntax before decoding any number.
    with pytest.raises(JsonSyntaxError, match="after array element"):
        unmarshal(b"[1e400, 1 2]")


def test_nesting() -> None:
    ok = b"[" * 10000 + b"]" * 10000  # Go's limit is 10000 levels
    too_deep = b"[" * 10001 + b"]" * 10001
    with pytest.raises(JsonSyntaxError, match=r"^invalid character '\[' exceeded max depth$"):
        unmarshal(too_deep)
    with pytest.raises(NestingError):  # valid, but deeper than Python's decoder goes
        unmarshal(ok)
    with pytest.raises(UnmarshalTypeError, match="cannot unmarshal array into Go value of type map"):
        unmarshal_object(ok)
    assert unmarshal(b"[" * 3 + b"]" * 3) == [[[]]]


# --- values -----------------------------------------------------------------------------------


def test_numbers_are_float64() -> None:
    assert unmarshal(b'{"n": 9007199254740993, "i": 3}') == {"n": 9007199254740992.0, "i": 3.0}
    assert isinstance(unmarshal(b"3"), float)
    assert unmarshal(b"1e-400") == 0.0  # underflow is not an error in Go, just zero
    assert unmarshal(b"-0") == 0.0


@pytest.mark.parametrize("number", ["1e309", "9" * 300 + "e9", "1" + "0" * 400, "-1e400", "1" * 5000])
def test_numbers_beyond_float64_are_gos_type_error(number: str) -> None:
    with pytest.raises(UnmarshalTypeError) as info:
        unmarshal(b'{"a": [1, ' + number.encode() + b"]}")
    assert str(info.value) == f"json: cannot unmarshal number {number} into Go value of type float64"


@pytest.mark.parametrize(
    "document",
    [
        b"1e309",
        b" \n-1E+0400",
        b'{"a":1.5e308, "b": 2e400}',
        b"[1,\r\n\t3.0e999]",
        b'{"sha": "3e12", "n":1e400}',
    ],
)
def test_huge_numbers_are_found_wherever_a_number_can_stand(document: bytes) -> None:
    with pytest.raises(UnmarshalTypeError, match="into Go value of type float64"):
        unmarshal(document)


def test_exponent_like_text_inside_strings_is_no_number() -> None:
    document = b'{"after": "3e12ab", "head": "de99", "id": "1e400", "n": 1e3}'
    assert unmarshal(document) == {"after": "3e12ab", "head": "de99", "id": "1e400", "n": 1000.0}


def test_int64_numbers_keep_integers_exact() -> None:
    got = unmarshal(
        b"[9007199254740993, 9223372036854775807, 9223372036854775808, 1.0, 1e2]", numbers="int64"
    )
    assert got == [9007199254740993, 2**63 - 1, 9223372036854775808.0, 1.0, 100.0]
    assert [type(v) for v in got] == [int, int, float, float, float]
    with pytest.raises(UnmarshalTypeError):
        unmarshal("[" + "9" * 400 + "]", numbers="int64")


def test_exact_numbers_are_pythons_reading() -> None:
    got = unmarshal(b"[1, " + b"9" * 30 + b", 1e400, 2.5]", numbers="exact")
    assert got == [1, int("9" * 30), float("inf"), 2.5]
    assert unmarshal(b"[" + b"1" * 5000 + b"]", numbers="exact") == [float("inf")]


def test_invalid_utf8_becomes_one_replacement_character_per_byte() -> None:
    # Go's decoder replaces each byte utf8.DecodeRune refuses; Python's "replace" would merge
    # the truncated sequence \xe2\x82 into one character.
    assert unmarshal(b'{"a": "x\xff\xe2\x82y\xed\xa0\x80"}') == {
        "a": "x\ufffd\ufffd\ufffdy\ufffd\ufffd\ufffd"
    }


def test_lone_surrogate_escapes_become_replacement_characters() -> None:
    assert unmarshal(b'["\\ud800!", "\\ud83d\\ude00", "\\udc00\\ud800", {"\\ud800": 1}]') == [
        "\ufffd!",
        "😀",
        "\ufffd\ufffd",
        {"\ufffd": 1.0},
    ]
    assert unmarshal('"raw \ud800"') == "raw \ufffd"  # text input: each lone surrogate, one U+FFFD


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"[1, 2]", "json: cannot unmarshal array into Go value of type map[string]interface {}"),
        (b'"text"', "json: cannot unmarshal string into Go value of type map[string]interface {}"),
        (b"42", "json: cannot unmarshal number into Go value of type map[string]interface {}"),
        (b"true", "json: cannot unmarshal bool into Go value of type map[string]interface {}"),
        # Go skips a mismatched value without converting its numbers.
        (b"[1e400]", "json: cannot unmarshal array into Go value of type map[string]interface {}"),
        (b"1e400", "json: cannot unmarshal number into Go value of type map[string]interface {}"),
        (b'{"a": 1e400}', "json: cannot unmarshal number 1e400 into Go value of type float64"),
    ],
)
def test_unmarshal_object_errors(data: bytes, message: str) -> None:
    with pytest.raises(GoJsonError) as info:
        unmarshal_object(data)
    assert str(info.value) == message


def test_unmarshal_object_rules() -> None:
    assert unmarshal_object(b"null") == {}
    assert unmarshal_object(b' {"a": "\xff"} ') == {"a": "\ufffd"}
    assert unmarshal_object('{"a": [1]}') == {"a": [1.0]}
    with pytest.raises(UnmarshalTypeError, match=r"into Go value of type map\[string\]\[\]string$"):
        unmarshal_object(b"[]", "map[string][]string", numbers="exact")


def test_type_errors_and_kinds() -> None:
    assert str(type_error("bool", "string", "SecretRef.secretRef.secretName")) == (
        "json: cannot unmarshal bool into Go struct field SecretRef.secretRef.secretName of type string"
    )
    assert (
        str(type_error("number", "[]string"))
        == "json: cannot unmarshal number into Go value of type []string"
    )
    assert [kind(v) for v in (True, 1, 1.5, "s", [], (), {}, None)] == [
        "bool",
        "number",
        "number",
        "string",
        "array",
        "array",
        "object",
        "null",
    ]


def test_round_trip_through_go_text() -> None:
    doc = b'{"a":{"y":1e+21,"z":0.000001},"b":[1,null,true,"\\u003ctag\\u003e \\u0026 \\u2028"]}'
    assert marshal(unmarshal(doc)) == doc.decode()


# --- the scanner agrees with Python's decoder on what is JSON ----------------------------------

_SEEDS = [
    b'{"a": [1, 2.5, -0, 1e5, true, false, null], "b": {"c": "d\\u00e9\\n"}, "e": ""}',
    b'[{"x":1},{"y":[[],{}]},"\\ud83d\\ude00", 0.000001, -1E-2, 123456789012345678901234567890]',
    b' "plain" ',
]
_PIECES = [b'"', b"\\", b"{", b"}", b"[", b"]", b":", b",", b"0", b"1", b"e", b".", b"-", b"+", b"t", b"n",
           b" ", b"x", b"\x00", b"\xff", b"\\u", b"/"]  # fmt: skip


def _refuse(name: str) -> None:
    raise ValueError(name)


def test_scanner_accepts_exactly_what_pythons_decoder_accepts() -> None:
    """Errors are explained by Go's scanner only when Python's decoder fails: both must agree."""
    rng = random.Random(7)
    for _ in range(3000):
        doc = bytearray(rng.choice(_SEEDS))
        for _ in range(rng.randint(1, 3)):
            at = rng.randint(0, len(doc))
            if rng.random() < 0.5:
                doc[at:at] = rng.choice(_PIECES)
            elif doc:
                del doc[min(at, len(doc) - 1)]
        data = bytes(doc)
        try:
            json.loads(decode_utf8(data), parse_constant=_refuse)
            python_accepts = True
        except ValueError:
            python_accepts = False
        syntax, _ = _jsonscan.scan(data, check_numbers=False)
        assert (syntax is None) == python_accepts, data
