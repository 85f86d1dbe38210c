"""Parsing trigger specs (Trigger objects and inline triggers) and EventListeners.

Follows Tekton's admission rules: a trigger has a template (``ref`` or ``spec``, not both); an
EventListener trigger entry is either inline or a ``triggerRef`` (not both), and its ``name`` is a
valid label value; a trigger group has a name, interceptors and a selector; a listener has at least
one of ``triggers``, ``triggerGroups``, ``namespaceSelector`` or ``labelSelector``; the listener name
has at most 60 characters and ``tekton.dev/payload-validation`` is ``"true"`` or ``"false"``.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

from kfp_triggers.config.fields import Ctx, check_keys, map_items, opt_list, opt_map, opt_str
from kfp_triggers.config.models import (
    ACCEPTED_STATUS_ANNOTATION,
    PAYLOAD_VALIDATION_ANNOTATION,
    RUN_EVENTS_ANNOTATION,
    VERIFY_AT_INGEST_ANNOTATION,
    Concurrency,
    EventListener,
    ListenerTrigger,
    Template,
    TemplateRef,
    TriggerDecl,
    TriggerGroupDecl,
    TriggerSelector,
)
from kfp_triggers.config.parse_bindings import parse_binding_entries
from kfp_triggers.config.parse_concurrency import parse_concurrency
from kfp_triggers.config.parse_interceptors import parse_interceptors
from kfp_triggers.config.parse_templates import parse_template_spec
from kfp_triggers.config.selection import parse_selector
from kfp_triggers.config.yamlsource import LMap

ACCEPTED_STATUSES = (200, 201, 202, 204)
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_UID_NAMESPACE = uuid.UUID("6b1f2b52-54b5-4f51-9d0e-6c1f0e7a0b3d")
_LISTENER_SPEC_KEYS = (
    "serviceAccountName",
    "triggers",
    "triggerGroups",
    "namespaceSelector",
    "labelSelector",
    "resources",
    "cloudEventURI",
)
_TRIGGER_ENTRY_KEYS = ("name", "bindings", "template", "triggerRef", "interceptors", "serviceAccountName")


@dataclass(frozen=True)
class Meta:
    """The parts of ``metadata`` this package uses."""

    name: str
    namespace: str
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    uid: str = ""
    line: int = 0


def listener_uid(namespace: str, name: str) -> str:
    """A stable UUID for a listener without ``metadata.uid`` (uuid5 of ``namespace/name``)."""
    return str(uuid.uuid5(_UID_NAMESPACE, f"{namespace}/{name}"))


def parse_trigger_spec(
    ctx: Ctx,
    spec: LMap,
    *,
    name: str,
    namespace: str,
    labels: dict[str, str],
    line: int,
    what: str,
    concurrency: Concurrency | None = None,
) -> TriggerDecl | None:
    """Parse the spec of a Trigger (or an inline trigger); ``None`` when it has no usable template."""
    template = _template(ctx, spec, namespace, what)
    bindings = parse_binding_entries(ctx, spec, "bindings", what)
    interceptors = parse_interceptors(ctx, spec, "interceptors", what)
    service_account = opt_str(ctx, spec, "serviceAccountName", what) or ""
    if template is None:
        return None
    return TriggerDecl(
        name=name,
        namespace=namespace,
        bindings=bindings,
        template=template,
        interceptors=interceptors,
        service_account=service_account,
        labels=labels,
        source=ctx.source(line),
        concurrency=concurrency,
    )


def _template(ctx: Ctx, spec: LMap, namespace: str, what: str) -> Template | TemplateRef | None:
    raw = opt_map(ctx, spec, "template", what)
    if raw is None:
        if "template" not in spec or spec.get("template") is None:
            ctx.error(spec.line, f"{what} needs a template (template.ref or template.spec)")
        return None
    where = f"{what}.template"
    check_keys(ctx, raw, ("ref", "spec", "apiversion", "name"), where)
    version = opt_str(ctx, raw, "apiversion", where)
    allowed = ("v1alpha1",) if ctx.legacy else ("v1alpha1", "v1beta1")
    if version and version not in allowed:
        ctx.error(raw.value_line("apiversion"), f"{where}.apiversion '{version}' is not valid")
    has_ref = raw.get("ref") is not None
    has_spec = raw.get("spec") is not None
    if has_ref and has_spec:
        ctx.error(raw.line, f"{where} sets both ref and spec; use one")
        return None
    if has_spec:
        return parse_template_spec(
            ctx, raw["spec"], name="", namespace=namespace, line=raw.value_line("spec"), what=f"{where}.spec"
        )
    ref = opt_str(ctx, raw, "ref", where)
    if not ref:
        ctx.error(
            raw.value_line("ref") if has_ref else raw.line, f"{where} needs ref (a TriggerTemplate) or spec"
        )
        return None
    return TemplateRef(ref, ctx.source(raw.value_line("ref")))


def parse_listener(ctx: Ctx, meta: Meta, spec: LMap | None, line: int) -> EventListener:
    """Parse an EventListener document (metadata already read)."""
    what = "spec"
    if len(meta.name) > 60:
        ctx.error(meta.line, f"EventListener name '{meta.name}' is longer than 60 characters")
    payload_validation = True
    if PAYLOAD_VALIDATION_ANNOTATION in meta.annotations:
        value = meta.annotations[PAYLOAD_VALIDATION_ANNOTATION]
        if value not in ("true", "false"):
            ctx.error(meta.line, f"annotation {PAYLOAD_VALIDATION_ANNOTATION} must be 'true' or 'false'")
        payload_validation = value != "false"
    accepted_status = 202
    if ACCEPTED_STATUS_ANNOTATION in meta.annotations:
        value = meta.annotations[ACCEPTED_STATUS_ANNOTATION].strip()
        if value in {str(code) for code in ACCEPTED_STATUSES}:
            accepted_status = int(value)
        else:
            allowed = ", ".join(str(code) for code in ACCEPTED_STATUSES)
            ctx.error(
                meta.line, f"annotation {ACCEPTED_STATUS_ANNOTATION} must be one of {allowed}, not {value!r}"
            )
    for flag in (VERIFY_AT_INGEST_ANNOTATION, RUN_EVENTS_ANNOTATION):
        given = meta.annotations.get(flag)
        if given is not None and given.strip().lower() not in ("true", "false"):
            ctx.error(meta.line, f"annotation {flag} must be 'true' or 'false'")
    if spec is None:
        spec = LMap()
        spec.line, spec.key_lines, spec.value_lines = line, {}, {}
    check_keys(ctx, spec, _LISTENER_SPEC_KEYS, what)
    # The listener's concurrency annotations are the default of its inline triggers.
    concurrency = parse_concurrency(ctx, meta.annotations, meta.line, f"EventListener {meta.name}")
    triggers = tuple(
        t
        for index, entry in map_items(ctx, opt_list(ctx, spec, "triggers", what), "spec.triggers")
        if (t := _listener_trigger(ctx, entry, meta.namespace, f"spec.triggers[{index}]", concurrency))
        is not None
    )
    groups = tuple(
        g
        for index, entry in map_items(ctx, opt_list(ctx, spec, "triggerGroups", what), "spec.triggerGroups")
        if (g := _group(ctx, entry, f"spec.triggerGroups[{index}]")) is not None
    )
    selector = parse_selector(ctx, spec, what)
    if not (
        spec.get("triggers")
        or spec.get("triggerGroups")
        or selector.namespaces
        or selector.labels is not None
    ):
        ctx.error(
            spec.line, "EventListener spec needs triggers, triggerGroups, namespaceSelector or labelSelector"
        )
    return EventListener(
        name=meta.name,
        namespace=meta.namespace,
        uid=meta.uid or listener_uid(meta.namespace, meta.name),
        payload_validation=payload_validation,
        accepted_status=accepted_status,
        source=ctx.source(line),
        service_account=opt_str(ctx, spec, "serviceAccountName", what) or "",
        triggers=triggers,
        trigger_groups=groups,
        selector=selector,
        cloud_event_uri=opt_str(ctx, spec, "cloudEventURI", what) or "",
        labels=meta.labels,
        annotations=meta.annotations,
    )


def _listener_trigger(
    ctx: Ctx, entry: LMap, namespace: str, what: str, concurrency: Concurrency | None
) -> ListenerTrigger | None:
    check_keys(ctx, entry, _TRIGGER_ENTRY_KEYS, what)
    name = opt_str(ctx, entry, "name", what) or ""
    if not _LABEL_VALUE.match(name) or len(name) > 63:
        ctx.error(entry.value_line("name"), f"trigger name '{name}' must be a valid label value")
    ref = opt_str(ctx, entry, "triggerRef", what)
    inline_keys = [k for k in ("template", "bindings", "interceptors") if entry.get(k) is not None]
    if ref:
        if inline_keys:
            ctx.error(
                entry.key_line(inline_keys[0]),
                f"{what} sets triggerRef and {', '.join(inline_keys)}; a triggerRef entry takes nothing else",
            )
        return ListenerTrigger(trigger_ref=ref, source=ctx.source(entry.value_line("triggerRef")))
    if entry.get("template") is None:
        ctx.error(entry.line, f"{what} needs a template or a triggerRef")
        return None
    decl = parse_trigger_spec(
        ctx,
        entry,
        name=name,
        namespace=namespace,
        labels={},
        line=entry.line,
        what=what,
        concurrency=concurrency,
    )
    return None if decl is None else ListenerTrigger(inline=decl, source=decl.source)


def _group(ctx: Ctx, entry: LMap, what: str) -> TriggerGroupDecl | None:
    check_keys(ctx, entry, ("name", "interceptors", "triggerSelector"), what)
    name = opt_str(ctx, entry, "name", what)
    if not name:
        ctx.error(entry.line, f"{what}.name is required")
    if not entry.get("interceptors"):
        ctx.error(
            entry.line, f"{what}.interceptors is required (a group without interceptors is a plain selector)"
        )
    interceptors = parse_interceptors(ctx, entry, "interceptors", what)
    raw_selector = opt_map(ctx, entry, "triggerSelector", what)
    selector = TriggerSelector()
    if raw_selector is not None:
        check_keys(ctx, raw_selector, ("namespaceSelector", "labelSelector"), f"{what}.triggerSelector")
        selector = parse_selector(ctx, raw_selector, f"{what}.triggerSelector")
    if not selector.namespaces and selector.labels is None:
        ctx.error(
            raw_selector.line if raw_selector is not None else entry.line,
            f"{what}.triggerSelector needs labelSelector or namespaceSelector.matchNames",
        )
    if not name:
        return None
    return TriggerGroupDecl(name, interceptors, selector, ctx.source(entry.line))
