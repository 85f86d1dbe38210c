"""Loading a configuration: :func:`check_config`, :func:`load_config` and :class:`Configuration`.

A configuration is one or more files or directories of multi-document YAML. Loading reads every
document, parses the ``triggers.tekton.dev`` ones, resolves every reference and reports every problem,
errors and warnings alike, sorted by file and line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

from kfp_triggers.config.hooks import ValidationHooks
from kfp_triggers.config.models import (
    Binding,
    EventListener,
    Objects,
    ResolvedGroup,
    ResolvedTrigger,
    Template,
)
from kfp_triggers.errors import ConfigError, Problem

ListenerKey = tuple[str, str]


class Configuration:
    """A loaded configuration: listeners and what each of them runs.

    ``listeners`` is keyed by ``(namespace, name)``. ``version`` is the sha256 of the configuration
    files' contents (in path order), so a decision can be stamped with the configuration it used.
    ``warnings`` are the warnings found while loading.
    """

    def __init__(
        self,
        objects: Objects,
        *,
        resolved: Mapping[ListenerKey, tuple[list[ResolvedTrigger], list[ResolvedGroup]]],
        warnings: list[Problem],
        version: str,
        files: Sequence[Path],
        origin: str,
    ) -> None:
        self._objects = objects
        self._resolved = dict(resolved)
        self.warnings = warnings
        self.version = version
        self.files = tuple(files)
        self.origin = origin
        self.listeners: Mapping[ListenerKey, EventListener] = MappingProxyType(dict(objects.listeners))
        self.templates: Mapping[tuple[str, str], Template] = MappingProxyType(dict(objects.templates))
        self.bindings: Mapping[tuple[str, str, str], Binding] = MappingProxyType(dict(objects.bindings))

    @property
    def objects(self) -> Objects:
        """Every object as parsed, before references were resolved."""
        return self._objects

    @property
    def resolved(self) -> Mapping[ListenerKey, tuple[list[ResolvedTrigger], list[ResolvedGroup]]]:
        """Each listener's resolved triggers and trigger groups, by ``(namespace, name)``."""
        return MappingProxyType(self._resolved)

    def listener(self, name: str | None = None) -> EventListener:
        """The listener called ``name`` (``"name"`` or ``"namespace/name"``); with ``None``, the only one.

        Raises:
            ConfigError: no such listener, or ``None`` and there is not exactly one listener.
        """
        known = sorted(self.listeners.values(), key=lambda el: (el.namespace, el.name))
        names = ", ".join(f"{el.namespace}/{el.name}" for el in known) or "none"
        if name is None:
            if len(known) == 1:
                return known[0]
            reason = "the configuration has no EventListener" if not known else "choose an EventListener"
            raise ConfigError([Problem(self.origin, 0, f"{reason} (listeners: {names})")])
        namespace, _, short = name.rpartition("/")
        matches = [el for el in known if el.name == short and (not namespace or el.namespace == namespace)]
        if len(matches) == 1:
            return matches[0]
        reason = f"EventListener '{name}' is ambiguous" if matches else f"no EventListener '{name}'"
        raise ConfigError([Problem(self.origin, 0, f"{reason} (listeners: {names})")])

    def triggers_for(self, listener: EventListener) -> list[ResolvedTrigger]:
        """The listener's ``spec.triggers`` in order, then the triggers its selectors pick.

        A ``triggerRef`` to a missing Trigger is skipped, as Tekton skips it; a Trigger picked both
        ways appears twice, as in Tekton.
        """
        found = self._resolved.get((listener.namespace, listener.name))
        return list(found[0]) if found else []

    def groups_for(self, listener: EventListener) -> list[ResolvedGroup]:
        """The listener's trigger groups, each with its interceptors and selected triggers."""
        found = self._resolved.get((listener.namespace, listener.name))
        return list(found[1]) if found else []


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[Problem] = set()
    out: list[Problem] = []
    for problem in problems:
        if problem not in seen:
            seen.add(problem)
            out.append(problem)
    return sorted(out, key=lambda p: (p.file, p.line))


def check_config(
    paths: Sequence[str | Path], hooks: ValidationHooks | None = None
) -> tuple[Configuration | None, list[Problem]]:
    """Load and check a configuration; return it (``None`` if no file could be read) and every problem.

    Problems (errors and warnings) are sorted by file, then line; a problem found twice is listed once.
    """
    # The parser, the YAML reader and the resolver load only here: a stage that starts from a
    # compiled configuration (see :mod:`.compiled`) never imports them.
    from kfp_triggers.config.fields import Report
    from kfp_triggers.config.parse import parse_documents
    from kfp_triggers.config.validate import emptiness_problems, resolve_all
    from kfp_triggers.config.yamlsource import load_documents

    if isinstance(paths, (str, Path)):  # one path given bare, not as a list
        paths = [paths]
    report = Report()
    origin = str(paths[0]) if paths else "."
    if not paths:
        report.error(origin, 0, "no configuration path given")
    docs, files, version = load_documents(paths, report.problems)
    objects = parse_documents(docs, report, hooks or ValidationHooks())
    resolved, resolve_problems = resolve_all(objects)
    report.problems.extend(resolve_problems)
    if not any(p.severity == "error" for p in report.problems):
        report.problems.extend(emptiness_problems(objects, origin, bool(files)))
    problems = _dedupe(report.problems)
    if not files:
        return None, problems
    warnings = [p for p in problems if p.severity != "error"]
    return Configuration(
        objects, resolved=resolved, warnings=warnings, version=version, files=files, origin=origin
    ), problems


def load_config(paths: Sequence[str | Path], hooks: ValidationHooks | None = None) -> Configuration:
    """Load a configuration that must be free of errors (warnings are kept on it).

    Raises:
        ConfigError: any error was found; it carries every problem.
    """
    config, problems = check_config(paths, hooks)
    if config is None or any(p.severity == "error" for p in problems):
        raise ConfigError(problems)
    return config
