"""TriggerBinding resolution: turning ``$(body.x)``-style param values into strings.

Tekton evaluates each ``$(...)`` in a binding param's value as Kubernetes JSONPath against the
event ``{"body", "header", "extensions", "context"}`` and splices the rendered result into the
value. Rendering follows Tekton's ``getResults``: a single string match is JSON-escaped without
its quotes (so it can sit inside a JSON string in a template), any other single match is its Go
JSON encoding, and zero or several matches become a JSON array. Header values are the request's
values joined with ``","``; the name after ``header.`` is canonicalised first.

When an expression fails and the TriggerTemplate declares a default for the param, that
expression's text is replaced by the default and the rest of the value is kept. Otherwise the
trigger fails with Tekton's own message, e.g. ``failed to ApplyEventValuesToParams: failed to
replace JSONPath value for param p: $(body.missing): missing is not found``.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, Final

from kfp_triggers.errors import BindingError
from kfp_triggers.golang.json import GoJsonError, escape_string, marshal, unmarshal
from kfp_triggers.golang.textproto import canonical_header_key
from kfp_triggers.tekton._jsonpath_parse import Field
from kfp_triggers.tekton.headers import Headers
from kfp_triggers.tekton.jsonpath import GoStruct, JsonPath, JsonPathError, StringMap, compile_path

__all__ = [
    "ROOTS",
    "EventData",
    "evaluate_expression",
    "event_data",
    "expression_problems",
    "find_expressions",
    "resolve_params",
]

#: The names a binding expression can start with (Tekton also accepts the Go field names).
ROOTS: Final = frozenset({"body", "header", "extensions", "context"})
_GO_ROOTS: Final = frozenset({"Body", "Header", "Extensions", "Context"})

# kubectl's relaxed JSONPath: 'a.b', '.a.b', '{a.b}' or '{.a.b}'; no other braces anywhere.
_RELAXED = re.compile(r"\{\.?([^{}]+)\}|\.?([^{}]+)")
_RELAXED_ERROR: Final = (
    "unexpected path string, expected a 'name1.name2' or '.name1.name2' or "
    "'{name1.name2}' or '{.name1.name2}'"
)
# The prefix Tekton's ResolveParams puts before every binding failure.
_APPLY: Final = "failed to ApplyEventValuesToParams"
_SURROGATES = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class EventData:
    """What bindings see of one event: decoded body, headers, extensions and the event id."""

    body: Any
    header: Headers
    extensions: dict[str, Any]
    event_id: str

    @cached_property
    def root(self) -> GoStruct:
        """The JSONPath root, shaped like Tekton's ``event`` struct (built once per event)."""
        joined = StringMap((name, ",".join(values)) for name, values in self.header.items())
        context = GoStruct((("eventID", "EventID", self.event_id),), "template.TriggerContext")
        return GoStruct(
            (
                ("header", "Header", joined),
                ("body", "Body", self.body),
                ("extensions", "Extensions", self.extensions),
                ("context", "Context", context),
            ),
            "template.event",
        )


def event_data(
    body: bytes, header: Headers, extensions: Mapping[str, Any] | None, event_id: str
) -> EventData:
    """Build the binding view of an event.

    The body is decoded as Go decodes it into ``interface{}``: every number becomes a float64
    (so 2^53+1 reads as 9007199254740992), invalid UTF-8 inside strings becomes U+FFFD, and an
    empty body is ``null``. Extensions get the same treatment, as they reach Tekton's bindings
    through a JSON round trip.

    Raises:
        BindingError: the body is not JSON (Tekton's message: ``failed to ApplyEventValuesToParams:
            failed to marshal event: failed to unmarshal request body: <Go's error>``). Tekton then
            fails every trigger of the event, even one whose bindings never read the body, so
            callers should treat it the same way.
    """
    parsed: Any = None
    if body:
        try:
            parsed = unmarshal(body)
        except GoJsonError as exc:
            raise BindingError(
                f"{_APPLY}: failed to marshal event: failed to unmarshal request body: {exc}"
            ) from exc
    return EventData(parsed, header, _as_json(dict(extensions or {}), "extensions"), event_id)


