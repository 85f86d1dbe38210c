"""Kubernetes JSONPath as client-go evaluates it (AllowMissingKeys(false)), over Go-decoded JSON."""

from __future__ import annotations

from typing import Any

import pytest

from kfp_triggers.golang.json import unmarshal
from kfp_triggers.tekton.jsonpath import GoInt, GoStruct, GoUint8, JsonPathError, compile_path

# Decoded as Go decodes into interface{}: every number is a float64.
DOC: Any = unmarshal(
    """{
      "a": "x",
      "n": null,
      "num": 3,
      "s": "hi",
      "empty": [],
      "nested": {"b": {"c": "deep"}},
      "a.b": "dotted-key",
      "dots": {"b": "under-a"},
      "dev.tekton.dev/foo": "escaped",
      "ключ": "unicode-key",
      "list": ["l0", "l1", "l2", "l3"],
      "items": [{"name": "i0", "w": 1, "tag": "x"},
                {"name": "i1", "w": 2},
                {"name": "i2", "w": 3, "tag": "y"}],
      "grid": [[5], [6, 7]]
    }"""
)


def find(path: str, root: Any = DOC) -> list[Any] | None:
    return compile_path(path).find(root)


@pytest.mark.parametrize(
    ("path", "want"),
    [
        # fields, bracket keys and escapes
        (".a", ["x"]),
        (".nested.b.c", ["deep"]),
        ("['a']", ["x"]),
        ("['nested']['b'].c", ["deep"]),
        (".ключ", ["unicode-key"]),
        (r".dev\.tekton\.dev\/foo", ["escaped"]),
        (r".a\.b", ["dotted-key"]),
        # a quoted bracket key is re-parsed as '.a.b': the dot is NOT protected
        ("['dots']", [{"b": "under-a"}]),
        ("['nested.b']", [{"c": "deep"}]),
        ("$.a", ["x"]),  # '$' and '@' only name the current value
        # indices and slices (end exclusive, negative from the end)
        (".list[0]", ["l0"]),
        (".list[3]", ["l3"]),
        (".list[-1]", ["l3"]),
        (".list[-4]", ["l0"]),
        (".list[]", ["l0"]),  # an empty index is [0]
        (".list[1:3]", ["l1", "l2"]),
        (".list[2:]", ["l2", "l3"]),
        (".list[:1]", ["l0"]),
        (".list[-2:]", ["l2", "l3"]),
        (".list[-1:]", ["l3"]),
        (".list[::2]", ["l0", "l2"]),
        (".list[1:4:2]", ["l1", "l3"]),
        (".list[*]", ["l0", "l1", "l2", "l3"]),
        (".list[:]", ["l0", "l1", "l2", "l3"]),
        (".list[2:2]", []),  # equal bounds select nothing, without a bounds check
        (".empty[0:0]", []),
        (".list[4:4]", []),
        # unions
        (".list[0,2]", ["l0", "l2"]),
        (".list[3, 0]", ["l3", "l0"]),
        (".items[0,2].name", ["i0", "i2"]),
        ("['a','s']", ["x", "hi"]),
        # wildcard and recursive descent
        (".items[*].name", ["i0", "i1", "i2"]),
        (".nested.*", [{"c": "deep"}]),
        (".items..name", ["i0", "i1", "i2"]),
        ("..c", ["deep"]),
        # Go strings are bytes: '.*' walks into them
        (".s.*", [104, 105]),
        # filters; JSON numbers are float64, so compare with float literals
        (".items[?(@.name == 'i1')].w", [2.0]),
        (".items[?(@.name != 'i1')].name", ["i0", "i2"]),
        (".items[?(@.w > 1.5)].name", ["i1", "i2"]),
        (".items[?(@.w >= 2.0)].name", ["i1", "i2"]),
        (".items[?(@.w < 2.0)].name", ["i0"]),
        (".items[?(@.w <= 2.0)].name", ["i0", "i1"]),
        (".items[?(@.w == 3.0)].name", ["i2"]),
        ('.items[?(@.name == "i2")].w', [3.0]),
        (".items[?(@.name=='i0')].w", [1.0]),
        (".items[?(@.name < 'i1')].name", ["i0"]),  # strings order bytewise
        (".items[?(@.tag)].name", ["i0", "i2"]),  # existence
        (".items[?(@.name == 'none')]", []),
        (".items[?(@.w > 1.5)].tag", ["y"]),  # missing keys are fine while another input has it
        # literals: a quoted string yields itself, numbers and booleans once per input
        (".a 'lit'", ["lit"]),
        (".a 7", [7]),
        (".a true", [True]),
        # null: indexing yields nothing (no error)
        (".n[0]", []),
        (".n[*]", []),
    ],
)
def test_selects(path: str, want: list[Any]) -> None:
    assert find(path) == want


def test_integer_literal_is_a_go_int_and_bytes_are_uint8() -> None:
    assert all(type(v) is GoUint8 for v in find(".s.*") or [])
    (seven,) = find(".a 7") or []
    assert type(seven) is GoInt


def test_recursive_descent_keeps_only_values_with_children() -> None:
    root = unmarshal('{"a": {"b": 1, "c": ""}, "d": [], "e": "xy"}')
    # root (has children), a (has children), "xy" (has bytes); leaves 1, "" and [] are dropped
    assert find("..", root) == [root, root["a"], "xy"]


