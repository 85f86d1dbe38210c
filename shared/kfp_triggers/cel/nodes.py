"""The expression tree shared by the parser, the checker and the evaluators, and error rendering.

The node types mirror cel-go's AST: identifiers, selections (``has()`` is a selection marked
``test_only``), calls with operator names such as ``_+_``, list and map literals, and macros
over lists and maps. Each node keeps the source offset cel-go reports errors at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(eq=False)
class Node:
    """Base of every expression node; ``pos`` is the offset cel-go reports errors at."""

    pos: int


@dataclass(eq=False)
class Literal(Node):
    value: Any


@dataclass(eq=False)
class Ident(Node):
    name: str


@dataclass(eq=False)
class Select(Node):
    """``operand.field``; the checker sets ``qualified`` when the whole chain names a declaration.

    ``google.protobuf.Timestamp`` parses as selections on ``google``, but denotes one type name;
    likewise a variable declared as ``a.b`` is found for ``a.b.c`` (longest declared prefix).
    """

    operand: Node
    field: str
    test_only: bool = False
    qualified: str | None = None


@dataclass(eq=False)
class Call(Node):
    function: str
    args: list[Node]
    target: Node | None = None


@dataclass(eq=False)
class ListExpr(Node):
    elements: list[Node]


@dataclass(eq=False)
class MapExpr(Node):
    entries: list[tuple[Node, Node]]


@dataclass(eq=False)
class Comprehension(Node):
    """A macro over a list or map: ``all``, ``exists``, ``exists_one``, ``map``, ``filter``, ``sortBy``."""

    kind: str
    target: Node
    var: str
    pred: Node | None
    transform: Node | None = None


@dataclass(eq=False)
class StructExpr(Node):
    """A message construction ``a.b{f: v}``; no message types exist here, so it never checks."""

    name: str


def location(text: str, pos: int) -> tuple[int, int]:
    """1-based line and 0-based column (in characters) of an offset."""
    line = text.count("\n", 0, pos) + 1
    start = text.rfind("\n", 0, pos) + 1
    return line, pos - start


def render_error(text: str, pos: int, message: str) -> str:
    """Render one error as cel-go's ``ToDisplayString`` does, with the source line and a caret."""
    line, col = location(text, pos)
    out = f"ERROR: <input>:{line}:{col + 1}: {message}"
    lines = text.split("\n")
    if line - 1 < len(lines):
        snippet = lines[line - 1].replace("\t", " ")
        marker = "".join("\uff0e" if len(ch.encode("utf-8")) > 1 else "." for ch in snippet[:col])
        nxt = snippet[col : col + 1]
        marker += "\uff3e" if nxt and len(nxt.encode("utf-8")) > 1 else "^"
        out += f"\n | {snippet}\n | {marker}"
    return out


def render_errors(text: str, errors: list[tuple[int, str]]) -> str:
    """Render several errors sorted by position, joined by newlines."""
    return "\n".join(render_error(text, p, m) for p, m in sorted(errors, key=lambda e: location(text, e[0])))


def qualified_name(node: Node) -> str | None:
    """``a.b.c`` for a chain of selections on an identifier, else None."""
    if isinstance(node, Ident):
        return node.name
    if isinstance(node, Select) and not node.test_only:
        prefix = qualified_name(node.operand)
        return f"{prefix}.{node.field}" if prefix else None
    return None