def _as_json(value: Any, where: str) -> Any:
    """Normalise a value to what Go holds after decoding its JSON: floats, lists, str keys."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _SURROGATES.sub("\ufffd", value)
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:
            number = float("inf")
        if math.isinf(number) or math.isnan(number):
            raise BindingError(f"{where} is {value}, which a JSON number (float64) cannot hold")
        return number
    if isinstance(value, Mapping):
        return {str(k): _as_json(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_as_json(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")  # Go encodes []byte as base64
    raise BindingError(f"{where} holds a {type(value).__name__}, which JSON cannot represent")


@lru_cache(maxsize=4096)
def _scan(value: str) -> tuple[tuple[str, str], ...]:
    """Tekton's ``$(`` scanner: ``(original text, path to evaluate)`` pairs, in order.

    The value is split on ``$(``; each piece runs to its first unbalanced ``)``. A piece with
    none is plain text. Only the innermost of nested ``$($(x))`` is an expression. The name
    after a leading ``header.`` is canonicalised (``x-github-event`` -> ``X-Github-Event``).
    """
    found: list[tuple[str, str]] = []
    if "$(" not in value:
        return ()
    for piece in value.split("$(")[1:]:
        end = _closing(piece)
        if end < 0:
            continue
        raw = piece[:end]
        path = raw
        if raw.startswith("header."):
            path = "header." + canonical_header_key(raw[len("header.") :])
        found.append((f"$({raw})", path))
    return tuple(found)


def _closing(piece: str) -> int:
    """Index of the first ``)`` not balanced by a ``(`` in ``piece``, or -1."""
    depth = 0
    for index, char in enumerate(piece):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                return index
    return -1


def find_expressions(value: str) -> list[str]:
    """Return the ``$(...)`` expressions Tekton finds in ``value``, as written, in order.

    ``"$(body.a)-$(header.b)"`` gives ``["$(body.a)", "$(header.b)"]``; ``"$($(body.b))"`` gives
    ``["$(body.b)"]``; an unterminated ``"$(body"`` gives nothing (it stays literal text).
    """
    return [original for original, _ in _scan(value)]


@lru_cache(maxsize=4096)
def _compiled(path: str) -> JsonPath | str | None:
    """The parsed path for an expression's inside, ``None`` for ``$()``, or an error message."""
    if path == "":
        return None
    match = _RELAXED.fullmatch(path)
    if match is None:
        return _RELAXED_ERROR
    spec = match.group(1) if match.group(1) is not None else match.group(2)
    try:
        return compile_path("." + spec)
    except JsonPathError as exc:
        return str(exc)


def _evaluate(path: str, event: EventData) -> str:
    compiled = _compiled(path)
    if compiled is None:
        return ""  # "$()" parses to an empty template, which prints nothing
    if isinstance(compiled, str):
        raise JsonPathError(compiled)
    return _render(compiled.find(event.root))


def _render(values: list[Any] | None) -> str:
    """Tekton's ``getResults``: how the values a path selected become one string."""
    if values is None:
        return ""
    try:
        if len(values) == 1:
            value = values[0]
            if value is None:
                return "null"
            if isinstance(value, str):
                return escape_string(value)
            return marshal(value)
        return marshal(values)
    except GoJsonError as exc:
        raise BindingError(f"error getting values for jsonpath results: {exc}") from exc


def evaluate_expression(expression: str, event: EventData) -> str:
    """Render one ``$(...)`` expression (as written in a binding) against an event.

    Raises:
        BindingError: ``expression`` is not a ``$(...)`` expression, or it does not resolve.
    """
    scanned = _scan(expression)
    if len(scanned) != 1 or scanned[0][0] != expression:
        raise BindingError(f"{expression!r} is not a single $(...) expression", expression=expression)
    return _evaluate(scanned[0][1], event)


def resolve_params(
    params: Sequence[tuple[str, str]], event: EventData, defaults: Mapping[str, str]
) -> dict[str, str]:
    """Resolve a trigger's binding params against an event, as Tekton's ``ResolveParams``.

    Args:
        params: ``(name, value)`` for every binding param of the trigger, in binding order.
        event: the event, from :func:`event_data`.
        defaults: the TriggerTemplate params that declare a default, ``name -> default``.

    Returns:
        The defaults, overridden by the resolved binding params (insertion-ordered). Binding
        params the template does not declare are included too: Tekton passes them on.

    Raises:
        BindingError: a param name is bound twice, or an expression fails for a param with no
            template default; the message is Tekton's (``duplicate param name: p``, ``failed to
            ApplyEventValuesToParams: failed to replace JSONPath value for param p: <value>:
            <client-go's error>``) and ``param``/``expression`` say where.
    """
    seen: set[str] = set()
    for name, _ in params:
        if name in seen:
            raise BindingError(f"failed to resolve bindings: duplicate param name: {name}", param=name)
        seen.add(name)
    resolved = dict(defaults)
    for name, value in params:
        text = value
        for original, path in _scan(value):
            try:
                rendered = _evaluate(path, event)
            except BindingError as exc:
                if name not in defaults:
                    raise BindingError(
                        f"{_APPLY}: failed to replace JSONPath value for param {name}: {value}: {exc}",
                        param=name,
                        expression=original,
                    ) from exc
                rendered = defaults[name]
            # Like Tekton, replace every occurrence of this expression in the value so far.
            text = text.replace(original, rendered)
        resolved[name] = text
    return resolved


def expression_problems(value: str, *, inline: bool = False) -> list[str]:
    """Problems in a binding param value, for configuration checks; ``[]`` when it is fine.

    Reports what Tekton's admission webhook rejects in a TriggerBinding (a ``$(`` left open when
    another ``$(`` follows, so nesting such as ``$(body.$(header.x))``; an open ``$(`` at the very
    end is accepted and stays literal text) and expressions that can never resolve: paths that do
    not parse, and paths that do not start with ``body``, ``header``, ``extensions`` or
    ``context``. With ``inline`` (a trigger's own ``name``/``value`` binding, which Tekton's
    admission does not look into) nesting is no problem: only the innermost expression is
    evaluated and the outer ``$(``, ``)`` stay as text.
    """
    problems: list[str] = []
    pieces = value.split("$(")
    for piece in pieces[1:-1]:
        if not inline and _closing(piece) < 0:
            problems.append(f"'$({piece}' has no closing ')' before the next '$('")
    for original, path in _scan(value):
        compiled = _compiled(path)
        if compiled is None:
            problems.append(f"{original} is empty and always renders as an empty string")
        elif isinstance(compiled, str):
            problems.append(f"{original}: {compiled}")
        else:
            problem = _root_problem(compiled)
            if problem:
                problems.append(f"{original}: {problem}")
    return problems


def _root_problem(path: JsonPath) -> str:
    nodes = path.nodes
    root = nodes[0] if nodes else None
    if not isinstance(root, Field) or root.name not in ROOTS | _GO_ROOTS:
        return "a path must start with body, header, extensions or context"
    if root.name.lower() == "context" and len(nodes) > 1:
        child = nodes[1]
        if not isinstance(child, Field) or child.name not in ("eventID", "EventID"):
            return "context only has eventID"
    return ""
