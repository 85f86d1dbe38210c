"""Binding resolution as Tekton's ResolveParams does it: scanning, rendering, defaults, errors."""

from __future__ import annotations

from typing import Any

import pytest

from kfp_triggers.errors import BindingError
from kfp_triggers.tekton.bindings import (
    evaluate_expression,
    event_data,
    expression_problems,
    find_expressions,
    resolve_params,
)

HEADERS = {"X-Github-Event": ["push"], "Two": ["a", "b"], "Content-Type": ["application/json"]}


def render(body: bytes, expression: str, extensions: dict[str, Any] | None = None) -> str:
    return evaluate_expression(expression, event_data(body, HEADERS, extensions, "evt-1"))


# --- value rendering -------------------------------------------------------------------------

BODY = (
    b'{"s": "v\\r\\n\xe7\x83\x88", "html": "<b>&</b>", "ls": "a\\u2028b", "q": "say \\"hi\\"",'
    b' "empty": "", "t": true, "f": false, "nul": null, "i": 42, "x": 1.5, "big": 1e21,'
    b' "tiny": 0.0000001, "p53": 9007199254740993, "huge": 12345678901234567890, "negz": -0,'
    b' "obj": {"z": 1, "a": {"y": "<", "b": [2, "c"]}}, "arr": ["a", "b", null],'
    b' "one": ["only"], "items": [{"n": "i0"}, {"n": "i1"}], "dev.tekton.dev/foo": "esc"}'
)


@pytest.mark.parametrize(
    ("expression", "want"),
    [
        # one string: its JSON encoding without the quotes
        ("$(body.s)", r"v\r\n烈"),
        ("$(body.html)", r"\u003cb\u003e\u0026\u003c/b\u003e"),
        ("$(body.ls)", r"a\u2028b"),
        ("$(body.q)", r"say \"hi\""),
        ("$(body.empty)", ""),
        # other single values: Go's JSON for them
        ("$(body.t)", "true"),
        ("$(body.f)", "false"),
        ("$(body.nul)", "null"),
        ("$(body.i)", "42"),
        ("$(body.x)", "1.5"),
        ("$(body.big)", "1e+21"),
        ("$(body.tiny)", "1e-7"),
        # every JSON number is a float64: 2^53+1 and 20-digit ints lose precision
        ("$(body.p53)", "9007199254740992"),
        ("$(body.huge)", "12345678901234567000"),
        ("$(body.negz)", "-0"),
        ("$(body.obj)", '{"a":{"b":[2,"c"],"y":"\\u003c"},"z":1}'),
        ("$(body.arr)", '["a","b",null]'),
        # several matches: a JSON array (strings keep their quotes)
        ("$(body.arr[0:2])", '["a","b"]'),
        ("$(body.arr[1:])", '["b",null]'),
        ("$(body.items[*].n)", '["i0","i1"]'),
        # a one-element result is the element itself, not [x]
        ("$(body.arr[0:1])", "a"),
        ("$(body.one[*])", "only"),
        ("$(body.items[?(@.n == 'i1')].n)", "i1"),
        # no match without an error: an empty JSON array
        ("$(body.items[?(@.n == 'zz')])", "[]"),
        ("$(body.nul[0])", "[]"),
        # accepted spellings of a path
        ("$(.body.i)", "42"),
        ("$({body.i})", "42"),
        ("$({.body.i})", "42"),
        ("$(Body.i)", "42"),  # Go field names work too
        ("$(body.dev\\.tekton\\.dev\\/foo)", "esc"),
        ("$()", ""),  # an empty expression prints nothing
    ],
)
def test_rendering(expression: str, want: str) -> None:
    assert render(BODY, expression) == want


@pytest.mark.parametrize(
    ("expression", "want"),
    [
        ("$(header.X-Github-Event)", "push"),
        ("$(header.x-github-event)", "push"),  # the name after 'header.' is canonicalised
        ("$(header.X-GITHUB-EVENT)", "push"),
        ("$(header.two)", "a,b"),  # several values: joined with ',' and no space
        (
            "$(header)",
            '{"Content-Type":"application/json","Two":"a,b","X-Github-Event":"push"}',
        ),
        ("$(context.eventID)", "evt-1"),
        ("$(context)", '{"eventID":"evt-1"}'),
    ],
)
def test_headers_and_context(expression: str, want: str) -> None:
    assert render(b"{}", expression) == want


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("$(header.X-Missing)", r"^X-Missing is not found$"),
        ("$(header.Two[1])", r"^string is not array or slice$"),  # header values are strings
        ("$(header.x-github-event[0])", r"^x-github-event is not found$"),  # '[' is not a token char
        ("$(header[0])", r"^map\[string\]string is not array or slice$"),
        ("$(context.eventID[0])", r"^string is not array or slice$"),
        ("$(context[0])", r"^template\.TriggerContext is not array or slice$"),
    ],
)
def test_header_errors(expression: str, message: str) -> None:
    with pytest.raises(BindingError, match=message):
        render(b"{}", expression)


