"""CEL source text to a small expression tree, with macros expanded as cel-go expands them.

cel-python's Lark grammar does the parsing; this module turns its parse tree into the node types
of :mod:`kfp_triggers.cel.nodes` (the same shape as cel-go's AST: identifiers, selections, calls
with operator names such as ``_+_``, list and map literals, comprehensions). Each node keeps the
source offset cel-go uses to locate errors (the operator, the ``(`` of a call, the ``.`` of a
selection), so messages can be rendered as ``ERROR: <input>:1:5: ...`` with the caret in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import lark

from kfp_triggers.cel import grammar, literals
from kfp_triggers.cel.nodes import (
    Call,
    Comprehension,
    Ident,
    ListExpr,
    Literal,
    MapExpr,
    Node,
    Select,
    StructExpr,
    qualified_name,
    render_error,
    render_errors,
)
from kfp_triggers.cel.values import Uint

RESERVED = frozenset({"in", "as", "break", "const", "continue", "else", "for", "function", "if", "import",
                      "let", "loop", "package", "namespace", "return", "var", "void", "while"})  # fmt: skip
QUANTIFIERS = frozenset({"all", "exists", "exists_one"})


class SyntaxProblemError(Exception):
    """One or more parse errors, already rendered in cel-go's format."""


@dataclass
class _Source:
    text: str
    errors: list[tuple[int, str]] = field(default_factory=list)


def parse(text: str) -> Node:
    """Parse and expand macros; raise :class:`SyntaxProblemError` with cel-go-style messages."""
    try:
        tree = grammar.parser().parse(text)
    except lark.exceptions.UnexpectedInput as exc:
        pos = exc.pos_in_stream if exc.pos_in_stream is not None else len(text)
        raise SyntaxProblemError(render_error(text, pos, _lark_message(text, exc, pos))) from None
    except RecursionError:
        raise SyntaxProblemError(render_error(text, 0, "expression recursion limit exceeded")) from None
    src = _Source(text)
    try:
        node = _Converter(src).convert(tree)
    except RecursionError:
        raise SyntaxProblemError(render_error(text, 0, "expression recursion limit exceeded")) from None
    if src.errors:
        raise SyntaxProblemError(render_errors(text, src.errors))
    return node


def _lark_message(text: str, exc: lark.exceptions.UnexpectedInput, pos: int) -> str:
    if isinstance(exc, lark.exceptions.UnexpectedToken):
        tok = exc.token
        shown = "<EOF>" if tok.type == "$END" else str(tok)
        return f"Syntax error: mismatched input '{shown}'"
    rest = text[pos:].split("\n", 1)[0]
    if rest[:1] in ("'", '"'):
        return f"Syntax error: token recognition error at: '{rest}'"
    return f"Syntax error: token recognition error at: '{rest[:1]}'"


