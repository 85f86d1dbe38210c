"""The engine's Go re-implementations against outputs written by Go itself.

``tests/golden/gen/main.go`` (run with ``go run tests/golden/gen/main.go``) wrote the JSON files
beside this test: ``encoding/json`` decoding errors and values, ``json.Marshal`` of strings,
``strconv.FormatFloat`` of edge floats, and ``net/url`` parsing of URLs and of request targets.
Tekton reaches each of them: bodies are decoded with ``json.Unmarshal``, binding values rendered
with ``json.Marshal``, numbers printed with ``strconv``, CEL's ``parseURL`` is ``url.Parse`` and
``requestURL`` is the server's ``URL.String()`` of the request target. Only the files are read, so
the test needs no Go toolchain.

Tekton v0.37 is built with Go 1.26; the files record the Go that wrote them. Where Go changed an
output since (``json.Marshal`` writes ``\b`` and ``\f`` instead of ``\u0008``/``\u000c`` since
Go 1.22), :func:`go126` turns an older file's value into Go 1.26's. :data:`DIFFERENCES` lists the
cases where the engine knowingly answers otherwise, each with its reason.
"""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.golang import fmt as gofmt
from kfp_triggers.golang import json as gojson
from kfp_triggers.golang import url as gourl
from kfp_triggers.golang.fmt import go_string
from kfp_triggers.tekton.request import parse_http_request

HERE = Path(__file__).parent
VERSIONS: dict[str, tuple[int, int]] = {}

#: Deeper than Python's recursion allows: Go decodes up to 10000 levels, the engine refuses a
#: document nested more than about 1000 deep with ``NestingError`` rather than grow its stack (no
#: webhook nests so deep, and the refusal is a 400 at ingest, like any undecodable body).
DIFFERENCES = {
    ("interface", "[", 10000): "json: document nested too deeply to decode",
    ("interface", '{"a":', 10000): "json: document nested too deeply to decode",
    ("map", '{"a":', 10000): "json: document nested too deeply to decode",
}


def cases(name: str) -> list[dict[str, Any]]:
    data = json.loads((HERE / name).read_text(encoding="utf-8"))
    major, minor = (int(part) for part in data["go_version"].removeprefix("go").split(".")[:2])
    VERSIONS[name] = (major, minor)
    found: list[dict[str, Any]] = data["cases"]
    assert found
    return found


def go126(name: str, text: str) -> str:
    """``text`` as Go 1.26 writes it, when the file ``name`` comes from an older Go."""
    if VERSIONS[name] < (1, 22):  # encoding/json's short escapes for backspace and form feed
        text = text.replace("\\u0008", "\\b").replace("\\u000c", "\\f")
    return text


def raw_input(case: dict[str, Any]) -> bytes:
    """The Go string a case was made from, as bytes."""
    nesting = case.get("nesting")
    if nesting:
        depth = nesting["depth"]
        return (nesting["open"] * depth + nesting["core"] + nesting["close"] * depth).encode()
    given = case["input"]
    if "base64" in given:
        return base64.b64decode(given["base64"])
    return str(given["text"]).encode("utf-8")


def go_text(given: dict[str, str]) -> str:
    """A Go string the generator wrote as text or base64, as the engine holds Go strings."""
    if "base64" in given:
        return go_string(base64.b64decode(given["base64"]))
    return given["text"]


def label(case: dict[str, Any]) -> str:
    nesting = case.get("nesting")
    shown = f"{nesting['open']}*{nesting['depth']}" if nesting else repr(raw_input(case))[2:-1]
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return f"{case.get('into') or case.get('func', '')}:{shown}"


# --- encoding/json: Unmarshal -----------------------------------------------------------------

UNMARSHAL = cases("go_json_unmarshal.json")


@pytest.mark.parametrize("case", UNMARSHAL, ids=[label(c) for c in UNMARSHAL])
def test_unmarshal(case: dict[str, Any]) -> None:
    data = raw_input(case)
    nesting = case.get("nesting") or {}
    known = DIFFERENCES.get((case["into"], nesting.get("open"), nesting.get("depth")))
    if known is not None:
        with pytest.raises(gojson.NestingError, match=known):
            gojson.unmarshal_object(data) if case["into"] == "map" else gojson.unmarshal(data)
        return
    try:
        if case["into"] == "map":
            value: Any = gojson.unmarshal_object(data)
        else:
            value = gojson.unmarshal(data)
    except gojson.GoJsonError as exc:
        assert case["error"] is not None, f"Go decodes it to {case['value']}; here: {exc}"
        assert str(exc) == case["error"]
        return
    assert case["error"] is None, f"Go refuses it with {case['error']!r}"
    if case["into"] == "map" and value == {} and data.strip() == b"null":
        return  # Go leaves the map nil and marshals it as null; the engine's empty map is the same
    if case["value"] is not None:
        assert gojson.marshal(value) == go126("go_json_unmarshal.json", case["value"])


