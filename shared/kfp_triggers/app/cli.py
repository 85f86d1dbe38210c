"""The ``kfp-triggers`` command line.

Commands print JSON on stdout, except what is written for people unless ``--output json`` asks
for JSON: the listings' tables and ``events explain``'s account. On failure a command prints
``{"error": "..."}`` and exits 1, so scripts can rely on the exit status and still read a reason.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kfp_triggers.errors import ConfigError, KfptError, Problem
from kfp_triggers.secretstore import FileSecrets, NoSecrets, SecretStore


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
    if result is not None:
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

    p = sub.add_parser("interceptor", help="answer one InterceptorRequest (stdin) as a built-in interceptor")
    p.add_argument(
        "name",
        help="cel, github, gitlab, bitbucket, slack, paths.kfp-triggers.dev or run-events.kfp-triggers.dev",
    )
    _secrets_arg(p)
    p.add_argument("--github-api-url", default="https://api.github.com/", help="GitHub REST API base URL")
    p.set_defaults(handler=cmd_interceptor)

    p = sub.add_parser("serve", help="run the whole chain in one process (ingest over HTTP)")
    p.add_argument("-c", "--config", help="config file or dir (default: KFPT_CONFIG or ./config)")
    _secrets_arg(p)
    p.add_argument("--store", help="store URL (default: KFPT_STORE or sqlite:///.kfpt/state.db)")
    p.add_argument("--launcher", help="local, kfp, vertex or dry-run (default: KFPT_LAUNCHER or local)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--tick", type=float, default=2.0, help="seconds between status polls")
    p.add_argument("--send", type=Path, help="once up, POST this raw HTTP request file to the server")
    p.add_argument("--exit-when-done", action="store_true", help="with --send: stop once its runs finish")
    p.add_argument("--timeout", type=float, default=300.0, help="with --exit-when-done: give up after this")
    p.add_argument(
        "--dashboard", action="store_true", help="also serve the read-only dashboard at /dashboard"
    )
    p.set_defaults(handler=cmd_serve)

    p = sub.add_parser("send", help="POST a raw HTTP request file to a listener URL")
    p.add_argument("request", type=Path)
    p.add_argument("--url", default="http://127.0.0.1:8080/")
    p.set_defaults(handler=cmd_send)

    for noun in ("events", "runs"):
        p = sub.add_parser(noun, help=f"read the {'journal' if noun == 'events' else 'runs'} in the store")
        verbs = p.add_subparsers(title="verbs", metavar="VERB")
        lst = verbs.add_parser("list")
        lst.add_argument("--limit", type=int, default=50)
        lst.add_argument("--listener" if noun == "events" else "--state")
        if noun == "events":
            lst.add_argument("--trigger", help="only events this trigger decided on")
            lst.add_argument(
                "--since", help="only events received since: a duration (2h, 30m) or an ISO time"
            )
            lst.add_argument("--rejected", action="store_true", help="only events a trigger rejected")
            lst.add_argument("--errors", action="store_true", help="only events with an error")
        show = verbs.add_parser("show")
        show.add_argument("id")
        for q in (lst, show):
            q.add_argument("--store", help="store URL (default: KFPT_STORE)")
        lst.add_argument("--output", choices=["table", "json"], default="table")
        # Text for a person at a terminal; JSON when piped (scripts keep today's JSON) or asked for.
        show.add_argument("--output", choices=["text", "json"], help="text on a terminal, else json")
        lst.set_defaults(handler=cmd_list, noun=noun)
        show.set_defaults(handler=cmd_show, noun=noun)
        if noun == "events":
            explain = verbs.add_parser("explain", help="a readable account of one event")
            explain.add_argument("id", metavar="EVENT_ID")
            explain.add_argument("--store", help="store URL (default: KFPT_STORE)")
            # For people: text even when stdout is not a terminal; JSON on request.
            explain.add_argument(
                "--output", choices=["text", "json"], default="text", help="text (the default) or json"
            )
            explain.set_defaults(handler=cmd_explain)
        if noun == "runs":
            cancel = verbs.add_parser("cancel", help="cancel a run on its backend (idempotent)")
            cancel.add_argument("run_id", metavar="RUN_ID")
            cancel.add_argument("--store", help="store URL (default: KFPT_STORE)")
            cancel.set_defaults(handler=cmd_cancel)

    p = sub.add_parser(
        "lineage", help="the chain from commit to artifacts of an event, run, commit or artifact"
    )
    p.add_argument("ref", metavar="EVENT_ID|RUN_ID|SHA|URI")
    p.add_argument("--store", help="store URL (default: KFPT_STORE)")
    p.add_argument("--output", choices=["text", "json"], default="text", help="text (the default) or json")
    p.set_defaults(handler=cmd_lineage)

    p = sub.add_parser("dispatch", help="start a trigger's run by hand, with its template's params")
    p.add_argument("--listener", required=True, help="EventListener name")
    p.add_argument("--trigger", required=True, help="one of its triggers")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="a template param")
    _manual_args(p)
    p.set_defaults(handler=cmd_dispatch)

    p = sub.add_parser("rerun", help="a new run with the params a journalled run was rendered from")
    p.add_argument("run_id", metavar="RUN_ID")
    _manual_args(p)
    p.set_defaults(handler=cmd_rerun)

    p = sub.add_parser("replay", help="re-run a journalled event against the current configuration")
    p.add_argument("event_id")
    p.add_argument("-c", "--config", type=Path, action="append", help="config (default: KFPT_CONFIG)")
    _secrets_arg(p)
    p.add_argument("--store", help="store URL (default: KFPT_STORE)")
    p.add_argument("--dry-run", action="store_true", help="only show what would differ")
    p.set_defaults(handler=cmd_replay)

    p = sub.add_parser("dashboard", help="serve a read-only web dashboard over the store")
    p.add_argument("--store", help="store URL (default: KFPT_STORE)")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (no authentication: see README)")
    p.add_argument("--port", type=int, default=8090)
    p.add_argument("-c", "--config", type=Path, action="append", help="config: offers replay against it")
    p.set_defaults(handler=cmd_dashboard)

    p = sub.add_parser("settings", help="list every KFPT_* setting: type, default, current value, doc")
    p.add_argument("--output", choices=["table", "json"], default="table")
    p.set_defaults(handler=cmd_settings)
    return parser


def _secrets_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--secrets-dir", type=Path, help="directory laid out <secretName>/<key>")


def _secrets(directory: Path | None) -> SecretStore:
    return FileSecrets(directory) if directory is not None else NoSecrets()


def cmd_validate(args: argparse.Namespace) -> dict[str, Any]:
    """Check configurations; problems are printed to stderr as ``file:line: severity: message``."""
    from kfp_triggers.app.validation import check

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
    from kfp_triggers.app.simulation import simulate

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
    from kfp_triggers.app.simulation import binding_eval

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
    from kfp_triggers.tekton.request import read_http_request

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


def cmd_serve(args: argparse.Namespace) -> None:
    """Serve until interrupted (or until the sent request's runs finish)."""
    import logging

    from kfp_triggers.app.operations import settings_with
    from kfp_triggers.app.serve import run_server

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings, environ = settings_with(
        {
            "KFPT_CONFIG": args.config,
            "KFPT_SECRETS_DIR": str(args.secrets_dir) if args.secrets_dir else None,
            "KFPT_STORE": args.store,
            "KFPT_LAUNCHER": args.launcher,
        }
    )
    code = run_server(
        settings, environ, host=args.host, port=args.port, tick_s=args.tick, send=args.send,
        exit_when_done=args.exit_when_done, timeout_s=args.timeout, dashboard=args.dashboard,
    )  # fmt: skip
    raise SystemExit(code)


def cmd_send(args: argparse.Namespace) -> dict[str, Any]:
    """POST a request file and show the answer."""
    from kfp_triggers.app.serve import send_request

    status, body = send_request(args.url, args.request)
    try:
        answer: Any = json.loads(body)
    except ValueError:
        answer = body.decode(errors="replace")
    if status >= 400:
        raise CommandError(f"the listener answered {status}", status=status, body=answer)
    return {"status": status, "body": answer}


def cmd_list(args: argparse.Namespace) -> Any:
    """events list / runs list."""
    from kfp_triggers.app import operations as ops

    store = ops.open_store(args.store)
    if args.noun == "runs":
        rows = ops.list_runs(store, args.limit, args.state)
        columns = ["runID", "state", "trigger", "concurrencyGroup", "eventID", "backend", "updatedAt"]
    else:
        since = ops.parse_since(args.since, datetime.now(UTC)) if args.since else None
        only = ops.EventFilter(args.trigger, since, args.rejected, args.errors)
        rows = ops.list_events(store, args.limit, args.listener, only)
        columns = ["eventID", "listener", "receivedAt", "accepted", "rejected", "runIDs", "outcome", "errors"]
    if args.output == "json":
        return rows
    ops.print_table(rows, columns)
    return None


def cmd_show(args: argparse.Namespace) -> Any:
    """events show / runs show: the record as JSON, or told for people on a terminal."""
    from kfp_triggers.app import operations as ops

    store = ops.open_store(args.store)
    output = args.output or ("text" if sys.stdout.isatty() else "json")
    if args.noun == "runs":
        run = ops.show_run(store, args.id)
        if output == "json":
            return run
        from kfp_triggers.app.run_text import render_run

        sys.stdout.write(render_run(run))
        return None
    if output == "json":
        return ops.show_event(store, args.id)
    from kfp_triggers.app.explain_text import render_text

    sys.stdout.write(render_text(ops.explain_event(store, args.id)))
    return None


def cmd_explain(args: argparse.Namespace) -> Any:
    """events explain: the event told for people (text), or the same account as JSON."""
    from kfp_triggers.app import operations as ops
    from kfp_triggers.app.explain_text import render_text

    explained = ops.explain_event(ops.open_store(args.store), args.id)
    if args.output == "json":
        return explained
    sys.stdout.write(render_text(explained))
    return None


def cmd_lineage(args: argparse.Namespace) -> Any:
    """lineage: commit and sender -> event -> trigger -> run -> artifacts, text or JSON."""
    from kfp_triggers.app import operations as ops
    from kfp_triggers.app.lineage import lineage, render_lineage

    found = lineage(ops.open_store(args.store), args.ref)
    if args.output == "json":
        return found
    sys.stdout.write(render_lineage(found))
    return None


def cmd_cancel(args: argparse.Namespace) -> dict[str, Any]:
    """runs cancel: stop the run on its backend, record the state it reports, print both states."""
    import os

    from kfp_triggers.app import operations as ops

    return ops.cancel_run(ops.open_store(args.store), args.run_id, os.environ)


def _manual_args(p: argparse.ArgumentParser) -> None:
    """Options of ``dispatch`` and ``rerun``: where the chain is, who sends, whether to wait."""
    p.add_argument("-c", "--config", help="config file or dir (default: KFPT_CONFIG)")
    _secrets_arg(p)
    p.add_argument("--store", help="store URL (default: KFPT_STORE)")
    p.add_argument("--by", help="who dispatches, for the journal (default: user@host)")
    p.add_argument(
        "--wait", action="store_true", help="follow the run until it ends; exit 1 unless SUCCEEDED"
    )
    p.add_argument(
        "--timeout", type=float, default=600.0, help="with --wait: give up after this many seconds"
    )


def _manual_context(args: argparse.Namespace) -> Any:
    """The chain as configured; with the in-process transport, launch and status run here."""
    from kfp_triggers.adapters.transports.factory import publisher_from_env
    from kfp_triggers.adapters.transports.memory import MemoryBus
    from kfp_triggers.app.operations import settings_with
    from kfp_triggers.app.runtime import build_context, handle_event
    from kfp_triggers.wire.eventtypes import TOPIC_LAUNCH, TOPIC_RUNS

    settings, environ = settings_with(
        {
            "KFPT_CONFIG": args.config,
            "KFPT_SECRETS_DIR": str(args.secrets_dir) if args.secrets_dir else None,
            "KFPT_STORE": args.store,
        }
    )
    ctx = build_context(settings, publisher_from_env(environ), environ)
    if isinstance(ctx.publisher, MemoryBus):
        for stage, topic in (("launch", TOPIC_LAUNCH), ("status", TOPIC_RUNS)):
            ctx.publisher.subscribe(topic, functools.partial(handle_event, stage, ctx=ctx))
    return ctx


def _manual_run(
    args: argparse.Namespace, listener: str, trigger: str, params: dict[str, str], rerun_of: str | None
) -> Any:
    from kfp_triggers.adapters.transports.memory import MemoryBus
    from kfp_triggers.app.dispatch import default_sender, dispatch, wait_for_run
    from kfp_triggers.wire.events import StatusTick, event_for
    from kfp_triggers.wire.eventtypes import TOPIC_RUNS

    ctx = _manual_context(args)
    sent = dispatch(ctx, listener, trigger, params, sender=args.by or default_sender(), rerun_of=rerun_of)
    if not args.wait:
        return sent

    def tick() -> None:
        if isinstance(ctx.publisher, MemoryBus):  # deployed, the scheduler's tick follows the run
            ctx.publish(
                TOPIC_RUNS, event_for(StatusTick(), source=f"{ctx.source}/dispatch", traceparent=None)
            )

    run = wait_for_run(ctx, sent["idempotencyKey"], args.timeout, tick)
    sent["run"] = run
    if run is None or run.get("state") != "SUCCEEDED":
        from kfp_triggers.app.operations import dump

        dump(
            {
                **sent,
                "error": f"the run {'was not found' if run is None else 'ended ' + str(run.get('state'))}",
            }
        )
        raise SystemExit(1)
    return sent


def cmd_dispatch(args: argparse.Namespace) -> Any:
    """dispatch: check the params, journal the event as manual, send the run request."""
    from kfp_triggers.app.dispatch import parse_params

    return _manual_run(args, args.listener, args.trigger, parse_params(args.param), None)


def cmd_rerun(args: argparse.Namespace) -> Any:
    """rerun: dispatch again the params a journalled run was rendered from."""
    from kfp_triggers.app import operations as ops
    from kfp_triggers.app.dispatch import rerun_params

    listener, trigger, params = rerun_params(ops.open_store(args.store), args.run_id)
    return _manual_run(args, listener, trigger, params, args.run_id)


def cmd_replay(args: argparse.Namespace) -> dict[str, Any]:
    """Replay one journalled event."""
    import os

    from kfp_triggers import settings as registry
    from kfp_triggers.app import operations as ops

    config = args.config or [Path(registry.value(os.environ, registry.CONFIG))]
    secrets = args.secrets_dir or Path(registry.value(os.environ, registry.SECRETS_DIR))
    return ops.replay(ops.open_store(args.store), args.event_id, config, secrets, dry_run=args.dry_run)


def cmd_dashboard(args: argparse.Namespace) -> None:
    """Serve the dashboard until interrupted.

    ``--store`` and a single ``-c`` are also set for this process's own chain, so a confirmed replay
    goes through that configuration into the store the dashboard shows.
    """
    import os

    from kfp_triggers.app import operations as ops
    from kfp_triggers.app.dashboard.server import run_dashboard, start_dashboard

    if args.store:
        os.environ["KFPT_STORE"] = args.store
    if args.config and len(args.config) == 1:
        os.environ["KFPT_CONFIG"] = str(args.config[0])
    store = ops.open_store(args.store)
    try:
        server = start_dashboard(store, os.environ, host=args.host, port=args.port, config=args.config)
    except OSError as exc:
        raise CommandError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from exc
    run_dashboard(server)


def cmd_settings(args: argparse.Namespace) -> Any:
    """Every setting with the environment's value (secrets hidden); exit 1 when any is unusable.

    Unknown ``KFPT_*`` names and malformed values are listed on stderr, after the settings.
    """
    import os

    from kfp_triggers import settings as registry
    from kfp_triggers.app import operations as ops

    rows = registry.describe(os.environ)
    if args.output == "json":
        _emit(rows)
    else:
        every = len(registry.ALL)
        shown = [
            {
                **r,
                "value": r["value"] or "",
                "stages": "all" if len(r["stages"]) == every else ",".join(r["stages"]),
            }
            for r in rows
        ]
        ops.print_table(shown, ["name", "type", "default", "value", "stages", "doc"])
    problems = registry.problems(os.environ)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        raise SystemExit(1)
    return None


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
