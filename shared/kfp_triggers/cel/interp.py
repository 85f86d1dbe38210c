"""Evaluation of checked expressions: each node becomes a Python closure, built once per expression.

A compiled expression is a function of the activation (``{"body": ..., "header": ...}``). Errors
are raised as :class:`EvalError`; ``&&``, ``||`` and the ``all``/``exists`` macros absorb an error
when the other side decides the result, exactly as cel-go's commutative logic does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kfp_triggers.cel import access, decls, stdlib
from kfp_triggers.cel.ext_misc import sort_by_keys
from kfp_triggers.cel.library import Library
from kfp_triggers.cel.nodes import Call, Comprehension, Ident, ListExpr, Literal, MapExpr, Node, Select
from kfp_triggers.cel.values import (
    CelType,
    EvalError,
    map_insert,
    map_keys,
    no_such_overload,
    runtime_type_name,
)

Fn = Callable[[dict[str, Any]], Any]

_GO_TYPES = {bool: "types.Bool", int: "types.Int", float: "types.Double", str: "types.String",
             bytes: "types.Bytes", type(None): "types.Null"}  # fmt: skip


def compile_expr(node: Node, library: Library) -> Fn:
    """Turn a checked expression tree into an evaluation function."""
    return _Compiler(library).compile(node)


class _Compiler:
    def __init__(self, library: Library) -> None:
        self.lib = library

    def compile(self, node: Node) -> Fn:
        method: Callable[[Any], Fn] = getattr(self, "c_" + type(node).__name__.lower())
        return method(node)

    def c_literal(self, node: Literal) -> Fn:
        value = node.value
        return lambda act: value

    def c_ident(self, node: Ident) -> Fn:
        return _lookup(node.name)

    def c_select(self, node: Select) -> Fn:
        if node.qualified is not None:
            return _lookup(node.qualified)
        operand = self.compile(node.operand)
        field = node.field
        if node.test_only:
            return lambda act: access.has_field(operand(act), field)

        def select(act: dict[str, Any]) -> Any:
            value = operand(act)
            if type(value) is dict:
                try:
                    return value[field]
                except KeyError:
                    raise EvalError(f"no such key: {field}") from None
            return access.select(value, field)

        return select

    def c_listexpr(self, node: ListExpr) -> Fn:
        elements = [self.compile(e) for e in node.elements]
        return lambda act: [e(act) for e in elements]

    def c_mapexpr(self, node: MapExpr) -> Fn:
        entries = [(self.compile(k), self.compile(v)) for k, v in node.entries]

        def build(act: dict[str, Any]) -> dict[Any, Any]:
            out: dict[Any, Any] = {}
            for k, v in entries:
                key = k(act)
                value = v(act)
                try:
                    map_insert(out, key, value)
                except TypeError:
                    raise EvalError(f"unsupported map key type: {runtime_type_name(key)}") from None
            return out

        return build

    def c_call(self, node: Call) -> Fn:
        name = node.function
        args = [self.compile(a) for a in node.args]
        if name == "_&&_":
            return _logical(args[0], args[1], decisive=False)
        if name == "_||_":
            return _logical(args[0], args[1], decisive=True)
        if name == "_?_:_":
            return _conditional(args[0], args[1], args[2])
        if node.target is not None:
            target = self.compile(node.target)
            impl = self.lib.members.get(name)
            if impl is None:
                return _missing(name)
            member = impl
            if not args:
                return lambda act: member(target(act))
            if len(args) == 1:
                (a0,) = args
                return lambda act: member(target(act), a0(act))
            return lambda act: member(target(act), *[a(act) for a in args])
        impl = stdlib.OPERATORS.get(name) or self.lib.globals.get(name)
        if impl is None:
            return _missing(name)
        fn = impl
        if len(args) == 1:
            (a0,) = args
            return lambda act: fn(a0(act))
        if len(args) == 2:
            a0, a1 = args
            return lambda act: fn(a0(act), a1(act))
        return lambda act: fn(*[a(act) for a in args])

    def c_comprehension(self, node: Comprehension) -> Fn:
        target = self.compile(node.target)
        pred = self.compile(node.pred) if node.pred is not None else None
        transform = self.compile(node.transform) if node.transform is not None else None
        var, kind = node.var, node.kind

        def run(act: dict[str, Any]) -> Any:
            source = target(act)
            items = _range(source)
            local = dict(act)
            if kind in ("all", "exists"):
                return _quantify(items, local, var, pred, decisive=kind == "exists")
            if kind == "exists_one":
                count = 0
                for item in items:
                    local[var] = item
                    if _condition(pred, local):
                        count += 1
                return count == 1
            out: list[Any] = []
            keys: list[Any] = []
            for item in items:
                local[var] = item
                if kind == "sortBy":
                    keys.append(pred(local) if pred else None)
                elif pred is None or _condition(pred, local):
                    out.append(transform(local) if transform is not None else item)
            if kind == "sortBy":
                return sort_by_keys(items if access.is_list(source) else source, keys)
            return out

        return run


def _lookup(name: str) -> Fn:
    """A variable, else a type name; a name that is neither is cel-go's unbound-attribute error."""
    if name in decls.TYPE_NAMES:
        type_value = CelType(name)
        return lambda act: act.get(name, type_value)

    def lookup(act: dict[str, Any]) -> Any:
        try:
            return act[name]
        except KeyError:
            raise EvalError(f"no such attribute(s): {name}") from None

    return lookup


def _missing(name: str) -> Fn:
    def fail(act: dict[str, Any]) -> Any:
        raise EvalError(f"no such overload: {name}")

    return fail


def _range(value: Any) -> list[Any]:
    if type(value) is list:
        return value
    if type(value) is dict:
        return map_keys(value)
    if type(value) is tuple:
        return list(value)
    go_type = _GO_TYPES.get(type(value), "types." + type(value).__name__)
    raise EvalError(f"unsupported comprehension range type: {go_type}")


def _condition(pred: Fn | None, local: dict[str, Any]) -> bool:
    value = pred(local) if pred is not None else True
    if type(value) is not bool:
        raise no_such_overload()
    return value


def _quantify(items: list[Any], local: dict[str, Any], var: str, pred: Fn | None, *, decisive: bool) -> bool:
    """``all`` (decisive=False) or ``exists`` (decisive=True) with cel-go's error absorption."""
    error: EvalError | None = None
    for item in items:
        local[var] = item
        try:
            value = pred(local) if pred is not None else decisive
        except EvalError as exc:
            error = error or exc
            continue
        if value is decisive:
            return decisive
        if type(value) is not bool:
            error = error or no_such_overload()
    if error is not None:
        raise error
    return not decisive


def _logical(left: Fn, right: Fn, *, decisive: bool) -> Fn:
    """``&&`` (decisive=False) or ``||`` (decisive=True): either side may decide despite an error."""

    def run(act: dict[str, Any]) -> bool:
        try:
            lv = left(act)
        except EvalError as exc:
            lv = exc
        if lv is decisive:
            return bool(decisive)
        try:
            rv = right(act)
        except EvalError as exc:
            rv = exc
        if rv is decisive:
            return bool(decisive)
        if type(lv) is bool and type(rv) is bool:
            return not decisive
        if isinstance(lv, EvalError):
            raise lv
        if isinstance(rv, EvalError):
            raise rv
        raise no_such_overload()

    return run


def _conditional(cond: Fn, then: Fn, other: Fn) -> Fn:
    def run(act: dict[str, Any]) -> Any:
        c = cond(act)
        if c is True:
            return then(act)
        if c is False:
            return other(act)
        raise no_such_overload()

    return run