# --- encoding/json: Marshal of strings ----------------------------------------------------------

MARSHAL = cases("go_json_marshal.json")


@pytest.mark.parametrize("case", MARSHAL, ids=[label(c) for c in MARSHAL])
def test_marshal_string(case: dict[str, Any]) -> None:
    text = go_string(raw_input(case))
    want = go126("go_json_marshal.json", case["output"])
    assert gojson.marshal(text) == want
    assert gojson.escape_string(text) == want[1:-1]


# --- strconv.FormatFloat ----------------------------------------------------------------------

FLOATS = cases("go_strconv_float.json")


@pytest.mark.parametrize("case", FLOATS, ids=[f"{c['g']}" for c in FLOATS])
def test_format_float(case: dict[str, Any]) -> None:
    (value,) = struct.unpack(">d", bytes.fromhex(case["bits"]))
    assert gofmt.format_g(value) == case["g"]
    assert gofmt.format_f(value) == case["f"]
    assert gofmt.format_e(value) == case["e"]
    if case["json"].startswith("error: "):
        with pytest.raises(gojson.GoJsonError) as info:
            gojson.marshal(value)
        assert f"error: {info.value}" == case["json"]
    else:
        assert gojson.marshal(value) == case["json"]


# --- net/url ----------------------------------------------------------------------------------

URLS = cases("go_net_url.json")
PARSE = [c for c in URLS if c["func"] == "Parse"]
REQUEST = [c for c in URLS if c["func"] == "ParseRequestURI"]


@pytest.mark.parametrize("case", PARSE, ids=[label(c) for c in PARSE])
def test_url_parse(case: dict[str, Any]) -> None:
    """``url.Parse``: every field CEL's ``parseURL`` exposes, and ``URL.String()``."""
    raw = go_string(raw_input(case))
    try:
        got = gourl.parse(raw)
    except gourl.URLError as exc:
        assert case["error"] is not None, f"Go parses it; here: {exc}"
        assert str(exc) == case["error"]
        return
    assert case["error"] is None, f"Go refuses it with {case['error']!r}"
    assert_url(got, case)


@pytest.mark.parametrize("case", REQUEST, ids=[label(c) for c in REQUEST])
def test_request_target(case: dict[str, Any]) -> None:
    """A request target as Go's server reads it (``url.ParseRequestURI``); its ``String()`` is
    Tekton's ``context.event_url`` and CEL's ``requestURL``."""
    target = go_string(raw_input(case))
    if case["error"] is not None:
        with pytest.raises(gourl.URLError) as info:
            gourl.request_url(target)
        assert str(info.value) == case["error"]
        return
    assert_url(gourl.parse_request_uri(target), case)
    assert gourl.request_url(target) == case["string"]
    if " " not in target:  # a request file holds the target as its request line does
        request_line = f"GET {target} HTTP/1.1\r\nHost: h\r\n\r\n".encode()
        assert parse_http_request(request_line).url == case["string"]


def assert_url(got: gourl.GoURL, case: dict[str, Any]) -> None:
    want_user = case.get("user")
    assert (got.scheme, got.opaque, got.host, got.raw_path, got.force_query, got.raw_query) == (
        case.get("scheme", ""),
        case.get("opaque", ""),
        case.get("host", ""),
        case.get("raw_path", ""),
        case.get("force_query", False),
        case.get("raw_query", ""),
    )
    assert (got.path, got.fragment) == (go_text(case["path"]), go_text(case["fragment"]))
    assert got.query == {go_text(q["key"]): [go_text(v) for v in q["values"]] for q in case.get("query", [])}
    if want_user is None:
        assert got.user is None
    else:
        assert got.user == (go_text(want_user["username"]), go_text(want_user["password"]))
        assert got.password_set == want_user["password_set"]
    assert got.escaped_path() == case.get("escaped_path", "")
    assert got.string() == case.get("string", "")
