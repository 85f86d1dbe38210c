"""Turning YAML documents into configuration objects, collecting every problem on the way.

Only ``triggers.tekton.dev`` documents are read; Secrets, RBAC, Deployments and anything else a
Tekton user keeps next to them are skipped without a word (a ``v1 List`` is opened and its items
read). Within the group, an unknown kind or version is an error. Objects are keyed by kind,
namespace and name; a second object with the same key is an error.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from kfp_triggers.config.fields import Ctx, Report, check_keys, opt_map, opt_str, string_map
from kfp_triggers.config.hooks import ValidationHooks
from kfp_triggers.config.models import (
    BUILTIN_INTERCEPTORS,
    CLUSTER_TRIGGER_BINDING,
    TRIGGER_BINDING,
    Binding,
    InterceptorObject,
    Objects,
    source_of,
)
from kfp_triggers.config.parse_bindings import parse_binding_params
from kfp_triggers.config.parse_concurrency import parse_concurrency
from kfp_triggers.config.parse_templates import OLD_ESCAPE_ANNOTATION, parse_template_spec
from kfp_triggers.config.parse_triggers import Meta, parse_listener, parse_trigger_spec
from kfp_triggers.config.yamlsource import Document, LList, LMap

GROUP = "triggers.tekton.dev"
PIPELINES_GROUP = "tekton.dev"
"""Tekton Pipelines' group: Triggers kinds written under it are a common slip, read with a warning."""
VERSIONS = ("v1beta1", "v1alpha1")
KINDS = (
    "EventListener",
    "Trigger",
    TRIGGER_BINDING,
    CLUSTER_TRIGGER_BINDING,
    "TriggerTemplate",
    "ClusterInterceptor",
    "Interceptor",
)
CLUSTER_SCOPED = (CLUSTER_TRIGGER_BINDING, "ClusterInterceptor")
ALPHA_ONLY = ("ClusterInterceptor", "Interceptor")


def parse_documents(docs: Iterable[Document], report: Report, hooks: ValidationHooks) -> Objects:
    """Parse every document; problems go to ``report``."""
    parser = _Parser(Objects(), report, hooks)
    for doc in docs:
        parser.document(doc.data, doc.file, doc.line)
    return parser.objects


@dataclass
class _Parser:
    """Parses documents one by one into ``objects``."""

    objects: Objects
    report: Report
    hooks: ValidationHooks

    def document(self, data: Any, file: str, line: int) -> None:
        """Parse one document (or each item of a ``v1 List``)."""
        report = self.report
        if not isinstance(data, LMap):
            report.error(file, line, "a YAML document must be a mapping with apiVersion and kind")
            return
        api = data.get("apiVersion")
        kind = data.get("kind")
        if not isinstance(kind, str) or not kind:
            report.error(file, data.key_line("kind"), "document has no kind")
            return
        if not isinstance(api, str) or not api:
            report.error(file, data.key_line("apiVersion"), f"{kind} document has no apiVersion")
            return
        items = data.get("items")
        if api == "v1" and kind == "List" and isinstance(items, LList):
            for index, item in enumerate(items):
                self.document(item, file, items.item_line(index))
            return
        group, _, version = api.rpartition("/")
        if group == PIPELINES_GROUP and kind in KINDS:
            report.warning(
                file,
                data.value_line("apiVersion"),
                f"{kind} is a Tekton Triggers kind, whose group is {GROUP}, not {PIPELINES_GROUP}: "
                f"read as {GROUP}/{version}; write apiVersion: {GROUP}/{version} (Tekton itself refuses "
                f"{api})",
            )
            group = GROUP
        if group != GROUP:
            return  # not ours: Secrets, RBAC, Deployments...
        self.objects.count += 1
        if kind not in KINDS:
            known = ", ".join(KINDS)
            report.error(file, data.value_line("kind"), f"unknown kind '{kind}' in {GROUP} (known: {known})")
            return
        if version not in VERSIONS or (kind in ALPHA_ONLY and version != "v1alpha1"):
            served = "v1alpha1" if kind in ALPHA_ONLY else "v1beta1, v1alpha1"
            report.error(
                file, data.value_line("apiVersion"), f"{kind} is not served as {api} (versions: {served})"
            )
            return
        ctx = Ctx(file, str(Path(file).parent), version, report, self.hooks)
        check_keys(ctx, data, ("apiVersion", "kind", "metadata", "spec", "status"), kind)
        meta = _metadata(ctx, data, kind)
        if meta is None:
            return
        key = (kind, meta.namespace, meta.name)
        first = self.objects.sources.get(key)
        if first is not None:
            shown = f"{meta.namespace}/{meta.name}" if meta.namespace else meta.name
            ctx.error(meta.line, f"duplicate {kind} '{shown}' (first defined at {first})")
            return
        self.objects.sources[key] = source_of(file, line)
        self.dispatch(ctx, kind, meta, data, line)

    def dispatch(self, ctx: Ctx, kind: str, meta: Meta, data: LMap, line: int) -> None:
        """Parse the spec of a document of a known kind and store the object."""
        objects = self.objects
        spec = opt_map(ctx, data, "spec", kind)
        spec_line = data.key_line("spec") if "spec" in data else line
        if kind == "EventListener":
            objects.listeners[(meta.namespace, meta.name)] = parse_listener(ctx, meta, spec, line)
        elif kind == "Trigger":
            if spec is None:
                ctx.error(spec_line, "Trigger needs a spec")
                return
            check_keys(
                ctx, spec, ("bindings", "template", "name", "interceptors", "serviceAccountName"), "spec"
            )
            decl = parse_trigger_spec(
                ctx,
                spec,
                name=meta.name,
                namespace=meta.namespace,
                labels=meta.labels,
                line=line,
                what="spec",
                concurrency=parse_concurrency(ctx, meta.annotations, meta.line, f"Trigger {meta.name}"),
            )
            if decl is not None:
                objects.triggers[(meta.namespace, meta.name)] = decl
        elif kind in (TRIGGER_BINDING, CLUSTER_TRIGGER_BINDING):
            params = parse_binding_params(ctx, spec, spec_line, "spec")
            binding = Binding(kind, meta.name, meta.namespace, params, ctx.source(line))
            objects.bindings[(kind, meta.namespace, meta.name)] = binding
        elif kind == "TriggerTemplate":
            template = parse_template_spec(
                ctx,
                spec,
                name=meta.name,
                namespace=meta.namespace,
                line=spec_line,
                what="spec",
                old_escape_quotes=OLD_ESCAPE_ANNOTATION in meta.annotations,
            )
            objects.templates[(meta.namespace, meta.name)] = replace(template, source=ctx.source(line))
        else:
            found = _interceptor_object(ctx, meta, data, kind=kind, spec=spec, line=spec_line)
            if found is not None:
                objects.interceptors[(kind, meta.namespace, meta.name)] = found


