"""What a trigger's interceptor chain proved about an event, captured once, where it was verified.

Later stages must never believe the request itself: anyone can send any body and any header to a
listener, and a journalled request is only what *some* sender sent. What intercept verified is
written down instead, as the trigger's *origin*, and travels with the trigger's messages and run:

``{"verifiedBy": "github" | "gitlab" | "bitbucket" | null, "github": {...}}``

* ``verifiedBy`` names the core interceptor whose secret check accepted the request that the
  bindings see: GitHub's and Bitbucket's HMAC cover the body, GitLab's token proves the sender.
  ``null`` when the chain authenticates nothing (CEL only, Slack, no secretRef, or a legacy webhook
  interceptor that replaced the body after the check);
* ``github`` is the repository and commit a GitHub-verified webhook is about (see
  :mod:`kfp_triggers.tekton.github_commit`); only a body GitHub signed may name the commit our
  token writes a status to. ``enterpriseHost`` comes from a header no signature covers, so the
  notifier still checks it against its allow-list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kfp_triggers.config import InterceptorSpec
from kfp_triggers.config.models import RUN_EVENTS_INTERCEPTOR
from kfp_triggers.golang.textproto import canonical_header_key
from kfp_triggers.tekton.headers import CREDENTIAL_HEADERS, Headers

SIGNATURE_INTERCEPTORS = frozenset({"github", "bitbucket"})
"""Core interceptors whose secret check is an HMAC over the body."""
TOKEN_INTERCEPTORS = frozenset({"gitlab"})
"""Core interceptors whose secret check compares a shared token sent in a header."""


def verified_by(specs: Sequence[InterceptorSpec]) -> str | None:
    """The core interceptor whose secret check covers what the bindings see, else ``None``.

    ``specs`` is the whole chain in order (a trigger group's interceptors first). A body signature
    outranks a token. A legacy webhook interceptor may replace the body and headers, so only
    checks after the last one count.
    """
    found: str | None = None
    for spec in specs:
        if spec.webhook is not None:
            found = None
            continue
        name = spec.ref_name or ""
        if name == RUN_EVENTS_INTERCEPTOR and spec.url is None:
            found = name  # only the status stage can hand on such an event (ingest refuses its types)
            continue
        if spec.url is not None or not _has_secret(spec.params):
            continue
        if name in SIGNATURE_INTERCEPTORS or (name in TOKEN_INTERCEPTORS and found is None):
            found = name
    return found


def signs_body(verifier: str | None) -> bool:
    """True when ``verifier`` checked a signature over the body (a replay can be recognised)."""
    return verifier in SIGNATURE_INTERCEPTORS


def origin_of(
    specs: Sequence[InterceptorSpec], header: Headers, body: bytes, original_body: bytes
) -> dict[str, Any]:
    """The origin of one accepted trigger: who verified it and, for GitHub, the commit it names.

    ``header``/``body`` are what the chain ended with (what the bindings see); ``original_body`` is
    the request's own body, which GitHub signed when no webhook interceptor replaced it (a form body
    is turned into JSON for the chain, but the commit is read from what GitHub sent).
    """
    verifier = verified_by(specs)
    replaced = any(spec.webhook is not None for spec in specs)
    signed = body if replaced else original_body
    origin: dict[str, Any] = {"verifiedBy": verifier}
    if verifier == "github":
        from kfp_triggers.tekton.github_commit import github_commit

        commit = github_commit(header, signed)
        if commit is not None:
            origin["github"] = {
                "owner": commit.owner,
                "repo": commit.repo,
                "sha": commit.sha,
                "event": commit.event,
                "enterpriseHost": commit.enterprise_host,
            }
    return origin


_HEADER_READS = (
    re.compile(r"""header\.canonical\(\s*(?:'([^']+)'|"([^"]+)")\s*\)"""),
    re.compile(r"""header\[\s*(?:'([^']+)'|"([^"]+)")\s*\]"""),
    re.compile(r"header\.([A-Za-z_][A-Za-z0-9_]*)\b(?!\s*\()"),
)


def secret_headers(specs: Iterable[InterceptorSpec]) -> frozenset[str]:
    """Credential headers of a chain: the usual ones plus every header a CEL ``compareSecret`` reads.

    A CEL expression that calls ``compareSecret`` compares some value to a secret; the headers the
    same expression reads (``header.canonical('X-Token')``, ``header['X-Token']``) are taken to
    carry that secret, and are redacted like ``Authorization`` once the chain has run.
    """
    found = set(CREDENTIAL_HEADERS)
    for spec in specs:
        if spec.ref_name != "cel" or spec.url is not None:
            continue
        for expression in _cel_expressions(spec.params):
            if "compareSecret" not in expression:
                continue
            for pattern in _HEADER_READS:
                for match in pattern.finditer(expression):
                    name = next(g for g in match.groups() if g)
                    found.add(canonical_header_key(name))
    return frozenset(found)


def _cel_expressions(params: Mapping[str, Any]) -> list[str]:
    out = [params["filter"]] if isinstance(params.get("filter"), str) else []
    overlays = params.get("overlays")
    if isinstance(overlays, list):
        out.extend(
            o["expression"]
            for o in overlays
            if isinstance(o, Mapping) and isinstance(o.get("expression"), str)
        )
    return out


def _has_secret(params: Mapping[str, Any]) -> bool:
    secret = params.get("secretRef")
    return isinstance(secret, Mapping) and bool(secret.get("secretName")) and bool(secret.get("secretKey"))
