"""Type-checking of parsed expressions, following cel-go's checker.

Tekton checks every expression before running it, so a wrong expression is rejected as
``expression "..." check failed: ERROR: <input>:1:3: found no matching overload for '_+_' applied
to '(int, string)'`` even when evaluation would never reach that part. The checker resolves
identifiers, namespaced functions (``math.abs``) and overloads, and reports errors at the
positions cel-go uses. It also rewrites namespaced calls into global calls for the evaluator.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from kfp_triggers.cel import decls, formatting, nodes
from kfp_triggers.cel import typesys as ts
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
)
from kfp_triggers.cel.typesys import T
from kfp_triggers.cel.values import Uint

VARIABLES: dict[str, T] = {
    "body": ts.map_of(ts.STRING, ts.DYN),
    "header": ts.map_of(ts.STRING, ts.DYN),
    "extensions": ts.map_of(ts.STRING, ts.DYN),
    "requestURL": ts.STRING,
}
"""The variables Tekton declares for its CEL interceptor."""

_TYPE_DENOTED = {
    "null_type": ts.NULL,
    "list": ts.list_of(ts.DYN),
    "map": ts.map_of(ts.DYN, ts.DYN),
    "google.protobuf.Timestamp": ts.TIMESTAMP,
    "google.protobuf.Duration": ts.DURATION,
}
_TYPE_IDENTS = {name: ts.type_of(_TYPE_DENOTED.get(name, T(name))) for name in decls.TYPE_NAMES}


class CheckFailedError(Exception):
    """The expression does not type-check; the message lists every error in cel-go's format."""


def check(
    text: str, node: Node, variables: Mapping[str, T] | None = None, *, strict: bool = True
) -> dict[int, T]:
    """Check ``node`` (parsed from ``text``); return the static type of each node by ``id``.

    ``variables`` replaces Tekton's declarations (the conformance suite declares its own). With
    ``strict=False`` type errors are not reported, as for an expression run unchecked: names are
    still resolved (``math.abs`` becomes one function), and a node that failed to check is typed
    ``dyn``.
    """
    checker = _Checker(VARIABLES if variables is None else dict(variables))
    try:
        checker.check(node)
    except RecursionError:
        raise CheckFailedError(nodes.render_error(text, 0, "expression recursion limit exceeded")) from None
    if checker.errors and strict:
        raise CheckFailedError(nodes.render_errors(text, checker.errors))
    if checker.errors:
        return {}
    return {k: ts.substitute(checker.mapping, v, True) for k, v in checker.types.items()}