def test_extensions_are_normalised_like_a_json_round_trip() -> None:
    ext = {"x": {"y": ["first"]}, "n": 2**53 + 1, "flag": True, "raw": b"\x01"}
    assert render(b"{}", "$(extensions.x.y[0])", ext) == "first"
    assert render(b"{}", "$(extensions.n)", ext) == "9007199254740992"
    assert render(b"{}", "$(extensions.flag)", ext) == "true"
    assert render(b"{}", "$(extensions.raw)", ext) == "AQ=="
    assert render(b"{}", "$(extensions)", None) == "{}"


def test_extensions_that_json_cannot_hold_are_rejected() -> None:
    with pytest.raises(BindingError, match=r"extensions\.bad holds a set"):
        event_data(b"", {}, {"bad": {1}}, "e")
    with pytest.raises(BindingError, match=r"\(float64\) cannot hold"):
        event_data(b"", {}, {"n": float("nan")}, "e")


def test_empty_body_is_null() -> None:
    assert render(b"", "$(body)") == "null"
    with pytest.raises(BindingError, match=r"^a is not found$"):
        render(b"", "$(body.a)")


def test_non_object_bodies_are_fine() -> None:
    assert render(b"[1, 2]", "$(body[1])") == "2"
    assert render(b'"text"', "$(body)") == "text"


@pytest.mark.parametrize(
    "body",
    [b"not json", b"{", b'{"a": 1} trailing', b"   ", b'{"n": NaN}', b'{"n": 1e400}', b"\xef\xbb\xbf{}"],
)
def test_a_body_that_is_not_json_fails_every_binding(body: bytes) -> None:
    with pytest.raises(BindingError, match=r"^failed to ApplyEventValuesToParams: failed to marshal event: "):
        event_data(body, {}, None, "e")


def test_a_body_error_is_tektons_message_around_gos_decoder_error() -> None:
    with pytest.raises(BindingError) as info:
        event_data(b'{"a": tru', {}, None, "e")
    assert str(info.value) == (
        "failed to ApplyEventValuesToParams: failed to marshal event: failed to unmarshal request body: "
        "invalid character ' ' in literal true (expecting 'e')"
    )


@pytest.mark.parametrize(
    ("number", "want"),
    [
        (b"1e308", "1e+308"),
        (b"1e-400", "0"),  # underflow is not an error in Go, just zero
        (b"1" + b"0" * 300, "1e+300"),
        (b"0.5e1", "5"),
        (b"-1.0E-7", "-1e-7"),
    ],
)
def test_number_range(number: bytes, want: str) -> None:
    assert render(b'{"n": ' + number + b"}", "$(body.n)") == want


@pytest.mark.parametrize("number", [b"1e309", b"9" * 300 + b"e9", b"1" + b"0" * 400, b"-1e400"])
def test_numbers_beyond_float64_are_rejected(number: bytes) -> None:
    # Go's json.Unmarshal into interface{} fails with an UnmarshalTypeError naming the number.
    message = f"cannot unmarshal number {number.decode()} into Go value of type float64"
    with pytest.raises(BindingError, match="failed to unmarshal request body") as info:
        event_data(b'{"n": ' + number + b"}", {}, None, "e")
    assert message in str(info.value)


def test_invalid_utf8_and_lone_surrogates_become_replacement_characters() -> None:
    # Go's decoder replaces each invalid byte with U+FFFD; the encoder then writes it raw.
    assert render(b'{"a": "x\xff\xe2\x82y"}', "$(body.a)") == "x\ufffd\ufffd\ufffdy"
    assert render(b'{"a": "\\ud800!"}', "$(body.a)") == "\ufffd!"
    assert render(b'{"a": "\\ud83d\\ude00"}', "$(body.a)") == "😀"


# --- the $( scanner --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("$(body.blah)", ["$(body.blah)"]),
        ("$(body.blah)-$(header.*)", ["$(body.blah)", "$(header.*)"]),
        ("start:$(body.a)//middle//$(header.one)-end", ["$(body.a)", "$(header.one)"]),
        ("start:$(body.[?(@.a == 'd')])-$(body.x)", ["$(body.[?(@.a == 'd')])", "$(body.x)"]),
        ("$(this)-$(not-this", ["$(this)"]),  # unterminated: literal text
        ("$body.)", []),
        ("($(body.blah))-and-$(body.foo)", ["$(body.blah)", "$(body.foo)"]),
        ("asd)$(asd", []),
        ("onlystatic", []),
        ("", []),
        ("$())))", ["$()"]),
        ("$($())", ["$()"]),
        ("$($($(blahblah)))", ["$(blahblah)"]),  # nested: only the innermost
        ("$(a(b)c)", ["$(a(b)c)"]),  # balanced parentheses stay inside
    ],
)
def test_find_expressions(value: str, want: list[str]) -> None:
    assert find_expressions(value) == want


