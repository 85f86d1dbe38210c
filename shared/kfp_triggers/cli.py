"""The ``kfp-triggers`` command line.

Every command prints JSON on stdout. On failure it prints ``{"error": "..."}`` and exits 1, so
scripts can rely on the exit status and still read a reason.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from kfp_triggers.errors import ConfigError, KfptError, Problem
from kfp_triggers.secrets import FileSecrets, NoSecrets, SecretStore


class CommandError(Exception):
    """A command failed in a way the user should read about."""

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.extra = extra


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kfp-triggers`` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        result = args.handler(args)
    except CommandError as exc:
        return _fail(str(exc), **exc.extra)
    except ConfigError as exc:
        _print_problems(exc.problems)
        return _fail(str(exc), problems=[_problem_json(p) for p in exc.problems])
    except KfptError as exc:
        return _fail(str(exc))
    _emit(result)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kfp-triggers",
        description="Tekton Triggers semantics for Kubeflow Pipelines runs.",
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser("validate", help="load and check configurations; list every problem")
    p.add_argument("paths", nargs="+", type=Path, help="YAML files or directories")
    p.set_defaults(handler=cmd_validate)

    p = sub.add_parser("simulate", help="run one raw HTTP request through intercept + bind + render")
    p.add_argument("-c", "--config", required=True, type=Path, action="append", help="config file or dir")
    p.add_argument("-r", "--request", required=True, type=Path, help="raw HTTP/1.1 request file")
    _secrets_arg(p)
    p.add_argument("--listener", help="EventListener name (needed when the config has several)")
    p.add_argument("--event-id", help="fix the event id (default: a random UUID)")
    p.add_argument("--uid", help="fix the $(uid) value (default: a random UUID per trigger)")
    p.set_defaults(handler=cmd_simulate)

    p = sub.add_parser("binding-eval", help="resolve a TriggerBinding against a request")
    p.add_argument("-b", "--binding", required=True, type=Path, help="YAML file with a TriggerBinding")
    p.add_argument("-r", "--request", required=True, type=Path, help="raw HTTP/1.1 request file")
    p.add_argument("--extensions", type=Path, help="JSON file with extensions")
    p.add_argument("--template", type=Path, help="YAML file with a TriggerTemplate (its defaults apply)")
    p.add_argument("--event-id", help="value of $(context.eventID) (default: a random UUID)")
    p.set_defaults(handler=cmd_binding_eval)

    p = sub.add_parser("cel-eval", help="evaluate a CEL expression in Tekton's CEL environment")
    p.add_argument("-e", "--expression", required=True, help="the expression, or a file holding it")
    p.add_argument("-r", "--request", required=True, type=Path, help="raw HTTP/1.1 request file")
    _secrets_arg(p)
    p.set_defaults(handler=cmd_cel_eval)

    p = sub.add_parser("interceptor", help="answer one InterceptorRequest (stdin) as a core interceptor")
    p.add_argument("name", help="cel, github, gitlab, bitbucket or slack")
    _secrets_arg(p)
    p.add_argument("--github-api-url", default="https://api.github.com/", help="GitHub REST API base URL")
    p.set_defaults(handler=cmd_interceptor)
    return parser


def _secrets_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--secrets-dir", type=Path, help="directory laid out <secretName>/<key>")


def _secrets(directory: Path | None) -> SecretStore:
    return FileSecrets(directory) if directory is not None else NoSecrets()


def cmd_validate(args: argparse.Namespace) -> dict[str, Any]:
    """Check configurations; problems are printed to stderr as ``file:line: severity: message``."""
    from kfp_triggers.validation import check

    config, problems = check(args.paths)
    _print_problems(problems)
    errors = [p for p in problems if p.severity == "error"]
    if errors or config is None:
        raise CommandError(
            f"{len(errors)} error(s) in the configuration",
            problems=[_problem_json(p) for p in problems],
        )
    return {
        "valid": True,
        "listeners": sorted(f"{ns}/{name}" if ns else name for ns, name in config.listeners),
        "warnings": [_problem_json(p) for p in problems],
    }


def cmd_simulate(args: argparse.Namespace) -> dict[str, Any]:
    """Run a request through a listener without launching anything."""
    from kfp_triggers.simulation import simulate

    return simulate(
        config_paths=args.config,
        request_path=args.request,
        secrets=_secrets(args.secrets_dir),
        listener_name=args.listener,
        event_id=args.event_id or str(uuid.uuid4()),
        uid=args.uid,
    )


def cmd_binding_eval(args: argparse.Namespace) -> dict[str, str]:
    """Resolve one binding's params against a request."""
    from kfp_triggers.simulation import binding_eval

    extensions: dict[str, Any] = {}
    if args.extensions is not None:
        extensions = _read_json_object(args.extensions)
    return binding_eval(
        binding_path=args.binding,
        request_path=args.request,
        extensions=extensions,
        template_path=args.template,
        event_id=args.event_id or str(uuid.uuid4()),
    )


def cmd_cel_eval(args: argparse.Namespace) -> dict[str, Any]:
    """Evaluate one CEL expression against a request."""
    from kfp_triggers.cel import cel_eval
    from kfp_triggers.request import read_http_request

    expression = args.expression
    candidate = Path(expression)
    if "\n" not in expression and len(expression) < 4096 and candidate.is_file():
        expression = candidate.read_text(encoding="utf-8").strip()
    return cel_eval(expression, read_http_request(args.request), _secrets(args.secrets_dir))


def cmd_interceptor(args: argparse.Namespace) -> dict[str, Any]:
    """Read an InterceptorRequest on stdin and answer it."""
    from kfp_triggers.interceptors.serve import answer

    return answer(
        args.name,
        sys.stdin.buffer.read(),
        secrets=_secrets(args.secrets_dir),
        github_api_url=args.github_api_url,
    )


def _read_json_object(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise CommandError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise CommandError(f"{path}: extensions must be a JSON object")
    return data


def _problem_json(p: Problem) -> dict[str, Any]:
    return {"file": p.file, "line": p.line, "severity": p.severity, "message": p.message}


def _print_problems(problems: Sequence[Problem]) -> None:
    for p in problems:
        print(str(p), file=sys.stderr)


def _emit(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def _fail(message: str, **extra: Any) -> int:
    _emit({"error": message, **extra})
    return 1


def die(message: str) -> NoReturn:
    """Stop a command with a message (for helpers deep in a command)."""
    raise CommandError(message)
