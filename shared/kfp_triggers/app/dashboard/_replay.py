"""Replaying an event from the dashboard: a dry run first, the real replay only on a second confirmation.

Both steps are POSTs carrying the process's CSRF token, so a page on another site cannot make a
visitor's browser replay anything, and a GET never changes anything. The work is
:func:`kfp_triggers.app.operations.replay`, exactly what ``kfp-triggers replay`` does: the dry run
loads the configuration and says what each trigger would decide now, the real replay sends the
journalled request through the chain the ``KFPT_*`` environment configures, under its original
eventID (a trigger that already launched launches nothing new).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kfp_triggers import settings as registry
from kfp_triggers.adapters.store.base import Store
from kfp_triggers.app import operations as ops
from kfp_triggers.errors import KfptError


@dataclass(frozen=True)
class ReplayGate:
    """Whether replay is offered, with which configuration, and the token a replay form must carry.

    ``config`` empty means replay is off: the dashboard then shows no replay button and refuses
    every replay request.
    """

    config: tuple[Path, ...] = ()
    secrets_dir: Path | None = None
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)

    @classmethod
    def from_options(
        cls, config: list[Path] | None, environ: Mapping[str, str], *, allow: bool
    ) -> ReplayGate:
        """The gate for ``dashboard_app``'s options; replay needs both ``allow`` and a configuration."""
        if not allow or not config:
            return cls()
        return cls(tuple(config), Path(registry.value(environ, registry.SECRETS_DIR)))

    @property
    def enabled(self) -> bool:
        """Whether replay is offered at all."""
        return bool(self.config)

    def admits(self, form_token: str | None) -> bool:
        """Whether a form carries this process's token (compared in constant time)."""
        return bool(form_token) and hmac.compare_digest(str(form_token).encode(), self.token.encode())

    def replay(
        self, store: Store, event_id: str, *, dry_run: bool
    ) -> tuple[dict[str, Any] | None, str | None]:
        """``(result, None)`` of replaying ``event_id``, or ``(None, reason)`` when it could not be."""
        try:
            result = ops.replay(store, event_id, list(self.config), self.secrets_dir, dry_run=dry_run)
        except KfptError as exc:
            return None, str(exc)
        return result, None
