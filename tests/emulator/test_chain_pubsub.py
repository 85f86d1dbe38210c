"""The deployed shape of the chain: five functions-framework servers chained by the Pub/Sub emulator.

Nothing is simulated: each stage is its own ``functions-framework`` process configured by
``KFPT_*`` variables, the emulator pushes every stage's input topic into its function, the
stages share one SQLite store, and the launch stage runs the example pipeline with kfp.local. The
test plays GitHub (a signed push, then the same delivery again) and the scheduler (a
``status.tick`` every second), and watches topics through pull subscriptions of its own.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kfp_triggers.adapters.store import store_from_url
from kfp_triggers.adapters.store.base import RunRecord, Store
from kfp_triggers.adapters.transports.pubsub import ensure_topology
from kfp_triggers.app.serve import send_request
from kfp_triggers.wire import events as ev
from kfp_triggers.wire.eventtypes import (
    TOPIC_EVENTS,
    TOPIC_LAUNCH,
    TOPIC_MATCHED,
    TOPIC_RUN_STATES,
    TOPIC_RUNS,
    TOPICS,
    dead_letter_topic,
)
from tests.emulator.chain_support import (
    ENTRY_POINTS,
    EXAMPLE,
    INPUT_TOPICS,
    FunctionServer,
    Observer,
    Ticker,
    start_function,
    stop_all,
    unique_project,
    wait_until,
)
from tests.emulator.support import free_port

pytestmark = pytest.mark.emulator

PUSH = EXAMPLE / "requests" / "push.http"
EVENT_ID = "0b6f5a2e-c9d1-11f0-8a1e-4f2c7a9d3b01"  # the X-GitHub-Delivery of push.http
STARTUP_LIMIT_S = 60.0
RUN_LIMIT_S = 90.0
DEAD_LETTER_LIMIT_S = 30.0
RETRY_MARK = "launch: retryable failure"
GIVE_UP_MARK = "{stage}: giving up on"


@dataclass
class Chain:
    """The functions of one test, the Pub/Sub project they talk in, and where they keep state."""

    project: str
    environ: dict[str, str]
    workdir: Path
    store_url: str
    runs_root: Path
    servers: dict[str, FunctionServer] = field(default_factory=dict)

    def topology(self, topics: Iterable[str], max_delivery_attempts: int = 5) -> dict[str, str]:
        """Create ``topics`` with their dead-letter topics; each stage's input is pushed into its function."""
        endpoints = {
            INPUT_TOPICS[stage]: server.push_endpoint(self.project, INPUT_TOPICS[stage])
            for stage, server in self.servers.items()
            if stage in INPUT_TOPICS
        }
        return ensure_topology(
            self.project,
            list(topics),
            push_endpoints=endpoints,
            max_delivery_attempts=max_delivery_attempts,
            min_backoff_seconds=0.0,
            max_backoff_seconds=1.0,
            environ=self.environ,
        )

    def post(self, request_file: Path) -> tuple[int, dict[str, str]]:
        """POST a raw request file to the ingest function, as the sender would; (status, JSON answer)."""
        status, body = send_request(self.servers["ingest"].url + "/", request_file)
        answer: dict[str, str] = json.loads(body)
        return status, answer

    def store(self) -> Store:
        """The store every function writes to."""
        return store_from_url(self.store_url)


StartChain = Callable[[Sequence[str], Mapping[str, Mapping[str, str]]], Chain]


