"""urllib openers with a redirect policy: none followed, or credentials kept within the host.

urllib turns a redirected POST into a GET without its body, and following a redirect could carry
a bearer token to another host. The engine's POSTs (launchers, the HTTP transport, the GitHub
notifier) therefore see a 3xx as an ``HTTPError`` they report, never a silent detour; its GitHub
API reads follow redirects as Go's client does, without taking the token off the host.
"""

from __future__ import annotations

import urllib.parse
import urllib.request
from typing import Any


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError with the 3xx status


def no_redirect_opener(*handlers: urllib.request.BaseHandler) -> urllib.request.OpenerDirector:
    """An opener with ``handlers`` (an ``HTTPSHandler`` with its own CA, say) that refuses redirects."""
    return urllib.request.build_opener(_NoRedirect(), *handlers)


class _CredentialsStayHome(urllib.request.HTTPRedirectHandler):
    """Follows redirects, re-sending ``Authorization`` only to the same host or one of its subdomains.

    Go's client (and so Tekton's GitHub calls) follows redirects such as GitHub's for a renamed
    repository, but drops credentials when the redirect leaves the host; urllib would send them
    anywhere. The token is therefore added with ``add_unredirected_header`` and carried over here.
    """

    def redirect_request(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        auth = req.unredirected_hdrs.get("Authorization")
        if new is not None and auth and _same_site(req.full_url, newurl):
            new.add_unredirected_header("Authorization", auth)
        return new


def _same_site(old: str, new: str) -> bool:
    """True when ``new`` is on the host of ``old`` (or a subdomain) and no less protected.

    A redirect from https to plain http would put the token on the wire in clear text.
    """
    was, now = urllib.parse.urlsplit(old), urllib.parse.urlsplit(new)
    before, after = (was.hostname or "").lower(), (now.hostname or "").lower()
    if was.scheme == "https" and now.scheme != "https":
        return False
    return bool(before) and (after == before or after.endswith("." + before))


def credential_keeping_opener(*handlers: urllib.request.BaseHandler) -> urllib.request.OpenerDirector:
    """An opener that follows redirects as Go's client does: credentials only within the host."""
    return urllib.request.build_opener(_CredentialsStayHome(), *handlers)
