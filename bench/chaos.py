"""Chaos run of the deployed chain: does every webhook launch exactly one run, whatever crashes?

Starts the Pub/Sub emulator (and the Firestore emulator for ``--store firestore``), a KFP API that
records every run it creates, and the five stage functions as functions-framework processes with
push subscriptions and dead-letter topics. Then sends ``--events`` signed GitHub pushes, each
delivered ``--redeliveries`` times to ingest (some concurrently with the first delivery, some a
few seconds later), while SIGKILLing the launch function ``--kills`` times at random points inside
its launches and the intercept function as often at random moments (each time a spare process
takes over the push subscription). Once the chain is quiet it reports events lost, duplicate runs
and dead letters, and exits 1 unless there are no lost events, no duplicates and no dead letters
for work that succeeded (see ``tests/emulator/chaos_report.py`` for the exact definitions).

Usage: ``.venv/bin/python bench/chaos.py [--events N] [--redeliveries K] [--kills M]
[--store firestore|sqlite] [--json out.json] [--seed S] [--set KFPT_NAME=value ...]``.
Exit status: 0 all three zeros, 1 at least one is not zero (or the chain never went quiet),
2 the emulators cannot run here.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import json
import random
import tempfile

from tests.emulator.chaos_emulators import EmulatorUnavailableError, running_emulators
from tests.emulator.chaos_run import STORES, ChaosPlan, run_chaos


def _setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.startswith("KFPT_"):
        raise argparse.ArgumentTypeError(f"expected KFPT_NAME=value, got {text!r}")
    return name, value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=300, help="distinct pushes to send [300]")
    parser.add_argument("--redeliveries", type=int, default=3, help="deliveries of each push [3]")
    parser.add_argument("--kills", type=int, default=2, help="SIGKILLs of launch, and of intercept [2]")
    parser.add_argument("--store", choices=STORES, default="firestore", help="the chain's store [firestore]")
    parser.add_argument("--json", type=Path, help="also write the report here as JSON")
    parser.add_argument("--seed", type=int, help="random seed (default: a fresh one, printed)")
    parser.add_argument("--keep", type=Path, help="keep the logs of the functions and emulators here")
    parser.add_argument("--rate", type=float, default=10.0, help="new events per second [10]")
    parser.add_argument("--max-delivery-attempts", type=int, default=5, help="before dead-lettering [5]")
    parser.add_argument(
        "--stage-timeout",
        type=int,
        default=20,
        help="each function's time limit (KFPT_STAGE_TIMEOUT_S, and the subscriptions' ack deadline) [20]",
    )
    parser.add_argument(
        "--quiet", type=float, help="seconds without activity that end the run [half the stage timeout + 3]"
    )
    parser.add_argument(
        "--set",
        type=_setting,
        action="append",
        default=[],
        metavar="KFPT_NAME=value",
        help="an extra setting for every function (repeatable)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run one chaos round; print the report; 0 when the three zeros hold."""
    args = parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    try:
        plan = ChaosPlan(
            events=args.events,
            deliveries=args.redeliveries,
            launch_kills=args.kills,
            intercept_kills=args.kills,
            store=args.store,
            rate_per_s=args.rate,
            max_delivery_attempts=args.max_delivery_attempts,
            stage_timeout_s=args.stage_timeout,
            quiet_s=args.quiet,
            seed=seed,
            function_env=dict(args.set),
        )
    except ValueError as exc:
        print(f"chaos: {exc}", file=sys.stderr)
        return 2
    print(
        f"chaos: seed {seed}, {plan.events} events x {plan.deliveries}, store {plan.store}", file=sys.stderr
    )
    with tempfile.TemporaryDirectory(prefix="kfpt-chaos-") as scratch:
        folder = args.keep or Path(scratch)
        try:
            with running_emulators(folder / "emulators", firestore=plan.store == "firestore") as hosts:
                report = run_chaos(plan, hosts, folder / "run")
        except EmulatorUnavailableError as exc:
            print(f"chaos: {exc}", file=sys.stderr)
            return 2
    print(report.summary())
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.to_json(), indent=2) + "\n")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
