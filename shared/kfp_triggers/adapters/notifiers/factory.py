"""Notifiers from ``KFPT_*`` settings: which ones are on, and how each reaches its receiver.

GitHub commit statuses are on when ``KFPT_GITHUB_TOKEN_SECRET`` names the token as
``<secretName>/<key>`` in the secrets directory. The token is read again for every post, so a
rotated secret is used without a restart. Further settings:

* ``KFPT_GITHUB_API_URL``: the REST API root (default ``https://api.github.com/``; GitHub
  Enterprise Server: ``https://<host>/api/v3/``);
* ``KFPT_GITHUB_STATUS_CONTEXT``: the status context prefix (default ``kfp-triggers``; the
  context is ``<prefix>/<listener>/<trigger>``);
* ``KFPT_GITHUB_REPOSITORIES``: comma-separated ``owner/repo`` or ``owner/*``; when set, statuses
  are posted to those repositories only;
* ``KFPT_GITHUB_CANCELED_AS``: ``error`` (default) or ``failure``, the state of a canceled run;
* ``KFPT_GITHUB_ENTERPRISE_HOSTS``: comma-separated GitHub Enterprise Server hosts whose webhooks
  (``X-GitHub-Enterprise-Host``) may receive statuses and the token (the API URL's host always may).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from kfp_triggers.adapters.notifiers.base import InvalidNotifierSettingError, Notifier
from kfp_triggers.adapters.notifiers.github_status import DEFAULT_API_URL, GitHubStatusNotifier
from kfp_triggers.secretstore import SecretStore


def notifiers_from_env(environ: Mapping[str, str], secrets: SecretStore) -> list[Notifier]:
    """The notifiers the settings turn on (an empty list when none is configured).

    Raises:
        InvalidNotifierSettingError: a setting is malformed (names the variable and the rule).
    """
    notifiers: list[Notifier] = []
    token_ref = environ.get("KFPT_GITHUB_TOKEN_SECRET", "").strip()
    if token_ref:
        canceled_as = environ.get("KFPT_GITHUB_CANCELED_AS", "").strip().lower() or "error"
        if canceled_as not in {"error", "failure"}:
            raise InvalidNotifierSettingError(
                f"KFPT_GITHUB_CANCELED_AS must be 'error' or 'failure', not {canceled_as!r}"
            )
        hosts = [h.strip() for h in environ.get("KFPT_GITHUB_ENTERPRISE_HOSTS", "").split(",") if h.strip()]
        repositories = [r for r in environ.get("KFPT_GITHUB_REPOSITORIES", "").split(",") if r.strip()]
        try:
            notifiers.append(
                GitHubStatusNotifier(
                    secret_token(secrets, token_ref, "KFPT_GITHUB_TOKEN_SECRET"),
                    api_url=environ.get("KFPT_GITHUB_API_URL", "").strip() or DEFAULT_API_URL,
                    context_prefix=environ.get("KFPT_GITHUB_STATUS_CONTEXT", "").strip() or "kfp-triggers",
                    canceled_as=canceled_as,
                    enterprise_hosts=hosts,
                    repositories=repositories,
                )
            )
        except ValueError as exc:
            setting = "KFPT_GITHUB_REPOSITORIES" if "repository" in str(exc) else "KFPT_GITHUB_API_URL"
            raise InvalidNotifierSettingError(f"{setting}: {exc}") from None
    return notifiers


def secret_token(secrets: SecretStore, reference: str, setting: str) -> Callable[[], str]:
    """A token provider reading ``<secretName>/<key>`` from ``secrets`` at every call.

    Surrounding whitespace (the trailing newline an editor adds to a secret file) is dropped: a
    token never contains any, and a newline in a header value would make the request invalid.

    Raises:
        InvalidNotifierSettingError: ``reference`` is not ``<secretName>/<key>``.
    """
    name, _, key = reference.partition("/")
    if not name or not key or "/" in key:
        raise InvalidNotifierSettingError(f"{setting} must be <secretName>/<key>, not {reference!r}")

    def token() -> str:
        raw = secrets.get(name, key)
        try:
            return raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise InvalidNotifierSettingError(f'secrets "{name}" key "{key}" is not UTF-8 text') from None

    return token
