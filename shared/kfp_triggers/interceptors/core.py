"""The core interceptors Tekton ships (``tekton-triggers-core-interceptors``), by name.

Tekton serves them at ``/cel``, ``/github``, ``/gitlab``, ``/bitbucket`` and ``/slack``; here they
run in process. ``cel`` is built by a factory supplied by the CEL wiring, so this module does not
depend on the CEL engine. Beside Tekton's five, the project's own changed-path filter
(``paths.kfp-triggers.dev``) and the check that an event is one of the deployment's own run ends
(``run-events.kfp-triggers.dev``) and the pull request comment commands (``pr-commands.kfp-triggers.dev``)
run in process the same way: :data:`BUILTIN_INTERCEPTORS` lists all eight.
"""

from __future__ import annotations

from collections.abc import Callable

from kfp_triggers.interceptors.bitbucket import BitbucketInterceptor
from kfp_triggers.interceptors.github import GitHubInterceptor
from kfp_triggers.interceptors.gitlab import GitLabInterceptor
from kfp_triggers.interceptors.paths import PATHS_INTERCEPTOR, PathsInterceptor
from kfp_triggers.interceptors.pr_commands import PR_COMMANDS_INTERCEPTOR, PrCommandsInterceptor
from kfp_triggers.interceptors.run_events import RUN_EVENTS_INTERCEPTOR, RunEventsInterceptor
from kfp_triggers.interceptors.slack import SlackInterceptor
from kfp_triggers.tekton.interceptor_protocol import Interceptor, InterceptorServices

CORE_INTERCEPTORS = ("cel", "github", "gitlab", "bitbucket", "slack")
BUILTIN_INTERCEPTORS = (
    *CORE_INTERCEPTORS,
    PATHS_INTERCEPTOR,
    RUN_EVENTS_INTERCEPTOR,
    PR_COMMANDS_INTERCEPTOR,
)

_BUILDERS: dict[str, Callable[[InterceptorServices], Interceptor]] = {
    "github": GitHubInterceptor,
    "gitlab": GitLabInterceptor,
    "bitbucket": BitbucketInterceptor,
    "slack": SlackInterceptor,
    PATHS_INTERCEPTOR: PathsInterceptor,
    RUN_EVENTS_INTERCEPTOR: RunEventsInterceptor,
    PR_COMMANDS_INTERCEPTOR: PrCommandsInterceptor,
}


def core_interceptor(
    name: str,
    services: InterceptorServices,
    cel_factory: Callable[[], Interceptor] | None = None,
) -> Interceptor:
    """Build the built-in interceptor called ``name`` (one of :data:`BUILTIN_INTERCEPTORS`).

    Raises:
        KeyError: ``name`` is not a built-in interceptor, or is ``cel`` and no ``cel_factory`` is given.
    """
    if name == "cel":
        if cel_factory is None:
            raise KeyError("cel interceptor requested but no CEL factory was provided")
        return cel_factory()
    try:
        builder = _BUILDERS[name]
    except KeyError:
        raise KeyError(f"no core interceptor named {name!r}") from None
    return builder(services)
