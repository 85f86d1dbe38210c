"""Notifiers: report run state transitions back to the source of the event (GitHub commit statuses).

The status stage builds a :class:`RunStateChange` for each transition it observes (the run, its
new and previous state, and what was verified about its event) and hands it to every notifier
:func:`notifiers_from_env` turned on. A notifier ignores changes it has nothing to say about.
"""

from __future__ import annotations

from kfp_triggers.adapters.notifiers.base import (
    InvalidNotifierSettingError,
    Notifier,
    NotifierError,
    NotifierUnavailableError,
    RunStateChange,
    Supersession,
)
from kfp_triggers.adapters.notifiers.factory import notifiers_from_env
from kfp_triggers.adapters.notifiers.github_status import CommitStatus, GitHubStatusNotifier, github_state

__all__ = [
    "CommitStatus",
    "GitHubStatusNotifier",
    "InvalidNotifierSettingError",
    "Notifier",
    "NotifierError",
    "NotifierUnavailableError",
    "RunStateChange",
    "Supersession",
    "github_state",
    "notifiers_from_env",
]
