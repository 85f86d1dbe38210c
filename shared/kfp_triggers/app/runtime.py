"""Wiring: settings from the environment, the stage context built once, errors mapped to outcomes.

This is the only engine module that reads ``os.environ``. Every ``KFPT_*`` setting is declared in
:mod:`kfp_triggers.settings`, which checks them all when :meth:`Settings.from_env` runs at
start. Function adapters call :func:`handle_http` (ingest) and :func:`handle_event` (every other
stage); ``serve`` builds a context with :func:`build_context` and an in-process bus.

Outcome rules for CloudEvent stages: a retryable error is raised, so functions-framework answers
500 and Pub/Sub / Eventarc / Knative deliver the message again (and dead-letter it after the
configured attempts); anything else is logged and the function returns, so the message is
acknowledged and a poison message cannot loop. Events older than ``KFPT_MAX_EVENT_AGE_S`` are
dropped with an error log instead of being retried for ever.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kfp_triggers import settings as registry
from kfp_triggers.adapters.transports.base import Publisher
from kfp_triggers.app.validation import load
from kfp_triggers.config.compiled import load_compiled
from kfp_triggers.errors import KfptError, SettingError
from kfp_triggers.logs import configure as configure_logging
from kfp_triggers.logs import log_context
from kfp_triggers.metrics import MESSAGES_DROPPED, MESSAGES_RETRIED, STAGE_DURATION, Metrics
from kfp_triggers.secretstore import FileSecrets
from kfp_triggers.stages.context import StageContext
from kfp_triggers.stages.ingest import HttpAnswer, ingest
from kfp_triggers.stages.lease import lease_for
from kfp_triggers.tekton.request import RawRequest
from kfp_triggers.wire.events import (
    EVENT_ID_EXTENSION,
    RUN_REQUESTED,
    CloudEvent,
    EventReceived,
    RunCreated,
    RunRequested,
    StatusTick,
    TriggerMatched,
    decode_stage_input,
    event_for,
    origin_event_id,
    read_data,
    traceparent_of,
)

log = logging.getLogger(__name__)

STAGES = ("intercept", "render", "launch", "status")


@dataclass(frozen=True)
class Settings:
    """The ``KFPT_*`` settings the runtime itself reads; defaults and checks come from the registry."""

    config: str = registry.CONFIG.default
    secrets_dir: str = registry.SECRETS_DIR.default
    store: str = registry.STORE.default
    output_root: str = registry.LOCAL_OUTPUT_ROOT.default
    max_body_bytes: int = registry.MAX_BODY_BYTES.default
    max_event_age_s: float = registry.MAX_EVENT_AGE_S.default
    retention_days: float = registry.RETENTION_DAYS.default
    github_api_url: str = registry.GITHUB_API_URL.default
    github_enterprise_hosts: tuple[str, ...] = registry.GITHUB_ENTERPRISE_HOSTS.default
    stage_timeout_s: float = registry.STAGE_TIMEOUT_S.default
    message_key_secret: str = ""
    dispatch_key_secret: str = ""
    metrics: str = "off"
    metrics_port: int | None = None
    claim_check_bytes: int = registry.CLAIM_CHECK_BYTES.default
    body_store: str = registry.BODY_STORE.default

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read settings; unset or empty variables keep their defaults.

        Raises:
            SettingError: a ``KFPT_*`` name is unknown or a value malformed (every problem listed).
        """
        registry.check(environ)

        def get(setting: registry.Setting[Any]) -> Any:
            return registry.value(environ, setting)

        return cls(
            config=get(registry.CONFIG),
            secrets_dir=get(registry.SECRETS_DIR),
            store=get(registry.STORE),
            output_root=get(registry.LOCAL_OUTPUT_ROOT),
            max_body_bytes=get(registry.MAX_BODY_BYTES),
            max_event_age_s=get(registry.MAX_EVENT_AGE_S),
            retention_days=get(registry.RETENTION_DAYS),
            github_api_url=get(registry.GITHUB_API_URL),
            github_enterprise_hosts=get(registry.GITHUB_ENTERPRISE_HOSTS),
            stage_timeout_s=get(registry.STAGE_TIMEOUT_S),
            message_key_secret=get(registry.MESSAGE_KEY_SECRET) or "",
            dispatch_key_secret=get(registry.DISPATCH_KEY_SECRET) or "",
            metrics=get(registry.METRICS) or "off",
            metrics_port=get(registry.METRICS_PORT),
            claim_check_bytes=get(registry.CLAIM_CHECK_BYTES),
            body_store=get(registry.BODY_STORE),
        )


