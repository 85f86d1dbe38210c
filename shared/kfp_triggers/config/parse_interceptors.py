"""Parsing ``interceptors`` lists (of Triggers, inline triggers and trigger groups).

An entry is ``ref: {name, kind}`` + ``params``, or a legacy ``webhook``, or (v1alpha1 only) one of the
legacy ``github``/``gitlab``/``bitbucket``/``cel`` blocks, which :mod:`.legacy` converts. Checks that
need no other document happen here: required fields, webhook shape, CEL expressions (through the
``cel_expression`` hook), the params of the ``paths.kfp-triggers.dev`` interceptor (its globs are
compiled here, each error at its own line), those of ``pr-commands.kfp-triggers.dev`` and the warning
for signature-checking interceptors without a secret.
"""

from __future__ import annotations

from typing import Any

from kfp_triggers.config.fields import Ctx, check_keys, map_items, opt_list, opt_map, opt_str, type_name
from kfp_triggers.config.legacy import LEGACY_KEYS, ParamItem, convert_legacy, legacy_keys_present
from kfp_triggers.config.models import (
    BUILTIN_INTERCEPTORS,
    CLUSTER_INTERCEPTOR,
    NAMESPACED_INTERCEPTOR,
    PATHS_INTERCEPTOR,
    PR_COMMANDS_INTERCEPTOR,
    RUN_EVENTS_INTERCEPTOR,
    InterceptorDecl,
    WebhookSpec,
)
from kfp_triggers.config.yamlsource import LList, LMap, plain
from kfp_triggers.golang.textproto import canonical_header_key

_ENTRY_KEYS = ("name", "ref", "params", "webhook")
_SIGNED = ("github", "gitlab", "bitbucket")
_PATHS_PARAMS = ("paths", "pathsIgnore", "personalAccessToken")
_PR_COMMANDS_PARAMS = ("secretRef", "okToTest", "commands", "gitlabApiUrl")
_PR_COMMANDS = ("retest", "cancel", "ok-to-test")


def parse_interceptors(ctx: Ctx, m: LMap, key: str, what: str) -> tuple[InterceptorDecl, ...]:
    """Parse ``m[key]`` as an interceptor list; bad entries are reported and left out."""
    out: list[InterceptorDecl] = []
    for index, entry in map_items(ctx, opt_list(ctx, m, key, what), f"{what}.{key}"):
        decl = parse_interceptor(ctx, entry, f"{what}.{key}[{index}]")
        if decl is not None:
            out.append(decl)
    return tuple(out)


def parse_interceptor(ctx: Ctx, entry: LMap, what: str) -> InterceptorDecl | None:
    """Parse one interceptor entry, converting the legacy v1alpha1 forms."""
    check_keys(ctx, entry, _ENTRY_KEYS + LEGACY_KEYS, what)  # legacy keys in v1beta1: an error below
    if not ctx.legacy:
        for key in legacy_keys_present(entry):
            ctx.error(
                entry.key_line(key),
                f"{what}.{key} is the v1alpha1 interceptor form; in triggers.tekton.dev/v1beta1 write "
                f"ref: {{name: {key}}} with params",
            )
    label = opt_str(ctx, entry, "name", what)
    ref = opt_map(ctx, entry, "ref", what)
    ref_name: str | None = None
    ref_kind = CLUSTER_INTERCEPTOR
    ref_line = entry.line
    if ref is not None:
        check_keys(ctx, ref, ("name", "kind", "apiVersion"), f"{what}.ref")
        ref_name = opt_str(ctx, ref, "name", f"{what}.ref") or None
        ref_line = ref.value_line("name") if "name" in ref else ref.line
        kind = opt_str(ctx, ref, "kind", f"{what}.ref")
        if kind:
            if kind in (CLUSTER_INTERCEPTOR, NAMESPACED_INTERCEPTOR):
                ref_kind = kind
            else:
                ctx.error(
                    ref.value_line("kind"),
                    f"{what}.ref.kind '{kind}' is not valid; use ClusterInterceptor or NamespacedInterceptor",
                )
    params = _params(ctx, entry, what)
    if ctx.legacy:
        converted = convert_legacy(ctx, entry, what)
        if converted is not None:
            if ref_name is None:
                ref_name, params = converted
                ref_line = entry.key_line(ref_name)
            else:
                ctx.warning(
                    entry.key_line(legacy_keys_present(entry)[0]),
                    f"{what} has both ref and a legacy interceptor block; the block is ignored",
                )
    webhook = _webhook(ctx, entry, what)
    if webhook is None and ref_name is None:
        if "webhook" not in entry:
            ctx.error(entry.line, f"{what} needs ref.name (or a webhook)")
        return None
    if webhook is None and ref_kind == CLUSTER_INTERCEPTOR and ref_name in BUILTIN_INTERCEPTORS:
        _check_core(ctx, ref_name, params, entry, what)
    return InterceptorDecl(
        label=label,
        ref_name=None if webhook is not None else ref_name,
        ref_kind=ref_kind,
        params={p.name: plain(p.value) for p in params},
        webhook=webhook,
        source=ctx.source(entry.line),
        ref_source=ctx.source(ref_line),
    )