@pytest.fixture
def start_chain(pubsub_emulator: str, tmp_path: Path) -> Iterator[StartChain]:
    """Start the given stages as functions-framework servers in a fresh Pub/Sub project.

    Every function gets the example listener and secrets, the Pub/Sub transport on the emulator,
    one shared SQLite file and the local launcher; per-stage overrides replace any of these. All
    servers are stopped when the test ends, whatever happened.
    """
    with ExitStack() as stack:

        def start(stages: Sequence[str], overrides: Mapping[str, Mapping[str, str]]) -> Chain:
            workdir = tmp_path / "work"
            workdir.mkdir()
            chain = Chain(
                project=unique_project("kfpt-chain"),
                environ={"PUBSUB_EMULATOR_HOST": pubsub_emulator},
                workdir=workdir,
                store_url=f"sqlite:///{tmp_path / 'state.db'}",
                runs_root=tmp_path / "runs",
            )
            settings = {
                "KFPT_CONFIG": str(EXAMPLE),
                "KFPT_SECRETS_DIR": str(EXAMPLE / "secrets"),
                "KFPT_TRANSPORT": "pubsub",
                "PUBSUB_EMULATOR_HOST": pubsub_emulator,
                "KFPT_PUBSUB_PROJECT": chain.project,
                "KFPT_STORE": chain.store_url,
                "KFPT_LAUNCHER": "local",
                "KFPT_LOCAL_OUTPUT_ROOT": str(chain.runs_root),
            }
            stack.callback(stop_all, chain.servers.values())
            for stage in stages:
                chain.servers[stage] = start_function(
                    stage, {**settings, **overrides.get(stage, {})}, workdir
                )
            for server in chain.servers.values():
                wait_until(f"the {server.stage} function to answer", server.answers, STARTUP_LIMIT_S)
            return chain

        yield start


def runs_of(store: Store, event_id: str) -> list[RunRecord]:
    """Every run recorded for ``event_id``."""
    return [r for r in store.list_runs(1000) if r.event_id == event_id]


def transition_path(changes: Sequence[ev.RunState]) -> list[str]:
    """The states a run went through, chained by ``previousState`` (whatever order they arrived in).

    Fails when the transitions do not form one unbroken path, e.g. a state reported twice.
    """
    entered = [c.state for c in changes]
    assert len(entered) == len(set(entered)), f"a state was reported more than once: {entered}"
    following = {c.previous_state: c.state for c in changes}
    [start] = [c.previous_state for c in changes if c.previous_state not in entered]
    path = [str(start)]
    while path[-1] in following:
        path.append(following[path[-1]])
    assert len(path) == len(changes) + 1, f"transitions do not chain: {following}"
    return path


