"""Field selection and indexing (``a.b``, ``a[k]``, ``has(a.b)``) with cel-go's attribute errors.

cel-go resolves these through attribute qualifiers, so a missing map key is ``no such key: k``, a
list index out of range is ``index out of bounds: 3``, and selecting from anything that is not a
map or list reports a missing key rather than a type error.
"""

from __future__ import annotations

from typing import Any

from kfp_triggers.cel.values import INT64_MAX, INT64_MIN, BoolKey, EvalError, Uint, runtime_type_name
from kfp_triggers.golang import fmt as gofmt


def is_list(v: Any) -> bool:
    t = type(v)
    return t is list or t is tuple


def map_find(m: dict[Any, Any], key: Any) -> tuple[bool, Any]:
    """Look a key up with CEL's numeric key equivalence (``{1: x}[1u]``, ``[1.0]``).

    Python treats ``True`` and ``1`` as the same key; CEL does not, so those two are told apart
    (a map holding both stores its bool key as :class:`~kfp_triggers.cel.values.BoolKey`).
    """
    if type(key) is BoolKey:
        key = key.value
    if type(key) is bool:
        wrapped = BoolKey(key)
        if wrapped in m:
            return True, m[wrapped]
    try:
        hit = key in m
    except TypeError:
        return False, None
    if not hit:
        return False, None
    if type(key) is bool or (type(key) in (int, Uint, float) and key in (0, 1)):
        for stored, value in m.items():
            if stored == key and (type(stored) is bool) == (type(key) is bool):
                return True, value
        return False, None
    return True, m[key]


def key_text(key: Any) -> str:
    """A value as Go's ``%v`` prints it in ``no such key: ...`` messages."""
    if type(key) is float:
        return gofmt.format_g(key)
    if type(key) is bool:
        return "true" if key else "false"
    if key is None:
        return "<nil>"
    return str(int(key)) if isinstance(key, int) else str(key)


def list_index(lst: Any, index: Any) -> int:
    t = type(index)
    if t is int or t is Uint:
        i = int(index)
    elif t is float:
        if not index.is_integer() or not INT64_MIN <= index <= INT64_MAX:
            raise EvalError(f"unsupported index value {gofmt.format_g(index)} in list")
        i = int(index)
    else:
        raise EvalError(f"unsupported index type '{runtime_type_name(index)}' in list")
    if not 0 <= i < len(lst):
        raise EvalError(f"index out of bounds: {key_text(index)}")
    return i


def index(container: Any, key: Any) -> Any:
    """``container[key]`` with cel-go's attribute errors."""
    if type(container) is dict:
        found, value = map_find(container, key)
        if not found:
            raise EvalError(f"no such key: {key_text(key)}")
        return value
    if is_list(container):
        return container[list_index(container, key)]
    raise EvalError(f"no such key: {key_text(key)}")


def select(operand: Any, field: str) -> Any:
    """``operand.field``: a map lookup; anything else has no such key."""
    if type(operand) is dict:
        try:
            return operand[field]
        except KeyError:
            raise EvalError(f"no such key: {field}") from None
    if is_list(operand):
        raise EvalError("unsupported index type 'string' in list")
    raise EvalError(f"no such key: {field}")


def has_field(operand: Any, field: str) -> bool:
    """``has(operand.field)``: key presence on maps, false on other scalars."""
    if type(operand) is dict:
        return field in operand
    if is_list(operand):
        raise EvalError("unsupported index type 'string' in list")
    return False
