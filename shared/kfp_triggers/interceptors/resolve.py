"""Turning an interceptor reference from the configuration into something that can be called.

Core interceptors (``cel``, ``github``, ``gitlab``, ``bitbucket``, ``slack``) and the project's own
changed-path filter (``paths.kfp-triggers.dev``) always run in process.
Tekton reaches them through the ClusterInterceptor objects its release installs, whose in-cluster
address means nothing here, so a copy of those objects in a configuration is ignored (validation
warns). Other ``ClusterInterceptor``/``NamespacedInterceptor`` refs are called over HTTP(S) at the
address resolved from the configuration. Instances are built once per
configuration, so CEL expressions compile once.

The factory is also where deployment settings reach the interceptors that need them: the GitHub,
paths and pull request command interceptors get the GitHub Enterprise Server hosts a webhook may
direct their API calls to.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from kfp_triggers.config import BUILTIN_INTERCEPTORS, PATHS_INTERCEPTOR, InterceptorSpec
from kfp_triggers.config.models import PR_COMMANDS_INTERCEPTOR
from kfp_triggers.errors import InterceptorError
from kfp_triggers.tekton.interceptor_protocol import Interceptor, InterceptorServices

if TYPE_CHECKING:
    from kfp_triggers.cel import CelEnvironment
    from kfp_triggers.interceptors.remote import LegacyWebhookInterceptor


class InterceptorFactory:
    """Builds and caches the interceptors a configuration refers to.

    ``github_enterprise_hosts`` (``host`` or ``host:port``; the ``KFPT_GITHUB_ENTERPRISE_HOSTS``
    setting) are the hosts a webhook's ``X-GitHub-Enterprise-Host`` may name; none by default.

    Raises:
        ValueError: an entry of ``github_enterprise_hosts`` is malformed.
    """

    def __init__(
        self,
        services: InterceptorServices,
        cel: CelEnvironment | None = None,
        *,
        github_enterprise_hosts: Iterable[str] = (),
    ) -> None:
        from kfp_triggers.tekton.github_commit import enterprise_host_set

        self.services = services
        self._cel = cel
        self.github_enterprise_hosts = enterprise_host_set(github_enterprise_hosts)
        self._cache: dict[tuple[str, str | None, str | None], Interceptor] = {}

    @property
    def cel(self) -> CelEnvironment:
        """The CEL environment shared by every CEL interceptor (compiled expressions are cached there)."""
        if self._cel is None:
            from kfp_triggers.cel import CelEnvironment

            self._cel = CelEnvironment(secrets=self.services.secrets)
        return self._cel

    def interceptor(self, spec: InterceptorSpec) -> Interceptor:
        """Return the interceptor for a ``ref`` entry.

        Raises:
            InterceptorError: the reference cannot be resolved to anything callable.
        """
        key = (spec.ref_kind, spec.ref_name, spec.url)
        found = self._cache.get(key)
        if found is not None:
            return found
        made = self._make(spec)
        self._cache[key] = made
        return made

    def webhook(self, spec: InterceptorSpec) -> LegacyWebhookInterceptor:
        """Return the caller for a legacy ``webhook`` entry."""
        if spec.webhook is None:
            raise InterceptorError(f"interceptor {spec.name} is not a webhook interceptor")
        from kfp_triggers.interceptors.remote import LegacyWebhookInterceptor

        return LegacyWebhookInterceptor(spec.webhook, timeout_s=5.0)

    def _make(self, spec: InterceptorSpec) -> Interceptor:
        name = spec.ref_name or ""
        if spec.ref_kind == "ClusterInterceptor" and name == "github":
            from kfp_triggers.interceptors.github import GitHubInterceptor

            return GitHubInterceptor(self.services, enterprise_hosts=self.github_enterprise_hosts)
        if spec.ref_kind == "ClusterInterceptor" and name == PATHS_INTERCEPTOR:
            from kfp_triggers.interceptors.paths import PathsInterceptor

            return PathsInterceptor(self.services, enterprise_hosts=self.github_enterprise_hosts)
        if spec.ref_kind == "ClusterInterceptor" and name == PR_COMMANDS_INTERCEPTOR:
            from kfp_triggers.interceptors.pr_commands import PrCommandsInterceptor

            return PrCommandsInterceptor(self.services, enterprise_hosts=self.github_enterprise_hosts)
        if spec.ref_kind == "ClusterInterceptor" and name in BUILTIN_INTERCEPTORS:
            from kfp_triggers.interceptors.cel import CelInterceptor
            from kfp_triggers.interceptors.core import core_interceptor

            return core_interceptor(name, self.services, cel_factory=lambda: CelInterceptor(self.cel))
        if spec.url:
            from kfp_triggers.interceptors.remote import RemoteInterceptor

            return RemoteInterceptor(
                spec.url, ca_bundle=spec.ca_bundle, timeout_s=self.services.http_timeout_s
            )
        raise InterceptorError(f"url resolution failed for interceptor {name}: no such interceptor")
