"""Pull request comment commands end to end: ``serve`` with real kfp.local runs of a pipeline that sleeps.

The example listener (examples/pr-commands, its template swapped for the napping pipeline) gets the
example's signed requests: a pull request opened, then comments on it. GitHub cannot run here, so
a local contract server answers the calls the published API defines (collaborator permission, get a
pull request, create a commit status) for the example's people: Codertocat may write, Forker may not.

Checked: a pull request opened runs both triggers; an authorised ``/retest`` runs both again on the
head commit (statuses posted to it) and the same comment delivered again runs nothing more; a
stranger's ``/retest`` is refused and journalled; ``/retest evaluate`` runs only evaluate; a fork's
pull request waits for ``/ok-to-test``, then runs; ``/cancel`` cancels the pull request's runs in
progress and launches nothing.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from kfp_triggers.adapters.store.base import EventRecord, RunRecord
from kfp_triggers.app.operations import explain_event
from kfp_triggers.app.serve import Server, send_request, wait_for
from tests.chain.serving import serving
from tests.conftest import EXAMPLES
from tests.launchers.sleepy import WAIT_S, compile_all
from tests.unit.local_http import LocalServer, Reply, local_server

EXAMPLE = EXAMPLES / "pr-commands"
REPO = "/repos/Codertocat/Hello-World"
HEAD = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
FORK_HEAD = "3f786850e387550fdab836ed7e6dc881de23001b"
TRIGGERS = {"train", "evaluate"}

TEMPLATE = """
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata: {{name: pr-run}}
spec:
  params: [{{name: repo}}, {{name: sha}}, {{name: pr}}, {{name: event_id}}, {{name: trigger}}]
  resourcetemplates:
    - apiVersion: pipelines.kubeflow.org/v2beta1
      kind: Run
      metadata: {{generateName: pr-}}
      spec:
        display_name: $(tt.params.trigger) $(tt.params.repo)#$(tt.params.pr) $(tt.params.sha)
        pipeline_package: {package}
        runtime_config:
          parameters:
            marker: "{markers}/$(tt.params.trigger)-$(tt.params.event_id).pid"
            seconds: {seconds}
"""


def github_routes() -> dict[str, Reply]:
    """What GitHub answers the interceptor and the status notifier, for the example's story."""

    def pull(stem: str) -> Reply:
        payload = json.loads((EXAMPLE / "payloads" / f"{stem}.json").read_text())
        return Reply(200, json.dumps(payload["pull_request"]).encode())

    def permission(level: str) -> Reply:
        return Reply(200, json.dumps({"permission": level}).encode())

    return {
        f"GET {REPO}/collaborators/Codertocat/permission": permission("write"),
        f"GET {REPO}/collaborators/Forker/permission": permission("read"),
        f"GET {REPO}/pulls/2": pull("pull-request-opened"),
        f"GET {REPO}/pulls/3": pull("fork-pull-request-opened"),
        f"POST {REPO}/statuses/{HEAD}": Reply(201, b"{}"),
        f"POST {REPO}/statuses/{FORK_HEAD}": Reply(201, b"{}"),
    }


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_all(tmp_path_factory.mktemp("pipelines"))["napping"]


@contextmanager
def served(tmp_path: Path, package: Path, seconds: int) -> Iterator[tuple[Server, LocalServer, Path]]:
    """The example listener served with runs that sleep ``seconds``; the server, GitHub and the markers."""
    markers = tmp_path / "markers"
    markers.mkdir()
    config = tmp_path / "config"
    config.mkdir()
    shutil.copy(EXAMPLE / "listener.yaml", config / "listener.yaml")
    (config / "template.yaml").write_text(TEMPLATE.format(package=package, markers=markers, seconds=seconds))
    with local_server(github_routes()) as api, pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        environ = {
            "KFPT_LAUNCHER": "local",
            "KFPT_GITHUB_TOKEN_SECRET": "github-api/token",
            "KFPT_GITHUB_API_URL": api.base_url + "/",
        }
        with serving(
            tmp_path,
            environ,
            config=config,
            secrets_dir=str(EXAMPLE / "secrets"),
            github_api_url=api.base_url + "/",
        ) as srv:
            yield srv, api, markers


def send(srv: Server, name: str) -> str:
    status, answer = send_request(srv.url, EXAMPLE / "requests" / f"{name}.http")
    assert status == 202, answer
    event_id: str = json.loads(answer)["eventID"]
    return event_id


def runs_of(srv: Server, event_id: str) -> dict[str, RunRecord]:
    return {r.trigger: r for r in srv.ctx.store.list_runs(200) if r.event_id == event_id}


