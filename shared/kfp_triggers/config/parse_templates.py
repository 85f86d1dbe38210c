"""Parsing TriggerTemplate specs (of TriggerTemplate objects and of inline ``template.spec``).

Checks done here, as Tekton's admission webhook does: a spec with ``resourcetemplates``, each with
``apiVersion`` and ``kind``; every ``$(tt.params.NAME)`` declared in ``spec.params`` (with Tekton's
own pattern, so exactly the same references are found); string defaults only. Beyond Tekton: a
resource that no launcher can start is a warning (it still renders), KFP runs with a
``pipeline_package`` are checked against the compiled pipeline, and a run's pipeline, service
account, pipeline root or experiment taken from a ``$(tt.params...)`` is a warning (:mod:`.pipelines`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from kfp_triggers.config.fields import (
    Ctx,
    check_keys,
    json_text,
    map_items,
    opt_list,
    opt_str,
    type_name,
)
from kfp_triggers.config.models import KFP_RUN_API_VERSION, KFP_RUN_KIND, Template, TemplateParam
from kfp_triggers.config.pipelines import check_run, warn_sender_chosen
from kfp_triggers.config.yamlsource import LList, LMap, plain

# Tekton's admission pattern for template param references (dots unescaped, as upstream).
PARAM_REFERENCE = re.compile(r"\$\(tt.params.([_a-zA-Z][_a-zA-Z0-9.-]*)\)")
OLD_ESCAPE_ANNOTATION = "triggers.tekton.dev/old-escape-quotes"


def parse_template_spec(
    ctx: Ctx,
    spec: Any,
    *,
    name: str,
    namespace: str,
    line: int,
    what: str,
    old_escape_quotes: bool = False,
) -> Template:
    """Parse a TriggerTemplate spec into a :class:`Template`, reporting every problem."""
    if not isinstance(spec, LMap) or not spec:
        ctx.error(line, f"{what} is required (params and resourcetemplates)")
        return Template(name, namespace, (), (), old_escape_quotes, ctx.source(line), ctx.file_dir)
    check_keys(ctx, spec, ("params", "resourcetemplates"), what)
    params = _params(ctx, spec, what)
    declared = {p.name for p in params}
    raw = opt_list(ctx, spec, "resourcetemplates", what)
    if not raw:
        ctx.error(spec.key_line("resourcetemplates"), f"{what}.resourcetemplates needs at least one resource")
    resources: list[dict[str, Any]] = []
    for index, resource in map_items(ctx, raw, f"{what}.resourcetemplates"):
        rwhat = f"{what}.resourcetemplates[{index}]"
        _check_resource(ctx, resource, rwhat)
        _check_references(ctx, resource, declared, rwhat)
        resources.append(plain(resource))
    return Template(
        name=name,
        namespace=namespace,
        params=params,
        resourcetemplates=tuple(resources),
        old_escape_quotes=old_escape_quotes,
        source=ctx.source(line),
        file_dir=ctx.file_dir,
    )


def _params(ctx: Ctx, spec: LMap, what: str) -> tuple[TemplateParam, ...]:
    out: list[TemplateParam] = []
    seen: dict[str, int] = {}
    for index, item in map_items(ctx, opt_list(ctx, spec, "params", what), f"{what}.params"):
        pwhat = f"{what}.params[{index}]"
        check_keys(ctx, item, ("name", "description", "default"), pwhat)
        pname = opt_str(ctx, item, "name", pwhat)
        if not pname:
            ctx.error(item.line, f"{pwhat}.name is required")
            continue
        if pname in seen:
            ctx.warning(
                item.value_line("name"),
                f"template param '{pname}' is declared twice (first at line {seen[pname]})",
            )
        seen[pname] = item.value_line("name")
        default: str | None = None
        raw_default = item.get("default")
        if isinstance(raw_default, (dict, list)):
            ctx.error(
                item.value_line("default"),
                f"template param '{pname}': default must be a string, not {type_name(raw_default)} "
                "(array and object params are not supported)",
            )
        elif raw_default is not None:
            default = raw_default if isinstance(raw_default, str) else json_text(raw_default)
        description = opt_str(ctx, item, "description", pwhat, scalars=True) or ""
        out.append(TemplateParam(pname, default, description, ctx.source(item.value_line("name"))))
    return tuple(out)


def _check_resource(ctx: Ctx, resource: LMap, what: str) -> None:
    api = resource.get("apiVersion")
    kind = resource.get("kind")
    if not api:
        ctx.error(resource.line, f"{what} needs an apiVersion")
    elif not isinstance(api, str):
        ctx.error(resource.value_line("apiVersion"), f"{what}.apiVersion must be a string")
    if not kind:
        ctx.error(resource.line, f"{what} needs a kind")
    elif not isinstance(kind, str):
        ctx.error(resource.value_line("kind"), f"{what}.kind must be a string")
    if not (isinstance(api, str) and isinstance(kind, str) and api and kind):
        return
    if (api, kind) == (KFP_RUN_API_VERSION, KFP_RUN_KIND):
        check_run(ctx, resource, what)
        warn_sender_chosen(ctx, resource, what, PARAM_REFERENCE)
    else:
        ctx.warning(
            resource.value_line("kind"),
            f"{what} is a {api} {kind}: no launcher can start it; it is rendered (simulate shows it) "
            f"but refused at launch (only {KFP_RUN_API_VERSION} {KFP_RUN_KIND} is launched)",
        )


def _check_references(ctx: Ctx, resource: LMap, declared: set[str], what: str) -> None:
    reported: set[str] = set()
    for text, line in _strings(resource):
        for match in PARAM_REFERENCE.finditer(text):
            pname = match.group(1)
            if pname in declared or pname in reported:
                continue
            reported.add(pname)
            ctx.error(
                line,
                f"{what} uses undeclared param '$(tt.params.{pname})'; declare '{pname}' in spec.params",
            )


def _strings(value: Any, line: int = 0) -> Iterator[tuple[str, int]]:
    """Every string (keys and values) inside a YAML value, with its line."""
    if isinstance(value, LMap):
        for key, item in value.items():
            yield key, value.key_line(key)
            yield from _strings(item, value.value_line(key))
    elif isinstance(value, LList):
        for index, item in enumerate(value):
            yield from _strings(item, value.item_line(index))
    elif isinstance(value, str):
        yield value, line