def _params(ctx: Ctx, entry: LMap, what: str) -> list[ParamItem]:
    out: list[ParamItem] = []
    seen: dict[str, int] = {}
    for index, item in map_items(ctx, opt_list(ctx, entry, "params", what), f"{what}.params"):
        check_keys(ctx, item, ("name", "value"), f"{what}.params[{index}]")
        name = opt_str(ctx, item, "name", f"{what}.params[{index}]")
        if not name:
            ctx.error(item.line, f"{what}.params[{index}] needs a name")
            continue
        if name in seen:
            ctx.warning(item.key_line("name"), f"duplicate interceptor param '{name}'; the last one is used")
            out = [p for p in out if p.name != name]
        seen[name] = item.line
        out.append(ParamItem(name, item.get("value"), item.key_line("name"), item.value_line("value")))
    return out


def _webhook(ctx: Ctx, entry: LMap, what: str) -> WebhookSpec | None:
    hook = opt_map(ctx, entry, "webhook", what)
    if hook is None:
        return None
    where = f"{what}.webhook"
    check_keys(ctx, hook, ("objectRef", "url", "header"), where)
    url = opt_str(ctx, hook, "url", where)
    ref = opt_map(ctx, hook, "objectRef", where)
    if ref is None:
        ctx.error(hook.line, f"{where}.objectRef is required (a Service: kind Service, apiVersion v1, name)")
    else:
        kind = opt_str(ctx, ref, "kind", f"{where}.objectRef")
        if kind != "Service":
            ctx.error(ref.value_line("kind"), f"{where}.objectRef.kind must be Service")
        api = opt_str(ctx, ref, "apiVersion", f"{where}.objectRef")
        if api != "v1":
            ctx.error(ref.value_line("apiVersion"), f"{where}.objectRef.apiVersion must be v1")
        if not opt_str(ctx, ref, "name", f"{where}.objectRef"):
            ctx.error(hook.key_line("objectRef"), f"{where}.objectRef.name is required")
        opt_str(ctx, ref, "namespace", f"{where}.objectRef")
    header: list[tuple[str, str | tuple[str, ...]]] = []
    for index, item in map_items(ctx, opt_list(ctx, hook, "header", where), f"{where}.header"):
        header_entry = _header(ctx, item, f"{where}.header[{index}]")
        if header_entry is not None:
            header.append(header_entry)
    return WebhookSpec(url=url, service=plain(ref) if ref is not None else None, header=tuple(header))


def _header(ctx: Ctx, item: LMap, what: str) -> tuple[str, str | tuple[str, ...]] | None:
    check_keys(ctx, item, ("name", "value"), what)
    name = opt_str(ctx, item, "name", what) or ""
    if not name or canonical_header_key(name) != name:
        ctx.error(
            item.value_line("name"),
            f"{what}.name '{name}' is not a canonical header name "
            f"(write it as '{canonical_header_key(name)}')"
            if name
            else f"{what}.name is required",
        )
    value = item.get("value")
    if isinstance(value, str) and value:
        return name, value
    if isinstance(value, LList) and value and all(isinstance(v, str) for v in value):
        return name, tuple(value)
    ctx.error(item.value_line("value"), f"{what}.value must be a non-empty string or list of strings")
    return None


def _check_core(ctx: Ctx, name: str, params: list[ParamItem], entry: LMap, what: str) -> None:
    by_name = {p.name: p for p in params}
    if name in _SIGNED:
        secret = by_name.get("secretRef")
        if secret is None or secret.value is None:
            ctx.warning(
                entry.line,
                f"{what}: the {name} interceptor has no secretRef, so requests are not authenticated "
                "and anyone who can reach the listener can trigger it",
            )
    if name == "cel":
        _check_cel(ctx, by_name, what)
    if name == PATHS_INTERCEPTOR:
        _check_paths(ctx, params, entry, what)
    if name == PR_COMMANDS_INTERCEPTOR:
        _check_pr_commands(ctx, params, entry, what)
    if name == RUN_EVENTS_INTERCEPTOR and params:
        ctx.error(params[0].line, f"{what}: the {RUN_EVENTS_INTERCEPTOR} interceptor takes no params")


