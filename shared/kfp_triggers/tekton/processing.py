"""One event through one EventListener: select triggers, run their chains, bind, render.

This is the pure logic shared by ``simulate``, the in-process chain and the intercept/render
stages. It does no I/O of its own beyond what interceptors do (remote interceptors, the GitHub API).

Order and grouping follow Tekton's sink: the listener's own and selected triggers first, each with
empty starting extensions; then each trigger group, whose interceptors run once and whose resulting
extensions and headers (but, as in Tekton, not its body) are handed to the triggers it selects.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kfp_triggers.config import Configuration, EventListener, InterceptorSpec, ResolvedTrigger
from kfp_triggers.errors import KfptError
from kfp_triggers.tekton.bindings import event_data, resolve_params
from kfp_triggers.tekton.chain import ChainOutcome, Decision, run_chain
from kfp_triggers.tekton.request import RawRequest
from kfp_triggers.tekton.templates import render_resources

if TYPE_CHECKING:
    from kfp_triggers.interceptors.resolve import InterceptorFactory

LABEL_LISTENER = "triggers.tekton.dev/eventlistener"
LABEL_TRIGGER = "triggers.tekton.dev/trigger"
LABEL_EVENT_ID = "triggers.tekton.dev/eventid"
LABEL_EVENT_ID_TEKTON = "triggers.tekton.dev/triggers-eventid"


@dataclass
class TriggerOutcome:
    """Everything that happened to one trigger for one event."""

    trigger: ResolvedTrigger
    group: str | None
    accepted: bool
    decisions: list[Decision] = field(default_factory=list)
    extensions: dict[str, Any] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    resources: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The per-trigger shape of ``simulate``'s output."""
        out: dict[str, Any] = {
            "name": self.trigger.name,
            "accepted": self.accepted,
            "interceptors": [d.to_json() for d in self.decisions],
            "extensions": self.extensions,
            "params": self.params,
            "resources": self.resources,
            "error": self.error,
        }
        if self.trigger.namespace:
            out["namespace"] = self.trigger.namespace
        if self.group is not None:
            out["group"] = self.group
        return out


@dataclass
class Interception:
    """One trigger's chain result for one event (the intercept stage's unit of work).

    ``specs`` is the whole chain that ran for it: its group's interceptors, then its own.
    """

    trigger: ResolvedTrigger
    group: str | None
    chain: ChainOutcome
    specs: tuple[InterceptorSpec, ...] = ()


UidFactory = Callable[[], str]


def new_uid() -> str:
    """A fresh ``$(uid)`` value, one per trigger invocation as in Tekton."""
    return str(uuid.uuid4())


def render_template(
    listener: EventListener, trigger: ResolvedTrigger, params: dict[str, str], event_id: str, uid: str
) -> list[dict[str, Any]]:
    """The resources ``trigger``'s template renders from bound ``params``, with Tekton's labels.

    Deterministic: the launch stage renders again to check that a run request is one the
    template could have produced.

    Raises:
        TemplateError: a rendered resource is not valid JSON.
    """
    labels = {
        LABEL_LISTENER: listener.name,
        LABEL_TRIGGER: trigger.name,
        LABEL_EVENT_ID: event_id,
        LABEL_EVENT_ID_TEKTON: event_id,
    }
    return render_resources(
        trigger.template.resourcetemplates,
        params,
        uid=uid,
        old_escape_quotes=trigger.template.old_escape_quotes,
        labels=labels,
    )


class EventProcessor:
    """Processes requests for the listeners of one loaded configuration."""

    def __init__(self, config: Configuration, interceptors: InterceptorFactory) -> None:
        self.config = config
        self.interceptors = interceptors

    def intercept_all(
        self, listener: EventListener, request: RawRequest, event_id: str
    ) -> list[Interception]:
        """Run the interceptor chain of every trigger (and trigger group) of ``listener``."""
        out = [
            Interception(
                trigger,
                None,
                self.intercept(trigger, request, request.headers, {}, event_id),
                trigger.interceptors,
            )
            for trigger in self.config.triggers_for(listener)
        ]
        for group in self.config.groups_for(listener):
            group_chain = self._chain(group.interceptors, request.body, request, group.group_id, {}, event_id)
            for trigger in group.triggers:
                if not group_chain.accepted:
                    stopped = ChainOutcome(
                        False,
                        request.body,
                        request.header_map(),
                        {},
                        list(group_chain.decisions),
                        group_chain.error,
                    )
                    out.append(Interception(trigger, group.name, stopped, group.interceptors))
                    continue
                chain = self.intercept(trigger, request, group_chain.header, group_chain.extensions, event_id)
                chain.decisions[:0] = group_chain.decisions
                specs = group.interceptors + trigger.interceptors
                out.append(Interception(trigger, group.name, chain, specs))
        return out

    def process(
        self, listener: EventListener, request: RawRequest, event_id: str, uid: UidFactory = new_uid
    ) -> list[TriggerOutcome]:
        """Run every trigger of ``listener`` over ``request``: intercept, bind, render."""
        outcomes: list[TriggerOutcome] = []
        for item in self.intercept_all(listener, request, event_id):
            chain = item.chain
            outcome = TriggerOutcome(
                item.trigger, item.group, False, chain.decisions, chain.extensions, error=chain.error
            )
            outcomes.append(outcome)
            if not chain.accepted:
                continue
            try:
                outcome.params, outcome.resources = self.render(
                    listener, item.trigger, chain, event_id, uid()
                )
            except KfptError as exc:
                outcome.error = str(exc)
                continue
            outcome.accepted = True
        return outcomes

    def intercept(
        self,
        trigger: ResolvedTrigger,
        request: RawRequest,
        header: dict[str, list[str]],
        extensions: dict[str, Any],
        event_id: str,
    ) -> ChainOutcome:
        """Run one trigger's interceptor chain (the ``intercept`` stage's work)."""
        return run_chain(
            trigger.interceptors,
            body=request.body,
            header=header,
            event_url=request.url,
            event_id=event_id,
            trigger_id=trigger.trigger_id,
            extensions=extensions,
            resolve=self.interceptors.interceptor,
            resolve_webhook=self.interceptors.webhook,
        )

    def render(
        self,
        listener: EventListener,
        trigger: ResolvedTrigger,
        chain: ChainOutcome,
        event_id: str,
        uid: str,
    ) -> tuple[dict[str, str], list[dict[str, Any]]]:
        """Bind params from the intercepted event and render the template (the ``render`` stage's work).

        Raises:
            BindingError: the body is not JSON, or an expression fails with no default to fall back on.
            TemplateError: a rendered resource is not valid JSON.
        """
        template = trigger.template
        defaults = {p.name: p.default for p in template.params if p.default is not None}
        event = event_data(chain.body, chain.header, chain.extensions, event_id)
        params = resolve_params([(b.name, b.value) for b in trigger.bindings], event, defaults)
        return params, render_template(listener, trigger, params, event_id, uid)

    def _chain(
        self,
        specs: Any,
        body: bytes,
        request: RawRequest,
        trigger_id: str,
        extensions: dict[str, Any],
        event_id: str,
    ) -> ChainOutcome:
        return run_chain(
            specs,
            body=body,
            header=request.headers,
            event_url=request.url,
            event_id=event_id,
            trigger_id=trigger_id,
            extensions=extensions,
            resolve=self.interceptors.interceptor,
            resolve_webhook=self.interceptors.webhook,
        )
