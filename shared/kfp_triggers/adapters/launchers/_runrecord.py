"""The ``run.json`` record of a local run, shared by :mod:`.local` and :mod:`.local_runner`.

The record is the only channel between the launching process, the runner subprocess and any later
reader (another process calling ``get_state``), so every write replaces the whole file atomically.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RECORD = "run.json"
REQUEST = "request.json"
PIPELINE = "pipeline.yaml"
LOG = "runner.log"

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def now() -> str:
    """The current UTC time as RFC 3339 text."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def plain(text: str) -> str:
    """``text`` without terminal colour codes (kfp.local colours its messages)."""
    return _ANSI.sub("", text)


def write_json(path: Path, data: Any) -> None:
    """Write JSON to ``path`` atomically (a temporary file in the same directory, then rename)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True, default=str)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_record(run_dir: Path) -> dict[str, Any]:
    """The run record; raises OSError or ValueError when it is missing or unreadable."""
    with open(run_dir / RECORD, encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict):
        raise ValueError(f"{run_dir / RECORD} is not a JSON object")
    return data


def update_record(run_dir: Path, **changes: Any) -> dict[str, Any]:
    """Merge ``changes`` into the record and write it back; returns the new record."""
    record = read_record(run_dir)
    record.update(changes)
    record["updated_at"] = now()
    write_json(run_dir / RECORD, record)
    return record


def pid_alive(pid: Any) -> bool:
    """Whether a process with this id exists on this machine (a non-integer counts as alive)."""
    if not isinstance(pid, int) or pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