class _Converter:
    """Walks cel-python's parse tree and builds :class:`Node` objects."""

    def __init__(self, src: _Source) -> None:
        self.src = src
        self.text = src.text

    # -- helpers -------------------------------------------------------------------------------
    def error(self, pos: int, message: str) -> Node:
        self.src.errors.append((pos, message))
        return Literal(pos, None)

    def find(self, start: int, token: str) -> int:
        """Offset of ``token`` at or after ``start``, skipping whitespace and comments."""
        i = start
        while i < len(self.text):
            if self.text.startswith(token, i):
                return i
            if self.text.startswith("//", i):
                nl = self.text.find("\n", i)
                i = len(self.text) if nl == -1 else nl + 1
                continue
            i += 1
        return start

    @staticmethod
    def start(tree: lark.Tree[Any] | lark.Token) -> int:
        if isinstance(tree, lark.Token):
            return tree.start_pos or 0
        return getattr(tree.meta, "start_pos", 0) if not tree.meta.empty else 0

    @staticmethod
    def end(tree: lark.Tree[Any] | lark.Token) -> int:
        if isinstance(tree, lark.Token):
            return tree.end_pos or 0
        return getattr(tree.meta, "end_pos", 0) if not tree.meta.empty else 0

    # -- dispatch ------------------------------------------------------------------------------
    def convert(self, tree: lark.Tree[Any] | lark.Token) -> Node:
        if isinstance(tree, lark.Token):  # pragma: no cover - the grammar wraps every token
            return self.error(tree.start_pos or 0, f"unexpected token {tree}")
        method = getattr(self, "c_" + str(tree.data))
        result: Node = method(tree)
        return result

    def passthrough(self, tree: lark.Tree[Any]) -> Node:
        return self.convert(tree.children[0])

    c_member = c_primary = c_paren_expr = passthrough

    def c_expr(self, tree: lark.Tree[Any]) -> Node:
        if len(tree.children) == 1:
            return self.convert(tree.children[0])
        cond, then, other = tree.children
        pos = self.find(self.end(cond), "?")
        return Call(pos, "_?_:_", [self.convert(cond), self.convert(then), self.convert(other)])

    def _logical(self, tree: lark.Tree[Any], op: str, name: str) -> Node:
        if len(tree.children) == 1:
            return self.convert(tree.children[0])
        left, right = tree.children
        pos = self.find(self.end(left), op)
        return Call(pos, name, [self.convert(left), self.convert(right)])

    def c_conditionalor(self, tree: lark.Tree[Any]) -> Node:
        return self._logical(tree, "||", "_||_")

    def c_conditionaland(self, tree: lark.Tree[Any]) -> Node:
        return self._logical(tree, "&&", "_&&_")

    _BINARY: ClassVar[dict[str, tuple[str, str]]] = {
        "relation_lt": ("<", "_<_"), "relation_le": ("<=", "_<=_"), "relation_gt": (">", "_>_"),
        "relation_ge": (">=", "_>=_"), "relation_eq": ("==", "_==_"), "relation_ne": ("!=", "_!=_"),
        "relation_in": ("in", "@in"), "addition_add": ("+", "_+_"), "addition_sub": ("-", "_-_"),
        "multiplication_mul": ("*", "_*_"), "multiplication_div": ("/", "_/_"),
        "multiplication_mod": ("%", "_%_"),
    }  # fmt: skip

    def _binary(self, tree: lark.Tree[Any]) -> Node:
        if len(tree.children) == 1:
            return self.convert(tree.children[0])
        op_tree, right = tree.children
        token, name = self._BINARY[str(op_tree.data)]
        left = op_tree.children[0]
        pos = self.find(self.end(left), token)
        return Call(pos, name, [self.convert(left), self.convert(right)])

    c_relation = c_addition = c_multiplication = _binary

    def c_unary(self, tree: lark.Tree[Any]) -> Node:
        ops: list[lark.Tree[Any]] = []
        node: lark.Tree[Any] = tree
        while len(node.children) == 2:
            ops.append(node.children[0])
            node = node.children[1]
        if not ops:
            return self.convert(node.children[0])
        kinds = {str(op.data) for op in ops}
        if len(kinds) > 1:
            return self.error(
                self.start(ops[1]), f"Syntax error: mismatched input '{self.text[self.start(ops[1])]}'"
            )
        operand = self.convert(node)
        if len(ops) % 2 == 0:
            return operand
        name = "!_" if kinds == {"unary_not"} else "-_"
        return Call(self.start(ops[0]), name, [operand])

    def c_member_dot(self, tree: lark.Tree[Any]) -> Node:
        operand, ident = tree.children
        dot = self.text.rfind(".", 0, self.start(ident))
        name = str(ident)
        if getattr(ident, "type", "") == "ESC_IDENT":
            name = name[1:-1]  # a backtick-quoted field name: `content-type`
        return Select(dot, self.convert(operand), name)

    def c_member_dot_arg(self, tree: lark.Tree[Any]) -> Node:
        operand, ident = tree.children[0], tree.children[1]
        args = [self.convert(c) for c in tree.children[2].children] if len(tree.children) > 2 else []
        pos = self.find(self.end(ident), "(")
        return self.receiver_call(pos, str(ident), self.convert(operand), args)

    def c_member_index(self, tree: lark.Tree[Any]) -> Node:
        operand, index = tree.children
        pos = self.find(self.end(operand), "[")
        return Call(pos, "_[_]", [self.convert(operand), self.convert(index)])

    def c_member_object(self, tree: lark.Tree[Any]) -> Node:
        operand = self.convert(tree.children[0])
        name = qualified_name(operand) or "?"
        return StructExpr(self.find(self.end(tree.children[0]), "{"), name)

    def c_ident(self, tree: lark.Tree[Any]) -> Node:
        token = tree.children[0]
        if str(token) in RESERVED:
            return self.error(self.start(token), f"reserved identifier: {token}")
        return Ident(self.start(token), str(token))

    def c_dot_ident(self, tree: lark.Tree[Any]) -> Node:
        token = tree.children[0]
        return Ident(self.start(token), str(token))

    def c_ident_arg(self, tree: lark.Tree[Any]) -> Node:
        token = tree.children[0]
        args = [self.convert(c) for c in tree.children[1].children] if len(tree.children) > 1 else []
        pos = self.find(self.end(token), "(")
        name = str(token)
        if name == "has" and len(args) == 1:
            arg = args[0]
            if isinstance(arg, Select) and not arg.test_only:
                return Select(pos, arg.operand, arg.field, test_only=True)
            return self.error(arg.pos, "invalid argument to has() macro")
        return Call(pos, name, args)

    c_dot_ident_arg = c_ident_arg

    def c_list_lit(self, tree: lark.Tree[Any]) -> Node:
        elems = [self.convert(c) for c in tree.children[0].children] if tree.children else []
        return ListExpr(self.start(tree), elems)

    def c_map_lit(self, tree: lark.Tree[Any]) -> Node:
        entries: list[tuple[Node, Node]] = []
        if tree.children:
            kids = tree.children[0].children
            entries = [
                (self.convert(k), self.convert(v)) for k, v in zip(kids[0::2], kids[1::2], strict=True)
            ]
        return MapExpr(self.start(tree), entries)

    def c_literal(self, tree: lark.Tree[Any]) -> Node:
        token = tree.children[0]
        assert isinstance(token, lark.Token)
        pos = self.start(token)
        try:
            value = literals.decode(token.type, str(token))
        except ValueError as exc:
            return self.error(pos, str(exc))
        if isinstance(value, Uint) and str(token).startswith("-"):
            return Call(pos, "-_", [Literal(pos + 1, value)])
        return Literal(pos, value)

    # -- macros --------------------------------------------------------------------------------
    def receiver_call(self, pos: int, name: str, target: Node, args: list[Node]) -> Node:
        if name in ("greatest", "least") and isinstance(target, Ident) and target.name == "math":
            return self.math_macro(pos, name, target, args)
        kind = name if name in QUANTIFIERS or name in ("filter", "sortBy") else None
        if (kind and len(args) == 2) or (name == "map" and len(args) in (2, 3)):
            var = args[0]
            if not isinstance(var, Ident):
                message = (
                    "argument must be a simple name"
                    if name in QUANTIFIERS
                    else "argument is not an identifier"
                )
                return self.error(var.pos, message)
            if name == "map":
                pred, transform = (args[1], args[2]) if len(args) == 3 else (None, args[1])
                return Comprehension(pos, "map", target, var.name, pred, transform)
            if name == "sortBy" and not isinstance(target, ListExpr | Select | Ident | Comprehension | Call):
                return self.error(
                    target.pos,
                    "sortBy can only be applied to a list, identifier, comprehension, call or select "
                    "expression",
                )
            return Comprehension(pos, name, target, var.name, args[1])
        return Call(pos, name, args, target)

    def math_macro(self, pos: int, name: str, target: Node, args: list[Node]) -> Node:
        fn = "math.@max" if name == "greatest" else "math.@min"
        label = f"math.{name}()"
        if not args:
            return self.error(target.pos, f"{label} requires at least one argument")
        if len(args) == 1:
            arg = args[0]
            numeric_list = isinstance(arg, ListExpr) and arg.elements and all(map(_numeric_arg, arg.elements))
            if numeric_list or _numeric_arg(arg):
                return Call(pos, fn, [arg])
            return self.error(arg.pos, f"{label} invalid single argument value")
        for arg in args:
            if not _numeric_arg(arg):
                return self.error(arg.pos, f"{label} simple literal arguments must be numeric")
        if len(args) == 2:
            return Call(pos, fn, args)
        return Call(pos, fn, [ListExpr(pos, args)])


def _numeric_arg(node: Node) -> bool:
    if isinstance(node, Literal):
        return type(node.value) in (int, float, Uint)
    return not isinstance(node, ListExpr | MapExpr | StructExpr)