def test_empty_bounds_stop_the_whole_step_like_go() -> None:
    # Go returns as soon as one input selects nothing, skipping inputs that would error.
    assert find(".grid[*][-1:0]") == []
    with pytest.raises(JsonPathError, match="starting index 1 is greater than ending index 0"):
        find(".grid[1][-1:0]")


def test_exists_filter_counts_a_failed_index_as_present() -> None:
    # Go ignores the error of an existence test and keeps the element when the failing step
    # still returned its input: indexing a string returns the string along with the error.
    root = unmarshal('{"l": [{"s": "abc"}, {"t": 1}]}')
    assert find(".l[?(@.s[0])]", root) == [{"s": "abc"}]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        # client-go's own texts, which Tekton reports verbatim
        (".missing", "missing is not found"),
        (".nested.x", "x is not found"),
        (".n.x", "x is not found"),  # a key of null
        (".a.b", "b is not found"),  # a key of a string
        (".list.name", "name is not found"),
        (".s[0]", "string is not array or slice"),
        (".nested[0]", "map[string]interface {} is not array or slice"),
        (".num[0]", "float64 is not array or slice"),
        (".list[4]", "array index out of bounds: index 4, length 4"),
        (".list[-5]", "array index out of bounds: index -1, length 4"),
        (".list[1:9]", "array index out of bounds: index 8, length 4"),
        (".empty[0]", "array index out of bounds: index 0, length 0"),
        (".empty[-1:]", "array index out of bounds: index -1, length 0"),
        (".list[3:1]", "starting index 3 is greater than ending index 1"),
        (".list[::0]", "step must be > 0"),
        (".list[0,9]", "array index out of bounds: index 9, length 4"),
        (".nested[?(@.b)]", "map[b:map[c:deep]] is not array or slice and cannot be filtered"),
        (".n[?(@.b)]", "<nil> is not array or slice and cannot be filtered"),
        (".num[?(@.b)]", "3 is not array or slice and cannot be filtered"),
        (".items[?(@.tag == 'x')]", "tag is not found"),
        (".items[?(@.w == 1)]", "incompatible types for comparison"),  # JSON numbers are float64
        (".items[?(@.name > 1.0)]", "incompatible types for comparison"),
        (".items[?(@ == 'x')]", "invalid type for comparison"),
        (".items[?(@.w = 1.0)]", "unrecognized filter operator ="),
        (".items[?(@.name == true)]", "incompatible types for comparison"),
        (".items[*].w[?(@ > 1.0)]", "1 is not array or slice and cannot be filtered"),
        (".a word", "unrecognized identifier word"),
        (".a end", "not in range, nothing to end"),
    ],
)
def test_evaluation_errors(path: str, message: str) -> None:
    with pytest.raises(JsonPathError) as info:
        find(path)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (".list[0", "unterminated array"),
        (".items[?(@.a == 'x'", "unterminated filter"),
        (".items[?(@.a == 'x')", "unclosed array expect ]"),
        (".a 'open", "unterminated quoted string"),
        ("['a'", "unterminated array"),
        ('["a"]', 'invalid array index "a"'),  # only single quotes make a key
        (".list[a]", "invalid array index a"),
        (".list[-]", "array index - is not a number"),
        (".a..b..c", ""),  # fine: separate descents (checked below not to raise)
        ("....a", "invalid multiple recursive descent"),
        (".a\\", "unclosed action"),  # the backslash escapes the closing brace
        (".a\tb", "unrecognized character in action: U+0009"),
        (".a\nb", "unclosed action"),
        (".a * b", "unrecognized character in action: U+002A '*'"),
        (".a +1.2.3", "cannot parse number +1.2.3"),
        (".a ' \\q '", "unquote string ' \\q ' error invalid syntax"),
        (".a }", "braces are not allowed inside a path"),
    ],
)
def test_syntax_errors(path: str, message: str) -> None:
    if not message:
        compile_path(path)
        return
    with pytest.raises(JsonPathError) as info:
        compile_path(path)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("path", "want"),
    [
        (r".a 'it\'s'", ["it's"]),
        ('.a "say \\"hi\\""', ['say "hi"']),
        (r".a 'tab\there'", ["tab\there"]),
        (r".a '\u00e9\x41'", ["éA"]),
        (r".a '\101'", ["A"]),
    ],
)
def test_quoted_literals_use_go_unquoting(path: str, want: list[str]) -> None:
    assert find(path) == want


def test_filter_compares_unquoted_escape_with_data() -> None:
    root = unmarshal('{"l": [{"k": "a\'b"}, {"k": "c"}]}')
    assert find(r".l[?(@.k == 'a\'b')]", root) == [{"k": "a'b"}]


def test_range_keyword_produces_no_result_set() -> None:
    assert find(".list range") is None


def test_go_struct_fields_match_json_tag_then_go_name() -> None:
    ctx = GoStruct((("eventID", "EventID", "e-1"),))
    root = GoStruct((("body", "Body", {"k": "v"}), ("context", "Context", ctx)))
    assert find(".body.k", root) == ["v"]
    assert find(".Body.k", root) == ["v"]
    assert find(".context.EventID", root) == ["e-1"]
    assert find(".*", root) == [{"k": "v"}, ctx]
    with pytest.raises(JsonPathError, match=r"^bodies is not found$"):
        find(".bodies", root)
    with pytest.raises(JsonPathError, match=r"^struct is not array or slice$"):
        find("[0]", root)


def test_parsed_paths_are_cached() -> None:
    assert compile_path(".items[0].name") is compile_path(".items[0].name")
