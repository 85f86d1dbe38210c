"""YAML read as ``sigs.k8s.io/yaml`` reads it for Tekton's ``parseYAML``, with bounded cost.

The document is parsed with go-yaml v2's YAML 1.1 rules (timestamps stay strings, duplicate keys
fail) and turned into JSON data (string keys, numbers as doubles). Before any value is built, the
parsed node graph is walked the way go-yaml's decoder walks it, counting decode operations
without expanding anything:

* go-yaml's alias rule: once more than 100 of over 1000 decodes come from alias expansion and
  their share exceeds the allowed ratio (99% up to 400,000 decodes, falling linearly to 10% at
  4,000,000), the document is refused with ``yaml: document contains excessive aliasing``, as Go
  refuses it. A "billion laughs" document therefore costs a few thousand steps, not gigabytes.
* this engine's own bounds, because its parser runs in Python rather than compiled Go: at most
  :data:`MAX_DOCUMENT_BYTES` of text and :data:`MAX_DECODES` decode operations per document
  (aliases included). Both are far above what a webhook's embedded YAML needs.
"""

from __future__ import annotations

import math
from typing import Any, Final

import yaml

from kfp_triggers.golang import fmt as gofmt

#: The longest YAML text ``parseYAML`` reads (the pure-Python parser costs about 10 us a byte).
MAX_DOCUMENT_BYTES: Final = 128 * 1024
#: The most decode operations (nodes, counting every alias expansion) one document may take.
MAX_DECODES: Final = 200_000

_ALIAS_RATIO_LOW: Final = 400_000  # go-yaml v2 decode.go: alias_ratio_range_low
_ALIAS_RATIO_HIGH: Final = 4_000_000  # alias_ratio_range_high


class YAMLLimitError(ValueError):
    """The document is refused before decoding; ``str(error)`` is the message after ``yaml:``."""


class _GoYAMLLoader(yaml.SafeLoader):
    """YAML as go-yaml v2 reads it into ``interface{}``: timestamps stay strings, duplicates fail."""


_GoYAMLLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _Pairs(list[tuple[Any, Any]]):
    """A YAML mapping before its keys become JSON strings (``1`` and ``true`` are distinct keys)."""


def _mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> _Pairs:
    loader.flatten_mapping(node)
    result = _Pairs()
    seen: set[tuple[str, str]] = set()
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        identity = (type(key).__name__, repr(key))
        if identity in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f'key "{key}" already set in map', key_node.start_mark
            )
        seen.add(identity)
        result.append((key, loader.construct_object(value_node, deep=True)))
    return result


_GoYAMLLoader.add_constructor("tag:yaml.org,2002:map", _mapping)


def allowed_alias_ratio(decodes: int) -> float:
    """The share of decodes go-yaml v2 lets alias expansion take after ``decodes`` operations."""
    if decodes <= _ALIAS_RATIO_LOW:
        return 0.99
    if decodes >= _ALIAS_RATIO_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decodes - _ALIAS_RATIO_LOW) / (_ALIAS_RATIO_HIGH - _ALIAS_RATIO_LOW)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


class _DecodeCounter:
    """go-yaml's decode and alias counters, advanced over the node graph without building values.

    PyYAML resolves an alias to the very node its anchor names, so a node met a second time is
    an alias. Which child links are aliases is learnt when a node is first walked (in document
    order, where its anchor is defined) and replayed whenever the node is expanded again.
    """

    def __init__(self) -> None:
        self.decodes = 1  # the document node
        self.aliased = 0
        self.seen: set[int] = set()
        self.alias_links: dict[int, list[bool]] = {}

    def count(self, in_alias: bool) -> None:
        self.decodes += 1
        if in_alias:
            self.aliased += 1
        if (
            self.aliased > 100
            and self.decodes > 1000
            and self.aliased / self.decodes > allowed_alias_ratio(self.decodes)
        ):
            raise YAMLLimitError("document contains excessive aliasing")
        if self.decodes > MAX_DECODES:
            raise YAMLLimitError(f"document expands to more than {MAX_DECODES} values")

    def walk(self, root: yaml.Node) -> None:
        """Count every decode go-yaml makes for ``root``; raise :class:`YAMLLimitError` on a limit."""
        # Each entry: the node, whether it is reached through an alias link, whether the walk is
        # inside an alias expansion, and whether this visit defines the node (first time seen).
        stack: list[tuple[yaml.Node, bool, bool]] = [(root, False, False)]
        on_path: set[int] = set()
        exits: list[tuple[int, int]] = []  # (stack height, node id): when to leave a definition
        while stack:
            while exits and len(stack) <= exits[-1][0]:
                on_path.discard(exits.pop()[1])
            node, via_alias, in_alias = stack.pop()
            key = id(node)
            if via_alias:
                if key in on_path:
                    return  # a node that contains itself: construction reports it
                self.count(in_alias)  # the alias node itself
                in_alias = True
            self.count(in_alias)
            children = _children(node)
            if key not in self.seen:
                self.seen.add(key)
                links = [id(child) in self.seen for child in children]
                self.alias_links[key] = links
                on_path.add(key)
                exits.append((len(stack), key))
            else:
                links = self.alias_links.get(key, [False] * len(children))
            for child, link in zip(reversed(children), reversed(links), strict=True):
                stack.append((child, link, in_alias))


def _jsonable(value: Any) -> Any:
    """sigs.k8s.io/yaml's YAML-to-JSON step: keys become strings, numbers become doubles."""
    if isinstance(value, _Pairs):
        return {_yaml_key(k): _jsonable(v) for k, v in value}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(
                "error converting YAML to JSON: json: unsupported value: " + gofmt.format_g(value)
            )
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _yaml_key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float):
        return gofmt.format_g(key)
    return str(key)


def check_size(text: str) -> None:
    """Raise :class:`YAMLLimitError` when ``text`` is longer than this engine parses."""
    size = len(gofmt.go_bytes(text))
    if size > MAX_DOCUMENT_BYTES:
        raise YAMLLimitError(f"document is {size} bytes, more than the {MAX_DOCUMENT_BYTES} parseYAML reads")


def load(text: str) -> Any:
    """``text`` as JSON data (None for an empty document).

    Raises:
        YAMLLimitError: the document is too large, too nested, or expands too much.
        yaml.YAMLError: the document is not YAML go-yaml reads.
        ValueError: the document holds a value JSON cannot (an infinite float).
    """
    check_size(text)
    loader = _GoYAMLLoader(text)
    try:
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _DecodeCounter().walk(node)
            data = loader.construct_document(node)
            return _jsonable(data)
        except RecursionError:
            raise YAMLLimitError("document is nested too deeply") from None
    finally:
        loader.dispose()