NOTIFIER_SETTINGS_PREFIX = "KFPT_GITHUB_"
# Retention must outlive the slowest redelivery: an input is accepted up to KFPT_MAX_EVENT_AGE_S
# after it was published, and each of the three hops before launch publishes anew, so a late
# redelivery of the original webhook can reach launch three ages after the first launch.
_HOPS_BEFORE_LAUNCH = 3
_MAX_RETENTION_DAYS = 36500.0


def retention_seconds(settings: Settings) -> float | None:
    """How long journal entries and completed idempotency records are kept; None for good.

    Raises:
        SettingError: the retention is not a number of days from 0 to 36500, or it is too short
            to outlive every redelivery the stages still accept.
    """
    days = settings.retention_days
    if not math.isfinite(days) or not 0 <= days <= _MAX_RETENTION_DAYS:
        raise SettingError(
            f"KFPT_RETENTION_DAYS must be 0 (keep for good) to {_MAX_RETENTION_DAYS:g} days, not {days}"
        )
    if days == 0:
        return None
    needed = _HOPS_BEFORE_LAUNCH * settings.max_event_age_s
    if days * 86400.0 < needed:
        raise SettingError(
            f"KFPT_RETENTION_DAYS ({days:g} days) must cover {_HOPS_BEFORE_LAUNCH} x KFPT_MAX_EVENT_AGE_S "
            f"({needed:g} s): an idempotency record must outlive every redelivery the stages still accept"
        )
    return days * 86400.0


def build_context(settings: Settings, publisher: Publisher, environ: Mapping[str, str]) -> StageContext:
    """Load the configuration and assemble the ports; each port is built on first use.

    Raises:
        ConfigError: the listener configuration has errors.
        SettingError: a setting is unusable.
    """
    retention_s = retention_seconds(settings)
    if settings.metrics == "prometheus" and importlib.util.find_spec("prometheus_client") is None:
        raise SettingError(
            "KFPT_METRICS=prometheus needs prometheus-client: pip install 'kfp-triggers[metrics]'"
        )
    enterprise_hosts = _enterprise_hosts(settings)
    if not math.isfinite(settings.stage_timeout_s) or settings.stage_timeout_s <= 0:
        raise SettingError(
            f"KFPT_STAGE_TIMEOUT_S must be a positive number of seconds, not {settings.stage_timeout_s}"
        )
    lease_s, claim_wait_s = lease_for(settings.stage_timeout_s)
    # A bundle's compiled configuration when it is current, else the YAML (see validation.hooks).
    config = load_compiled([settings.config]) or load(
        [settings.config], check_cel=False, check_bindings=False
    )
    secrets = FileSecrets(settings.secrets_dir)
    env = dict(environ)

    def processor() -> Any:
        from kfp_triggers.interceptors.resolve import InterceptorFactory
        from kfp_triggers.tekton.interceptor_protocol import InterceptorServices
        from kfp_triggers.tekton.processing import EventProcessor

        services = InterceptorServices(secrets=secrets, github_api_url=settings.github_api_url)
        return EventProcessor(config, InterceptorFactory(services, github_enterprise_hosts=enterprise_hosts))

    def notifiers() -> Any:
        from kfp_triggers.adapters.notifiers import notifiers_from_env

        return notifiers_from_env(env, secrets)

    def store() -> Any:
        from kfp_triggers.adapters.store import store_from_url

        return store_from_url(settings.store)

    def launcher() -> Any:
        from kfp_triggers.adapters.launchers.factory import launcher_from_env

        return launcher_from_env(env, settings.output_root)

    def body_store() -> Any:
        from kfp_triggers.adapters.bodies import body_store_from_url

        return body_store_from_url(settings.body_store, env)

    config_root = Path(settings.config)
    context = StageContext(
        notifiers_factory=notifiers,
        config=config,
        processor_factory=processor,
        publisher=publisher,
        store_factory=store,
        launcher_factory=launcher,
        config_root=config_root if config_root.is_dir() else config_root.parent,
        max_body_bytes=settings.max_body_bytes,
        retention_s=retention_s,
        lease_s=lease_s,
        claim_wait_s=claim_wait_s,
        message_key=_secret_key("KFPT_MESSAGE_KEY_SECRET", settings.message_key_secret, secrets),
        dispatch_key=_secret_key("KFPT_DISPATCH_KEY_SECRET", settings.dispatch_key_secret, secrets),
        backend_name=str(registry.value(env, registry.LAUNCHER)),
        metrics=Metrics.of(settings.metrics),
        claim_check_bytes=settings.claim_check_bytes,
        body_store_factory=body_store,
    )
    if any(name.startswith(NOTIFIER_SETTINGS_PREFIX) and value for name, value in env.items()):
        # Configured notifiers are built now: a bad setting must fail the stage loudly (500,
        # redelivery) rather than at the first state change, where it would be given up on.
        _ = context.notifiers
    return context


