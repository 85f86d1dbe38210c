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
from typing import TypeVar

from kfp_triggers import settings as registry
from kfp_triggers.adapters.notifiers.base import InvalidNotifierSettingError, Notifier
from kfp_triggers.adapters.notifiers.github_status import GitHubStatusNotifier
from kfp_triggers.secretstore import SecretStore

T = TypeVar("T")


def notifiers_from_env(environ: Mapping[str, str], secrets: SecretStore) -> list[Notifier]:
    """The notifiers the settings turn on (an empty list when none is configured).

    Raises:
        InvalidNotifierSettingError: a setting is malformed (names the variable and the rule).
    """
    notifiers: list[Notifier] = []
    token_ref = _read(environ, registry.GITHUB_TOKEN_SECRET)
    if token_ref:
        token = secret_token(secrets, token_ref, registry.GITHUB_TOKEN_SECRET.name)
        canceled_as = _read(environ, registry.GITHUB_CANCELED_AS)
        hosts: tuple[str, ...] = _read(environ, registry.GITHUB_ENTERPRISE_HOSTS)
        repositories: tuple[str, ...] = _read(environ, registry.GITHUB_REPOSITORIES)
        api_url = _read(environ, registry.GITHUB_API_URL)
        context_prefix = _read(environ, registry.GITHUB_STATUS_CONTEXT)
        try:
            notifiers.append(
                GitHubStatusNotifier(
                    token,
                    api_url=api_url,
                    context_prefix=context_prefix,
                    canceled_as=canceled_as,
                    enterprise_hosts=list(hosts),
                    repositories=list(repositories),
                )
            )
        except ValueError as exc:
            setting = "KFPT_GITHUB_REPOSITORIES" if "repository" in str(exc) else "KFPT_GITHUB_API_URL"
            raise InvalidNotifierSettingError(f"{setting}: {exc}") from None
    return notifiers


def _read(environ: Mapping[str, str], setting: registry.Setting[T]) -> T:
    """``setting``'s checked value, a malformed one reported as a notifier setting error."""
    try:
        return registry.value(environ, setting)
    except registry.InvalidSettingError as exc:
        raise InvalidNotifierSettingError(str(exc)) from None


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
