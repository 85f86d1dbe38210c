"""The runtime function table of Tekton's CEL environment: name to Python implementation.

Global functions (``int``, ``math.abs``, ``base64.decode``) and member functions (``s.split``,
``header.match``, receiver passed first) are kept apart, as CEL resolves them differently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kfp_triggers.cel import access, convert, ext_misc, ext_strings, formatting, functions, stdlib
from kfp_triggers.cel.values import no_such_overload
from kfp_triggers.secretstore import SecretStore

Impl = Callable[..., Any]


def _reverse(value: Any) -> Any:
    if type(value) is str:
        return ext_strings.reverse_string(value)
    if access.is_list(value):
        return ext_misc.list_reverse(value)
    raise no_such_overload("reverse", value)


def _size_member(value: Any) -> int:
    return stdlib.size(value)


@dataclass(frozen=True)
class Library:
    """Implementations for global and member calls."""

    globals: dict[str, Impl]
    members: dict[str, Impl]


# Functions the cel-expr backend must supply itself (not in its C++ standard extensions).
PYTHON_ONLY_MEMBERS = ("slice", "flatten", "sort", "distinct", "@sortByAssociatedKeys")
PYTHON_ONLY_GLOBALS = ("sets.contains", "sets.equivalent", "sets.intersects", "lists.range")


def build(secrets: SecretStore | None) -> Library:
    """The full table, with ``compareSecret`` reading from ``secrets``."""
    globals_: dict[str, Impl] = {
        **convert.CONVERSIONS,
        **ext_misc.MATH,
        "type": stdlib.type_value,
        "size": stdlib.size,
        "matches": stdlib.matches,
        "strings.quote": ext_strings.quote,
        "base64.encode": ext_misc.base64_encode,
        "base64.decode": ext_misc.base64_decode,
        "sets.contains": ext_misc.sets_contains,
        "sets.equivalent": ext_misc.sets_equivalent,
        "sets.intersects": ext_misc.sets_intersects,
        "lists.range": ext_misc.lists_range,
    }
    members: dict[str, Impl] = {
        **convert.ACCESSORS,
        "size": _size_member,
        "contains": stdlib.contains,
        "startsWith": stdlib.starts_with,
        "endsWith": stdlib.ends_with,
        "matches": stdlib.matches,
        "charAt": ext_strings.char_at,
        "indexOf": ext_strings.index_of,
        "lastIndexOf": ext_strings.last_index_of,
        "lowerAscii": ext_strings.lower_ascii,
        "upperAscii": ext_strings.upper_ascii,
        "replace": ext_strings.replace,
        "split": ext_strings.split,
        "substring": ext_strings.substring,
        "trim": ext_strings.trim,
        "join": ext_strings.join,
        "format": formatting.string_format,
        "reverse": _reverse,
        "slice": ext_misc.list_slice,
        "flatten": ext_misc.list_flatten,
        "sort": ext_misc.list_sort,
        "distinct": ext_misc.list_distinct,
        "@sortByAssociatedKeys": ext_misc.sort_by_keys,
        "match": functions.match,
        "canonical": functions.canonical,
        "truncate": functions.truncate,
        "compareSecret": functions.compare_secret(secrets),
        "parseJSON": functions.parse_json,
        "parseYAML": functions.parse_yaml,
        "parseURL": functions.parse_url,
        "marshalJSON": functions.marshal_json,
        "first": functions.first,
        "last": functions.last,
        "translate": functions.translate,
    }
    return Library(globals_, members)
