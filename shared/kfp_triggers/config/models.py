"""Typed, immutable models of a Tekton Triggers configuration.

Two layers live here. The public models (:class:`EventListener`, :class:`ResolvedTrigger`,
:class:`ResolvedGroup`, :class:`InterceptorSpec`, :class:`Template`...) are what the rest of the engine
works with: every reference already followed, every legacy form already converted. The declaration
models (``*Decl``, :class:`BindingRef`, :class:`TemplateRef`) keep what a document said before
references are resolved; only the configuration package uses them.

Every model carries ``source``, ``"file:line"`` of the YAML node it came from, so later stages can point
a user at the right place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CLUSTER_INTERCEPTOR = "ClusterInterceptor"
NAMESPACED_INTERCEPTOR = "NamespacedInterceptor"
TRIGGER_BINDING = "TriggerBinding"
CLUSTER_TRIGGER_BINDING = "ClusterTriggerBinding"
CORE_INTERCEPTORS = ("cel", "github", "gitlab", "bitbucket", "slack")
# The project's own interceptors, named under its domain so no user's ClusterInterceptor is shadowed.
PATHS_INTERCEPTOR = "paths.kfp-triggers.dev"
RUN_EVENTS_INTERCEPTOR = "run-events.kfp-triggers.dev"
PR_COMMANDS_INTERCEPTOR = "pr-commands.kfp-triggers.dev"
BUILTIN_INTERCEPTORS = (
    *CORE_INTERCEPTORS,
    PATHS_INTERCEPTOR,
    RUN_EVENTS_INTERCEPTOR,
    PR_COMMANDS_INTERCEPTOR,
)
KFP_RUN_API_VERSION = "pipelines.kubeflow.org/v2beta1"
KFP_RUN_KIND = "Run"


def source_of(file: str, line: int) -> str:
    """The ``"file:line"`` text used in ``source`` fields."""
    return f"{file}:{line}"


def split_source(source: str) -> tuple[str, int]:
    """Inverse of :func:`source_of`: ``(file, line)``; line 0 when there is none."""
    file, _, line = source.rpartition(":")
    if not file or not line.isdigit():
        return source, 0
    return file, int(line)


# --------------------------------------------------------------------------- public models


@dataclass(frozen=True)
class BindingParam:
    """One binding parameter: a name and a value that may hold ``$(...)`` expressions."""

    name: str
    value: str
    source: str = ""


@dataclass(frozen=True)
class TemplateParam:
    """A TriggerTemplate parameter declaration; ``default`` is ``None`` when none is given."""

    name: str
    default: str | None = None
    description: str = ""
    source: str = ""


@dataclass(frozen=True)
class Template:
    """A TriggerTemplate (referenced or inline; an inline one has ``name == ""``).

    ``resourcetemplates`` are plain JSON-like dicts in document order. ``file_dir`` is the directory
    of the YAML file that declared the template, the base for relative ``pipeline_package`` paths.
    """

    name: str
    namespace: str
    params: tuple[TemplateParam, ...]
    resourcetemplates: tuple[dict[str, Any], ...] = field(hash=False)
    old_escape_quotes: bool = False
    source: str = ""
    file_dir: str = "."


@dataclass(frozen=True)
class WebhookSpec:
    """A legacy ``webhook`` interceptor.

    ``service`` is the ``objectRef`` with ``namespace`` filled in from the trigger when it was
    omitted (as Tekton does); ``header`` holds each configured header as ``(name, value)`` where the
    value is a string (set) or a tuple of strings (replace with these values).
    """

    url: str | None
    service: dict[str, Any] | None = field(default=None, hash=False)
    header: tuple[tuple[str, str | tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class InterceptorSpec:
    """One step of an interceptor chain, references resolved.

    For a ``ref`` entry ``ref_name``/``ref_kind`` name the interceptor and ``params`` are its
    ``interceptor_params``. ``url`` is set for an interceptor defined in the configuration
    (ClusterInterceptor or namespaced Interceptor) and resolved as Tekton resolves it; it is ``None``
    for the core interceptors (``cel``, ``github``, ``gitlab``, ``bitbucket``, ``slack``), which run
    in process. ``ca_bundle`` is the PEM text of ``clientConfig.caBundle``. A legacy webhook entry
    has ``webhook`` set and ``ref_name`` ``None``; the webhook is what runs.
    """

    name: str
    ref_name: str | None
    ref_kind: str
    params: dict[str, Any] = field(hash=False)
    webhook: WebhookSpec | None = None
    url: str | None = None
    ca_bundle: str | None = None
    source: str = ""


PAYLOAD_VALIDATION_ANNOTATION = "tekton.dev/payload-validation"
ACCEPTED_STATUS_ANNOTATION = "kfp-triggers.dev/accepted-status"
VERIFY_AT_INGEST_ANNOTATION = "kfp-triggers.dev/verify-at-ingest"
RUN_EVENTS_ANNOTATION = "kfp-triggers.dev/run-events"
"""``"true"``: the listener also receives this deployment's own run ends and event completions."""