def _check_paths(ctx: Ctx, params: list[ParamItem], entry: LMap, what: str) -> None:
    """Param names, list shapes, every glob, and GitHub's rules for combining the lists."""
    # Loaded only when the interceptor is configured: ingest, which may load YAML, stays lean.
    from kfp_triggers.interceptors.globs import PatternError, compile_pattern, path_rule

    lists: dict[str, list[str]] = {}
    valid = True
    for param in params:
        if param.name not in _PATHS_PARAMS:
            ctx.error(
                param.line,
                f"{what}: '{param.name}' is not a param of the {PATHS_INTERCEPTOR} interceptor "
                f"(its params are {', '.join(_PATHS_PARAMS)})",
            )
        elif param.name == "personalAccessToken":
            _check_secret_ref(ctx, param, what)
        elif not isinstance(param.value, LList):
            ctx.error(param.value_line, f"{what}: {param.name} must be a list of glob patterns")
            valid = False
        else:
            texts: list[str] = []
            for index, item in enumerate(param.value):
                line = param.value.item_line(index)
                if not isinstance(item, str):
                    ctx.error(line, f"{what}: {param.name}[{index}] must be a string, not {type_name(item)}")
                    valid = False
                    continue
                try:
                    compile_pattern(item)
                except PatternError as exc:
                    ctx.error(line, f"{what}: {param.name}[{index}] {item!r} is not a valid pattern: {exc}")
                    valid = False
                texts.append(item)
            lists[param.name] = texts
    if not valid:
        return
    try:
        path_rule(lists.get("paths"), lists.get("pathsIgnore"))
    except PatternError as exc:
        line = next((p.line for p in reversed(params) if p.name in lists), entry.line)
        ctx.error(line, f"{what}: {exc}")


def _check_pr_commands(ctx: Ctx, params: list[ParamItem], entry: LMap, what: str) -> None:
    """Param names and shapes; the token is required, since no command is authorised without it."""
    names = ", ".join(_PR_COMMANDS_PARAMS)
    for param in params:
        value = param.value
        if param.name not in _PR_COMMANDS_PARAMS:
            ctx.error(
                param.line,
                f"{what}: '{param.name}' is not a param of the {PR_COMMANDS_INTERCEPTOR} interceptor "
                f"(its params are {names})",
            )
        elif param.name == "secretRef":
            _check_secret_ref(ctx, param, what)
        elif param.name == "okToTest" and not isinstance(value, bool):
            ctx.error(param.value_line, f"{what}: okToTest must be true or false, not {type_name(value)}")
        elif param.name == "gitlabApiUrl" and not (
            isinstance(value, str) and value.startswith(("https://", "http://"))
        ):
            ctx.error(param.value_line, f"{what}: gitlabApiUrl must be an http(s) URL")
        elif param.name == "commands":
            if not isinstance(value, LList) or not value:
                ctx.error(param.value_line, f"{what}: commands must be a non-empty list of command names")
                continue
            for index, item in enumerate(value):
                if item not in _PR_COMMANDS:
                    ctx.error(
                        value.item_line(index),
                        f"{what}: commands[{index}] {item!r} is not one of {', '.join(_PR_COMMANDS)}",
                    )
    if not any(p.name == "secretRef" for p in params):
        ctx.error(
            entry.line,
            f"{what}: the {PR_COMMANDS_INTERCEPTOR} interceptor needs a secretRef (a GitHub or GitLab "
            "token) to check who may run commands",
        )


def _check_secret_ref(ctx: Ctx, param: ParamItem, what: str) -> None:
    value = param.value
    if not isinstance(value, LMap) or not all(
        isinstance(value.get(k), str) and value.get(k) for k in ("secretName", "secretKey")
    ):
        ctx.error(param.value_line, f"{what}: {param.name} must be {{secretName, secretKey}}")


def _check_cel(ctx: Ctx, params: dict[str, ParamItem], what: str) -> None:
    filt = params.get("filter")
    if filt is not None and filt.value is not None:
        if isinstance(filt.value, str):
            _cel_hook(ctx, filt.value, filt.value_line, f"{what} filter")
        else:
            ctx.error(
                filt.value_line, f"{what}: the cel filter must be a string, not {type_name(filt.value)}"
            )
    overlays = params.get("overlays")
    if overlays is None or overlays.value is None:
        return
    if not isinstance(overlays.value, LList):
        ctx.error(overlays.value_line, f"{what}: cel overlays must be a list of {{key, expression}}")
        return
    for index, overlay in map_items(ctx, overlays.value, f"{what} overlays"):
        check_keys(ctx, overlay, ("key", "expression"), f"{what} overlays[{index}]")
        if not opt_str(ctx, overlay, "key", f"{what} overlays[{index}]"):
            ctx.error(overlay.line, f"{what} overlays[{index}] needs a key")
        expression = opt_str(ctx, overlay, "expression", f"{what} overlays[{index}]")
        if expression is None:
            ctx.error(overlay.line, f"{what} overlays[{index}] needs an expression")
        else:
            _cel_hook(ctx, expression, overlay.value_line("expression"), f"{what} overlays[{index}]")


def _cel_hook(ctx: Ctx, expression: str, line: int, what: str) -> None:
    check = ctx.hooks.cel_expression
    if check is None:
        return
    message = _safe(check, expression)
    if message:
        ctx.error(line, f"{what}: invalid CEL expression: {message}")


def _safe(check: Any, expression: str) -> str | None:
    """Run a hook; a hook that raises is reported as the problem instead of crashing the load."""
    try:
        result = check(expression)
    except Exception as exc:  # a broken hook must not hide the other problems
        return f"{type(exc).__name__}: {exc}"
    return str(result) if result else None
