"""Tekton's own CEL functions (triggers.go), on every backend, with their edge cases and errors."""

# ruff: noqa: E501  (expression tables read best one case per line)

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.errors import CelEvalError
from kfp_triggers.golang.fmt import quote
from kfp_triggers.secretstore import FileSecrets
from tests.unit.cel_support import BACKENDS, evaluate

SHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
BODY: dict[str, Any] = {
    "value": "testing",
    "sha": SHA,
    "ref": "refs/heads/master",
    "pull_request": {"commits": 2},
    "upperMsg": "THIS IS LOWER CASE",
    "b64value": "ZXhhbXBsZQ==",
    "json_body": '{"testing": "value", "number": 2}',
    "yaml_body": "key1: value1\nkey2: value2\nkey3: value3\n",
    "invalid_yaml": "key1: value1key2: value2\n",
    "testURL": "https://user:password@site.example.com/path/to?query=search#first",
    "multiURL": "https://user:password@site.example.com/path/to?query=search&query=results",
    "jsonObject": {"string": "value", "integer": 2},
    "jsonArray": ["one", "two"],
    "jsonObjects": [{"testing1": {"testing": ["test1", "test2"]}}],
    "numbers": [1, 2, 3, 4, 5],
    "emptyList": [],
    "unicode": "héllo wörld",
}
HEADER = {
    "X-Test-Header": ["value", "second"],
    "X-Github-Event": ["push"],
    "Content-Type": ["application/json"],
}

