"""A small HCL 2 (native syntax) reader, enough to check our own Terraform files offline.

It reads the structure exactly (attributes, blocks with labels, nested blocks) and evaluates the
literal parts of expressions: strings without interpolation, numbers, booleans, null, tuples and
objects of those. Everything else (references, function calls, operators, conditionals, ``for``
expressions, templates with ``${...}``) is kept as an :class:`Expr` with its source text, so a test
can compare the text or look inside a call's arguments. It raises :class:`HclError` with a line
number on anything it does not understand, so a file it cannot read fails the test loudly instead
of being half-read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class HclError(ValueError):
    """The text is not HCL this reader understands."""


@dataclass(frozen=True)
class Token:
    """One lexical token: kind, text and the line it starts on."""

    kind: str  # ident, number, string, heredoc, punct, newline, eof
    text: str
    line: int
    start: int
    end: int


_PUNCT = ("=>", "==", "!=", "<=", ">=", "&&", "||", "...", *"{}[]()=,.:?!<>+-*/%")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_HEREDOC = re.compile(r"<<(-?)([A-Za-z_][A-Za-z0-9_]*)\n")


def _skip_template(src: str, i: int, line: int) -> tuple[int, int]:
    """From just after ``${`` or ``%{``, return the index after the matching ``}`` and the line."""
    depth = 1
    while i < len(src):
        c = src[i]
        if c == "\n":
            line += 1
        if c == '"':
            i, line = _skip_string(src, i + 1, line)
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i + 1, line
        i += 1
    raise HclError(f"line {line}: unterminated interpolation")


def _skip_string(src: str, i: int, line: int) -> tuple[int, int]:
    """From just after an opening quote, return the index after the closing quote and the line."""
    while i < len(src):
        c = src[i]
        if c == "\\":
            i += 2
            continue
        if c == "\n":
            raise HclError(f"line {line}: newline in a quoted string")
        if c == '"':
            return i + 1, line
        if src.startswith(("${", "%{"), i):
            i, line = _skip_template(src, i + 2, line)
            continue
        i += 1
    raise HclError(f"line {line}: unterminated string")


def tokenize(src: str) -> list[Token]:
    """Split HCL source into tokens; comments are dropped, newlines kept."""
    tokens: list[Token] = []
    i, line = 0, 1
    while i < len(src):
        c = src[i]
        if c in " \t\r":
            i += 1
        elif c == "\n":
            tokens.append(Token("newline", "\n", line, i, i + 1))
            i += 1
            line += 1
        elif c == "#" or src.startswith("//", i):
            while i < len(src) and src[i] != "\n":
                i += 1
        elif src.startswith("/*", i):
            end = src.find("*/", i + 2)
            if end < 0:
                raise HclError(f"line {line}: unterminated comment")
            line += src.count("\n", i, end)
            i = end + 2
        elif c == '"':
            end, end_line = _skip_string(src, i + 1, line)
            tokens.append(Token("string", src[i:end], line, i, end))
            i, line = end, end_line
        elif heredoc := _HEREDOC.match(src, i):
            marker = heredoc.group(2)
            closing = re.compile(rf"^[ \t]*{marker}[ \t]*$", re.M)
            found = closing.search(src, heredoc.end())
            if not found:
                raise HclError(f"line {line}: heredoc {marker} is not closed")
            tokens.append(Token("heredoc", src[i : found.end()], line, i, found.end()))
            line += src.count("\n", i, found.end())
            i = found.end()
        elif ident := _IDENT.match(src, i):
            tokens.append(Token("ident", ident.group(), line, i, ident.end()))
            i = ident.end()
        elif number := _NUMBER.match(src, i):
            tokens.append(Token("number", number.group(), line, i, number.end()))
            i = number.end()
        else:
            punct = next((p for p in _PUNCT if src.startswith(p, i)), None)
            if punct is None:
                raise HclError(f"line {line}: unexpected character {c!r}")
            tokens.append(Token("punct", punct, line, i, i + len(punct)))
            i += len(punct)
    tokens.append(Token("eof", "", line, len(src), len(src)))
    return tokens


@dataclass
class Expr:
    """An expression: its kind, its source text and, for literals and constructors, its parts.

    ``kind`` is one of ``literal`` (``value`` holds it), ``template`` (a string with
    interpolation), ``tuple`` (``items``), ``object`` (``pairs``), ``call`` (``name``, ``items``)
    or ``other`` (a reference, operator, conditional, ``for`` expression...).
    """

    kind: str
    text: str
    line: int
    value: Any = None
    items: list[Expr] = field(default_factory=list)
    pairs: list[tuple[Expr, Expr]] = field(default_factory=list)
    name: str = ""

    def literal(self) -> Any:
        """The Python value of a fully literal expression.

        Raises:
            HclError: the expression is not a literal (names the text).
        """
        if self.kind == "literal":
            return self.value
        if self.kind == "tuple":
            return [item.literal() for item in self.items]
        if self.kind == "object":
            return {key.key_name(): value.literal() for key, value in self.pairs}
        raise HclError(f"line {self.line}: not a literal: {self.text}")

    def key_name(self) -> str:
        """An object key as a string: a bare identifier or a literal string."""
        if self.kind == "literal" and isinstance(self.value, str):
            return self.value
        if self.kind == "other" and _IDENT.fullmatch(self.text):
            return self.text
        raise HclError(f"line {self.line}: not a plain object key: {self.text}")

    def get(self, key: str) -> Expr:
        """The value of ``key`` in an object constructor.

        Raises:
            KeyError: not an object, or no such key.
        """
        for k, v in self.pairs:
            if k.key_name() == key:
                return v
        raise KeyError(f"line {self.line}: no key {key!r} in {self.text[:60]}")


@dataclass
class Body:
    """Attributes (by name) and blocks (in order) of a file or a block."""

    attributes: dict[str, Expr] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)

    def find(self, type_: str, *labels: str) -> list[Block]:
        """Blocks of this type whose labels start with ``labels``."""
        return [b for b in self.blocks if b.type == type_ and tuple(b.labels[: len(labels)]) == labels]

    def one(self, type_: str, *labels: str) -> Block:
        """The single block of this type and labels.

        Raises:
            LookupError: there is none or more than one.
        """
        found = self.find(type_, *labels)
        if len(found) != 1:
            raise LookupError(f"expected one {type_} {' '.join(labels)} block, found {len(found)}")
        return found[0]


@dataclass
class Block:
    """A block: ``type "label"... { body }``."""

    type: str
    labels: list[str]
    body: Body
    line: int
    text: str = ""


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def _unquote(text: str, line: int) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            nxt = text[i + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
            elif nxt == "u":
                out.append(chr(int(text[i + 2 : i + 6], 16)))
                i += 6
            else:
                raise HclError(f"line {line}: unknown escape \\{nxt}")
        elif text.startswith(("$${", "%%{"), i):
            out.append(text[i] + "{")
            i += 3
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _has_template(text: str) -> bool:
    return bool(re.search(r"(?<![$%])[$%]\{", text.replace("$${", "").replace("%%{", "")))


class _Parser:
    def __init__(self, src: str) -> None:
        self.src = src
        self.tokens = tokenize(src)
        self.pos = 0
        self.skip_newlines = [False]

    def peek(self) -> Token:
        while self.skip_newlines[-1] and self.tokens[self.pos].kind == "newline":
            self.pos += 1
        return self.tokens[self.pos]

    def take(self) -> Token:
        token = self.peek()
        self.pos += 1
        return token

    def expect(self, text: str) -> Token:
        token = self.take()
        if token.text != text:
            raise HclError(f"line {token.line}: expected {text!r}, found {token.text!r}")
        return token

    def newlines(self) -> None:
        while self.tokens[self.pos].kind == "newline":
            self.pos += 1

    # -- structure ------------------------------------------------------------------------------

    def body(self, closing: str | None) -> Body:
        body = Body()
        while True:
            self.newlines()
            token = self.tokens[self.pos]
            if closing is not None and token.text == closing:
                return body
            if token.kind == "eof":
                if closing is not None:
                    raise HclError(f"line {token.line}: missing {closing!r}")
                return body
            if token.kind != "ident":
                raise HclError(f"line {token.line}: expected an attribute or a block, found {token.text!r}")
            self.pos += 1
            nxt = self.tokens[self.pos]
            if nxt.text == "=":
                self.pos += 1
                if token.text in body.attributes:
                    raise HclError(f"line {token.line}: attribute {token.text} set twice")
                body.attributes[token.text] = self.expression()
            else:
                labels: list[str] = []
                while self.tokens[self.pos].kind in ("string", "ident"):
                    label = self.tokens[self.pos]
                    labels.append(
                        _unquote(label.text[1:-1], label.line) if label.kind == "string" else label.text
                    )
                    self.pos += 1
                self.expect_raw("{")
                self.skip_newlines.append(False)
                inner = self.body("}")
                self.skip_newlines.pop()
                self.expect_raw("}")
                text = self.src[token.start : self.tokens[self.pos - 1].end]
                body.blocks.append(Block(token.text, labels, inner, token.line, text))
            end = self.tokens[self.pos]
            if end.kind not in ("newline", "eof") and end.text != closing:
                raise HclError(f"line {end.line}: expected a newline, found {end.text!r}")

    def expect_raw(self, text: str) -> None:
        token = self.tokens[self.pos]
        if token.text != text:
            raise HclError(f"line {token.line}: expected {text!r}, found {token.text!r}")
        self.pos += 1

    # -- expressions ----------------------------------------------------------------------------

    def _span(self, start: Token, kind: str = "other", **parts: Any) -> Expr:
        end = self.tokens[self.pos - 1].end
        return Expr(kind, self.src[start.start : end], start.line, **parts)

    def expression(self) -> Expr:
        start = self.peek()
        first = self.binary()
        if self.peek().text == "?":
            self.take()
            self.expression()
            self.expect(":")
            self.expression()
            return self._span(start)
        return first

    _BINARY = frozenset({"==", "!=", "<", ">", "<=", ">=", "&&", "||", "+", "-", "*", "/", "%"})

    def binary(self) -> Expr:
        start = self.peek()
        first = self.unary()
        if self.peek().text not in self._BINARY:
            return first
        while self.peek().text in self._BINARY:
            self.take()
            self.unary()
        return self._span(start)

    def unary(self) -> Expr:
        start = self.peek()
        if start.text in ("!", "-"):
            self.take()
            operand = self.unary()
            if start.text == "-" and operand.kind == "literal" and isinstance(operand.value, int | float):
                return self._span(start, "literal", value=-operand.value)
            return self._span(start)
        return self.postfix()

    def postfix(self) -> Expr:
        start = self.peek()
        expr = self.primary()
        traversed = False
        while True:
            token = self.tokens[self.pos]
            if token.text == ".":
                self.pos += 1
                part = self.take()
                if part.kind not in ("ident", "number") and part.text != "*":
                    raise HclError(f"line {part.line}: bad attribute access .{part.text}")
                traversed = True
            elif token.text == "[":
                self.pos += 1
                self.skip_newlines.append(True)
                if self.peek().text == "*":
                    self.take()
                else:
                    self.expression()
                self.expect("]")
                self.skip_newlines.pop()
                traversed = True
            else:
                break
        return self._span(start) if traversed else expr

    def primary(self) -> Expr:
        token = self.take()
        if token.kind == "number":
            number = float(token.text) if any(c in token.text for c in ".eE") else int(token.text)
            return Expr("literal", token.text, token.line, value=number)
        if token.kind == "string":
            inner = token.text[1:-1]
            if _has_template(inner):
                return Expr("template", token.text, token.line)
            return Expr("literal", token.text, token.line, value=_unquote(inner, token.line))
        if token.kind == "heredoc":
            return self._heredoc(token)
        if token.kind == "ident":
            if token.text in ("true", "false"):
                return Expr("literal", token.text, token.line, value=token.text == "true")
            if token.text == "null":
                return Expr("literal", token.text, token.line, value=None)
            if self.tokens[self.pos].text == "(":
                return self._call(token)
            return Expr("other", token.text, token.line)
        if token.text == "(":
            self.skip_newlines.append(True)
            self.expression()
            self.expect(")")
            self.skip_newlines.pop()
            return self._span(token)
        if token.text == "[":
            return self._tuple(token)
        if token.text == "{":
            return self._object(token)
        raise HclError(f"line {token.line}: unexpected {token.text!r} in an expression")

    def _heredoc(self, token: Token) -> Expr:
        match = _HEREDOC.match(token.text)
        assert match is not None
        lines = token.text[match.end() :].split("\n")[:-1]
        if match.group(1) == "-":
            indents = [len(x) - len(x.lstrip()) for x in lines if x.strip()]
            cut = min(indents, default=0)
            lines = [x[cut:] for x in lines]
        text = "".join(x + "\n" for x in lines)
        if _has_template(text):
            return Expr("template", token.text, token.line)
        return Expr("literal", token.text, token.line, value=text)

    def _call(self, name: Token) -> Expr:
        self.expect_raw("(")
        self.skip_newlines.append(True)
        args: list[Expr] = []
        while self.peek().text != ")":
            args.append(self.expression())
            if self.peek().text == "...":
                self.take()
            if self.peek().text == ",":
                self.take()
            elif self.peek().text != ")":
                raise HclError(f"line {self.peek().line}: expected ',' or ')' in a call")
        self.expect(")")
        self.skip_newlines.pop()
        return self._span(name, "call", name=name.text, items=args)

    def _for(self, start: Token, closing: str) -> Expr:
        depth = 1
        while depth:
            token = self.tokens[self.pos]
            self.pos += 1
            if token.kind == "eof":
                raise HclError(f"line {start.line}: unterminated for expression")
            if token.text in "([{" and token.kind == "punct":
                depth += 1
            elif token.text in ")]}" and token.kind == "punct":
                depth -= 1
        if self.tokens[self.pos - 1].text != closing:
            raise HclError(f"line {start.line}: for expression closed by the wrong bracket")
        return self._span(start)

    def _tuple(self, start: Token) -> Expr:
        self.skip_newlines.append(True)
        if self.peek().text == "for":
            self.skip_newlines.pop()
            return self._for(start, "]")
        items: list[Expr] = []
        while self.peek().text != "]":
            items.append(self.expression())
            if self.peek().text == ",":
                self.take()
            elif self.peek().text != "]":
                raise HclError(f"line {self.peek().line}: expected ',' or ']' in a tuple")
        self.expect("]")
        self.skip_newlines.pop()
        return self._span(start, "tuple", items=items)

    def _object(self, start: Token) -> Expr:
        self.skip_newlines.append(True)
        if self.peek().text == "for":
            self.skip_newlines.pop()
            return self._for(start, "}")
        pairs: list[tuple[Expr, Expr]] = []
        while self.peek().text != "}":
            key = self.expression()
            separator = self.take()
            if separator.text not in ("=", ":"):
                raise HclError(f"line {separator.line}: expected '=' or ':' after an object key")
            self.skip_newlines.append(False)
            value = self.expression()
            self.skip_newlines.pop()
            pairs.append((key, value))
            if self.tokens[self.pos].text == ",":
                self.pos += 1
            elif self.tokens[self.pos].kind != "newline" and self.peek().text != "}":
                raise HclError(f"line {self.peek().line}: expected ',', a newline or '}}' in an object")
        self.expect("}")
        self.skip_newlines.pop()
        return self._span(start, "object", pairs=pairs)


def parse(src: str) -> Body:
    """Parse one HCL file's text.

    Raises:
        HclError: the text is not HCL this reader understands.
    """
    parser = _Parser(src)
    return parser.body(None)


def parse_file(path: Path) -> Body:
    """Parse one file; errors name the file."""
    try:
        return parse(path.read_text(encoding="utf-8"))
    except HclError as exc:
        raise HclError(f"{path}: {exc}") from exc


def parse_dir(directory: Path) -> Body:
    """All ``*.tf`` files of one module directory as one body (Terraform reads them as one)."""
    merged = Body()
    for path in sorted(directory.glob("*.tf")):
        body = parse_file(path)
        for name, expr in body.attributes.items():
            merged.attributes[name] = expr
        merged.blocks.extend(body.blocks)
    return merged


def locals_of(body: Body) -> dict[str, Expr]:
    """Every ``locals`` entry of a module.

    Raises:
        HclError: a local is defined twice.
    """
    found: dict[str, Expr] = {}
    for block in body.find("locals"):
        for name, expr in block.body.attributes.items():
            if name in found:
                raise HclError(f"local.{name} is defined twice")
            found[name] = expr
    return found


def jsonencode_argument(expr: Expr) -> Expr:
    """The argument of ``jsonencode(...)`` (possibly inside ``base64encode(...)``).

    Raises:
        HclError: the expression is not such a call.
    """
    if expr.kind == "call" and expr.name == "base64encode" and len(expr.items) == 1:
        expr = expr.items[0]
    if expr.kind == "call" and expr.name == "jsonencode" and len(expr.items) == 1:
        return expr.items[0]
    raise HclError(f"line {expr.line}: expected jsonencode(...): {expr.text}")


def render_template(text: str, values: dict[str, str]) -> str:
    """Fill a quoted template's ``${name}`` interpolations from ``values`` (names as written).

    Raises:
        KeyError: an interpolation not in ``values``.
    """
    inner = json.loads(re.sub(r"\$\{([^}]*)\}", lambda m: "@@" + m.group(1) + "@@", text))
    return re.sub(r"@@([^@]*)@@", lambda m: values[m.group(1).strip()], inner)
