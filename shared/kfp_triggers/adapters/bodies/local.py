"""Bodies in a local directory: the embedded default of ``serve`` and ``make run``.

``<root>/<first two hex digits>/<digest>``; a body is written to a temporary file and renamed, so
a reader never sees half of one. Old bodies go on the status tick with the journal's retention.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path

from kfp_triggers.adapters.bodies.base import BodyMissingError, BodyStoreError, checked, is_digest


class LocalBodyStore:
    """A directory of bodies named by their digest."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).absolute()

    def _path(self, digest: str) -> Path:
        if not is_digest(digest):  # the only names there are: no path can be smuggled in
            raise BodyMissingError(f"{digest[:80]!r} is not a SHA-256 digest")
        return self.root / digest[:2] / digest

    def put(self, digest: str, body: bytes) -> None:
        path = self._path(digest)
        if path.exists():
            try:  # the same body again: it must now outlive this event's journal entry too
                os.utime(path)
            except OSError:
                pass  # purged meanwhile: write it again below
            else:
                return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as out:
                out.write(body)
            os.replace(tmp, path)
        except OSError as exc:
            raise BodyStoreError(f"could not write a body under {self.root}: {exc}") from exc

    def get(self, digest: str) -> bytes:
        path = self._path(digest)
        try:
            body = path.read_bytes()
        except FileNotFoundError:
            raise BodyMissingError(f"no body {digest[:12]}... under {self.root}") from None
        except OSError as exc:
            raise BodyStoreError(f"could not read body {digest[:12]}...: {exc}") from exc
        return checked(digest, body)

    def purge(self, before: datetime) -> int:
        cutoff = before.timestamp()
        gone = 0
        for path in self.root.glob("??/*"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    gone += 1
            except OSError:
                continue  # another process purged it first
        return gone

    def describe(self) -> str:
        return self.root.as_uri()