def test_signed_push_runs_the_pipeline_once_through_five_functions_on_pubsub(start_chain: StartChain) -> None:
    """A signed GitHub push crosses all five functions over Pub/Sub and runs the pipeline once.

    Proves that ingest hands the webhook on and answers 202 with GitHub's delivery id, that each
    push subscription drives its stage, that status (fed by run.created and ticks) reports every
    transition of the one run exactly once up to SUCCEEDED, and that the store and the disk hold
    exactly that run. Then GitHub redelivers the same request: it travels the whole chain again
    (launch answers with the run it already created) and adds no run, no run directory and no
    state change.
    """
    chain = start_chain(list(ENTRY_POINTS), {})
    chain.topology(TOPICS)
    with ExitStack() as stack:
        states = stack.enter_context(closing(Observer.create(chain.environ, chain.project, TOPIC_RUN_STATES)))
        created = stack.enter_context(closing(Observer.create(chain.environ, chain.project, TOPIC_RUNS)))
        requested = stack.enter_context(closing(Observer.create(chain.environ, chain.project, TOPIC_LAUNCH)))
        ticker = stack.enter_context(closing(Ticker(chain.environ, chain.project, TOPIC_RUNS)))
        store = stack.enter_context(closing(chain.store()))

        def state_changes() -> list[ev.RunState]:
            unique = {e["id"]: e for e in states.events() if e["type"] == ev.RUN_STATE}
            changes = [ev.read_data(e) for e in unique.values()]
            return [c for c in changes if isinstance(c, ev.RunState) and c.event_id == EVENT_ID]

        def launches() -> list[ev.RunCreated]:
            found = [ev.read_data(e) for e in created.events() if e["type"] == ev.RUN_CREATED]
            return [c for c in found if isinstance(c, ev.RunCreated) and c.event_id == EVENT_ID]

        def requests() -> list[ev.RunRequested]:
            found = [ev.read_data(e) for e in requested.events() if e["type"] == ev.RUN_REQUESTED]
            return [r for r in found if isinstance(r, ev.RunRequested) and r.event_id == EVENT_ID]

        def succeeded() -> bool:
            ticker.tick_every(1.0)
            states.drain()
            created.drain()
            requested.drain()
            return any(c.state == "SUCCEEDED" for c in state_changes())

        status, answer = chain.post(PUSH)
        assert status == 202, answer
        assert answer["eventID"] == EVENT_ID
        assert answer["eventListener"] == "github-push"
        wait_until("run.state SUCCEEDED on kfpt-run-states", succeeded, RUN_LIMIT_S, 0.2)

        [run] = store.list_runs(1000)
        assert run.event_id == EVENT_ID
        assert run.trigger == "train-on-main"
        assert run.backend == "local"
        assert run.state == "SUCCEEDED"
        changes = state_changes()
        assert {c.run_id for c in changes} == {run.run_id}
        assert {(c.trigger.name, c.listener.name) for c in changes} == {("train-on-main", "github-push")}
        assert transition_path(changes)[-1] == "SUCCEEDED"
        assert [c.run_id for c in launches()] == [run.run_id]

        run_dir = chain.runs_root / run.run_id
        assert [p for p in chain.runs_root.iterdir() if p.name != ".keys"] == [run_dir]
        assert json.loads((run_dir / "run.json").read_text())["state"] == "SUCCEEDED"
        assert list(run_dir.rglob("executor_output.json")), "kfp.local wrote no task outputs"

        for stage, server in chain.servers.items():
            assert GIVE_UP_MARK.format(stage=stage) not in server.log(), server.log()[-3000:]

        # GitHub redelivers the same delivery: same eventID, so the same idempotency key.
        [first_request] = requests()
        launched_before = len(launches())
        seen_states = len(changes)
        status, again = chain.post(PUSH)
        assert status == 202, again
        assert again["eventID"] == EVENT_ID

        def rendered_again() -> bool:
            requested.drain()
            return len(requests()) > 1

        wait_until("the redelivery to be rendered again", rendered_again, 30.0)
        [_, repeated_request] = requests()
        assert repeated_request.idempotency_key == first_request.idempotency_key
        assert repeated_request.uid == first_request.uid

        def launch_answered() -> bool:
            created.drain()
            gave_up = GIVE_UP_MARK.format(stage="launch") in chain.servers["launch"].log()
            return gave_up or len(launches()) > launched_before

        wait_until("launch to handle the redelivered run request", launch_answered, 30.0)
        ticker.tick()
        time.sleep(1.5)  # status handles the tick (and a repeated run.created)
        states.drain()
        created.drain()
        assert len(state_changes()) == seen_states, "a terminal run reported a new state"

        assert [r.run_id for r in runs_of(store, EVENT_ID)] == [run.run_id]
        assert len(store.list_runs(1000)) == 1
        assert [p for p in chain.runs_root.iterdir() if p.name != ".keys"] == [run_dir]
        story = store.get_event(EVENT_ID)
        assert story is not None
        main, tag = story.trigger("train-on-main"), story.trigger("release-on-tag")
        assert main is not None and tag is not None
        assert (main.accepted, main.launched, main.run_id, main.error) == (True, True, run.run_id, None)
        assert tag.accepted is False
        for stage, server in chain.servers.items():
            assert "Traceback" not in server.log(), f"{stage} failed:\n{server.log()[-3000:]}"

        # Launch answers a completed claim with the run it stored, published again as run.created.
        assert len(launches()) == launched_before + 1
        repeat = launches()[-1]
        assert (repeat.run_id, repeat.state) == (run.run_id, "SUCCEEDED")


