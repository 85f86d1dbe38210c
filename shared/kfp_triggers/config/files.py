"""Which files a configuration is made of, and its version: read without the YAML parser.

Both the YAML loader and the compiled configuration (:mod:`.compiled`) use these, so a compiled
configuration can tell, from the files' bytes alone, that it was compiled from exactly them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from kfp_triggers.errors import Problem


class ContentVersion:
    """The sha256 over each file's length and bytes, in the order they are added."""

    def __init__(self) -> None:
        """An empty version (no file added yet)."""
        self._digest = hashlib.sha256()

    def add(self, raw: bytes) -> None:
        """Add one file's bytes."""
        self._digest.update(len(raw).to_bytes(8, "big"))
        self._digest.update(raw)

    def hexdigest(self) -> str:
        """The version so far."""
        return self._digest.hexdigest()


def discover_files(paths: Sequence[str | Path], problems: list[Problem]) -> list[Path]:
    """Expand files and directories (recursively, ``*.yaml``/``*.yml``, sorted) into a file list.

    Hidden files and directories (``.git``, ``.venv``...) are skipped inside a directory; a file
    named explicitly is always read. The same file reached twice is read once.
    """
    found: list[Path] = []
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            candidates = sorted(
                p
                for p in path.rglob("*")
                if p.suffix in (".yaml", ".yml")
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not candidates:
                problems.append(Problem(str(path), 0, "no *.yaml or *.yml files in this directory"))
        elif path.is_file():
            candidates = [path]
        else:
            problems.append(Problem(str(path), 0, "no such file or directory"))
            continue
        for candidate in candidates:
            key = candidate.resolve()
            if key not in seen:
                seen.add(key)
                found.append(candidate)
    return found