CONCURRENCY_POLICIES = ("allow", "cancel-in-progress", "queue", "queue-latest", "skip")
"""What a new invocation does to its concurrency group's other runs (see :class:`Concurrency`)."""

GROUP_ACTIONS = ("launch", "cancel-group")
"""What a trigger's invocation does: launch a run (in its group), or cancel its group's runs."""


@dataclass(frozen=True)
class Concurrency:
    """How a trigger's runs share their concurrency group (``kfp-triggers.dev/concurrency-*``).

    ``group`` is the group key's template: text with ``$(tt.params.<name>)`` references, filled
    per invocation from the trigger's bound params, so each branch or pull request can be a group
    of its own. ``policy`` is one of :data:`CONCURRENCY_POLICIES`; ``max_running`` bounds the
    group's runs under ``queue`` and ``queue-latest``. ``action`` ``cancel-group`` makes the
    trigger cancel its group's runs instead of launching (a pull request closed, for example).
    ``rate_limit`` launches at most per ``rate_window_s`` (0: no limit) and ``debounce_s`` (0: none)
    delay what exceeds them or what may still be followed by a newer invocation; an empty
    ``group`` with either means the trigger is its own group.
    """

    group: str
    policy: str = "allow"
    max_running: int = 1
    action: str = "launch"
    source: str = ""
    rate_limit: int = 0
    rate_window_s: float = 0.0
    debounce_s: float = 0.0


@dataclass(frozen=True)
class ResolvedTrigger:
    """A Trigger with its bindings spliced in list order and its template resolved."""

    name: str
    namespace: str
    trigger_id: str
    interceptors: tuple[InterceptorSpec, ...]
    bindings: tuple[BindingParam, ...]
    template: Template
    service_account: str = ""
    source: str = ""
    concurrency: Concurrency | None = None


@dataclass(frozen=True)
class ResolvedGroup:
    """A TriggerGroup: its interceptors run once, then its selected triggers.

    ``trigger_id`` (also available as ``group_id``) is ``namespaces/<ns>/triggerGroups/<name>``,
    the id Tekton sends in the interceptor context for the group's chain.
    """

    name: str
    namespace: str
    trigger_id: str
    interceptors: tuple[InterceptorSpec, ...]
    triggers: list[ResolvedTrigger] = field(hash=False)
    source: str = ""

    @property
    def group_id(self) -> str:
        """The group's id in interceptor requests (same as ``trigger_id``)."""
        return self.trigger_id


@dataclass(frozen=True)
class Requirement:
    """One ``matchExpressions`` entry of a label selector."""

    key: str
    operator: str  # In | NotIn | Exists | DoesNotExist
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        """Whether ``labels`` satisfy this requirement (Kubernetes semantics)."""
        present = self.key in labels
        if self.operator == "In":
            return present and labels[self.key] in self.values
        if self.operator == "NotIn":
            return not present or labels[self.key] not in self.values
        if self.operator == "Exists":
            return present
        return not present  # DoesNotExist


