"""Every ``KFPT_*`` setting, declared once: name, kind of value, default, doc and the stages using it.

The runtime's :class:`~kfp_triggers.app.runtime.Settings`, the adapter factories, the
``kfp-triggers settings`` command and the README's settings table all come from :data:`SETTINGS`.
:func:`check` reads a whole environment at start and refuses, all problems at once, any
``KFPT_*`` name not declared here (suggesting the close match of a typo) and any malformed value;
:func:`value` reads one setting. This module imports no adapter, so every adapter may import it.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from kfp_triggers.errors import SettingError
from kfp_triggers.settings.kinds import (
    Choice,
    InvalidSettingError,
    Number,
    SecretRef,
    Setting,
    Text,
    TextList,
    Url,
    raw_value,
    value,
)
from kfp_triggers.wire.eventtypes import check_topic_prefix

__all__ = [
    "SETTINGS",
    "InvalidSettingError",
    "InvalidSettingsError",
    "Setting",
    "UnknownSettingError",
    "check",
    "default_text",
    "describe",
    "problems",
    "raw_value",
    "value",
]

PREFIX = "KFPT_"
ALL = ("ingest", "intercept", "render", "launch", "status")
QUEUED = ("intercept", "render", "launch", "status")
RUNS = ("launch", "status")
GITHUB = ("ingest", "intercept", "status")
CEL = ("ingest", "intercept")
TRANSPORTS = ("memory", "pubsub", "http")
LAUNCHERS = ("local", "kfp", "vertex", "dry-run")
_PATH = Text(type_name="path", expected="a path")
_SECONDS = Number(positive=True, described="a positive number of seconds")


def _body_store_url(raw: str) -> None:
    scheme, sep, rest = raw.partition("://")
    if not sep or scheme not in ("file", "gs") or not rest:
        raise ValueError


def _topic_prefix(raw: str) -> None:
    try:
        check_topic_prefix(raw)
    except ValueError:
        raise ValueError from None  # its message would only repeat what the setting must be


def _store_url(url: str) -> None:
    from kfp_triggers.adapters.store.factory import parse_store_url

    parse_store_url(url)


def _enterprise_hosts(entries: tuple[str, ...]) -> None:
    from kfp_triggers.tekton.github_commit import enterprise_host_set

    enterprise_host_set(entries)


# --- the chain: configuration, transport, store, limits ----------------------------------------
CONFIG = Setting(
    "KFPT_CONFIG", _PATH, "config", "listener configuration: a YAML file or a directory of them", ALL
)
SECRETS_DIR = Setting(
    "KFPT_SECRETS_DIR", _PATH, "secrets", "secrets directory laid out <secretName>/<key>", ALL
)
TRANSPORT = Setting("KFPT_TRANSPORT", Choice(TRANSPORTS), "memory", "how stages hand events on", ALL)
TOPIC_PREFIX = Setting(
    "KFPT_TOPIC_PREFIX",
    Text(expected="1-15 lowercase letters, digits or dashes, starting with a letter", check=_topic_prefix),
    "kfpt", "start of this deployment's Pub/Sub topic names", ALL,
)  # fmt: skip
PUBSUB_PROJECT: Setting[str | None] = Setting(
    "KFPT_PUBSUB_PROJECT", Text(), None, "Google Cloud project of the Pub/Sub topics", ALL,
    default_doc="`GOOGLE_CLOUD_PROJECT`", fallback="GOOGLE_CLOUD_PROJECT",
)  # fmt: skip
SINK_URL: Setting[str | None] = Setting(
    "KFPT_SINK_URL", Url(), None, "where the http transport posts events", ALL,
    default_doc="`K_SINK` (injected by a Knative SinkBinding)", fallback="K_SINK",
)  # fmt: skip
SINK_TOKEN_FILE: Setting[str | None] = Setting(
    "KFPT_SINK_TOKEN_FILE", _PATH, None, "bearer token file for the http transport, re-read per post", ALL,
    default_doc="`/oidc/token` when mounted, else no token",
)  # fmt: skip
PUBLISH_TIMEOUT: Setting[float | None] = Setting(
    "KFPT_PUBLISH_TIMEOUT", _SECONDS, None, "seconds one publish may take (pubsub and http transports)", ALL,
    default_doc="30 on pubsub, 10 on http",
)  # fmt: skip
STORE = Setting(
    "KFPT_STORE",
    Text("url", "sqlite:///<path> or firestore://<project>[/<database>]", _store_url),
    "sqlite:///.kfpt/state.db", "where the journal, idempotency records and runs are kept", QUEUED,
)  # fmt: skip
MAX_BODY_BYTES = Setting(
    "KFPT_MAX_BODY_BYTES",
    Number(minimum=1, whole=True),
    10 * 1024 * 1024,
    "ingest body limit in bytes",
    ("ingest",),
)
BODIES = ("ingest", "intercept", "render", "status")
CLAIM_CHECK_BYTES = Setting(
    "KFPT_CLAIM_CHECK_BYTES", Number(minimum=0, whole=True), 256 * 1024,
    "bodies larger than this travel between stages as a reference to the body store (0: never)", BODIES,
)  # fmt: skip
BODY_STORE = Setting(
    "KFPT_BODY_STORE", Text(type_name="url", expected="file://<dir> or gs://<bucket>[/<prefix>]",
                            check=_body_store_url),
    "file://.kfpt/bodies", "where bodies over KFPT_CLAIM_CHECK_BYTES are kept", BODIES,
)  # fmt: skip
MAX_EVENT_AGE_S = Setting(
    "KFPT_MAX_EVENT_AGE_S", _SECONDS, 86400.0, "stage inputs older than this are dropped, not retried", QUEUED
)
RETENTION_DAYS = Setting(
    "KFPT_RETENTION_DAYS", Number(maximum=36500, described="0 (keep for good) to 36500 days"), 30.0,
    "days the journal and completed idempotency records are kept", QUEUED,
)  # fmt: skip
STAGE_TIMEOUT_S = Setting("KFPT_STAGE_TIMEOUT_S", _SECONDS, 60.0, "a stage's time limit per invocation", ALL)
DISPATCH_KEY_SECRET: Setting[str | None] = Setting(
    "KFPT_DISPATCH_KEY_SECRET", SecretRef(), None,
    "key `dispatch` signs run requests with; launch takes them as manual runs, their origin its own",
    ("launch",),
    default_doc="unset: a dispatch to a signed deployment needs the message key",
)  # fmt: skip
MESSAGE_KEY_SECRET: Setting[str | None] = Setting(
    "KFPT_MESSAGE_KEY_SECRET", SecretRef(), None, "key every stage signs and checks messages with", ALL,
    default_doc="unset: messages are not signed",
)  # fmt: skip
LOG_FORMAT: Setting[str | None] = Setting(
    "KFPT_LOG_FORMAT", Choice(("json", "text")), None, "lines for Cloud Logging (json) or for people", ALL,
    default_doc="`json` when `K_SERVICE` is set (Cloud Run, Knative), else `text`",
)  # fmt: skip
LOG_LEVEL = Setting(
    "KFPT_LOG_LEVEL",
    Choice(("DEBUG", "INFO", "WARNING", "ERROR"), upper=True),
    "INFO",
    "engine log level",
    ALL,
)
METRICS: Setting[str | None] = Setting(
    "KFPT_METRICS", Choice(("off", "log", "prometheus")), None,
    "where counters and latencies go: log lines (log-based metrics), a Prometheus scrape, or nowhere",
    ALL, default_doc="`prometheus` under `serve` (with prometheus-client installed), else `off`",
)  # fmt: skip
METRICS_PORT: Setting[int | None] = Setting(
    "KFPT_METRICS_PORT", Number(minimum=1, maximum=65535, whole=True, described="a TCP port"), None,
    "with KFPT_METRICS=prometheus, a deployed stage serves GET /metrics on this port", ALL,
    default_doc="unset: no metrics port (`serve` answers `/metrics` on its own port)",
)  # fmt: skip
CEL_BACKEND = Setting(
    "KFPT_CEL_BACKEND", Choice(("celpy", "cel-expr", "auto")), "celpy", "CEL evaluator (auto: celpy)", CEL
)
CEL_PARSER_CACHE = Setting(
    "KFPT_CEL_PARSER_CACHE", Choice(("on", "off", "1", "0", "true", "false")), "on",
    "keep CEL parser tables in a per-user cache (off, 0, false: build them in every process)", CEL,
)  # fmt: skip

# --- launchers --------------------------------------------------------------------------------
LAUNCHER = Setting("KFPT_LAUNCHER", Choice(LAUNCHERS), "local", "where runs are launched", RUNS)
LOCAL_OUTPUT_ROOT = Setting("KFPT_LOCAL_OUTPUT_ROOT", _PATH, ".kfpt/runs", "local runs' directory", RUNS)
LOCAL_MAX_WORKERS = Setting(
    "KFPT_LOCAL_MAX_WORKERS", Number(minimum=1), 2.0, "local runs executing at once", RUNS
)
KFP_HOST: Setting[str | None] = Setting("KFPT_KFP_HOST", Url(), None, "KFP API URL (required for kfp)", RUNS)
KFP_TOKEN: Setting[str | None] = Setting(
    "KFPT_KFP_TOKEN",
    Text("secret", "a token"),
    None,
    "KFP bearer token (prefer KFPT_KFP_TOKEN_FILE)",
    RUNS,
    secret=True,
)
KFP_TOKEN_FILE: Setting[str | None] = Setting(
    "KFPT_KFP_TOKEN_FILE", _PATH, None, "file holding the KFP bearer token, re-read per call", RUNS
)
KFP_NAMESPACE: Setting[str | None] = Setting(
    "KFPT_KFP_NAMESPACE", Text(), None, "namespace of a multi-user KFP", RUNS
)
KFP_UI_HOST: Setting[str | None] = Setting(
    "KFPT_KFP_UI_HOST", Url(), None, "base of run links", RUNS, default_doc="`KFPT_KFP_HOST`"
)
KFP_TIMEOUT_S = Setting(
    "KFPT_KFP_TIMEOUT_S", Number(minimum=0.001), 10.0, "seconds per KFP API request", RUNS
)
VERTEX_PROJECT: Setting[str | None] = Setting(
    "KFPT_VERTEX_PROJECT", Text(), None, "Vertex AI project (required for vertex)", RUNS
)
VERTEX_LOCATION: Setting[str | None] = Setting(
    "KFPT_VERTEX_LOCATION", Text(), None, "Vertex AI region (required for vertex)", RUNS
)
VERTEX_PIPELINE_ROOT: Setting[str | None] = Setting(
    "KFPT_VERTEX_PIPELINE_ROOT", Text(), None, "default gs:// output directory of pipeline jobs", RUNS
)
VERTEX_SERVICE_ACCOUNT: Setting[str | None] = Setting(
    "KFPT_VERTEX_SERVICE_ACCOUNT", Text(), None, "service account pipeline jobs run as", RUNS
)
VERTEX_TOKEN_FILE: Setting[str | None] = Setting(
    "KFPT_VERTEX_TOKEN_FILE", _PATH, None, "access token file, re-read per call", RUNS,
    default_doc="Application Default Credentials",
)  # fmt: skip
VERTEX_BASE_URL: Setting[str | None] = Setting(
    "KFPT_VERTEX_BASE_URL", Url(), None, "Vertex AI API root (private endpoints)", RUNS,
    default_doc="`https://<location>-aiplatform.googleapis.com/v1`",
)  # fmt: skip
VERTEX_TIMEOUT_S = Setting(
    "KFPT_VERTEX_TIMEOUT_S", Number(minimum=0.001), 30.0, "seconds per Vertex AI API request", RUNS
)
DRY_RUN_FILE: Setting[str | None] = Setting(
    "KFPT_DRY_RUN_FILE", _PATH, None, "JSON-lines record of dry runs", RUNS,
    default_doc="`<KFPT_LOCAL_OUTPUT_ROOT>/dry-run.jsonl`",
)  # fmt: skip

# --- GitHub -------------------------------------------------------------------------------------
GITHUB_TOKEN_SECRET: Setting[str | None] = Setting(
    "KFPT_GITHUB_TOKEN_SECRET", SecretRef(), None, "GitHub token for commit statuses", ("status",),
    default_doc="unset: no commit statuses",
)  # fmt: skip
GITHUB_API_URL = Setting(
    "KFPT_GITHUB_API_URL", Url(), "https://api.github.com/", "GitHub REST API root", GITHUB
)
GITHUB_STATUS_CONTEXT = Setting(
    "KFPT_GITHUB_STATUS_CONTEXT", Text(), "kfp-triggers", "commit status context prefix", ("status",)
)
GITHUB_REPOSITORIES: Setting[tuple[str, ...]] = Setting(
    "KFPT_GITHUB_REPOSITORIES", TextList("comma-separated owner/repo or owner/*"), (),
    "repositories statuses are posted to", ("status",), default_doc="every repository",
)  # fmt: skip
GITHUB_CANCELED_AS = Setting(
    "KFPT_GITHUB_CANCELED_AS",
    Choice(("error", "failure")),
    "error",
    "commit status of a canceled run",
    ("status",),
)
GITHUB_ENTERPRISE_HOSTS: Setting[tuple[str, ...]] = Setting(
    "KFPT_GITHUB_ENTERPRISE_HOSTS", TextList("comma-separated host or host:port", _enterprise_hosts), (),
    "GitHub Enterprise Server hosts webhooks may direct API calls to", GITHUB, default_doc="none",
)  # fmt: skip

SETTINGS: tuple[Setting[Any], ...] = tuple(v for v in tuple(globals().values()) if isinstance(v, Setting))
BY_NAME: dict[str, Setting[Any]] = {s.name: s for s in SETTINGS}


class UnknownSettingError(SettingError):
    """A ``KFPT_*`` name no setting has: a typo, or a setting this version does not know."""

    def __init__(self, name: str) -> None:
        self.name = name
        close = difflib.get_close_matches(name, BY_NAME, n=1, cutoff=0.75)
        self.suggestion = close[0] if close else None
        hint = f"did you mean {self.suggestion}?" if self.suggestion else "`kfp-triggers settings` lists them"
        super().__init__(f"unknown setting {name}; {hint}")


class InvalidSettingsError(SettingError):
    """Settings are unusable; ``errors`` holds one error per unknown name or malformed value."""

    def __init__(self, errors: list[SettingError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


def problems(environ: Mapping[str, str]) -> list[SettingError]:
    """Every unknown ``KFPT_*`` name and every malformed value in ``environ``, in a stable order."""
    found: list[SettingError] = [UnknownSettingError(n) for n in sorted(environ) if _unknown(n)]
    for setting in SETTINGS:
        try:
            value(environ, setting)
        except InvalidSettingError as exc:
            found.append(exc)
    return found


def check(environ: Mapping[str, str]) -> None:
    """Refuse ``environ`` when a ``KFPT_*`` name is unknown or a value malformed (all listed).

    Raises:
        InvalidSettingsError: the problems, each naming its setting.
    """
    found = problems(environ)
    if found:
        raise InvalidSettingsError(found)


def default_text(setting: Setting[Any]) -> str:
    """The default as the README and ``kfp-triggers settings`` show it."""
    if setting.default_doc:
        return setting.default_doc
    if setting.default is None:
        return "unset"
    if isinstance(setting.default, float):
        return f"{setting.default:g}"
    if isinstance(setting.default, int):
        return str(setting.default)
    return f"`{setting.default}`"


def describe(environ: Mapping[str, str]) -> list[dict[str, Any]]:
    """One row per setting: type, default, current value (hidden for secrets), stages and doc."""
    rows = []
    for setting in SETTINGS:
        raw = raw_value(environ, setting)
        if raw and setting.secret:
            raw = "(set, hidden)"
        elif raw and not (environ.get(setting.name) or "").strip():
            raw = f"{raw} (from {setting.fallback})"
        try:
            value(environ, setting)
            problem = None
        except InvalidSettingError as exc:
            problem = str(exc)
        rows.append(
            {
                "name": setting.name,
                "type": setting.kind.type_name,
                "expected": setting.kind.expected,
                "default": default_text(setting).replace("`", ""),
                "value": raw or None,
                "stages": list(setting.stages),
                "doc": setting.doc,
                "problem": problem,
            }
        )
    return rows


def _unknown(name: str) -> bool:
    return name.startswith(PREFIX) and name not in BY_NAME
