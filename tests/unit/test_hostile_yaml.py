"""parseYAML against hostile documents: alias bombs, oversized and deeply nested text.

Every case goes through a real CEL environment, as a filter reading a YAML string from the body
would; none of them may expand the document before refusing it.
"""

from __future__ import annotations

import pytest

from kfp_triggers.cel import goyaml
from kfp_triggers.cel.functions import parse_yaml
from kfp_triggers.cel.values import EvalError
from kfp_triggers.errors import CelEvalError
from tests.unit.cel_support import BACKENDS, evaluate


def laughs(levels: int, width: int = 9) -> str:
    """A "billion laughs" document: each anchor is a list of ``width`` aliases of the previous one."""
    lines = ["l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("backend", BACKENDS)
def test_billion_laughs_is_refused_as_go_yaml_refuses_it(backend: str) -> None:
    bomb = laughs(12)  # 9**12 leaves once expanded, from about 500 bytes
    with pytest.raises(CelEvalError) as caught:
        evaluate(backend, "body.doc.parseYAML().l11.size() > 0", {"doc": bomb})
    message = str(caught.value)
    assert "parseYAML: error converting YAML to JSON: yaml: document contains excessive aliasing" in message


def test_aliases_within_go_yamls_ratio_still_expand() -> None:
    doc = "base: &b {name: x, tags: [a, b]}\none: *b\ntwo: [*b, *b]\n"
    assert parse_yaml(doc) == {
        "base": {"name": "x", "tags": ["a", "b"]},
        "one": {"name": "x", "tags": ["a", "b"]},
        "two": [{"name": "x", "tags": ["a", "b"]}, {"name": "x", "tags": ["a", "b"]}],
    }
    assert len(parse_yaml(laughs(3))["l2"]) == 9  # 729 leaves: under go-yaml's 1000-decode floor


def test_alias_ratio_follows_go_yaml() -> None:
    assert goyaml.allowed_alias_ratio(1000) == 0.99
    assert goyaml.allowed_alias_ratio(400_000) == 0.99
    assert goyaml.allowed_alias_ratio(4_000_000) == 0.10
    assert goyaml.allowed_alias_ratio(2_200_000) == pytest.approx(0.545)


def test_expansion_beyond_the_decode_budget_is_refused() -> None:
    # About 5% of the decodes are literal nodes, so go-yaml's ratio allows the aliases; the
    # expansion still exceeds the number of values this engine builds for one document.
    width = 1000
    items = ", ".join(f"k{i}: {i}" for i in range(width))
    aliases = goyaml.MAX_DECODES // (2 * width) + 1
    filler = ", ".join(["1"] * 8000)
    doc = f"row: &row {{{items}}}\nfill: [{filler}]\nrows: [" + ", ".join(["*row"] * aliases) + "]\n"
    with pytest.raises(EvalError, match="yaml: document expands to more than"):
        parse_yaml(doc)


def test_oversized_document_is_refused_without_echoing_it() -> None:
    doc = "key: " + "v" * goyaml.MAX_DOCUMENT_BYTES
    with pytest.raises(EvalError) as caught:
        parse_yaml(doc)
    message = str(caught.value)
    assert f"more than the {goyaml.MAX_DOCUMENT_BYTES} parseYAML reads" in message
    assert len(message) < 500


def test_deep_nesting_is_an_evaluation_error() -> None:
    with pytest.raises(EvalError, match="yaml: document is nested too deeply"):
        parse_yaml("[" * 5000)


def test_self_containing_anchor_keeps_its_error() -> None:
    with pytest.raises(EvalError, match="recursive"):
        parse_yaml("a: &a [*a]")
