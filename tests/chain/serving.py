"""``serve`` on a thread over the example listener, its state under a test's directory."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kfp_triggers.app.runtime import Settings
from kfp_triggers.app.serve import Server, start
from tests.conftest import EXAMPLES

EXAMPLE = EXAMPLES / "github-push"


@contextmanager
def serving(
    tmp_path: Path,
    environ: Mapping[str, str],
    *,
    config: Path = EXAMPLE,
    dashboard: bool = False,
    **settings: Any,
) -> Iterator[Server]:
    """The chain serving ``config`` (the example by default) until the block ends.

    ``settings`` override :class:`Settings` fields (``claim_check_bytes=0``, say); the journal,
    runs and bodies live under ``tmp_path``.
    """
    chosen = Settings(
        config=str(config),
        secrets_dir=str(config / "secrets"),
        store=f"sqlite:///{tmp_path}/state.db",
        output_root=str(tmp_path / "runs"),
        **settings,
    )
    server = start(chosen, environ, port=0, tick_s=0.2, dashboard=dashboard)
    threading.Thread(target=server.httpd.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.close()
