"""Choose and configure a launcher from ``KFPT_*`` settings.

Variables (defaults in brackets):

* ``KFPT_LAUNCHER``: ``local``, ``kfp``, ``vertex`` or ``dry-run`` [``local``].
* ``KFPT_LOCAL_OUTPUT_ROOT``: local runs' directory [the caller's ``output_root``];
  ``KFPT_LOCAL_MAX_WORKERS``: local runs executing at once [2].
* ``KFPT_KFP_HOST``: KFP API URL (required for ``kfp``); ``KFPT_KFP_TOKEN``: bearer token, or
  ``KFPT_KFP_TOKEN_FILE``: a file holding it, re-read per call (rotated service-account tokens);
  ``KFPT_KFP_NAMESPACE``: namespace of a multi-user KFP; ``KFPT_KFP_UI_HOST``: base of run links
  [the host]; ``KFPT_KFP_TIMEOUT_S``: seconds per HTTP request [10].
* ``KFPT_VERTEX_PROJECT``, ``KFPT_VERTEX_LOCATION`` (both required for ``vertex``);
  ``KFPT_VERTEX_PIPELINE_ROOT``: default ``gs://`` output directory; ``KFPT_VERTEX_SERVICE_ACCOUNT``:
  the account jobs run as; ``KFPT_VERTEX_TOKEN_FILE``: an access token file instead of Application
  Default Credentials; ``KFPT_VERTEX_BASE_URL``: API root (private endpoints, tests);
  ``KFPT_VERTEX_TIMEOUT_S``: seconds per HTTP request [30].
* ``KFPT_DRY_RUN_FILE``: JSON-lines record of dry runs [``<output_root>/dry-run.jsonl``].
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from kfp_triggers import settings as registry
from kfp_triggers.adapters.launchers.base import Launcher, LaunchUnavailable
from kfp_triggers.errors import ConfigError, Problem

LAUNCHERS = registry.LAUNCHERS
T = TypeVar("T")


def token_file_reader(path: str | os.PathLike[str]) -> Callable[[], str]:
    """A token provider that reads ``path`` on every call (tokens mounted from secrets rotate)."""
    file = Path(path)

    def read() -> str:
        try:
            return file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise LaunchUnavailable(f"cannot read the token file {file}: {exc.strerror}") from exc

    return read


class _Settings:
    """Reads settings through the registry and collects every problem, so one error lists all."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.problems: list[Problem] = []

    def problem(self, message: str) -> None:
        self.problems.append(Problem("environment", 0, message))

    def get(self, setting: registry.Setting[T]) -> T:
        """The setting's value; a malformed one is a problem, and its default stands in."""
        try:
            return registry.value(self.environ, setting)
        except registry.InvalidSettingError as exc:
            self.problem(str(exc))
            return setting.default

    def is_set(self, setting: registry.Setting[Any]) -> bool:
        return bool(registry.raw_value(self.environ, setting))

    def required(self, setting: registry.Setting[str | None], launcher: str) -> str | None:
        if not self.is_set(setting):
            self.problem(f"{setting.name} is required when KFPT_LAUNCHER={launcher}")
        return self.get(setting)

    def token_file(self, setting: registry.Setting[str | None]) -> Callable[[], str] | None:
        path = self.get(setting)
        if path is None:
            return None
        if not os.access(path, os.R_OK):
            self.problem(f"{setting.name} names {path}, which cannot be read")
            return None
        return token_file_reader(path)

    def check(self) -> None:
        if self.problems:
            raise ConfigError(self.problems)


def launcher_from_env(
    environ: Mapping[str, str], output_root: str | os.PathLike[str], *, backend: str | None = None
) -> Launcher:
    """The launcher ``KFPT_LAUNCHER`` names, configured from the other ``KFPT_*`` settings.

    ``output_root`` is where the local launcher keeps runs and the dry-run launcher its record,
    unless ``KFPT_LOCAL_OUTPUT_ROOT`` is set. ``backend`` builds that launcher instead of the one
    ``KFPT_LAUNCHER`` names: a run recorded earlier is handled by its own backend, whatever the
    deployment launches today.

    Raises:
        ConfigError: an unknown launcher, or a missing or malformed setting (all of them listed).
    """
    settings = _Settings(environ)
    kind = settings.get(registry.LAUNCHER)
    if backend is not None:
        kind = backend
        if backend not in LAUNCHERS:
            settings.problem(f"no launcher for backend {backend!r}; known: {', '.join(LAUNCHERS)}")
    settings.check()
    root = Path(
        settings.get(registry.LOCAL_OUTPUT_ROOT)
        if settings.is_set(registry.LOCAL_OUTPUT_ROOT)
        else output_root
    )
    if kind == "kfp":
        return _kfp(settings)
    if kind == "vertex":
        return _vertex(settings)
    if kind == "dry-run":
        dry_run_file = settings.get(registry.DRY_RUN_FILE)
        settings.check()
        from kfp_triggers.adapters.launchers.dry_run import DryRunLauncher

        return DryRunLauncher(dry_run_file or root / "dry-run.jsonl")
    workers = settings.get(registry.LOCAL_MAX_WORKERS)
    settings.check()
    from kfp_triggers.adapters.launchers.local import LocalLauncher

    return LocalLauncher(root, max_workers=int(workers))


def _kfp(settings: _Settings) -> Launcher:
    host = settings.required(registry.KFP_HOST, "kfp")
    token = settings.get(registry.KFP_TOKEN)
    provider = settings.token_file(registry.KFP_TOKEN_FILE)
    if token and provider:
        settings.problem("give KFPT_KFP_TOKEN or KFPT_KFP_TOKEN_FILE, not both")
    timeout = settings.get(registry.KFP_TIMEOUT_S)
    namespace = settings.get(registry.KFP_NAMESPACE)
    ui_host = settings.get(registry.KFP_UI_HOST)
    settings.check()
    from kfp_triggers.adapters.launchers.kfp_rest import KfpRestLauncher

    assert host is not None  # checked above
    return KfpRestLauncher(
        host, token=token, namespace=namespace, timeout_s=timeout, token_provider=provider, ui_host=ui_host
    )


def _vertex(settings: _Settings) -> Launcher:
    project = settings.required(registry.VERTEX_PROJECT, "vertex")
    location = settings.required(registry.VERTEX_LOCATION, "vertex")
    provider = settings.token_file(registry.VERTEX_TOKEN_FILE)
    timeout = settings.get(registry.VERTEX_TIMEOUT_S)
    pipeline_root = settings.get(registry.VERTEX_PIPELINE_ROOT)
    service_account = settings.get(registry.VERTEX_SERVICE_ACCOUNT)
    base_url = settings.get(registry.VERTEX_BASE_URL)
    settings.check()
    from kfp_triggers.adapters.launchers.vertex import VertexLauncher

    assert project is not None and location is not None  # checked above
    return VertexLauncher(
        project,
        location,
        pipeline_root=pipeline_root,
        service_account=service_account,
        token_provider=provider,
        base_url=base_url,
        timeout_s=timeout,
    )