@dataclass(frozen=True)
class LabelSelector:
    """A Kubernetes label selector; an empty one matches everything."""

    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[Requirement, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        """Whether ``labels`` satisfy every ``matchLabels`` pair and every expression."""
        return all(labels.get(k) == v for k, v in self.match_labels) and all(
            r.matches(labels) for r in self.match_expressions
        )


@dataclass(frozen=True)
class TriggerSelector:
    """Which Trigger objects to pick: ``namespaceSelector.matchNames`` and ``labelSelector``."""

    namespaces: tuple[str, ...] = ()
    labels: LabelSelector | None = None


@dataclass(frozen=True)
class EventListener:
    """An EventListener as loaded.

    ``uid`` is ``metadata.uid`` when the document has one, else a UUID derived from namespace and
    name, so it is stable across loads. ``payload_validation`` is false only with the annotation
    ``tekton.dev/payload-validation: "false"``. ``accepted_status`` is the status of a successful
    hand-off: Tekton's 202 unless ``kfp-triggers.dev/accepted-status`` asks for 200, 201 or 204
    (senders such as Slack redeliver on anything but 200).
    """

    name: str
    namespace: str
    uid: str
    payload_validation: bool = True
    accepted_status: int = 202
    source: str = ""
    service_account: str = ""
    triggers: tuple[ListenerTrigger, ...] = ()
    trigger_groups: tuple[TriggerGroupDecl, ...] = ()
    selector: TriggerSelector = TriggerSelector()
    cloud_event_uri: str = ""
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    annotations: dict[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Binding:
    """A TriggerBinding or ClusterTriggerBinding object (``namespace`` is ``""`` for the latter)."""

    kind: str
    name: str
    namespace: str
    params: tuple[BindingParam, ...]
    source: str = ""


# ------------------------------------------------------------------------- declarations


@dataclass(frozen=True)
class BindingRef:
    """A ``bindings`` entry that refers to a (Cluster)TriggerBinding by name."""

    ref: str
    kind: str
    source: str = ""


@dataclass(frozen=True)
class TemplateRef:
    """A ``template.ref`` naming a TriggerTemplate in the trigger's namespace."""

    name: str
    source: str = ""


@dataclass(frozen=True)
class InterceptorDecl:
    """An ``interceptors`` entry as written (legacy forms already converted to ``ref`` + params)."""

    label: str | None
    ref_name: str | None
    ref_kind: str
    params: dict[str, Any] = field(hash=False)
    webhook: WebhookSpec | None = None
    source: str = ""
    ref_source: str = ""


@dataclass(frozen=True)
class TriggerDecl:
    """A Trigger object, or a trigger written inline in an EventListener."""

    name: str
    namespace: str
    bindings: tuple[BindingParam | BindingRef, ...]
    template: Template | TemplateRef
    interceptors: tuple[InterceptorDecl, ...] = ()
    service_account: str = ""
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    source: str = ""
    concurrency: Concurrency | None = None


@dataclass(frozen=True)
class ListenerTrigger:
    """An entry of ``EventListener.spec.triggers``: inline (``inline``) or by ``trigger_ref``."""

    inline: TriggerDecl | None = None
    trigger_ref: str | None = None
    source: str = ""


@dataclass(frozen=True)
class TriggerGroupDecl:
    """An entry of ``EventListener.spec.triggerGroups``."""

    name: str
    interceptors: tuple[InterceptorDecl, ...]
    selector: TriggerSelector
    source: str = ""


@dataclass(frozen=True)
class InterceptorObject:
    """A ClusterInterceptor (``namespace == ""``) or namespaced Interceptor defined in the config."""

    kind: str
    name: str
    namespace: str
    url: str | None
    ca_bundle: str | None = None
    source: str = ""


@dataclass
class Objects:
    """Every object of a configuration, keyed as Kubernetes would key them."""

    listeners: dict[tuple[str, str], EventListener] = field(default_factory=dict)
    triggers: dict[tuple[str, str], TriggerDecl] = field(default_factory=dict)
    bindings: dict[tuple[str, str, str], Binding] = field(default_factory=dict)  # (kind, ns, name)
    templates: dict[tuple[str, str], Template] = field(default_factory=dict)
    # (kind, ns, name); ClusterInterceptors have ns ""
    interceptors: dict[tuple[str, str, str], InterceptorObject] = field(default_factory=dict)
    sources: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (kind, ns, name) -> file:line
    count: int = 0  # triggers.tekton.dev documents seen
