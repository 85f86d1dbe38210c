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

from kfp_triggers.adapters.launchers.base import Launcher, LaunchUnavailable
from kfp_triggers.errors import ConfigError, Problem

LAUNCHERS = ("local", "kfp", "vertex", "dry-run")


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
    """Reads settings and collects every problem, so one error lists all of them."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.problems: list[Problem] = []

    def problem(self, message: str) -> None:
        self.problems.append(Problem("environment", 0, message))

    def text(self, name: str, required_for: str | None = None) -> str | None:
        value = (self.environ.get(name) or "").strip() or None
        if value is None and required_for:
            self.problem(f"{name} is required when KFPT_LAUNCHER={required_for}")
        return value

    def number(self, name: str, default: float, minimum: float) -> float:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            self.problem(f"{name} must be a number of at least {minimum:g}, got {raw!r}")
            return default
        return value

    def token_file(self, name: str) -> Callable[[], str] | None:
        path = self.text(name)
        if path is None:
            return None
        if not os.access(path, os.R_OK):
            self.problem(f"{name} names {path}, which cannot be read")
            return None
        return token_file_reader(path)

    def check(self) -> None:
        if self.problems:
            raise ConfigError(self.problems)


def launcher_from_env(environ: Mapping[str, str], output_root: str | os.PathLike[str]) -> Launcher:
    """The launcher ``KFPT_LAUNCHER`` names, configured from the other ``KFPT_*`` settings.

    ``output_root`` is where the local launcher keeps runs and the dry-run launcher its record.

    Raises:
        ConfigError: an unknown launcher, or a missing or malformed setting (all of them listed).
    """
    settings = _Settings(environ)
    kind = (settings.text("KFPT_LAUNCHER") or "local").lower()
    root = Path(settings.text("KFPT_LOCAL_OUTPUT_ROOT") or output_root)
    if kind == "local":
        workers = settings.number("KFPT_LOCAL_MAX_WORKERS", 2, 1)
        settings.check()
        from kfp_triggers.adapters.launchers.local import LocalLauncher

        return LocalLauncher(root, max_workers=int(workers))
    if kind == "kfp":
        host = settings.text("KFPT_KFP_HOST", required_for="kfp")
        if host and not host.startswith(("http://", "https://")):
            settings.problem(f"KFPT_KFP_HOST must be an http(s) URL, got {host!r}")
        token = settings.text("KFPT_KFP_TOKEN")
        provider = settings.token_file("KFPT_KFP_TOKEN_FILE")
        if token and provider:
            settings.problem("give KFPT_KFP_TOKEN or KFPT_KFP_TOKEN_FILE, not both")
        timeout = settings.number("KFPT_KFP_TIMEOUT_S", 10.0, 0.001)
        settings.check()
        from kfp_triggers.adapters.launchers.kfp_rest import KfpRestLauncher

        assert host is not None  # checked above
        return KfpRestLauncher(
            host,
            token=token,
            namespace=settings.text("KFPT_KFP_NAMESPACE"),
            timeout_s=timeout,
            token_provider=provider,
            ui_host=settings.text("KFPT_KFP_UI_HOST"),
        )
    if kind == "vertex":
        project = settings.text("KFPT_VERTEX_PROJECT", required_for="vertex")
        location = settings.text("KFPT_VERTEX_LOCATION", required_for="vertex")
        provider = settings.token_file("KFPT_VERTEX_TOKEN_FILE")
        timeout = settings.number("KFPT_VERTEX_TIMEOUT_S", 30.0, 0.001)
        settings.check()
        from kfp_triggers.adapters.launchers.vertex import VertexLauncher

        assert project is not None and location is not None  # checked above
        return VertexLauncher(
            project,
            location,
            pipeline_root=settings.text("KFPT_VERTEX_PIPELINE_ROOT"),
            service_account=settings.text("KFPT_VERTEX_SERVICE_ACCOUNT"),
            token_provider=provider,
            base_url=settings.text("KFPT_VERTEX_BASE_URL"),
            timeout_s=timeout,
        )
    if kind == "dry-run":
        settings.check()
        from kfp_triggers.adapters.launchers.dry_run import DryRunLauncher

        return DryRunLauncher(settings.text("KFPT_DRY_RUN_FILE") or root / "dry-run.jsonl")
    settings.problem(f"KFPT_LAUNCHER must be one of {', '.join(LAUNCHERS)}, got {kind!r}")
    settings.check()
    raise AssertionError("unreachable")  # pragma: no cover
