"""Build the store a ``KFPT_STORE`` URL names.

* ``sqlite:///<path>``: an SQLite file; ``sqlite:///state.db`` is relative to the working directory,
  ``sqlite:////var/lib/kfpt/state.db`` absolute. The parent directory is created.
* ``firestore://<project>[/<database>]``: Firestore over REST (``(default)`` database unless named);
  ``FIRESTORE_EMULATOR_HOST`` redirects it to an emulator.

:func:`parse_store_url` checks a URL without opening anything (the settings registry checks
``KFPT_STORE`` with it at start). Adapters are imported only when chosen, so picking SQLite never
loads the Firestore client.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from kfp_triggers import settings as registry
from kfp_triggers.adapters.store.base import InvalidStoreUrlError, Store

DEFAULT_STORE_URL: str = registry.STORE.default

_PROJECT = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:-]*")
_DATABASE = re.compile(r"\(default\)|[a-z][a-z0-9-]{0,62}")
_KNOWN = "expected sqlite:///<path> or firestore://<project>[/<database>]"


class StoreLocation(NamedTuple):
    """What a store URL names: ``sqlite`` and a file path, or ``firestore``, a project and a database."""

    scheme: str
    target: str
    database: str = ""


def store_from_env(environ: Mapping[str, str]) -> Store:
    """The store ``KFPT_STORE`` names in ``environ`` (the embedded SQLite file when unset).

    Raises:
        InvalidStoreUrlError: the URL is malformed or of an unknown scheme (a ``ValueError``).
    """
    try:
        url = registry.value(environ, registry.STORE)
    except registry.InvalidSettingError as exc:
        raise InvalidStoreUrlError(str(exc)) from None
    return store_from_url(url)


def store_from_url(url: str) -> Store:
    """The store named by ``url``.

    Raises:
        InvalidStoreUrlError: the URL is malformed or of an unknown scheme (a ``ValueError``).
    """
    location = parse_store_url(url)
    if location.scheme == "sqlite":
        from kfp_triggers.adapters.store.sqlite import SqliteStore

        return SqliteStore(Path(location.target).expanduser())
    from kfp_triggers.adapters.store.firestore import FirestoreStore

    return FirestoreStore(location.target, location.database)


def parse_store_url(url: str) -> StoreLocation:
    """What ``url`` names, checked; nothing is opened or created.

    Raises:
        InvalidStoreUrlError: the URL is malformed or of an unknown scheme (a ``ValueError``).
    """
    scheme, sep, rest = url.strip().partition("://")
    if not sep:
        raise InvalidStoreUrlError(f"store URL {url!r} has no scheme; {_KNOWN}")
    if scheme == "sqlite":
        return StoreLocation("sqlite", _sqlite_path(url, rest))
    if scheme == "firestore":
        return StoreLocation("firestore", *_firestore(url))
    raise InvalidStoreUrlError(f"unknown store scheme {scheme!r} in {url!r}; {_KNOWN}")


def _sqlite_path(url: str, rest: str) -> str:
    if not rest.startswith("/"):
        raise InvalidStoreUrlError(
            f"store URL {url!r} names a host; write sqlite:///relative/path or sqlite:////absolute/path"
        )
    path = rest[1:]
    if not path or path.endswith("/") or "?" in path or path == ":memory:":
        raise InvalidStoreUrlError(f"store URL {url!r} does not name a database file")
    return path


def _firestore(url: str) -> tuple[str, str]:
    parts = urlsplit(url.strip())
    if parts.query or parts.fragment:
        raise InvalidStoreUrlError(f"store URL {url!r} must not carry a query or fragment")
    project = parts.netloc
    database = parts.path.strip("/") or "(default)"
    if not _PROJECT.fullmatch(project):
        raise InvalidStoreUrlError(f"store URL {url!r} does not name a Google Cloud project")
    if not _DATABASE.fullmatch(database):
        raise InvalidStoreUrlError(f"store URL {url!r} names an invalid Firestore database {database!r}")
    return project, database
