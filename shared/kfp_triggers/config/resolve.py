"""Following references: triggers to bindings, templates, interceptors and Trigger objects.

Resolution happens the way Tekton's sink does it at request time, but once, at load: bindings and
templates are looked up in the trigger's namespace (ClusterTriggerBindings cluster-wide), a
``NamespacedInterceptor`` in the *listener's* namespace, a ``ClusterInterceptor`` cluster-wide (the
core interceptors need no definition), and a listener's ``triggerRef`` in the listener's namespace.
Every failure becomes a :class:`~kfp_triggers.errors.Problem` at the line of the reference; the
trigger is then left out.
"""

from __future__ import annotations

from dataclasses import replace

from kfp_triggers.config.models import (
    BUILTIN_INTERCEPTORS,
    CLUSTER_INTERCEPTOR,
    CLUSTER_TRIGGER_BINDING,
    NAMESPACED_INTERCEPTOR,
    BindingParam,
    BindingRef,
    EventListener,
    InterceptorDecl,
    InterceptorSpec,
    Objects,
    ResolvedGroup,
    ResolvedTrigger,
    Template,
    TriggerDecl,
    split_source,
)
from kfp_triggers.config.parse_concurrency import group_params
from kfp_triggers.config.selection import select_triggers
from kfp_triggers.errors import Problem


def _error(source: str, message: str) -> Problem:
    file, line = split_source(source)
    return Problem(file, line, message, "error")


def _warning(source: str, message: str) -> Problem:
    file, line = split_source(source)
    return Problem(file, line, message, "warning")


