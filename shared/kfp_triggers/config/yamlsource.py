"""Reading multi-document YAML while remembering where every mapping, key and value came from.

Configuration problems must name a file and a line, so documents are composed into YAML nodes
(with libyaml when it is available) and turned into plain Python values whose containers remember
positions: :class:`LMap` is a ``dict`` that also knows the line of each key and value, :class:`LList`
a ``list`` that knows the line of each item. Scalars become what Kubernetes' YAML-to-JSON conversion
would give (strings, ints, floats, bools, ``None``); timestamps and other tagged scalars stay text,
and non-string mapping keys become their JSON text, as ``sigs.k8s.io/yaml`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kfp_triggers.config.files import ContentVersion, discover_files
from kfp_triggers.errors import Problem

try:  # libyaml is much faster; the pure-Python loader gives the same nodes.
    _Loader: type[Any] = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

_SCALARS = yaml.constructor.SafeConstructor()
_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_MERGE = "tag:yaml.org,2002:merge"


class LMap(dict[str, Any]):
    """A mapping from YAML that remembers its own line and the lines of its keys and values."""

    line: int
    key_lines: dict[str, int]
    value_lines: dict[str, int]

    def key_line(self, key: str) -> int:
        """Line of ``key`` in this mapping, else the mapping's own line."""
        return self.key_lines.get(key, self.line)

    def value_line(self, key: str) -> int:
        """Line where the value of ``key`` starts, else the mapping's own line."""
        return self.value_lines.get(key, self.line)


class LList(list[Any]):
    """A sequence from YAML that remembers its own line and the line of each item."""

    line: int
    item_lines: list[int]

    def item_line(self, index: int) -> int:
        """Line of item ``index``, else the sequence's own line."""
        return self.item_lines[index] if 0 <= index < len(self.item_lines) else self.line


def plain(value: Any) -> Any:
    """Deep copy of a YAML value with ordinary ``dict``/``list`` containers (for JSON and callers)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


@dataclass(frozen=True)
class Document:
    """One YAML document of a configuration file."""

    file: str
    line: int
    index: int
    data: Any


class _Converter:
    """Turns composed YAML nodes into values, recording positions and duplicate keys."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file = file
        self.problems = problems
        # Keyed by node identity (aliases share a node); the node is kept so its id stays unique.
        self.memo: dict[int, tuple[yaml.Node, Any]] = {}
        self.active: set[int] = set()

    def document(self, node: yaml.Node) -> Any:
        """Convert one document's root node (anchors do not cross documents)."""
        self.memo.clear()
        return self.convert(node)

    def convert(self, node: yaml.Node) -> Any:
        key = id(node)
        if key in self.memo:
            return self.memo[key][1]
        if key in self.active:
            self._problem(node, "recursive YAML alias")
            return None
        self.active.add(key)
        try:
            if isinstance(node, yaml.MappingNode):
                out: Any = self._mapping(node)
            elif isinstance(node, yaml.SequenceNode):
                seq = LList()
                seq.line = node.start_mark.line + 1
                seq.item_lines = []
                for item in node.value:
                    seq.append(self.convert(item))
                    seq.item_lines.append(item.start_mark.line + 1)
                out = seq
            else:
                out = self._scalar(node)
        finally:
            self.active.discard(key)
        self.memo[key] = (node, out)
        return out

    def _scalar(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):  # pragma: no cover - callers pass scalars
            return None
        tag = node.tag
        try:
            if tag == _NULL:
                return None
            if tag == _BOOL:
                return _SCALARS.construct_yaml_bool(node)
            if tag == _INT:
                return _SCALARS.construct_yaml_int(node)
            if tag == _FLOAT:
                return _SCALARS.construct_yaml_float(node)
        except (ValueError, yaml.YAMLError):  # pragma: no cover - the resolver only tags valid text
            pass
        return str(node.value)

    def _mapping(self, node: yaml.MappingNode) -> LMap:
        out = LMap()
        out.line = node.start_mark.line + 1
        out.key_lines = {}
        out.value_lines = {}
        merged: list[LMap] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged.extend(self._merge_sources(key_node, value_node))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self._problem(key_node, "a mapping key must be a plain value, not a mapping or a list")
                continue
            key = _key_text(self._scalar(key_node))
            line = key_node.start_mark.line + 1
            if key in out.key_lines:
                self._problem(key_node, f"duplicate key '{key}' (first at line {out.key_lines[key]})")
                continue
            out[key] = self.convert(value_node)
            out.key_lines[key] = line
            out.value_lines[key] = value_node.start_mark.line + 1
        for source in merged:  # YAML merge keys: explicit keys win
            for key, value in source.items():
                if key not in out:
                    out[key] = value
                    out.key_lines[key] = source.key_line(key)
                    out.value_lines[key] = source.value_line(key)
        return out

    def _merge_sources(self, key_node: yaml.Node, value_node: yaml.Node) -> list[LMap]:
        value = self.convert(value_node)
        sources = value if isinstance(value, list) else [value]
        if not all(isinstance(s, LMap) for s in sources):
            self._problem(key_node, "a merge key '<<' needs a mapping or a list of mappings")
            return []
        return list(sources)

    def _problem(self, node: yaml.Node, message: str) -> None:
        self.problems.append(Problem(self.file, node.start_mark.line + 1, message))


def _key_text(key: Any) -> str:
    """Mapping keys as JSON object keys: strings stay, other scalars become their JSON text."""
    if isinstance(key, str):
        return key
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def read_documents(file: str, text: str, problems: list[Problem]) -> list[Document]:
    """Parse every document of one file; a syntax error is reported with its line and ends the file."""
    docs: list[Document] = []
    converter = _Converter(file, problems)
    try:
        for index, node in enumerate(yaml.compose_all(text, Loader=_Loader)):
            if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == _NULL):
                continue  # empty document (only comments, or a bare '---')
            docs.append(Document(file, node.start_mark.line + 1, index, converter.document(node)))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        detail = " ".join(p for p in (exc.context, exc.problem) if p)
        problems.append(Problem(file, line, f"YAML syntax error: {detail}"))
    except yaml.YAMLError as exc:  # pragma: no cover - libyaml reports everything with a mark
        problems.append(Problem(file, 0, f"YAML syntax error: {exc}"))
    return docs


def load_documents(
    paths: Sequence[str | Path], problems: list[Problem]
) -> tuple[list[Document], list[Path], str]:
    """Read every configuration file under ``paths``.

    Returns the documents, the files that could be read, and a version: the sha256 over the
    contents of those files in path order.
    """
    docs: list[Document] = []
    read: list[Path] = []
    version = ContentVersion()
    for path in sorted(discover_files(paths, problems), key=str):
        try:
            raw = path.read_bytes()
            text = raw.decode("utf-8-sig")
        except OSError as exc:
            problems.append(Problem(str(path), 0, f"cannot read file: {exc.strerror or exc}"))
            continue
        except UnicodeDecodeError as exc:
            problems.append(Problem(str(path), 0, f"file is not UTF-8 text: {exc.reason}"))
            continue
        read.append(path)
        version.add(raw)
        docs.extend(read_documents(str(path), text, problems))
    return docs, read, version.hexdigest()
