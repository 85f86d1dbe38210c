"""The HCL reader the Terraform checks rely on: it must read what it claims to and refuse the rest."""

from __future__ import annotations

import pytest

from tests.infra import hcl

SAMPLE = """
# a comment
locals {
  names = ["a", "b", // trailing comment
    "c"]
  table = {
    one   = { x = 1, y = "two" }
    "k-2" = null
    flag  = true
    neg   = -3
  }
  joined = "${var.a}-x"
  cond   = var.a == null ? "no" : "yes"
  doc    = <<-EOT
    first
      second
  EOT
}

resource "google_pubsub_topic" "t" {
  for_each = toset(local.names)
  name     = each.value

  nested {
    ttl = ""
  }
}
"""


def test_reads_structure_and_literals() -> None:
    body = hcl.parse(SAMPLE)
    found = hcl.locals_of(body)
    assert found["names"].literal() == ["a", "b", "c"]
    assert found["table"].literal() == {"one": {"x": 1, "y": "two"}, "k-2": None, "flag": True, "neg": -3}
    assert found["joined"].kind == "template"
    assert found["cond"].kind == "other"
    assert found["cond"].text == 'var.a == null ? "no" : "yes"'
    assert found["doc"].literal() == "first\n  second\n"
    topic = body.one("resource", "google_pubsub_topic", "t")
    assert topic.body.attributes["for_each"].kind == "call"
    assert topic.body.attributes["for_each"].name == "toset"
    assert topic.body.attributes["name"].text == "each.value"
    assert topic.body.one("nested").body.attributes["ttl"].literal() == ""


def test_non_literals_refuse_to_be_read_as_literals() -> None:
    found = hcl.locals_of(hcl.parse(SAMPLE))
    with pytest.raises(hcl.HclError, match="not a literal"):
        found["joined"].literal()


@pytest.mark.parametrize(
    "text",
    [
        'a = "unterminated\n',
        "a = [1, 2\n",
        "block {\n  a = 1\n",
        "a = 1 b = 2\n",
        "a = 1\na = 2\n",
        "a = @\n",
    ],
)
def test_malformed_text_is_an_error(text: str) -> None:
    with pytest.raises(hcl.HclError):
        hcl.parse(text)


def test_jsonencode_argument_and_template_rendering() -> None:
    body = hcl.parse('x = base64encode(jsonencode({ a = "v", b = { c = null } }))\n')
    assert hcl.jsonencode_argument(body.attributes["x"]).literal() == {"a": "v", "b": {"c": None}}
    assert hcl.render_template('"//s/${var.p}/j/${local.j}"', {"var.p": "P", "local.j": "J"}) == "//s/P/j/J"