def test_launch_that_cannot_reach_kfp_is_retried_then_dead_lettered(start_chain: StartChain) -> None:
    """A launch that fails for a retryable reason is redelivered, then dead-lettered; no run exists.

    The launch function talks to a KFP API on a closed port, so every delivery of the run request
    ends in connection refused, a retryable failure: the function answers 500 and Pub/Sub delivers
    again. After the subscription's five attempts the request lands on ``kfpt-launch-dead-letter``
    unchanged, the function saw exactly five deliveries, the earlier stages succeeded at the first
    attempt, and the store holds no run and no launch for the event.
    """
    closed = f"127.0.0.1:{free_port()}"  # nothing listens there: connection refused
    stages = ["ingest", "intercept", "render", "launch"]
    kfp = {"KFPT_LAUNCHER": "kfp", "KFPT_KFP_HOST": f"http://{closed}", "KFPT_KFP_TIMEOUT_S": "2"}
    chain = start_chain(stages, {"launch": kfp})
    subscriptions = chain.topology([TOPIC_EVENTS, TOPIC_MATCHED, TOPIC_LAUNCH], max_delivery_attempts=5)
    launch = chain.servers["launch"]
    with ExitStack() as stack:
        dead_letters = subscriptions[f"{dead_letter_topic(TOPIC_LAUNCH)}-sub"]
        dead = stack.enter_context(closing(Observer(chain.environ, dead_letters)))
        store = stack.enter_context(closing(chain.store()))
        status, answer = chain.post(PUSH)
        assert status == 202, answer
        assert answer["eventID"] == EVENT_ID
        waited = wait_until(
            "the run request on the dead-letter topic", lambda: bool(dead.drain()), DEAD_LETTER_LIMIT_S, 0.2
        )
        retries = launch.log().count(RETRY_MARK)
        time.sleep(1.5)  # a sixth delivery would come within the emulator's ~1 s redelivery interval
        dead.drain()

        [letter] = dead.messages
        assert letter.attributes["CloudPubSubDeadLetterSourceDeliveryCount"] == "5"
        event = ev.from_pubsub_message(letter.data, dict(letter.attributes))
        assert event["type"] == ev.RUN_REQUESTED
        assert ev.origin_event_id(event) == EVENT_ID
        requested = ev.read_data(event)
        assert isinstance(requested, ev.RunRequested)
        assert requested.trigger.name == "train-on-main"

        log = launch.log()
        assert retries == 5, log[-3000:]
        assert log.count(RETRY_MARK) == 5, "delivered again after dead-lettering"
        # The key's first attempt creates without looking for a run first, so it fails at the
        # experiment's lookup; the four later attempts ask for an existing run first.
        assert log.count(f"{RETRY_MARK}: GET /apis/v2beta1/experiments: cannot connect") == 1, log[-3000:]
        assert log.count(f"{RETRY_MARK}: GET /apis/v2beta1/runs: cannot connect") == 4, log[-3000:]
        assert log.count("Exception on /projects/") == 5, "each failed delivery should be answered 500"
        for stage in ("intercept", "render"):
            assert RETRY_MARK.replace("launch", stage) not in chain.servers[stage].log()

        assert store.list_runs(1000) == []
        story = store.get_event(EVENT_ID)
        assert story is not None
        main = story.trigger("train-on-main")
        assert main is not None
        assert (main.accepted, main.rendered, main.launched, main.run_id) == (True, True, False, None)
        assert main.idempotency_key == requested.idempotency_key
    print(f"push to dead letter {waited:.1f} s")