VALUES = [
    # match / canonical: canonical header names, first value only
    ("header.match('x-test-header', 'value')", "bool", True),
    ("header.match('X-TEST-HEADER', 'value')", "bool", True),
    ("header.match('x-test-header', 'second')", "bool", False),
    ("header.match('missing', '')", "bool", True),
    ("header.canonical('x-github-event')", "string", "push"),
    ("header.canonical('X-Test-Header')", "string", "value"),
    ("header.canonical('absent')", "string", ""),
    ("{'X-Test': ['a']}.match('x-test', 'a')", "bool", True),
    # truncate counts bytes and never grows the string
    ("body.sha.truncate(7)", "string", "ec26c3e"),
    ("body.value.truncate(7)", "string", "testing"),
    ("body.sha.truncate(45)", "string", SHA),
    ("body.value.truncate(0)", "string", ""),
    ("body.unicode.truncate(2)", "string", "h\ufffd"),
    ("body.value.split('/')[0].truncate(2)", "string", "te"),
    # parseJSON: numbers become doubles, null gives an empty map
    ("body.json_body.parseJSON().testing", "string", "value"),
    ("body.json_body.parseJSON().number", "double", 2.0),
    ("body.json_body.parseJSON().number == body.jsonObject.integer", "bool", True),
    ("body.json_body.parseJSON().number > 1", "bool", True),
    ("body.json_body.parseJSON().number < 3u", "bool", True),
    ("body.json_body.parseJSON().number == 2.0", "bool", True),
    ("body.json_body.parseJSON().number == null", "bool", False),
    ("'null'.parseJSON()", "map", {}),
    ('\'{"a": [1, {"b": true}]}\'.parseJSON().a[1].b', "bool", True),
    # parseYAML: YAML 1.1 scalars, timestamps stay strings
    ("body.yaml_body.parseYAML().key1", "string", "value1"),
    ("'a: 1\\nb: [x, y]'.parseYAML()", "map", {"a": 1.0, "b": ["x", "y"]}),
    ("'when: 2001-12-14'.parseYAML().when", "string", "2001-12-14"),
    ("'1: one\\ntrue: yes'.parseYAML()", "map", {"1": "one", "true": True}),
    ("''.parseYAML()", "map", {}),
    # parseURL
    ("body.testURL.parseURL().path", "string", "/path/to"),
    ("body.testURL.parseURL().host", "string", "site.example.com"),
    ("body.testURL.parseURL().scheme", "string", "https"),
    ("body.testURL.parseURL().fragment", "string", "first"),
    ("body.testURL.parseURL().rawQuery", "string", "query=search"),
    ("body.testURL.parseURL().auth", "map", {"username": "user", "password": "password"}),
    ("body.testURL.parseURL().query['query']", "string", "search"),
    ("body.multiURL.parseURL().queryStrings['query']", "list", ["search", "results"]),
    ("body.multiURL.parseURL().query['query']", "string", "search,results"),
    ("requestURL.parseURL().path", "string", "/testing"),
    ("has(requestURL.parseURL().auth)", "bool", False),
    (
        "'HTTP://h:8080/a%20b?x=1+2&y=%zz&z'.parseURL()",
        "map",
        {
            "scheme": "http",
            "host": "h:8080",
            "path": "/a b",
            "rawQuery": "x=1+2&y=%zz&z",
            "fragment": "",
            "queryStrings": {"x": ["1 2"], "z": [""]},
            "query": {"x": "1 2", "z": ""},
        },
    ),
    ("'/relative/path'.parseURL().path", "string", "/relative/path"),
    # marshalJSON: compact, sorted keys, numbers as JSON doubles, HTML escaped
    ("body.jsonObject.marshalJSON()", "string", '{"integer":2,"string":"value"}'),
    ("body.jsonArray.marshalJSON()", "string", '["one","two"]'),
    ("body.jsonObjects.marshalJSON()", "string", '[{"testing1":{"testing":["test1","test2"]}}]'),
    (
        "{'b': 1, 'a': [1.5, null, true, b'hi', '<&>']}.marshalJSON()",
        "string",
        '{"a":[1.5,null,true,"aGk=","\\u003c\\u0026\\u003e"],"b":1}',
    ),
    ("[1e21, 1e-7, 100.0].marshalJSON()", "string", "[1e+21,1e-7,100]"),
    # first / last
    ("body.testURL.parseURL().path.split('/').last()", "string", "to"),
    ("body.emptyList.last()", "null", None),
    ("body.numbers.last()", "double", 5.0),
    ("[1, 2, 3, 4, 5].last()", "int", 5),
    ("[1, 2, 3, 4, 5].first()", "int", 1),
    ("body.testURL.parseURL().path.split('/').filter(t, t.size() > 0).first()", "string", "path"),
    ("body.emptyList.first()", "null", None),
    # translate: RE2 with Go's ReplaceAllString and $ expansion
    (
        "'This is $an Invalid5String'.lowerAscii().translate('[^a-z0-9]+', '')",
        "string",
        "thisisaninvalid5string",
    ),
    (
        "'This is $an Invalid5String'.lowerAscii().translate('[^a-z0-9]+', 'ABC')",
        "string",
        "thisABCisABCanABCinvalid5string",
    ),
    ("'refs/heads/main'.translate('refs/heads/(.*)', '$1')", "string", "main"),
    ("'a-b'.translate('(?P<x>a)-(b)', '${2}${x}')", "string", "ba"),
    ("'abc'.translate('(b)', '$1x')", "string", "ac"),
    ("'abc'.translate('(b)', '${1}x')", "string", "abxc"),
    ("'abc'.translate('b', '$$')", "string", "a$c"),
    ("'baaac'.translate('a*', 'X')", "string", "XbXcX"),
    ("'abc'.translate('', '-')", "string", "-a-b-c-"),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("expression", "type_name", "value"), VALUES, ids=[v[0] for v in VALUES])
def test_function_values(backend: str, expression: str, type_name: str, value: Any) -> None:
    assert evaluate(backend, expression, BODY, HEADER) == (type_name, value)


