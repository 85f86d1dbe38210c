"""Launchers: create a KFP run exactly once per idempotency key, and read its state back.

A rendered ``Run`` resource is parsed into a :class:`RunSpec`; a :class:`Launcher` turns a
:class:`LaunchRequest` into a :class:`LaunchedRun` and answers :meth:`Launcher.get_state` with a
:class:`RunStatus` in KFP's state names. Backends: ``local`` (kfp.local, offline), ``kfp`` (KFP REST
v2beta1), ``vertex`` (Vertex AI PipelineJob REST) and ``dry-run``. Importing this package loads no
kfp or Google SDK; the backends load what they need when they are used.
"""

from __future__ import annotations

from kfp_triggers.adapters.launchers.base import (
    LaunchedRun,
    Launcher,
    LaunchRejected,
    LaunchRequest,
    LaunchUnavailable,
    RunSpec,
    RunState,
    RunStatus,
    is_terminal,
    normalise_state,
)

__all__ = [
    "LaunchRejected",
    "LaunchRequest",
    "LaunchUnavailable",
    "LaunchedRun",
    "Launcher",
    "RunSpec",
    "RunState",
    "RunStatus",
    "is_terminal",
    "normalise_state",
]