def _metadata(ctx: Ctx, data: LMap, kind: str) -> Meta | None:
    meta = opt_map(ctx, data, "metadata", kind)
    if meta is None:
        ctx.error(data.line, f"{kind} needs metadata.name")
        return None
    name = opt_str(ctx, meta, "name", "metadata")
    if not name:
        ctx.error(meta.line, f"{kind} needs metadata.name")
        return None
    namespace = opt_str(ctx, meta, "namespace", "metadata") or "default"
    return Meta(
        name=name,
        namespace="" if kind in CLUSTER_SCOPED else namespace,
        labels=string_map(ctx, meta, "labels", "metadata"),
        annotations=string_map(ctx, meta, "annotations", "metadata"),
        uid=opt_str(ctx, meta, "uid", "metadata") or "",
        line=meta.value_line("name"),
    )


def _interceptor_object(
    ctx: Ctx, meta: Meta, data: LMap, *, kind: str, spec: LMap | None, line: int
) -> InterceptorObject | None:
    """A ClusterInterceptor/Interceptor and its address, resolved as Tekton resolves it.

    ``status.address.url`` wins; else ``clientConfig.url``; else the service:
    ``http://<name>.<namespace>.svc:<port or 80><path>``, or with a ``caBundle``
    ``https://...:<port or 8443><path>``.
    """
    client = opt_map(ctx, spec, "clientConfig", "spec") if spec is not None else None
    if spec is not None:
        check_keys(ctx, spec, ("clientConfig",), "spec")
    if client is None:
        client = LMap()
        client.line, client.key_lines, client.value_lines = line, {}, {}
    check_keys(ctx, client, ("url", "service", "caBundle"), "spec.clientConfig")
    url = opt_str(ctx, client, "url", "spec.clientConfig")
    service = opt_map(ctx, client, "service", "spec.clientConfig")
    ca_bundle = _ca_bundle(ctx, client)
    if url and service is not None:
        ctx.error(client.key_line("service"), "spec.clientConfig sets both url and service; use one")
    status = opt_map(ctx, data, "status", kind)
    address = opt_map(ctx, status, "address", "status") if status is not None else None
    status_url = opt_str(ctx, address, "url", "status.address") if address is not None else None
    if service is not None:
        service_url = _service_url(ctx, service, ca_bundle)
        url = url or service_url
    url = status_url or url
    if not url:
        ctx.error(
            client.line, f"{kind} '{meta.name}' needs spec.clientConfig.url or spec.clientConfig.service"
        )
        return None
    if kind == "ClusterInterceptor" and meta.name in BUILTIN_INTERCEPTORS:
        ctx.warning(
            data.line,
            f"ClusterInterceptor '{meta.name}' has the name of a core interceptor: the built-in one runs "
            "in process and this address is not used",
        )
    return InterceptorObject(kind, meta.name, meta.namespace, url, ca_bundle, ctx.source(data.line))


def _service_url(ctx: Ctx, service: LMap, ca_bundle: str | None) -> str | None:
    where = "spec.clientConfig.service"
    check_keys(ctx, service, ("name", "namespace", "path", "port"), where)
    name = opt_str(ctx, service, "name", where)
    namespace = opt_str(ctx, service, "namespace", where)
    path = opt_str(ctx, service, "path", where) or ""
    port = service.get("port")
    if not name:
        ctx.error(service.line, f"{where}.name is required")
    if not namespace:
        ctx.error(service.line, f"{where}.namespace is required")
    if port is not None and (not isinstance(port, int) or isinstance(port, bool)):
        ctx.error(service.value_line("port"), f"{where}.port must be a number")
        port = None
    if not name or not namespace:
        return None
    scheme, default_port = ("https", 8443) if ca_bundle else ("http", 80)
    if path and not path.startswith("/"):
        path = "/" + path  # as Go's url.URL.String() writes a relative path after a host
    return f"{scheme}://{name}.{namespace}.svc:{port if port is not None else default_port}{path}"


def _ca_bundle(ctx: Ctx, client: LMap) -> str | None:
    raw = opt_str(ctx, client, "caBundle", "spec.clientConfig")
    if not raw:
        return None
    try:
        return base64.b64decode("".join(raw.split()), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        ctx.error(client.value_line("caBundle"), "spec.clientConfig.caBundle must be base64-encoded PEM")
        return None