ERRORS = [
    ("body.match('testing', 'test')", "failed to convert to http.Header"),
    ("body.canonical('testing')", "failed to convert to http.Header"),
    (
        "body.value.parseJSON().test == 'test'",
        "failed to decode 'testing' in parseJSON: invalid character 'e' in literal true (expecting 'r')",
    ),
    (
        "'[1]'.parseJSON()",
        "failed to decode '[1]' in parseJSON: json: cannot unmarshal array into Go value of type map[string]interface {}",
    ),
    ("'{\"a\": 1'.parseJSON()", "failed to decode '{\"a\": 1' in parseJSON: unexpected end of JSON input"),
    ("body.pull_request.parseJSON().test == 'test'", "no such overload: parseJSON(map)"),
    ("body.pull_request.parseYAML().key1 == 'value1'", "no such overload: parseYAML(map)"),
    ("body.yaml_body.parseYAML().nope == 'value3'", "no such key: nope"),
    (
        "body.invalid_yaml.parseYAML().key1 == 'value1'",
        "failed to decode 'key1: value1key2: value2\n' in parseYAML:",
    ),
    ("'- a'.parseYAML()", "cannot unmarshal array into Go value of type map[string]interface {}"),
    ("'a: 1\\na: 2'.parseYAML()", "already set in map"),
    ("body.value.marshalJSON()", "no such overload: marshalJSON(string)"),
    ("[0.0/0.0].marshalJSON()", "invalid NaN value"),
    ("body.pull_request.truncate(7)", "no such overload: truncate(map, int)"),
    ("'abc'.truncate(-1)", "slice bounds out of range"),
    ("'%zz'.parseURL()", 'failed to decode \'%zz\' in parseURL: parse "%zz": invalid URL escape "%zz"'),
    ("'http://h:port/'.parseURL()", 'invalid port ":port" after host'),
    (
        "body.value.translate('[^a-z0-9+', '')",
        "failed to parse regular expression for translation: error parsing regexp: missing closing ]: `[^a-z0-9+`",
    ),
    ("'x'.translate('a(b', '')", "error parsing regexp: missing closing ): `a(b`"),
    ("body.numbers.first().last()", "no such overload: last(double)"),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("expression", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_function_errors(backend: str, expression: str, message: str) -> None:
    with pytest.raises(CelEvalError) as info:
        evaluate(backend, expression, BODY, HEADER)
    assert str(info.value).startswith(f"expression {quote(expression)} failed to evaluate: ")
    assert message in str(info.value)


@pytest.fixture
def secrets(tmp_path: Path) -> FileSecrets:
    (tmp_path / "test-secret").mkdir()
    (tmp_path / "test-secret" / "token").write_bytes(b"secrettoken")
    return FileSecrets(tmp_path)


SECRET_CASES = [
    ("'secrettoken'.compareSecret('token', 'test-secret', 'testing-ns')", True),
    ("'nomatch'.compareSecret('token', 'test-secret', 'testing-ns')", False),
    ("'secrettoken'.compareSecret('token', 'test-secret')", True),
    ("'secrettoken'.compareSecret('token', 'test-secret', 'any-other-namespace')", True),
    ("'secrettoke'.compareSecret('token', 'test-secret')", False),
    ("header.canonical('X-Secret-Token').compareSecret('token', 'test-secret')", True),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("expression", "expected"), SECRET_CASES, ids=[c[0] for c in SECRET_CASES])
def test_compare_secret(backend: str, secrets: FileSecrets, expression: str, expected: bool) -> None:
    header = {"X-Secret-Token": ["secrettoken"]}
    assert evaluate(backend, expression, BODY, header, secrets=secrets) == ("bool", expected)


@pytest.mark.parametrize("backend", BACKENDS)
def test_compare_secret_missing_secret(backend: str, secrets: FileSecrets) -> None:
    with pytest.raises(CelEvalError) as info:
        evaluate(
            backend, "'testing'.compareSecret('testing', 'testSecret', 'mytoken')", BODY, secrets=secrets
        )
    assert (
        'failed to find secret \'v1beta1.SecretRef{SecretKey:"testing", SecretName:"testSecret"}\' '
        "in compareSecret: " in str(info.value)
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_compare_secret_ref_is_printed_with_go_quoting(backend: str, secrets: FileSecrets) -> None:
    # Tekton prints the ref with %#v, which quotes its strings with strconv.Quote.
    with pytest.raises(CelEvalError) as info:
        evaluate(backend, "'x'.compareSecret('a\\rb\\a', 'testSecret')", BODY, secrets=secrets)
    assert 'v1beta1.SecretRef{SecretKey:"a\\rb\\a", SecretName:"testSecret"}' in str(info.value)


@pytest.mark.parametrize("backend", BACKENDS)
def test_compare_secret_without_any_store(backend: str) -> None:
    with pytest.raises(CelEvalError, match="failed to find secret"):
        evaluate(backend, "'x'.compareSecret('token', 'test-secret')", BODY)


@pytest.mark.parametrize("backend", BACKENDS)
def test_compare_secret_refuses_an_empty_secret_instead_of_matching_an_empty_value(
    backend: str, tmp_path: Path
) -> None:
    """An empty secret file would let a request without the header (an empty value) through."""
    (tmp_path / "hooks").mkdir()
    (tmp_path / "hooks" / "empty").write_bytes(b"")
    with pytest.raises(CelEvalError, match='secrets "hooks" key "empty" is empty'):
        evaluate(backend, "''.compareSecret('empty', 'hooks')", BODY, secrets=FileSecrets(tmp_path))
