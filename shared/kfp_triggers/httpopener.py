"""urllib openers that never follow a redirect.

urllib turns a redirected POST into a GET without its body, and following a redirect could carry
a bearer token to another host; every outbound call of the engine (launchers, the HTTP transport,
the GitHub notifier) therefore sees a 3xx as an ``HTTPError`` it reports, never a silent detour.
"""

from __future__ import annotations

import urllib.request
from typing import Any


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError with the 3xx status


def no_redirect_opener(*handlers: urllib.request.BaseHandler) -> urllib.request.OpenerDirector:
    """An opener with ``handlers`` (an ``HTTPSHandler`` with its own CA, say) that refuses redirects."""
    return urllib.request.build_opener(_NoRedirect(), *handlers)