def _secret_key(setting: str, reference: str, secrets: FileSecrets) -> bytes | None:
    """A signing key a ``<secretName>/<key>`` setting names (the message or the dispatch key), read at start.

    Raises:
        SettingError: the setting is not ``<secretName>/<key>``, or the secret is missing or empty.
    """
    if not reference:
        return None
    name, _, key = reference.partition("/")
    if not name or not key or "/" in key:
        raise SettingError(f"{setting} must be <secretName>/<key>, not {reference!r}")
    from kfp_triggers.secretstore import verification_secret

    try:
        return verification_secret(secrets, name, key)
    except KfptError as exc:
        raise SettingError(f"{setting}: {exc}") from None


def _enterprise_hosts(settings: Settings) -> frozenset[str]:
    """The GitHub Enterprise hosts webhooks may direct API calls to, checked when the stage starts."""
    from kfp_triggers.tekton.github_commit import enterprise_host_set

    try:
        return enterprise_host_set(settings.github_enterprise_hosts)
    except ValueError as exc:
        raise SettingError(str(exc)) from None


class _Process:
    """The process-wide settings and context (Google's lazy-global pattern for functions)."""

    lock = threading.Lock()
    settings: Settings | None = None
    context: StageContext | None = None
    metrics_server: Any = None


def context() -> StageContext:
    """The process-wide context, built on first use from ``os.environ``."""
    with _Process.lock:
        if _Process.context is None:
            from kfp_triggers.adapters.transports.factory import publisher_from_env

            configure_logging(os.environ)
            _Process.settings = Settings.from_env(os.environ)
            _Process.context = build_context(_Process.settings, publisher_from_env(os.environ), os.environ)
            _serve_metrics(_Process.settings, _Process.context)
        return _Process.context


def built_context() -> StageContext | None:
    """The process-wide context when it has been built, without building it."""
    return _Process.context


def _serve_metrics(settings: Settings, ctx: StageContext) -> None:
    """Answer scrapes on ``KFPT_METRICS_PORT`` when the settings ask for a Prometheus scrape."""
    if settings.metrics_port is None or ctx.metrics.tally is None:
        return
    from kfp_triggers.app.scrape import start_metrics_server

    try:
        _Process.metrics_server = start_metrics_server(ctx.metrics.tally, "0.0.0.0", settings.metrics_port)
    except OSError as exc:  # the stage still serves; its scrape target reports down
        log.error("metrics port %s not opened: %s", settings.metrics_port, exc)


def reset_context() -> None:
    """Forget the process-wide context so the next call rebuilds it from the environment."""
    with _Process.lock:
        _Process.context = None
        _Process.settings = None
        if _Process.metrics_server is not None:
            _Process.metrics_server.shutdown()
            _Process.metrics_server.server_close()
            _Process.metrics_server = None


def max_body_bytes() -> int:
    """The ingest body limit (``KFPT_MAX_BODY_BYTES``), readable before the context is built."""
    return (_Process.settings or Settings.from_env(os.environ)).max_body_bytes


def handle_http(request: RawRequest, ctx: StageContext | None = None) -> HttpAnswer:
    """The ingest stage for one HTTP request; configuration errors answer 500 with a reason."""
    try:
        current = ctx or context()
    except KfptError as exc:
        log.error("ingest is misconfigured: %s", exc)
        return HttpAnswer.json(500, {"error": "the listener configuration could not be loaded"})
    return ingest(current, request)