def decided(srv: Server, event_id: str) -> EventRecord:
    def record() -> EventRecord | None:
        found = srv.ctx.store.get_event(event_id)
        return (
            found
            if found is not None and len(found.triggers) == 2 and all(t.decided for t in found.triggers)
            else None
        )

    assert wait_for(lambda: record() is not None, WAIT_S)
    found = record()
    assert found is not None
    return found


def refusals(record: EventRecord) -> dict[str, str]:
    """Each trigger's last interceptor message, for the triggers that refused the event."""
    out = {}
    for trigger in record.triggers:
        if not trigger.accepted:
            last = trigger.decisions[-1]["response"]["status"]
            out[trigger.trigger] = f"{last.get('code')}: {last.get('message')}"
    return out


def test_comments_run_retest_and_ok_to_test_exactly_once_for_whom_may(tmp_path: Path, package: Path) -> None:
    with served(tmp_path, package, seconds=1) as (srv, api, _):
        opened = send(srv, "pull-request-opened")
        assert wait_for(lambda: set(runs_of(srv, opened)) == TRIGGERS, WAIT_S)

        retest = send(srv, "retest")
        assert wait_for(lambda: set(runs_of(srv, retest)) == TRIGGERS, WAIT_S)
        for run in runs_of(srv, retest).values():
            github = run.details["origin"]["github"]
            assert (github["sha"], github["event"]) == (HEAD, "issue_comment")
        record = srv.ctx.store.get_event(retest)
        assert record is not None
        params = record.trigger("train")
        assert params is not None and params.params is not None
        assert (params.params["sha"], params.params["pr"]) == (HEAD, "2")

        # GitHub delivers the same comment again (same delivery id): nothing new is launched.
        assert send(srv, "retest") == retest
        only_evaluate = send(srv, "retest-evaluate")
        assert wait_for(lambda: "evaluate" in runs_of(srv, only_evaluate), WAIT_S)
        assert refusals(decided(srv, only_evaluate)) == {
            "train": "9: /retest names trigger 'evaluate', not 'train'"
        }
        assert set(runs_of(srv, only_evaluate)) == {"evaluate"}

        stranger = send(srv, "retest-by-stranger")
        refused = "7: Forker may not run /retest: it needs write access to Codertocat/Hello-World"
        assert refusals(decided(srv, stranger)) == {"train": refused, "evaluate": refused}
        assert "Forker may not run /retest" in json.dumps(explain_event(srv.ctx.store, stranger))

        fork = send(srv, "fork-pull-request-opened")
        held = (
            "7: awaiting /ok-to-test from a collaborator: pull request #3 comes from a fork and its "
            "author Forker has no write access to Codertocat/Hello-World"
        )
        assert refusals(decided(srv, fork)) == {"train": held, "evaluate": held}
        ok = send(srv, "ok-to-test")
        assert wait_for(lambda: set(runs_of(srv, ok)) == TRIGGERS, WAIT_S)
        assert {r.details["origin"]["github"]["sha"] for r in runs_of(srv, ok).values()} == {FORK_HEAD}

        assert wait_for(lambda: all(r.terminal for r in srv.ctx.store.list_runs(200)), WAIT_S)
        runs = srv.ctx.store.list_runs(200)
        assert len(runs) == 7  # 2 opened + 2 /retest + 1 /retest evaluate + 2 /ok-to-test
        assert sorted(r.event_id for r in runs).count(retest) == 2
        assert runs_of(srv, stranger) == {} and runs_of(srv, fork) == {}
        # The runs a comment started report on the pull request's head commit, as its own runs do.
        assert wait_for(lambda: f"POST {REPO}/statuses/{FORK_HEAD}" in api.targets(), WAIT_S)


def test_cancel_stops_the_pull_requests_runs_in_progress_and_launches_nothing(
    tmp_path: Path, package: Path
) -> None:
    with served(tmp_path, package, seconds=120) as (srv, _, markers):
        opened = send(srv, "pull-request-opened")
        assert wait_for(lambda: set(runs_of(srv, opened)) == TRIGGERS, WAIT_S)
        assert wait_for(lambda: len(list(markers.glob("*.pid"))) == 2, WAIT_S)  # both really running
        started = runs_of(srv, opened)

        cancel = send(srv, "cancel")
        record = decided(srv, cancel)
        assert refusals(record) == {}

        def state(run_id: str) -> str | None:
            found = srv.ctx.store.get_run(run_id)
            return None if found is None else found.state

        cancelled = lambda: all(state(r.run_id) == "CANCELED" for r in started.values())  # noqa: E731
        assert wait_for(cancelled, WAIT_S), [state(r.run_id) for r in started.values()]
        event = srv.ctx.store.get_event(cancel)
        assert event is not None
        assert {t.trigger: t.launch_note for t in event.triggers} == {
            name: f"cancelled run {run.run_id} by /cancel of Codertocat" for name, run in started.items()
        }
        assert runs_of(srv, cancel) == {}