# --- resolve_params --------------------------------------------------------------------------

EVENT = event_data(b'{"a": "va", "b": "body.a", "n": 7, "o": {"k": "v"}}', HEADERS, {"e": "ve"}, "id-9")


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("static", "static"),
        ("$(body.a)", "va"),
        ("$(body.a): $(body.n)", "va: 7"),
        ("$(body.a)-$(body.a)", "va-va"),
        ("pre $(header.x-github-event) $(extensions.e) $(context.eventID) post", "pre push ve id-9 post"),
        ("$($(body.b))", "$(body.a)"),  # inner expression replaced, outer $( ) left as text
        ("cost: $(body.n", "cost: $(body.n"),  # unterminated: literal
        ("$(body.o)", '{"k":"v"}'),
        ("x$()y", "xy"),
    ],
)
def test_resolve_values(value: str, want: str) -> None:
    assert resolve_params([("p", value)], EVENT, {}) == {"p": want}


def test_defaults_are_seeded_and_overridden_in_order() -> None:
    got = resolve_params(
        [("b", "$(body.a)"), ("extra", "not declared in the template")],
        EVENT,
        {"a": "default-a", "b": "default-b"},
    )
    assert got == {"a": "default-a", "b": "va", "extra": "not declared in the template"}
    assert list(got) == ["a", "b", "extra"]


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("$(body.missing)", "DEF"),
        ("prefix-$(body.missing)-suffix", "prefix-DEF-suffix"),  # only the failing text is replaced
        ("$(body.a)/$(body.missing)", "va/DEF"),
        ("$(body.[)", "DEF"),  # a path that does not parse falls back too
        ("$(header.X-None)", "DEF"),
    ],
)
def test_a_failing_expression_falls_back_to_the_template_default(value: str, want: str) -> None:
    assert resolve_params([("p", value)], EVENT, {"p": "DEF"}) == {"p": want}


def test_a_failing_expression_without_default_names_param_and_expression() -> None:
    with pytest.raises(BindingError) as info:
        resolve_params([("ok", "$(body.a)"), ("p", "x-$(body.missing)")], EVENT, {"other": "d"})
    err = info.value
    assert err.param == "p"
    assert err.expression == "$(body.missing)"
    assert str(err) == (
        "failed to ApplyEventValuesToParams: failed to replace JSONPath value for param p: "
        "x-$(body.missing): missing is not found"
    )


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("$(body.missing)", "missing is not found"),
        ("$(body.key[0])", "string is not array or slice"),
        (
            "$({.hello)",
            "unexpected path string, expected a 'name1.name2' or '.name1.name2' or "
            "'{name1.name2}' or '{.name1.name2}'",
        ),
        ("$([1)", "unterminated array"),
    ],
)
def test_tekton_parse_json_path_error_vectors(value: str, error: str) -> None:
    """pkg/template/jsonpath_test.go, TestParseJSONPath_Error: these expressions fail on
    ``{"body": {"key": "val"}}``; the texts are client-go's and Tekton's (event.go wraps them)."""
    event = event_data(b'{"key": "val"}', {}, None, "e")
    with pytest.raises(BindingError) as info:
        resolve_params([("p", value)], event, {})
    assert str(info.value) == (
        f"failed to ApplyEventValuesToParams: failed to replace JSONPath value for param p: {value}: {error}"
    )


def test_duplicate_param_names_are_rejected_even_with_equal_values() -> None:
    with pytest.raises(BindingError, match=r"^failed to resolve bindings: duplicate param name: p$") as info:
        resolve_params([("p", "x"), ("q", "y"), ("p", "x")], EVENT, {})
    assert info.value.param == "p"


# --- configuration checks --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "problems"),
    [
        ("$(body.a) and $(header.X) $(extensions.e) $(context.eventID)", []),
        ("static", []),
        ("$(body.a", []),  # an open $( at the very end is accepted by Tekton (literal)
        ("$(body.a $(body.b)", ["no closing ')' before the next '$('"]),
        ("$(foo.bar)", ["$(foo.bar): a path must start with body, header, extensions or context"]),
        ("$(body.[)", ["$(body.[): unterminated array"]),
        ("$({body.a)", ["$({body.a): unexpected path string"]),
        ("$(context.id)", ["$(context.id): context only has eventID"]),
        ("$()", ["$() is empty"]),
    ],
)
def test_expression_problems(value: str, problems: list[str]) -> None:
    found = expression_problems(value)
    if not problems:
        assert found == []
    else:
        assert len(found) == 1
        assert all(p in found[0] for p in problems)