def _signed_push(folder: Path, sha: str) -> Path:
    """The example's push to main with another head commit, signed with the example secret."""
    import hashlib
    import hmac

    payload = json.loads((EXAMPLE / "payloads" / "push.json").read_text())
    payload["after"] = payload["head_commit"]["id"] = sha
    body = json.dumps(payload).encode()
    signature = hmac.new(
        (EXAMPLE / "secrets" / "github-webhook" / "secret").read_bytes(), body, hashlib.sha256
    )
    head = [
        "POST / HTTP/1.1",
        "Host: hooks.example.com",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "X-GitHub-Event: push",
        f"X-GitHub-Delivery: delivery-{sha[:12]}",
        f"X-Hub-Signature-256: sha256={signature.hexdigest()}",
    ]
    path = folder / f"push-{sha[:12]}.http"
    path.write_bytes(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    return path


def test_a_queued_run_request_goes_back_to_launch_over_pubsub_when_the_slot_frees(
    start_chain: StartChain, tmp_path: Path
) -> None:
    """Two pushes to main under ``queue``: the second waits, then status hands it back to launch.

    The listener's inline triggers share one concurrency group per repository (``queue``, one run
    at a time). The second push's request is kept in the store; when the status stage sees the
    first run end it frees the slot and publishes the kept request on launch's topic, and the
    launch function runs it: both pipelines really run, one after the other.
    """
    config = tmp_path / "config" / "github-push"
    shutil.copytree(EXAMPLE, config, ignore=shutil.ignore_patterns("requests", "payloads"))
    shutil.copytree(EXAMPLE.parent / "pipelines", tmp_path / "config" / "pipelines")
    listener = (config / "listener.yaml").read_text()
    annotated = listener.replace(
        "metadata:\n  name: github-push\n",
        "metadata:\n  name: github-push\n  annotations:\n"
        '    kfp-triggers.dev/concurrency-group: "$(tt.params.repo)"\n'
        "    kfp-triggers.dev/concurrency-policy: queue\n",
        1,
    )
    assert annotated != listener
    (config / "listener.yaml").write_text(annotated)
    chain = start_chain(list(ENTRY_POINTS), {s: {"KFPT_CONFIG": str(config)} for s in ENTRY_POINTS})
    chain.topology(TOPICS)
    with ExitStack() as stack:
        ticker = stack.enter_context(closing(Ticker(chain.environ, chain.project, TOPIC_RUNS)))
        store = stack.enter_context(closing(chain.store()))
        first, second = (chain.post(_signed_push(tmp_path, sha * 40)) for sha in ("a", "b"))
        assert first[0] == second[0] == 202, (first, second)
        event_ids = [first[1]["eventID"], second[1]["eventID"]]

        def note(event_id: str) -> str | None:
            story = store.get_event(event_id)
            record = story.trigger("train-on-main") if story is not None else None
            return record.launch_note if record is not None else None

        # Pub/Sub does not keep order: whichever request reaches launch first runs, the other waits.
        wait_until("one push to be queued", lambda: any(note(e) for e in event_ids), RUN_LIMIT_S, 0.2)
        [waiting_id] = [e for e in event_ids if note(e)]
        [running_id] = [e for e in event_ids if e != waiting_id]
        wait_until("the other push's run", lambda: bool(runs_of(store, running_id)), RUN_LIMIT_S, 0.2)
        [running] = runs_of(store, running_id)
        # Behind the first run, or behind its event while that run was still being created.
        assert note(waiting_id) in (
            f"queued behind run {running.run_id}",
            f"queued behind event {running_id}",
        )
        assert runs_of(store, waiting_id) == []

        def both_done() -> bool:
            ticker.tick_every(1.0)
            runs = runs_of(store, running_id) + runs_of(store, waiting_id)
            return len(runs) == 2 and all(r.state == "SUCCEEDED" for r in runs)

        wait_until("both runs to succeed, one after the other", both_done, RUN_LIMIT_S * 2, 0.2)
        [ran_first] = runs_of(store, running_id)
        [ran_second] = runs_of(store, waiting_id)
        assert ran_second.created_at >= ran_first.updated_at  # it started once the first had ended
        for stage, server in chain.servers.items():
            assert "Traceback" not in server.log(), f"{stage} failed:\n{server.log()[-3000:]}"
