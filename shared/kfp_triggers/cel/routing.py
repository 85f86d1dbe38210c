"""Which expressions the C++ backend hands to the in-process evaluator, and why.

cel-expr-python implements CEL faithfully, but not always as cel-go does; comparing both
engines over thousands of expressions found these differences, each of which would change what a
Tekton user sees:

* ``sortBy`` is a cel-go macro unknown to the C++ parser, and ``reverse`` on a list collides
  with the C++ Strings extension's ``reverse``;
* ``timestamp()``/``duration()`` lose the written UTC offset and sub-microsecond digits, and
  ``format()`` prints numbers differently (``'%d'`` of 1.5);
* ``int(true)`` is 1 in C++ but an error in cel-go; ``string()`` of NaN or an infinity differs;
* NaN compares as false in C++ but is an error in cel-go; NaN needs a division, ``sqrt`` or a
  string conversion, so those expressions are evaluated in process;
* ``lastIndexOf`` with an offset at or past the end, and ``split('')`` of an empty string;
* ``map``/``filter`` over a map iterate keys in a different order;
* a map handed back from C++ is a Python dict, which merges the keys ``true`` and ``1`` and
  reads ``1u`` as ``1``; map literals with such keys are evaluated in process.

Tekton's own functions and cel-go's Sets and Lists extensions have no C++ implementation. They
could be handed to the C++ runtime as Python callbacks, but each call then converts its
arguments (``header.match`` costs about 20 µs that way against 5 µs in process) and the bridge
cannot carry uint, bytes, timestamp or type values; so expressions that use them run in process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from kfp_triggers.cel import decls, library
from kfp_triggers.cel import typesys as ts
from kfp_triggers.cel.backend import Checked
from kfp_triggers.cel.nodes import Call, Comprehension, Literal, MapExpr, Node, Select

_PYTHON_MEMBERS = frozenset(decls.TEKTON_FUNCTIONS) | frozenset(library.PYTHON_ONLY_MEMBERS)
_PYTHON_GLOBALS = frozenset(library.PYTHON_ONLY_GLOBALS)
_ROUTED_CALLS = frozenset({"timestamp", "duration", "format", "math.sqrt"})
# The C++ runtime hands maps back as Python dicts, merging the keys true and 1 and reading 1u as 1.
_ROUTED_KEY_KINDS = frozenset({"bool", "uint", "dyn"})
_ROUTED_ARGUMENTS = {
    "int": frozenset({"bool", "dyn"}),
    "string": frozenset({"double", "dyn"}),
    "double": frozenset({"string", "dyn"}),
}


def routing_reason(checked: Checked) -> str | None:
    """Why ``checked`` must run in process, or None when the C++ runtime agrees with cel-go."""
    types = checked.types

    def kind(node: Node) -> str:
        return types.get(id(node), ts.DYN).kind

    for node in _walk(checked.tree):
        if isinstance(node, Comprehension):
            if node.kind == "sortBy":
                return "sortBy"
            if node.kind in ("map", "filter") and kind(node.target) in ("map", "dyn"):
                return "iteration order over a map"
        elif isinstance(node, MapExpr) and any(kind(k) in _ROUTED_KEY_KINDS for k, _ in node.entries):
            return "a map with bool, uint or dynamic keys"
        elif isinstance(node, Call):
            reason = _call_reason(node, kind)
            if reason:
                return reason
            member = node.target is not None and node.function in _PYTHON_MEMBERS
            if member or (node.target is None and node.function in _PYTHON_GLOBALS):
                return f"{node.function}() has no C++ implementation"
    return None


def _call_reason(node: Call, kind_of: Callable[[Node], str]) -> str | None:
    name = node.function
    if name in _ROUTED_CALLS:
        return name
    routed_kinds = _ROUTED_ARGUMENTS.get(name)
    if routed_kinds and node.target is None and node.args and kind_of(node.args[0]) in routed_kinds:
        return f"{name}() of a {kind_of(node.args[0])} value"
    if name == "_/_" and any(kind_of(a) in ("double", "dyn") for a in node.args):
        return "a division that may produce NaN"
    if node.target is not None:
        if name == "reverse" and kind_of(node.target) != "string":
            return "reverse on a list"
        if name == "lastIndexOf" and len(node.args) == 2:
            return "lastIndexOf with an offset"
        if name == "split" and not (isinstance(node.args[0], Literal) and node.args[0].value):
            return "split without a literal separator"
    return None


def _walk(node: Node) -> Iterator[Node]:
    yield node
    if isinstance(node, Select):
        yield from _walk(node.operand)
    elif isinstance(node, Call):
        if node.target is not None:
            yield from _walk(node.target)
        for arg in node.args:
            yield from _walk(arg)
    elif isinstance(node, Comprehension):
        for child in (node.target, node.pred, node.transform):
            if child is not None:
                yield from _walk(child)
    else:
        for child in getattr(node, "elements", []):
            yield from _walk(child)
        for key, value in getattr(node, "entries", []):
            yield from _walk(key)
            yield from _walk(value)