def handle_event(
    stage: str,
    event: CloudEvent | Mapping[str, Any],
    ctx: StageContext | None = None,
    max_age_s: float | None = None,
) -> object:
    """Run one CloudEvent stage. Returns the stage's result; raises only when a retry can help."""
    current = ctx or context()
    settings = _Process.settings or Settings()
    limit = max_age_s if max_age_s is not None else settings.max_event_age_s
    metrics = current.metrics
    started = time.perf_counter()
    try:
        inner = _knative_tick(stage, event) or decode_stage_input(event)
    except KfptError as exc:
        _give_up_or_retry(stage, event, exc, metrics)
        return None
    with log_context(stage=stage, eventID=inner.get(EVENT_ID_EXTENSION), traceparent=traceparent_of(inner)):
        try:
            key = current.message_key
            dispatched = _dispatched(stage, inner, current.dispatch_key)
            if key is not None and not dispatched and not _authentic(stage, event, inner, key, metrics):
                return None
            if _too_old(inner, limit, current.clock()):
                log.error("dropping %s %s: older than %.0f s", inner["type"], inner["id"], limit)
                metrics.count(MESSAGES_DROPPED, stage, "too_old")
                return None
            return _dispatch(stage, current, inner, dispatched=dispatched)
        except KfptError as exc:
            _give_up_or_retry(stage, event, exc, metrics)
            return None
        finally:
            metrics.observe(STAGE_DURATION, time.perf_counter() - started, stage)


def _give_up_or_retry(
    stage: str, event: CloudEvent | Mapping[str, Any], exc: KfptError, metrics: Metrics
) -> None:
    """Raise a retryable error again (the platform redelivers); log anything else and give up."""
    if exc.retryable:
        log.warning("%s: retryable failure: %s", stage, exc)
        metrics.count(MESSAGES_RETRIED, stage)
        raise exc
    log.error("%s: giving up on %s: %s", stage, _event_id(event), exc)
    metrics.count(MESSAGES_DROPPED, stage, "permanent_error")


def _dispatched(stage: str, inner: CloudEvent, key: bytes | None) -> bool:
    """Whether ``inner`` is a run request ``dispatch`` signed with the dispatch key (launch only)."""
    if key is None or stage != "launch" or inner["type"] != RUN_REQUESTED:
        return False
    from kfp_triggers.wire.messageauth import UnauthenticMessageError, verify

    try:
        verify(inner, key)
    except UnauthenticMessageError:
        return False  # not the dispatch key's: the message key must have signed it
    return True


def _authentic(
    stage: str, event: CloudEvent | Mapping[str, Any], inner: CloudEvent, key: bytes, metrics: Metrics
) -> bool:
    """Whether ``inner`` carries a stage's valid signature; a refusal is permanent: logged and dropped."""
    from kfp_triggers.wire.messageauth import UnauthenticMessageError, verify

    try:
        verify(inner, key)
    except UnauthenticMessageError as exc:
        log.error("%s: giving up on %s: %s", stage, _event_id(event), exc)
        metrics.count(MESSAGES_DROPPED, stage, "unauthentic")
        return False
    return True


KNATIVE_PING = "dev.knative.sources.ping"


def _knative_tick(stage: str, event: CloudEvent | Mapping[str, Any]) -> CloudEvent | None:
    """A Knative PingSource event (its type cannot be overridden) read as our status tick."""
    if stage != "status" or not isinstance(event, CloudEvent) or event["type"] != KNATIVE_PING:
        return None
    tick = StatusTick(tick_at=event.get("time") or None)
    return event_for(tick, source=str(event["source"]), traceparent=traceparent_of(event))


def _dispatch(stage: str, ctx: StageContext, event: CloudEvent, *, dispatched: bool = False) -> object:
    # Each stage imports only its own code: intercept and render never load launch's.
    data = read_data(event)
    if stage == "intercept" and isinstance(data, EventReceived):
        from kfp_triggers.stages.pipeline import intercept

        return intercept(ctx, event, data)
    if stage == "render" and isinstance(data, TriggerMatched):
        from kfp_triggers.stages.pipeline import render

        return render(ctx, event, data)
    if stage == "launch" and isinstance(data, RunRequested):
        from kfp_triggers.stages.runs import launch

        return launch(ctx, event, data, dispatched=dispatched)
    if stage == "status" and isinstance(data, RunCreated | StatusTick):
        from kfp_triggers.stages.runs import status

        return status(ctx, event, data)
    from kfp_triggers.errors import InvalidRequestError

    raise InvalidRequestError(f"stage {stage} does not take events of type {event['type']}")


def _too_old(event: CloudEvent, limit: float, now: datetime) -> bool:
    raw = event.get("time")
    if not isinstance(raw, str) or not raw:
        return False
    try:
        at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return False
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return (now - at).total_seconds() > limit


def _event_id(event: CloudEvent | Mapping[str, Any]) -> str:
    """The original eventID when the envelope can be opened, else the message id, for log lines."""
    try:
        return origin_event_id(decode_stage_input(event))
    except KfptError:
        pass
    try:
        return f"message {event['id']}"
    except (KeyError, TypeError):
        return "<unknown>"
