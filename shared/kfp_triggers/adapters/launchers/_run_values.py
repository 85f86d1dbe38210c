"""Checking the values of a rendered ``Run`` that pick an identity, a place or a pipeline.

A template may fill these fields from an event (``$(tt.params...)``), so whoever sends the event
chooses them. Each check refuses what the backends would not accept anyway, before any backend is
called, with a message that shows the value escaped and shortened:

* ``pipeline_package`` must resolve, symlinks followed, inside one of the allowed directories (the
  configuration root, and the directories the template names), so an event cannot run another
  compiled pipeline found on disk;
* ``service_account`` is a Kubernetes service account name (a DNS-1123 subdomain, as KFP passes it
  to the run's pods) or a service account email (what Vertex AI takes);
* ``runtime_config.pipeline_root`` is a ``gs://``, ``s3://`` or ``minio://`` URI (what KFP's object
  store and Vertex AI's ``gcsOutputDirectory`` understand) with no ``.``/``..`` segments;
* ``display_name``, ``experiment_name`` are one line of printable text; ``experiment_id`` is an id.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
_K8S_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_K8S_NAME_MAX = 253
_SA_EMAIL = re.compile(rf"[a-z0-9](?:[a-z0-9._-]{{0,62}}[a-z0-9])?@{_LABEL}(?:\.{_LABEL})+")
_EMAIL_MAX = 254
_ROOT_SCHEMES = ("gs", "s3", "minio")
_ROOT = re.compile(r"(?P<scheme>[^:/]*)://(?P<bucket>[^/]*)(?P<path>/.*)?", re.DOTALL)
_BUCKET = re.compile(r"[a-z0-9](?:[a-z0-9._-]{0,220}[a-z0-9])?")
_ROOT_PATH_FORBIDDEN = re.compile(r"[\s?#\\]")
_EXPERIMENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


def shown(value: str, limit: int = 60) -> str:
    """``value`` quoted with control characters escaped, cut after ``limit`` characters."""
    return repr(value[:limit]) + ("..." if len(value) > limit else "")


def resolve_package(
    text: str, base_dir: Path, roots: Sequence[Path] | None
) -> tuple[Path | None, str | None]:
    """Resolve a ``pipeline_package``; return the file, or the problem that refuses it.

    With ``roots`` the resolved path must lie inside one of them; this is checked before the file
    is looked for, so a refusal says nothing about what exists outside.
    """
    if _CONTROL.search(text):
        return None, f"spec.pipeline_package {shown(text)} contains control characters"
    try:
        package = (base_dir / text).resolve()
    except (OSError, RuntimeError, ValueError):
        return None, f"spec.pipeline_package {shown(text)} is not a usable path"
    if roots is not None and not any(package.is_relative_to(root.resolve()) for root in roots):
        return None, (
            f"spec.pipeline_package {shown(text)} resolves outside the configuration root and the "
            "directories its template names: a package must lie in the configuration's own tree"
        )
    if not package.is_file():
        return None, f"spec.pipeline_package {shown(text)} not found (looked for {package})"
    return package, None


def service_account_problem(value: str) -> str | None:
    """Why ``value`` is neither a Kubernetes service account name nor a service account email."""
    if len(value) <= _K8S_NAME_MAX and _K8S_NAME.fullmatch(value):
        return None
    if len(value) <= _EMAIL_MAX and _SA_EMAIL.fullmatch(value):
        return None
    return (
        f"spec.service_account {shown(value)} is neither a Kubernetes service account name (lowercase "
        f"letters, digits, '-' and '.', at most {_K8S_NAME_MAX} characters) nor a service account email"
    )


def pipeline_root_problem(value: str) -> str | None:
    """Why ``value`` is not an object-store URI a backend accepts as ``pipeline_root``."""
    where = f"spec.runtime_config.pipeline_root {shown(value)}"
    match = _ROOT.fullmatch(value)
    if match is None or match["scheme"] not in _ROOT_SCHEMES:
        schemes = ", ".join(f"{s}://" for s in _ROOT_SCHEMES)
        return f"{where} is not a URI of an accepted scheme ({schemes})"
    if not _BUCKET.fullmatch(match["bucket"]):
        return f"{where} has no valid bucket name (lowercase letters, digits, '.', '-' and '_')"
    path = match["path"] or ""
    if _CONTROL.search(path) or _ROOT_PATH_FORBIDDEN.search(path):
        return f"{where} has a path with blanks, control characters, '?', '#' or '\\'"
    if any(segment in (".", "..") for segment in path.split("/")):
        return f"{where} has a '.' or '..' path segment"
    return None


def one_line_problem(field: str, value: str) -> str | None:
    """Why ``value`` is not one line of printable text (names shown in the KFP and Vertex UIs)."""
    if _CONTROL.search(value):
        return f"spec.{field} {shown(value)} contains control characters (line breaks, tabs, NUL...)"
    if not value.strip():
        return f"spec.{field} is blank"
    return None


def experiment_id_problem(value: str) -> str | None:
    """Why ``value`` is not an experiment id (letters, digits, '-' and '_', as KFP's UUIDs)."""
    if _EXPERIMENT_ID.fullmatch(value):
        return None
    return f"spec.experiment_id {shown(value)} is not an experiment id (letters, digits, '-' and '_')"