class Resolver:
    """Resolves the declarations of one configuration, remembering results and problems."""

    def __init__(self, objects: Objects) -> None:
        self.objects = objects
        self.problems: list[Problem] = []
        self._cache: dict[tuple[int, str], ResolvedTrigger | None] = {}
        self.reached: set[int] = set()  # ids of the TriggerDecls some listener uses

    # ----------------------------------------------------------------- listeners

    def listener_triggers(self, listener: EventListener) -> list[ResolvedTrigger]:
        """``spec.triggers`` in order (missing ``triggerRef`` skipped), then the selected triggers."""
        out: list[ResolvedTrigger] = []
        for entry in listener.triggers:
            decl = entry.inline
            if decl is None and entry.trigger_ref is not None:
                decl = self.objects.triggers.get((listener.namespace, entry.trigger_ref))
                if decl is None:
                    self.problems.append(
                        _warning(
                            entry.source,
                            f"triggerRef '{entry.trigger_ref}': no Trigger of that name in namespace "
                            f"'{listener.namespace}'; it is skipped (as Tekton does)",
                        )
                    )
                    continue
            if decl is not None:
                self._append(out, decl, listener.namespace)
        for decl in select_triggers(self.objects.triggers, listener.selector, listener.namespace):
            self._append(out, decl, listener.namespace)
        return out

    def listener_groups(self, listener: EventListener) -> list[ResolvedGroup]:
        """The listener's trigger groups with their interceptors and selected triggers."""
        out: list[ResolvedGroup] = []
        ns = listener.namespace
        for group in listener.trigger_groups:
            interceptors = self.interceptors(group.interceptors, ns, ns)
            triggers: list[ResolvedTrigger] = []
            for decl in select_triggers(self.objects.triggers, group.selector, ns):
                self._append(triggers, decl, ns)
            if interceptors is None:
                continue
            group_id = f"namespaces/{ns}/triggerGroups/{group.name}"
            out.append(ResolvedGroup(group.name, ns, group_id, interceptors, triggers, group.source))
        return out

    def _append(self, out: list[ResolvedTrigger], decl: TriggerDecl, listener_namespace: str) -> None:
        resolved = self.trigger(decl, listener_namespace)
        if resolved is not None:
            out.append(resolved)

    # ------------------------------------------------------------------ triggers

    def trigger(self, decl: TriggerDecl, listener_namespace: str) -> ResolvedTrigger | None:
        """Resolve one trigger as seen from a listener in ``listener_namespace``."""
        key = (id(decl), listener_namespace)
        self.reached.add(id(decl))
        if key in self._cache:
            return self._cache[key]
        bindings = self._bindings(decl)
        template = self._template(decl)
        interceptors = self.interceptors(decl.interceptors, decl.namespace, listener_namespace)
        resolved: ResolvedTrigger | None = None
        if bindings is not None and template is not None and interceptors is not None:
            self._check_provided(decl, bindings, template)
            resolved = ResolvedTrigger(
                name=decl.name,
                namespace=decl.namespace,
                trigger_id=f"namespaces/{decl.namespace}/triggers/{decl.name}",
                interceptors=interceptors,
                bindings=bindings,
                template=template,
                service_account=decl.service_account,
                source=decl.source,
                concurrency=decl.concurrency,
            )
            self._check_group(decl, template)
        self._cache[key] = resolved
        return resolved

    def _bindings(self, decl: TriggerDecl) -> tuple[BindingParam, ...] | None:
        params: list[BindingParam] = []
        ok = True
        for entry in decl.bindings:
            if isinstance(entry, BindingParam):
                params.append(entry)
                continue
            found = self._binding(entry, decl.namespace)
            if found is None:
                ok = False
            else:
                params.extend(found)
        seen: dict[str, BindingParam] = {}
        for param in params:
            first = seen.get(param.name)
            if first is not None:
                ok = False
                self.problems.append(
                    _error(
                        param.source,
                        f"duplicate binding param '{param.name}' in trigger '{decl.name}' "
                        f"(also bound at {first.source})",
                    )
                )
            else:
                seen[param.name] = param
        return tuple(params) if ok else None

    def _binding(self, ref: BindingRef, namespace: str) -> tuple[BindingParam, ...] | None:
        ns = "" if ref.kind == CLUSTER_TRIGGER_BINDING else namespace
        binding = self.objects.bindings.get((ref.kind, ns, ref.ref))
        if binding is None:
            where = "" if ref.kind == CLUSTER_TRIGGER_BINDING else f" in namespace '{namespace}'"
            self.problems.append(_error(ref.source, f"{ref.kind} '{ref.ref}' not found{where}"))
            return None
        return binding.params

    def _template(self, decl: TriggerDecl) -> Template | None:
        if isinstance(decl.template, Template):
            return replace(decl.template, namespace=decl.namespace)
        found = self.objects.templates.get((decl.namespace, decl.template.name))
        if found is None:
            self.problems.append(
                _error(
                    decl.template.source,
                    f"TriggerTemplate '{decl.template.name}' not found in namespace '{decl.namespace}'",
                )
            )
        return found

    def _check_group(self, decl: TriggerDecl, template: Template) -> None:
        """A concurrency group key may only use params the trigger's template declares."""
        if decl.concurrency is None:
            return
        if len(template.resourcetemplates) > 1:
            self.problems.append(
                _warning(
                    decl.concurrency.source,
                    f"trigger {decl.name}: its template renders {len(template.resourcetemplates)} resources; "
                    "only the first run of each invocation is in the concurrency group",
                )
            )
        declared = {p.name for p in template.params}
        for name in group_params(decl.concurrency.group):
            if name not in declared:
                self.problems.append(
                    _error(
                        decl.concurrency.source,
                        f"trigger {decl.name}: the concurrency group uses $(tt.params.{name}), "
                        "which its template does not declare",
                    )
                )

    def _check_provided(
        self, decl: TriggerDecl, bindings: tuple[BindingParam, ...], template: Template
    ) -> None:
        bound = {b.name for b in bindings}
        for param in template.params:
            if param.default is None and param.name not in bound:
                self.problems.append(
                    _warning(
                        param.source or template.source,
                        f"template param '{param.name}' has no default and no binding of trigger "
                        f"'{decl.name}' provides it; '$(tt.params.{param.name})' stays as literal text",
                    )
                )

    # -------------------------------------------------------------- interceptors

    def interceptors(
        self, decls: tuple[InterceptorDecl, ...], namespace: str, listener_namespace: str
    ) -> tuple[InterceptorSpec, ...] | None:
        """Resolve a chain; ``None`` if any step cannot be resolved."""
        out = [self._interceptor(d, namespace, listener_namespace) for d in decls]
        if any(spec is None for spec in out):
            return None
        return tuple(spec for spec in out if spec is not None)

    def _interceptor(
        self, decl: InterceptorDecl, namespace: str, listener_namespace: str
    ) -> InterceptorSpec | None:
        if decl.webhook is not None:
            webhook = decl.webhook
            if webhook.service is not None and not webhook.service.get("namespace"):
                webhook = replace(webhook, service={**webhook.service, "namespace": namespace})
            return InterceptorSpec(
                decl.label or "webhook", None, decl.ref_kind, {}, webhook, source=decl.source
            )
        name = decl.ref_name or ""
        label = decl.label or name
        if decl.ref_kind == CLUSTER_INTERCEPTOR:
            if name in BUILTIN_INTERCEPTORS:
                return InterceptorSpec(label, name, decl.ref_kind, dict(decl.params), source=decl.source)
            found = self.objects.interceptors.get(("ClusterInterceptor", "", name))
            missing = (
                f"interceptor '{name}' is neither a core interceptor ({', '.join(BUILTIN_INTERCEPTORS)}) "
                "nor a ClusterInterceptor defined in the configuration"
            )
        else:
            found = self.objects.interceptors.get(("Interceptor", listener_namespace, name))
            missing = (
                f"NamespacedInterceptor '{name}' is not defined in the configuration "
                f"(an Interceptor in the listener's namespace '{listener_namespace}')"
            )
        if found is None:
            self.problems.append(_error(decl.ref_source or decl.source, missing))
            return None
        assert decl.ref_kind in (CLUSTER_INTERCEPTOR, NAMESPACED_INTERCEPTOR)
        return InterceptorSpec(
            label, name, decl.ref_kind, dict(decl.params), None, found.url, found.ca_bundle, decl.source
        )
