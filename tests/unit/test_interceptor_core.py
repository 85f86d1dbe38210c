"""Core interceptor registry: names, construction and the CEL factory hook."""

from __future__ import annotations

import pytest

from kfp_triggers.interceptors.bitbucket import BitbucketInterceptor
from kfp_triggers.interceptors.core import CORE_INTERCEPTORS, core_interceptor
from kfp_triggers.interceptors.github import GitHubInterceptor
from kfp_triggers.interceptors.gitlab import GitLabInterceptor
from kfp_triggers.interceptors.slack import SlackInterceptor
from kfp_triggers.tekton.interceptor_protocol import (
    InterceptorRequest,
    InterceptorResponse,
    InterceptorServices,
)


class _FakeCel:
    def process(self, request: InterceptorRequest) -> InterceptorResponse:
        return InterceptorResponse.proceed({"cel": True})


def test_names_match_tektons_core_interceptor_paths() -> None:
    assert CORE_INTERCEPTORS == ("cel", "github", "gitlab", "bitbucket", "slack")


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("github", GitHubInterceptor),
        ("gitlab", GitLabInterceptor),
        ("bitbucket", BitbucketInterceptor),
        ("slack", SlackInterceptor),
    ],
)
def test_scm_interceptors_get_the_services(name: str, cls: type) -> None:
    services = InterceptorServices(github_api_url="http://127.0.0.1:1/")
    built = core_interceptor(name, services)
    assert isinstance(built, cls)
    assert built.services is services  # type: ignore[attr-defined]


def test_cel_comes_from_the_factory() -> None:
    built = core_interceptor("cel", InterceptorServices(), cel_factory=_FakeCel)
    assert built.process(InterceptorRequest()).extensions == {"cel": True}


def test_cel_without_factory_and_unknown_names_raise_key_error() -> None:
    with pytest.raises(KeyError):
        core_interceptor("cel", InterceptorServices())
    with pytest.raises(KeyError):
        core_interceptor("GitHub", InterceptorServices())
