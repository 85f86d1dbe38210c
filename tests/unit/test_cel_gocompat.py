"""Go behaviour the CEL environment reproduces: URLs, regexps, time values (JSON and floats: test_golang_*)."""

# ruff: noqa: E501  (expression tables read best one case per line)

from __future__ import annotations

import pytest

from kfp_triggers.cel import goregex, timeutil
from kfp_triggers.golang import url as gourl


@pytest.mark.parametrize(
    ("url", "fields"),
    [
        ("https://user:pa%20ss@Site.example.com:8443/p%2Fq?a=1&a=2&b=x+y#frag%21", {
            "scheme": "https", "host": "Site.example.com:8443", "path": "/p/q", "rawQuery": "a=1&a=2&b=x+y",
            "fragment": "frag!", "query": {"a": "1,2", "b": "x y"}, "auth": {"username": "user", "password": "pa ss"}}),
        ("mailto:someone@example.com", {"scheme": "mailto", "host": "", "path": ""}),
        ("//host/only", {"scheme": "", "host": "host", "path": "/only"}),
        ("http://[::1]:80/x", {"host": "[::1]:80", "path": "/x"}),
        ("?q=1;2&r=3", {"rawQuery": "q=1;2&r=3", "query": {"r": "3"}}),
        ("", {"scheme": "", "path": ""}),
    ],
)  # fmt: skip
def test_go_url_parsing(url: str, fields: dict[str, object]) -> None:
    parsed = gourl.to_map(gourl.parse(url))
    for key, value in fields.items():
        assert parsed[key] == value


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("%zz", 'parse "%zz": invalid URL escape "%zz"'),
        ("http://h:x/", 'parse "http://h:x/": invalid port ":x" after host'),
        ("http://[::1/", "parse \"http://[::1/\": missing ']' in host"),
        (":x", 'parse ":x": missing protocol scheme'),
        ("x\ny", 'parse "x\\ny": net/url: invalid control character in URL'),
        ("x\ay", 'parse "x\\ay": net/url: invalid control character in URL'),  # %q: strconv.Quote
    ],
)
def test_go_url_errors(url: str, message: str) -> None:
    with pytest.raises(gourl.URLError) as info:
        gourl.parse(url)
    assert message in str(info.value)


def test_go_url_opaque_and_relative_paths() -> None:
    with pytest.raises(gourl.URLError, match="first path segment in URL cannot contain colon"):
        gourl.parse("1a:b")
    assert gourl.parse("a/b:c").path == "a/b:c"


@pytest.mark.parametrize(
    ("text", "pattern", "template", "expected"),
    [
        ("abab", "(a)(b)", "$2$1", "baba"),
        ("abc", "(?P<mid>b)", "[${mid}]", "a[b]c"),
        ("abc", "b", "$missing", "ac"),
        ("abc", "b", "$", "a$c"),
        ("abc", "(b)", "${1", "a${1c"),
        ("baaac", "a*", "-", "-b-c-"),
        ("héé", "é", "e", "hee"),
    ],
)
def test_go_replace_all(text: str, pattern: str, template: str, expected: str) -> None:
    assert goregex.replace_all(text, pattern, template) == expected


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("a**", "error parsing regexp: invalid nested repetition operator: `**`"),
        ("x{1001}", "error parsing regexp: invalid repeat count: `{1001}`"),
        ("(a", "error parsing regexp: missing closing ): `(a`"),
        ("a)", "error parsing regexp: unexpected ): `a)`"),
        ("\\", "error parsing regexp: trailing backslash at end of expression"),
    ],
)
def test_go_regex_errors(pattern: str, message: str) -> None:
    with pytest.raises(goregex.RegexError) as info:
        goregex.compile_go(pattern)
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(
    ("text", "nanos", "offset"),
    [
        ("1970-01-01T00:00:00Z", 0, 0),
        ("1970-01-01T01:00:00+01:00", 0, 3600),
        ("2023-01-01T00:00:00.000000001Z", 1672531200000000001, 0),
        ("0001-01-01T00:00:00Z", -62135596800 * 10**9, 0),
    ],
)
def test_timestamps_parse_rfc3339(text: str, nanos: int, offset: int) -> None:
    assert timeutil.parse_timestamp(text) == (nanos, offset)
    assert timeutil.format_timestamp(nanos, offset) == text


@pytest.mark.parametrize(
    "text", ["2023-02-30T00:00:00Z", "2023-01-01 00:00:00Z", "2023-01-01T24:00:00Z", "x"]
)
def test_invalid_timestamps(text: str) -> None:
    assert timeutil.parse_timestamp(text) is None


@pytest.mark.parametrize(
    ("text", "nanos"),
    [("1h30m", 5400 * 10**9), ("-1.5s", -1_500_000_000), ("300ms", 300_000_000), ("1us", 1000), ("1µs", 1000),
     ("0", 0), ("+2h", 7200 * 10**9), (".5s", 500_000_000)],
)  # fmt: skip
def test_durations_parse_like_go(text: str, nanos: int) -> None:
    assert timeutil.parse_duration(text) == nanos


@pytest.mark.parametrize("text", ["", "1", "1x", "s", ".s", "1h-2m", "9999999999h"])
def test_invalid_durations(text: str) -> None:
    assert timeutil.parse_duration(text) is None


@pytest.mark.parametrize(
    ("nanos", "text"), [(90 * 10**9, "90s"), (1_500_000_000, "1.5s"), (1, "0.000000001s"), (0, "0s")]
)
def test_durations_print_like_cel(nanos: int, text: str) -> None:
    assert timeutil.format_duration(nanos) == text
