"""Contract tests of KfpRestLauncher against the KFP v2beta1 REST API.

These are contract tests because a KFP API server cannot run here (it needs Kubernetes): a real HTTP
server on 127.0.0.1 plays the API, keeps experiments and runs in memory, and rejects (and records)
any request that the published swagger (run, experiment, pipeline and filter ``*.swagger.json`` of
``backend/api/v2beta1``) does not allow. The facts used are copied below as literals.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import re
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kfp_triggers.adapters.launchers import (
    LaunchRejected,
    LaunchRequest,
    LaunchUnavailable,
    RunSpec,
    RunState,
    kfp_rest,
)
from kfp_triggers.adapters.launchers.kfp_rest import KfpRestLauncher
from tests.launchers.contract_server import (
    ContractServer,
    ContractViolation,
    Seen,
    require_bearer,
    require_json_body,
    require_keys,
    require_query,
    running,
)

TRAIN = Path(__file__).resolve().parents[2] / "examples" / "pipelines" / "train.yaml"
TOKEN = "s3cr3t-token-value"

# --- the published API (run/experiment/pipeline/filter.swagger.json, v2beta1) -----------------
API = "/apis/v2beta1"
RUN_FIELDS = {
    "experiment_id",
    "run_id",
    "display_name",
    "storage_state",
    "description",
    "pipeline_version_id",
    "pipeline_spec",
    "pipeline_version_reference",
    "runtime_config",
    "service_account",
    "created_at",
    "scheduled_at",
    "finished_at",
    "state",
    "error",
    "run_details",
    "recurring_run_id",
    "state_history",
    "plugins_input",
    "plugins_output",
}
RUN_OUTPUT_ONLY = {
    "run_id",
    "storage_state",
    "created_at",
    "scheduled_at",
    "finished_at",
    "state",
    "error",
    "run_details",
    "state_history",
    "plugins_output",
}
PIPELINE_SOURCES = {"pipeline_version_id", "pipeline_spec", "pipeline_version_reference"}  # a oneof
RUNTIME_CONFIG_FIELDS = {"parameters", "pipeline_root"}
VERSION_REFERENCE_FIELDS = {"pipeline_id", "pipeline_version_id"}
EXPERIMENT_INPUT_FIELDS = {"display_name", "description", "namespace"}
LIST_RUNS_QUERY = {"namespace", "experiment_id", "page_token", "page_size", "sort_by", "filter"}
LIST_EXPERIMENTS_QUERY = {"page_token", "page_size", "sort_by", "filter", "namespace"}
LIST_VERSIONS_QUERY = {"page_token", "page_size", "sort_by", "filter"}
RUN_SINGLE_QUERY = {"experiment_id"}
PREDICATE_FIELDS = {
    "operation",
    "key",
    "int_value",
    "long_value",
    "string_value",
    "timestamp_value",
    "int_values",
    "long_values",
    "string_values",
}
OPERATIONS = {
    "EQUALS",
    "NOT_EQUALS",
    "GREATER_THAN",
    "GREATER_THAN_EQUALS",
    "LESS_THAN",
    "LESS_THAN_EQUALS",
    "IN",
    "IS_SUBSTRING",
}
# backend/src/apiserver/model/run.go runAPIToModelFieldMap; experiment.go for experiments
RUN_FILTER_KEYS = {
    "run_id",
    "display_name",
    "created_at",
    "finished_at",
    "description",
    "scheduled_at",
    "storage_state",
    "namespace",
    "experiment_id",
    "state",
    "state_history",
    "runtime_details",
    "recurring_run_id",
}
EXPERIMENT_FILTER_KEYS = {
    "experiment_id",
    "display_name",
    "created_at",
    "description",
    "namespace",
    "storage_state",
    "last_run_created_at",
}
SORT = re.compile(r"^[a-z_]+( (asc|desc))?$")
# backend/src/apiserver/storage/run_store.go TerminateRun: only these states are terminated (the
# run becomes CANCELING); any other answers InvalidInputError (HTTP 400) "... Row not found".
TERMINABLE_STATES = {"PAUSED", "PENDING", "RUNNING", "RUNTIME_STATE_UNSPECIFIED"}


def parse_filter(seen: Seen, keys: set[str]) -> list[dict[str, Any]]:
    """The ``filter`` query parameter: URL-encoded JSON of a Filter message."""
    if "filter" not in seen.query:
        return []
    try:
        data = json.loads(seen.query["filter"][0])
    except ValueError as exc:
        raise ContractViolation(f"filter is not JSON: {exc}") from exc
    require_keys("Filter", data, {"predicates"})
    for pred in data["predicates"]:
        require_keys("Predicate", pred, PREDICATE_FIELDS, {"operation", "key"})
        if pred["operation"] not in OPERATIONS:
            raise ContractViolation(f"unknown filter operation {pred['operation']!r}")
        if pred["key"] not in keys:
            raise ContractViolation(f"{pred['key']!r} cannot be filtered on")
    return list(data["predicates"])


def matches(obj: dict[str, Any], predicates: list[dict[str, Any]]) -> bool:
    for pred in predicates:
        value = str(obj.get(pred["key"], ""))
        want = str(pred.get("string_value", ""))
        if pred["operation"] == "EQUALS" and value != want:
            return False
        if pred["operation"] == "IS_SUBSTRING" and want.lower() not in value.lower():  # SQL LIKE
            return False
    return True


class FakeKfp:
    """An in-memory KFP API server that enforces the contract above."""

    def __init__(self, token: str | None = TOKEN) -> None:
        self.token = token
        self.experiments: dict[str, dict[str, Any]] = {}
        self.runs: dict[str, dict[str, Any]] = {}
        self.versions: dict[tuple[str, str], dict[str, Any]] = {}
        self.clock = itertools.count(1)
        self.lock = threading.Lock()
        self.on_create_run: list[dict[str, Any]] = []  # runs a concurrent launcher creates meanwhile
        self.after_read: dict[str, str] = {}  # run id -> the state it moves to once it has been read

    def stamp(self) -> str:
        return f"2026-11-24T10:{next(self.clock):02d}:00Z"

    def add_run(self, **fields: Any) -> dict[str, Any]:
        run = {
            "run_id": str(uuid.uuid4()),
            "created_at": self.stamp(),
            "state": "PENDING",
            "storage_state": "AVAILABLE",
            "finished_at": "1970-01-01T00:00:00Z",
            **fields,
        }
        self.runs[run["run_id"]] = run
        return run

    def __call__(self, seen: Seen) -> tuple[int, dict[str, Any]]:
        require_bearer(seen, self.token)
        require_json_body(seen)
        if not seen.path.startswith(API + "/"):
            raise ContractViolation("not a v2beta1 path")
        path = seen.path[len(API) :]
        with self.lock:
            return self.route(seen, path)

    def route(self, seen: Seen, path: str) -> tuple[int, dict[str, Any]]:
        m, body = seen.method, seen.body
        if m == "GET" and path == "/experiments":
            require_query(seen, LIST_EXPERIMENTS_QUERY)
            preds = parse_filter(seen, EXPERIMENT_FILTER_KEYS)
            found = [e for e in self.experiments.values() if matches(e, preds)]
            return 200, ({"experiments": found, "total_size": len(found)} if found else {})
        if m == "POST" and path == "/experiments":
            require_query(seen, set())
            require_keys("Experiment", body, EXPERIMENT_INPUT_FIELDS, {"display_name"})
            if any(e["display_name"] == body["display_name"] for e in self.experiments.values()):
                return 409, {"error": "already exists", "code": 6, "message": "experiment already exists"}
            exp = {**body, "experiment_id": f"exp-{len(self.experiments) + 1}", "created_at": self.stamp()}
            self.experiments[exp["experiment_id"]] = exp
            return 200, exp
        if m == "GET" and path == "/runs":
            require_query(seen, LIST_RUNS_QUERY)
            preds = parse_filter(seen, RUN_FILTER_KEYS)
            sort = seen.query.get("sort_by", ["created_at"])[0]
            if not SORT.match(sort):
                raise ContractViolation(f"bad sort_by {sort!r}")
            field, _, order = sort.partition(" ")
            found = sorted(
                (r for r in self.runs.values() if matches(r, preds)), key=lambda r: r.get(field, "")
            )
            if order == "desc":
                found.reverse()
            size = int(seen.query.get("page_size", ["20"])[0])
            return 200, ({"runs": found[:size], "total_size": len(found)} if found else {})
        if m == "POST" and path == "/runs":
            require_query(seen, {"experiment_id"})
            return self.create_run(body)
        match = re.fullmatch(r"/runs/([^/:]+)(:terminate)?", path)
        if match:
            run = self.runs.get(match.group(1))
            if match.group(2) and m == "POST":
                require_query(seen, RUN_SINGLE_QUERY)
                if body is not None:
                    raise ContractViolation("TerminateRun takes no request body")
                if run is None:
                    return 404, {"error": "not found", "code": 5, "message": "run not found"}
                if run["state"] not in TERMINABLE_STATES:
                    message = f"Failed to terminate a run {run['run_id']}. Row not found"
                    return 400, {"error": message, "code": 3, "message": message}
                run["state"] = "CANCELING"
                return 200, {}
            if m == "GET" and not match.group(2):
                require_query(seen, RUN_SINGLE_QUERY)
                if run is None:
                    return 404, {
                        "error": "not found",
                        "code": 5,
                        "message": f"Run {match.group(1)} not found",
                    }
                answer = copy.deepcopy(run)
                if run["run_id"] in self.after_read:
                    run["state"] = self.after_read.pop(run["run_id"])
                return 200, answer
        match = re.fullmatch(r"/pipelines/([^/]+)/versions(?:/([^/]+))?", path)
        if match and m == "GET":
            pid, vid = match.groups()
            if vid:
                require_query(seen, set())
                version = self.versions.get((pid, vid))
                return (
                    (200, version) if version else (404, {"error": "not found", "code": 5, "message": "nope"})
                )
            require_query(seen, LIST_VERSIONS_QUERY)
            mine = sorted(
                (v for (p, _), v in self.versions.items() if p == pid), key=lambda v: v["created_at"]
            )
            if seen.query.get("sort_by", [""])[0] == "created_at desc":
                mine.reverse()
            return 200, {"pipeline_versions": mine[:1]} if mine else {}
        raise ContractViolation("no such endpoint in the v2beta1 API")

    def create_run(self, body: Any) -> tuple[int, dict[str, Any]]:
        require_keys("Run", body, RUN_FIELDS - RUN_OUTPUT_ONLY, {"display_name"})
        sources = PIPELINE_SOURCES & set(body)
        if len(sources) != 1:
            raise ContractViolation(f"exactly one pipeline source is allowed, got {sorted(sources)}")
        if "pipeline_version_id" in body:
            raise ContractViolation("pipeline_version_id is deprecated")
        if "pipeline_version_reference" in body:
            require_keys(
                "PipelineVersionReference",
                body["pipeline_version_reference"],
                VERSION_REFERENCE_FIELDS,
                {"pipeline_id"},
            )
        if "pipeline_spec" in body and not isinstance(body["pipeline_spec"], dict):
            raise ContractViolation("pipeline_spec must be a JSON object (google.protobuf.Struct)")
        require_keys("RuntimeConfig", body.get("runtime_config", {}), RUNTIME_CONFIG_FIELDS)
        if body.get("experiment_id") and body["experiment_id"] not in self.experiments:
            return 404, {"error": "not found", "code": 5, "message": "experiment not found"}
        for concurrent in self.on_create_run:  # another launcher's run, committed just before ours
            self.add_run(**concurrent)
        self.on_create_run = []
        return 200, self.add_run(**copy.deepcopy(body))


@pytest.fixture
def kfp() -> Iterator[tuple[ContractServer, FakeKfp]]:
    fake = FakeKfp()
    with running(fake) as server:
        yield server, fake
        assert server.violations == []


def launcher_for(server: ContractServer, **kw: Any) -> KfpRestLauncher:
    kw.setdefault("token", TOKEN)
    return KfpRestLauncher(server.base_url, timeout_s=kw.pop("timeout_s", 5), **kw)


def resource(**spec: Any) -> dict[str, Any]:
    body = {
        "display_name": "train acme/repo@abc1234",
        "description": "pushed by alice: fix the thing",
        "pipeline_package": str(TRAIN),
        "experiment_name": "ci",
        "runtime_config": {
            "parameters": {"repo": "acme/repo", "commit_sha": "abc1234", "epochs": "3"},
            "pipeline_root": "minio://mlpipeline/v2/artifacts",
        },
        "service_account": "pipeline-runner",
    }
    for key, value in spec.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return {"apiVersion": "pipelines.kubeflow.org/v2beta1", "kind": "Run", "metadata": {}, "spec": body}


def request(key: str = "github-push/train-on-main/delivery-1", **spec: Any) -> LaunchRequest:
    return LaunchRequest(RunSpec.from_resource(resource(**spec)), key, event_id="delivery-1")


def created_runs(server: ContractServer) -> list[Seen]:
    return [s for s in server.seen if s.target == f"POST {API}/runs"]


def test_experiment_is_looked_up_by_name_and_created_once(kfp: tuple[ContractServer, FakeKfp]) -> None:
    server, fake = kfp
    launcher = launcher_for(server)
    first = launcher.launch(request("k1"))
    second = launcher.launch(request("k2"))
    assert first.run_id != second.run_id
    assert server.targets().count(f"POST {API}/experiments") == 1
    lookups = [s for s in server.seen if s.target == f"GET {API}/experiments"]
    assert len(lookups) == 1  # the second launch uses the id the first one found
    assert json.loads(lookups[0].query["filter"][0]) == {
        "predicates": [{"key": "display_name", "operation": "EQUALS", "string_value": "ci"}]
    }
    assert "filter=%7B%22predicates%22" in lookups[0].raw_query  # URL-encoded JSON
    (exp_id,) = fake.experiments
    assert fake.experiments[exp_id]["display_name"] == "ci"
    assert [s.body["experiment_id"] for s in created_runs(server)] == [exp_id, exp_id]


def test_a_remembered_experiment_is_looked_up_again_after_its_time(
    kfp: tuple[ContractServer, FakeKfp], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = kfp
    launcher = launcher_for(server)
    launcher.launch(request("k1"))
    monkeypatch.setattr(kfp_rest, "EXPERIMENT_ID_TTL_S", 0.0)
    launcher.launch(request("k2"))
    assert server.targets().count(f"GET {API}/experiments") == 2


def test_a_deleted_remembered_experiment_is_found_again_and_the_run_created_once(
    kfp: tuple[ContractServer, FakeKfp],
) -> None:
    server, fake = kfp
    launcher = launcher_for(server)
    launcher.launch(request("k1"))
    fake.experiments.clear()  # deleted on the server; the launcher still remembers its id
    second = launcher.launch(request("k2"))
    (exp_id,) = fake.experiments
    assert [s.body["experiment_id"] for s in created_runs(server)][-1] == exp_id
    assert fake.runs[second.run_id]["experiment_id"] == exp_id
    assert len(created_runs(server)) == 3  # k1, the refused k2, k2 again


def test_a_first_attempt_creates_without_listing_runs_first_but_still_settles(
    kfp: tuple[ContractServer, FakeKfp],
) -> None:
    server, _ = kfp
    launcher = launcher_for(server)
    launcher.launch(dataclasses.replace(request("k1"), first_attempt=True))
    targets = [t for t in server.targets() if t in (f"GET {API}/runs", f"POST {API}/runs")]
    assert targets == [f"POST {API}/runs", f"GET {API}/runs"]
    launcher.launch(request("k2"))
    targets = [t for t in server.targets() if t in (f"GET {API}/runs", f"POST {API}/runs")]
    assert targets[2:] == [f"GET {API}/runs", f"POST {API}/runs", f"GET {API}/runs"]


def test_experiment_created_meanwhile_is_found_again(kfp: tuple[ContractServer, FakeKfp]) -> None:
    server, fake = kfp
    server.fail("GET", f"{API}/experiments", 200, {})  # the first lookup misses it
    fake.experiments["exp-9"] = {"experiment_id": "exp-9", "display_name": "ci"}
    launcher_for(server).launch(request())
    assert created_runs(server)[0].body["experiment_id"] == "exp-9"


def test_experiment_id_is_used_as_given(kfp: tuple[ContractServer, FakeKfp]) -> None:
    server, fake = kfp
    fake.experiments["exp-7"] = {"experiment_id": "exp-7", "display_name": "x"}
    launcher_for(server).launch(request(experiment_name=None, experiment_id="exp-7"))
    assert "GET /apis/v2beta1/experiments" not in server.targets()
    assert created_runs(server)[0].body["experiment_id"] == "exp-7"


def test_inline_pipeline_spec_with_typed_parameters(kfp: tuple[ContractServer, FakeKfp]) -> None:
    server, _ = kfp
    launched = launcher_for(server).launch(request())
    (post,) = created_runs(server)
    body = post.body
    assert body["pipeline_spec"] == yaml.safe_load(TRAIN.read_text())
    assert body["runtime_config"] == {
        "parameters": {"repo": "acme/repo", "commit_sha": "abc1234", "epochs": 3},
        "pipeline_root": "minio://mlpipeline/v2/artifacts",
    }
    assert body["display_name"] == "train acme/repo@abc1234"
    assert body["service_account"] == "pipeline-runner"
    assert body["description"].startswith(
        "pushed by alice: fix the thing\n\nkfp-triggers: event delivery-1, "
    )
    assert re.search(r", kfpt-key-[0-9a-f]{32}$", body["description"])
    assert post.headers["authorization"] == f"Bearer {TOKEN}"
    assert post.headers["content-type"] == "application/json"
    assert launched.backend == "kfp"
    assert launched.state is RunState.PENDING
    assert launched.existing is False
    assert launched.run_url == f"{server.base_url}/#/runs/details/{launched.run_id}"


def test_provenance_labels_are_a_description_line_above_the_dedupe_footer(
    kfp: tuple[ContractServer, FakeKfp],
) -> None:
    server, _ = kfp
    sha = "9f3c2b1a" * 5
    labels = {
        "triggers.tekton.dev/eventlistener": "github-push",
        "triggers.tekton.dev/trigger": "train-on-main",
        "kfp-triggers.dev/repository": "acme/repo",
        "kfp-triggers.dev/commit": sha,
    }
    launcher = launcher_for(server)
    spec = RunSpec.from_resource(resource())
    first = launcher.launch(LaunchRequest(spec, "k-prov", event_id="delivery-1", labels=labels))
    description = created_runs(server)[0].body["description"]
    lines = description.split("\n")
    assert lines[-2] == (
        f"kfp-triggers: eventlistener github-push, trigger train-on-main, repository acme/repo, commit {sha}"
    )
    assert lines[-1].startswith("kfp-triggers: event delivery-1, kfpt-key-")
    # The marker still ends the description: a retry finds the run instead of creating another.
    again = launcher.launch(LaunchRequest(spec, "k-prov", event_id="delivery-1", labels=labels))
    assert again.run_id == first.run_id and len(created_runs(server)) == 1


def test_pipeline_version_reference(kfp: tuple[ContractServer, FakeKfp]) -> None:
    server, fake = kfp
    ir = yaml.safe_load(TRAIN.read_text())
    fake.versions["pl-1", "pv-2"] = {
        "pipeline_id": "pl-1",
        "pipeline_version_id": "pv-2",
        "created_at": "2026-01-01T00:00:00Z",
        "pipeline_spec": ir,
    }
    ref = {"pipeline_id": "pl-1", "pipeline_version_id": "pv-2"}
    launcher_for(server).launch(request(pipeline_package=None, pipeline_version_reference=ref))
    (post,) = created_runs(server)
    assert post.body["pipeline_version_reference"] == ref
    assert "pipeline_spec" not in post.body
    assert post.body["runtime_config"]["parameters"]["epochs"] == 3  # checked against the stored IR
    assert f"GET {API}/pipelines/pl-1/versions/pv-2" in server.targets()


def test_latest_version_is_used_when_none_is_named(kfp: tuple[ContractServer, FakeKfp]) -> None:
    server, fake = kfp
    ir = yaml.safe_load(TRAIN.read_text())
    for n in (1, 2):
        fake.versions["pl-1", f"pv-{n}"] = {
            "pipeline_id": "pl-1",
            "pipeline_version_id": f"pv-{n}",
            "created_at": f"2026-01-0{n}T00:00:00Z",
            "pipeline_spec": ir,
        }
    fake.versions["pl-1", "pv-2"]["pipeline_spec"] = {**ir, "root": {"inputDefinitions": {"parameters": {}}}}
    with pytest.raises(LaunchRejected, match="unknown parameter 'repo'"):  # the latest takes no parameters
        launcher_for(server).launch(
            request(pipeline_package=None, pipeline_version_reference={"pipeline_id": "pl-1"})
        )
    (listing,) = [s for s in server.seen if s.target == f"GET {API}/pipelines/pl-1/versions"]
    assert listing.query == {"page_size": ["1"], "sort_by": ["created_at desc"]}
    assert created_runs(server) == []


def test_dedupe_returns_the_existing_run_without_a_second_create(kfp: tuple[ContractServer, FakeKfp]) -> None:
    server, fake = kfp
    first = launcher_for(server).launch(request("key-A"))
    fake.runs[first.run_id]["state"] = "RUNNING"
    again = launcher_for(server).launch(request("key-A"))  # a fresh launcher: a redelivery elsewhere
    assert (again.run_id, again.existing, again.state) == (first.run_id, True, RunState.RUNNING)
    assert len(created_runs(server)) == 1
    checks = [s for s in server.seen if s.target == f"GET {API}/runs"]
    pred = json.loads(checks[0].query["filter"][0])["predicates"][0]
    assert pred["key"] == "description"
    assert pred["operation"] == "IS_SUBSTRING"
    assert re.fullmatch(r"kfpt-key-[0-9a-f]{32}", pred["string_value"])
    assert fake.runs[first.run_id]["description"].endswith(pred["string_value"])


def test_a_marker_inside_user_text_does_not_count(kfp: tuple[ContractServer, FakeKfp]) -> None:
    server, fake = kfp
    launcher = launcher_for(server)
    launcher.launch(request("key-B"))
    marker = json.loads(server.seen[0].query["filter"][0])["predicates"][0]["string_value"]
    fake.runs.clear()
    fake.add_run(display_name="forged", description=f"commit message quoting {marker} then more text")
    launched = launcher.launch(request("key-B"))
    assert launched.existing is False
    assert len(created_runs(server)) == 2


def test_a_concurrent_duplicate_is_terminated_and_the_earlier_run_kept(
    kfp: tuple[ContractServer, FakeKfp],
) -> None:
    server, fake = kfp
    launcher = launcher_for(server)
    launcher.launch(request("key-C"))
    winner_description = next(iter(fake.runs.values()))["description"]
    fake.runs.clear()
    fake.on_create_run = [{"display_name": "other", "description": winner_description}]
    launched = launcher.launch(request("key-C"))
    (winner,) = [r for r in fake.runs.values() if r["display_name"] == "other"]
    (mine,) = [r for r in fake.runs.values() if r["display_name"] != "other"]
    assert launched.run_id == winner["run_id"]
    assert launched.existing is True
    assert f"POST {API}/runs/{mine['run_id']}:terminate" in server.targets()
    assert mine["state"] == "CANCELING"


def test_client_errors_are_rejected_with_the_server_message(kfp: tuple[ContractServer, FakeKfp]) -> None:
    server, _ = kfp
    server.fail(
        "POST", f"{API}/runs", 400, {"error": "bad", "code": 3, "message": "Invalid input error: spec"}
    )
    with pytest.raises(LaunchRejected) as info:
        launcher_for(server).launch(request())
    assert info.value.status == 400
    assert info.value.retryable is False
    assert str(info.value) == "POST /apis/v2beta1/runs: HTTP 400 Bad Request: Invalid input error: spec"
    assert TOKEN not in str(info.value)


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_errors_and_throttling_are_retryable(kfp: tuple[ContractServer, FakeKfp], status: int) -> None:
    server, _ = kfp
    server.fail("POST", f"{API}/runs", status)
    with pytest.raises(LaunchUnavailable) as info:
        launcher_for(server).launch(request())
    assert info.value.status == status
    assert info.value.retryable is True
    assert TOKEN not in str(info.value)


def test_a_timed_out_create_is_not_repeated_by_the_retry(kfp: tuple[ContractServer, FakeKfp]) -> None:
    server, fake = kfp
    server.stall("POST", f"{API}/runs")  # the server creates the run but answers too late
    with pytest.raises(LaunchUnavailable, match=r"POST /apis/v2beta1/runs: no answer within 0\.5 s"):
        launcher_for(server, timeout_s=0.5).launch(request("key-T"))
    assert len(fake.runs) == 1
    retry = launcher_for(server).launch(request("key-T"))
    assert retry.existing is True
    assert retry.run_id == next(iter(fake.runs))
    assert len(created_runs(server)) == 1


def test_connection_refused_is_retryable() -> None:
    with running(FakeKfp()) as server:
        url = server.base_url
    with pytest.raises(LaunchUnavailable, match="cannot connect"):
        KfpRestLauncher(url, timeout_s=2).launch(request())


def test_redirect_to_a_login_page_is_rejected(kfp: tuple[ContractServer, FakeKfp]) -> None:
    server, _ = kfp
    login = f"{server.base_url}/dex/auth?client_id=kubeflow&state=abc"
    server.fail("GET", f"{API}/runs", 302, {}, headers={"Location": login})
    with pytest.raises(LaunchRejected, match="authenticating proxy") as info:
        launcher_for(server).launch(request())
    assert f"{server.base_url}/dex/auth;" in str(info.value)
    assert "state=abc" not in str(info.value)


def test_bad_parameters_create_nothing(kfp: tuple[ContractServer, FakeKfp]) -> None:
    server, _ = kfp
    params = {"repo": "r", "commit_sha": "c", "epochs": "lots"}
    with pytest.raises(LaunchRejected, match="parameter 'epochs' \\(NUMBER_INTEGER\\)"):
        launcher_for(server).launch(request(runtime_config={"parameters": params}))
    assert created_runs(server) == []


def test_namespace_and_no_token(kfp: tuple[ContractServer, FakeKfp]) -> None:
    server, fake = kfp
    fake.token = None
    launcher_for(server, token=None, namespace="team-a").launch(request())
    run_lists = [s for s in server.seen if s.target == f"GET {API}/runs"]
    assert all(s.query["namespace"] == ["team-a"] for s in run_lists)
    (create_exp,) = [s for s in server.seen if s.target == f"POST {API}/experiments"]
    assert create_exp.body == {"display_name": "ci", "namespace": "team-a"}
    assert all("authorization" not in s.headers for s in server.seen)


def test_token_provider_is_asked_per_request(kfp: tuple[ContractServer, FakeKfp]) -> None:
    server, _ = kfp
    calls: list[int] = []

    def provider() -> str:
        calls.append(1)
        return TOKEN

    launcher_for(server, token=None, token_provider=provider).launch(request())
    assert len(calls) == len(server.seen)


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("RUNTIME_STATE_UNSPECIFIED", RunState.UNKNOWN),
        ("PENDING", RunState.PENDING),
        ("RUNNING", RunState.RUNNING),
        ("SUCCEEDED", RunState.SUCCEEDED),
        ("SKIPPED", RunState.SKIPPED),
        ("FAILED", RunState.FAILED),
        ("CANCELING", RunState.CANCELING),
        ("CANCELED", RunState.CANCELED),
        ("PAUSED", RunState.PAUSED),
    ],
)
def test_get_state_maps_every_runtime_state(
    kfp: tuple[ContractServer, FakeKfp], raw: str, want: RunState
) -> None:
    server, fake = kfp
    run = fake.add_run(display_name="r", state=raw)
    status = launcher_for(server).get_state(run["run_id"])
    assert status.state is want
    assert status.raw_state == raw
    assert status.finished_at is None  # the API's zero time means "not finished"
    assert server.targets()[-1] == f"GET {API}/runs/{run['run_id']}"


def test_get_state_of_a_failed_run(kfp: tuple[ContractServer, FakeKfp]) -> None:
    server, fake = kfp
    run = fake.add_run(
        display_name="r",
        experiment_id="exp-1",
        state="FAILED",
        finished_at="2026-11-24T11:00:00Z",
        state_history=[
            {"update_time": "2026-11-24T10:59:00Z", "state": "RUNNING", "error": {"message": "retrying"}},
            {
                "update_time": "2026-11-24T11:00:00Z",
                "state": "FAILED",
                "error": {"code": 2, "message": "task x failed"},
            },
        ],
        run_details={
            "task_details": [
                {"display_name": "train", "state": "FAILED"},
                {"task_id": "t2", "state": "SKIPPED"},
            ]
        },
    )
    status = launcher_for(server).get_state(run["run_id"])
    assert status.state is RunState.FAILED
    assert status.error == "task x failed"
    assert status.finished_at == "2026-11-24T11:00:00Z"
    assert status.details["tasks"] == {"train": "FAILED", "t2": "SKIPPED"}
    assert status.details["experiment_id"] == "exp-1"


def test_get_state_of_a_missing_run_is_rejected(kfp: tuple[ContractServer, FakeKfp]) -> None:
    server, _ = kfp
    with pytest.raises(LaunchRejected, match="HTTP 404 Not Found: Run nope not found") as info:
        launcher_for(server).get_state("nope")
    assert info.value.status == 404


def test_get_state_times_out_as_unavailable(kfp: tuple[ContractServer, FakeKfp]) -> None:
    server, fake = kfp
    run = fake.add_run(display_name="r")
    server.stall("GET", f"{API}/runs/.*")
    with pytest.raises(LaunchUnavailable, match="no answer within"):
        launcher_for(server, timeout_s=0.3).get_state(run["run_id"])


def test_an_answer_that_is_not_a_json_object_is_unavailable(kfp: tuple[ContractServer, FakeKfp]) -> None:
    server, _ = kfp
    server.fail("GET", f"{API}/runs", 200, ["not", "an", "object"])  # type: ignore[arg-type]
    with pytest.raises(LaunchUnavailable, match="HTTP 200 with a body that is not a JSON object"):
        launcher_for(server).launch(request())


# --- cancel ---------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["PENDING", "RUNNING", "PAUSED"])
def test_cancel_terminates_a_live_run(kfp: tuple[ContractServer, FakeKfp], state: str) -> None:
    server, fake = kfp
    run = fake.add_run(display_name="r", state=state)
    status = launcher_for(server).cancel(run["run_id"])
    assert status.state is RunState.CANCELING
    assert status.raw_state == "CANCELING"
    path = f"{API}/runs/{run['run_id']}"
    assert server.targets() == [f"GET {path}", f"POST {path}:terminate", f"GET {path}"]
    terminate = server.seen[1]
    assert terminate.body is None
    assert terminate.query == {}
    assert terminate.headers["authorization"] == f"Bearer {TOKEN}"
    assert fake.runs[run["run_id"]]["state"] == "CANCELING"


def test_cancel_is_idempotent(kfp: tuple[ContractServer, FakeKfp]) -> None:
    server, fake = kfp
    run = fake.add_run(display_name="r", state="RUNNING")
    launcher = launcher_for(server)
    launcher.cancel(run["run_id"])
    path = f"{API}/runs/{run['run_id']}"
    assert launcher.cancel(run["run_id"]).state is RunState.CANCELING  # still stopping
    fake.runs[run["run_id"]]["state"] = "CANCELED"  # the workflow has stopped
    assert launcher.cancel(run["run_id"]).state is RunState.CANCELED
    assert server.targets().count(f"POST {path}:terminate") == 1
    assert server.targets()[3:] == [f"GET {path}", f"GET {path}"]


@pytest.mark.parametrize("state", ["SUCCEEDED", "FAILED", "SKIPPED", "CANCELED"])
def test_cancel_leaves_a_finished_run_alone(kfp: tuple[ContractServer, FakeKfp], state: str) -> None:
    server, fake = kfp
    run = fake.add_run(display_name="r", state=state, finished_at="2026-11-24T11:00:00Z")
    status = launcher_for(server).cancel(run["run_id"])
    assert status.state is RunState(state)
    assert status.finished_at == "2026-11-24T11:00:00Z"
    assert server.targets() == [f"GET {API}/runs/{run['run_id']}"]
    assert fake.runs[run["run_id"]]["state"] == state


def test_cancel_of_a_run_finishing_meanwhile_reports_how_it_finished(
    kfp: tuple[ContractServer, FakeKfp],
) -> None:
    server, fake = kfp
    run = fake.add_run(display_name="r", state="RUNNING")
    fake.after_read[run["run_id"]] = "SUCCEEDED"  # it finishes right after the first read
    status = launcher_for(server).cancel(run["run_id"])
    assert status.state is RunState.SUCCEEDED
    path = f"{API}/runs/{run['run_id']}"
    assert server.targets() == [f"GET {path}", f"POST {path}:terminate", f"GET {path}"]
    assert fake.runs[run["run_id"]]["state"] == "SUCCEEDED"


def test_a_terminate_refused_for_a_live_run_is_rejected(kfp: tuple[ContractServer, FakeKfp]) -> None:
    server, fake = kfp
    run = fake.add_run(display_name="r", state="RUNNING")
    server.fail("POST", f"{API}/runs/.*:terminate", 400, {"error": "no", "code": 3, "message": "no"})
    with pytest.raises(LaunchRejected, match="HTTP 400 Bad Request: no") as info:
        launcher_for(server).cancel(run["run_id"])
    assert info.value.status == 400


def test_cancel_of_an_unknown_run_is_rejected(kfp: tuple[ContractServer, FakeKfp]) -> None:
    server, _ = kfp
    with pytest.raises(LaunchRejected, match="HTTP 404 Not Found: Run nope not found") as info:
        launcher_for(server).cancel("nope")
    assert info.value.status == 404
    assert server.targets() == [f"GET {API}/runs/nope"]


@pytest.mark.parametrize(("method", "suffix"), [("GET", ""), ("POST", ":terminate")])
@pytest.mark.parametrize("status", [500, 503])
def test_cancel_server_errors_are_retryable(
    kfp: tuple[ContractServer, FakeKfp], method: str, suffix: str, status: int
) -> None:
    server, fake = kfp
    run = fake.add_run(display_name="r", state="RUNNING")
    server.fail(method, f"{API}/runs/[^/]+{re.escape(suffix)}", status)
    launcher = launcher_for(server)
    with pytest.raises(LaunchUnavailable) as info:
        launcher.cancel(run["run_id"])
    assert info.value.status == status
    assert launcher.cancel(run["run_id"]).state is RunState.CANCELING  # the retry does it


def test_cancel_timeout_is_retryable(kfp: tuple[ContractServer, FakeKfp]) -> None:
    server, fake = kfp
    run = fake.add_run(display_name="r", state="RUNNING")
    server.stall("POST", f"{API}/runs/.*:terminate")  # terminated, but the answer comes too late
    with pytest.raises(LaunchUnavailable, match="no answer within"):
        launcher_for(server, timeout_s=0.3).cancel(run["run_id"])
    retry = launcher_for(server).cancel(run["run_id"])
    assert retry.state is RunState.CANCELING
    assert server.targets().count(f"POST {API}/runs/{run['run_id']}:terminate") == 1