class _Checker:
    def __init__(self, variables: dict[str, T]) -> None:
        self.mapping: ts.Mapping = {}
        self.errors: list[tuple[int, str]] = []
        self.types: dict[int, T] = {}
        self.scopes: list[dict[str, T]] = [variables]
        self.fresh = itertools.count()

    def error(self, pos: int, message: str) -> T:
        self.errors.append((pos, message))
        return ts.ERROR

    def new_var(self) -> T:
        return ts.param(f"_var{next(self.fresh)}")

    def check(self, node: Node) -> T:
        method = getattr(self, "c_" + type(node).__name__.lower())
        t: T = method(node)
        self.types[id(node)] = t
        return t

    def sub(self, t: T) -> T:
        return ts.substitute(self.mapping, t)

    # -- leaves ---------------------------------------------------------------------------------
    def c_literal(self, node: Literal) -> T:
        return _literal_type(node.value)

    def c_ident(self, node: Ident) -> T:
        for scope in reversed(self.scopes):
            if node.name in scope:
                return scope[node.name]
        if node.name in _TYPE_IDENTS:
            return _TYPE_IDENTS[node.name]
        return self.error(node.pos, f"undeclared reference to '{node.name}' (in container '')")

    def c_structexpr(self, node: StructExpr) -> T:
        return self.error(node.pos, f"undeclared reference to '{node.name}' (in container '')")

    def c_select(self, node: Select) -> T:
        found = None if node.test_only else self._qualified(node)
        if found is not None:
            return found
        operand = self.sub(self.check(node.operand))
        if operand.kind == "map":
            result = operand.params[1]
        elif operand.kind == "param":
            self.mapping = ts.assignable(self.mapping, ts.DYN, operand) or self.mapping
            result = ts.DYN
        elif ts.is_dyn_or_error(operand):
            result = ts.DYN
        else:
            self.error(
                node.pos,
                f"type '{ts.substitute(self.mapping, operand, True)}' does not support field selection",
            )
            result = ts.DYN
        return ts.BOOL if node.test_only else result

    # -- aggregates -----------------------------------------------------------------------------
    def join(self, previous: T | None, current: T) -> T:
        if previous is None:
            return current
        if ts.assignable(self.mapping, previous, current) is not None:
            return ts.most_general(previous, current)
        return ts.DYN

    def c_listexpr(self, node: ListExpr) -> T:
        elem: T | None = None
        for e in node.elements:
            elem = self.join(elem, self.check(e))
        return ts.list_of(elem if elem is not None else self.new_var())

    def c_mapexpr(self, node: MapExpr) -> T:
        key: T | None = None
        value: T | None = None
        for k, v in node.entries:
            key = self.join(key, self.check(k))
            value = self.join(value, self.check(v))
        return ts.map_of(key or self.new_var(), value or self.new_var())

    # -- calls ----------------------------------------------------------------------------------
    def c_call(self, node: Call) -> T:
        if node.function in ("_&&_", "_||_"):
            ok = True
            for arg in node.args:
                t = self.check(arg)
                if ts.assignable(self.mapping, ts.BOOL, t) is None:
                    self.error(
                        arg.pos, f"expected type 'bool' but found '{ts.substitute(self.mapping, t, True)}'"
                    )
                    ok = False
            return ts.BOOL if ok else ts.ERROR
        if node.target is not None:
            prefix = nodes.qualified_name(node.target)
            if prefix and f"{prefix}.{node.function}" in decls.FUNCTIONS and not self._is_variable(prefix):
                node.function = f"{prefix}.{node.function}"
                node.target = None
        arg_types = [self.check(a) for a in node.args]
        if node.target is None:
            if node.function not in decls.FUNCTIONS:
                return self.error(node.pos, f"undeclared reference to '{node.function}' (in container '')")
            return self.resolve(node, node.function, arg_types, member=False)
        target_type = self.check(node.target)
        if node.function not in decls.FUNCTIONS:
            return self.error(node.pos, f"undeclared reference to '{node.function}' (in container '')")
        result = self.resolve(node, node.function, [target_type, *arg_types], member=True)
        if node.function == "format" and result.kind != "error":
            self._validate_format(node)
        return result

    def _validate_format(self, node: Call) -> None:
        """cel-go's check-time validation of ``'<literal>'.format([<list literal>])``."""
        target, args = node.target, node.args
        if not (
            isinstance(target, Literal)
            and type(target.value) is str
            and args
            and isinstance(args[0], ListExpr)
        ):
            return
        problem = formatting.check_literal_call(
            target.value, args[0].elements, lambda n: ts.substitute(self.mapping, self.types[id(n)], True)
        )
        if problem is not None:
            pos, message = problem
            self.error(node.pos if pos is None else pos, message)

    def _qualified(self, node: Select) -> T | None:
        """The type of a selection chain that names a declaration as a whole (``a.b`` declared)."""
        name = nodes.qualified_name(node)
        if name is None or any(name.split(".", 1)[0] in scope for scope in self.scopes[1:]):
            return None  # not a plain chain, or its root is a comprehension variable
        declared = self.scopes[0].get(name) or _TYPE_IDENTS.get(name)
        if declared is not None:
            node.qualified = name
        return declared

    def _is_variable(self, qualified: str) -> bool:
        root = qualified.split(".", 1)[0]
        return any(root in scope for scope in self.scopes)

    def resolve(self, node: Node, name: str, args: list[T], *, member: bool) -> T:
        result: T | None = None
        for index, overload in enumerate(decls.FUNCTIONS[name]):
            if overload.member != member:
                continue
            suffix = f"#{id(node)}.{index}"
            params = tuple(ts.rename_params(p, suffix) for p in overload.params)
            trial = ts.assignable_list(self.mapping, params, args)
            if trial is None:
                continue
            self.mapping = trial
            found = ts.substitute(self.mapping, ts.rename_params(overload.result, suffix))
            if result is None:
                result = found
            elif result.kind != "dyn" and found != result:
                result = ts.DYN
        if result is None:
            shown = [str(ts.substitute(self.mapping, a, True)) for a in args]
            signature = f"{shown[0]}.({', '.join(shown[1:])})" if member else f"({', '.join(shown)})"
            return self.error(node.pos, f"found no matching overload for '{name}' applied to '{signature}'")
        return result

    # -- comprehensions -------------------------------------------------------------------------
    def c_comprehension(self, node: Comprehension) -> T:
        range_type = self.sub(self.check(node.target))
        if range_type.kind in ("list", "map"):
            var_type = range_type.params[0]
        elif ts.is_dyn_or_error(range_type):
            var_type = ts.DYN
        else:
            self.error(
                node.target.pos,
                f"expression of type '{ts.substitute(self.mapping, range_type, True)}' cannot be range "
                "of a comprehension (must be list, map, or dynamic)",
            )
            var_type = ts.ERROR
        self.scopes.append({node.var: var_type})
        pred = self.check(node.pred) if node.pred is not None else None
        transform = self.check(node.transform) if node.transform is not None else None
        self.scopes.pop()
        return self._comprehension_result(node, var_type, pred, transform, range_type)

    def _comprehension_result(
        self, node: Comprehension, var: T, pred: T | None, transform: T | None, rng: T
    ) -> T:
        if node.kind == "sortBy":
            keys = ts.list_of(pred if pred is not None else ts.DYN)
            return self.resolve(node, "@sortByAssociatedKeys", [rng, keys], member=True)
        if node.kind in ("all", "exists") and pred is not None and node.pred is not None:
            if ts.assignable(self.mapping, ts.BOOL, pred) is None:
                self.error(
                    node.pred.pos,
                    f"expected type 'bool' but found '{ts.substitute(self.mapping, pred, True)}'",
                )
            return ts.BOOL
        accu = (
            ts.list_of(transform if transform is not None else var)
            if node.kind in ("map", "filter")
            else ts.INT
        )
        if pred is not None and node.pred is not None and ts.assignable(self.mapping, ts.BOOL, pred) is None:
            shown = ts.substitute(self.mapping, pred, True)
            accu_shown = ts.substitute(self.mapping, accu, True)
            self.error(
                node.pos,
                f"found no matching overload for '_?_:_' applied to '({shown}, {accu_shown}, {accu_shown})'",
            )
        if node.kind == "exists_one":
            return ts.BOOL
        return accu


def _literal_type(value: Any) -> T:
    t = type(value)
    if value is None:
        return ts.NULL
    if t is bool:
        return ts.BOOL
    if t is Uint:
        return ts.UINT
    if t is int:
        return ts.INT
    if t is float:
        return ts.DOUBLE
    if t is str:
        return ts.STRING
    return ts.BYTES
