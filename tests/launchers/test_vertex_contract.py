"""Contract tests of VertexLauncher against the Vertex AI ``projects.locations.pipelineJobs`` REST API (v1).

These are contract tests because Vertex AI cannot run here: a real HTTP server on 127.0.0.1 plays the
API (``create`` with ``?pipelineJobId=``, ``get``, ``cancel``), keeps jobs in memory, and rejects (and
records) any request the published reference does not allow. The facts used are copied below as literals
(cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.pipelineJobs).
"""

from __future__ import annotations

import re
import threading
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
)
from kfp_triggers.adapters.launchers.vertex import VertexLauncher, job_id_for, vertex_labels
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
TOKEN = "ya29.vertex-test-token"
PROJECT, LOCATION = "acme-ml", "europe-west4"
PARENT = f"/v1/projects/{PROJECT}/locations/{LOCATION}"

# --- the published API --------------------------------------------------------------------
JOB_INPUT_FIELDS = {
    "displayName",
    "pipelineSpec",
    "labels",
    "runtimeConfig",
    "encryptionSpec",
    "serviceAccount",
    "network",
    "reservedIpRanges",
    "pscInterfaceConfig",
    "templateUri",
    "preflightValidations",
    "pipelineTaskRerunConfigs",
}
RUNTIME_CONFIG_FIELDS = {
    "parameters",
    "gcsOutputDirectory",
    "parameterValues",
    "failurePolicy",
    "inputArtifacts",
    "defaultRuntime",
}
JOB_ID = re.compile(r"^[a-z][-a-z0-9]{0,127}$")
LABEL = re.compile(r"^[\w-]{0,64}$")  # lowercase letters, digits, underscores, dashes (international allowed)
STATES = [
    "PIPELINE_STATE_UNSPECIFIED",
    "PIPELINE_STATE_QUEUED",
    "PIPELINE_STATE_PENDING",
    "PIPELINE_STATE_RUNNING",
    "PIPELINE_STATE_SUCCEEDED",
    "PIPELINE_STATE_FAILED",
    "PIPELINE_STATE_CANCELLING",
    "PIPELINE_STATE_CANCELLED",
    "PIPELINE_STATE_PAUSED",
]


# pipelineJobs.cancel: "POST /v1/{name}:cancel", the request body must be empty, the answer is empty.
# Cancellation is asynchronous: the job goes CANCELLING, then CANCELLED with error.code 1 (CANCELLED).
# A job that has already ended cannot be cancelled: 400 FAILED_PRECONDITION.
ENDED_STATES = {"PIPELINE_STATE_SUCCEEDED", "PIPELINE_STATE_FAILED", "PIPELINE_STATE_CANCELLED"}


def google_error(code: int, status: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status}}


class FakeVertex:
    """In-memory pipelineJobs of one project and location, enforcing the contract above."""

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.after_read: dict[str, str] = {}  # job id -> the state it moves to once it has been read

    def __call__(self, seen: Seen) -> tuple[int, dict[str, Any]]:
        require_bearer(seen, TOKEN)
        require_json_body(seen)
        with self.lock:
            if seen.method == "POST" and seen.path == f"{PARENT}/pipelineJobs":
                return self.create(seen)
            match = re.fullmatch(rf"{PARENT}/pipelineJobs/([^/:]+)", seen.path)
            if seen.method == "GET" and match:
                require_query(seen, set())
                job = self.jobs.get(match.group(1))
                if job is None:
                    return 404, google_error(404, "NOT_FOUND", f"PipelineJob {match.group(1)} not found")
                answer = dict(job)
                self.advance(match.group(1))
                return 200, answer
            match = re.fullmatch(rf"{PARENT}/pipelineJobs/([^/:]+):cancel", seen.path)
            if seen.method == "POST" and match:
                return self.cancel(seen, match.group(1))
        raise ContractViolation("no such method in projects.locations.pipelineJobs")

    def advance(self, job_id: str) -> None:
        """After a read: a cancelling job has cancelled; a scheduled change happens."""
        job = self.jobs[job_id]
        if job_id in self.after_read:
            job["state"] = self.after_read.pop(job_id)
        elif job["state"] == "PIPELINE_STATE_CANCELLING":
            job["state"] = "PIPELINE_STATE_CANCELLED"
            job["error"] = {"code": 1, "message": "CANCELED"}
            job["endTime"] = "2026-11-24T11:00:00Z"

    def cancel(self, seen: Seen, job_id: str) -> tuple[int, dict[str, Any]]:
        require_query(seen, set())
        if seen.body not in (None, {}):
            raise ContractViolation("the request body of pipelineJobs.cancel must be empty")
        job = self.jobs.get(job_id)
        if job is None:
            return 404, google_error(404, "NOT_FOUND", f"PipelineJob {job_id} not found")
        if job["state"] in ENDED_STATES or job["state"] == "PIPELINE_STATE_CANCELLING":
            message = f"Cannot cancel PipelineJob {job_id} in state {job['state']}."
            return 400, google_error(400, "FAILED_PRECONDITION", message)
        job["state"] = "PIPELINE_STATE_CANCELLING"
        return 200, {}

    def create(self, seen: Seen) -> tuple[int, dict[str, Any]]:
        require_query(seen, {"pipelineJobId"})
        job_id = (seen.query.get("pipelineJobId") or [""])[0]
        if not JOB_ID.match(job_id):
            raise ContractViolation(f"pipelineJobId {job_id!r} does not match {JOB_ID.pattern}")
        body = require_keys("PipelineJob", seen.body, JOB_INPUT_FIELDS)
        require_keys("RuntimeConfig", body.get("runtimeConfig", {}), RUNTIME_CONFIG_FIELDS)
        if len(body.get("displayName", "")) > 128:
            raise ContractViolation("displayName is longer than 128 characters")
        labels = body.get("labels", {})
        if len(labels) > 64:
            raise ContractViolation("more than 64 labels")
        for key, value in labels.items():
            if not (LABEL.match(key) and key[:1].isalpha() and key == key.lower()):
                raise ContractViolation(f"label key {key!r} breaks the label rules")
            if not (LABEL.match(value) and value == value.lower()):
                raise ContractViolation(f"label value {value!r} breaks the label rules")
        if job_id in self.jobs:
            return 409, google_error(409, "ALREADY_EXISTS", f"PipelineJob {job_id} already exists")
        job = {
            **body,
            "name": f"{PARENT[4:]}/pipelineJobs/{job_id}",
            "state": "PIPELINE_STATE_PENDING",
            "createTime": "2026-11-24T10:00:00Z",
        }
        self.jobs[job_id] = job
        return 200, job


@pytest.fixture
def vertex() -> Iterator[tuple[ContractServer, FakeVertex]]:
    fake = FakeVertex()
    with running(fake) as server:
        yield server, fake
        assert server.violations == []


def launcher_for(server: ContractServer, **kw: Any) -> VertexLauncher:
    return VertexLauncher(
        PROJECT,
        LOCATION,
        pipeline_root=kw.pop("pipeline_root", "gs://acme-ml/pipeline-root"),
        token_provider=lambda: TOKEN,
        base_url=f"{server.base_url}/v1",
        timeout_s=kw.pop("timeout_s", 5),
        **kw,
    )


def request(key: str = "github-push/train-on-main/delivery-1", **spec: Any) -> LaunchRequest:
    body: dict[str, Any] = {
        "display_name": "train acme/repo@abc1234",
        "pipeline_package": str(TRAIN),
        "runtime_config": {
            "parameters": {"repo": "acme/repo", "commit_sha": "abc1234", "learning_rate": "0.1"}
        },
        "service_account": "pipeline-runner",
        **spec,
    }
    resource = {
        "apiVersion": "pipelines.kubeflow.org/v2beta1",
        "kind": "Run",
        "metadata": {"labels": {"triggers.tekton.dev/eventlistener": "github-push", "Team": "ML Platform"}},
        "spec": {k: v for k, v in body.items() if v is not None},
    }
    return LaunchRequest(RunSpec.from_resource(resource), key, event_id="delivery-1")


def creates(server: ContractServer) -> list[Seen]:
    return [s for s in server.seen if s.target == f"POST {PARENT}/pipelineJobs"]


def test_create_sends_a_pipeline_job(vertex: tuple[ContractServer, FakeVertex]) -> None:
    server, _ = vertex
    launched = launcher_for(server, service_account="runner@acme-ml.iam.gserviceaccount.com").launch(
        request()
    )
    (post,) = creates(server)
    job_id = post.query["pipelineJobId"][0]
    assert job_id == launched.run_id
    assert post.body["displayName"] == "train acme/repo@abc1234"
    assert post.body["pipelineSpec"] == yaml.safe_load(TRAIN.read_text())
    assert post.body["runtimeConfig"] == {
        "parameterValues": {"repo": "acme/repo", "commit_sha": "abc1234", "learning_rate": 0.1},
        "gcsOutputDirectory": "gs://acme-ml/pipeline-root",
    }
    assert post.body["labels"] == {"team": "ml_platform", "triggers_tekton_dev_eventlistener": "github-push"}
    assert post.body["serviceAccount"] == "runner@acme-ml.iam.gserviceaccount.com"
    assert post.headers["authorization"] == f"Bearer {TOKEN}"
    assert launched.backend == "vertex"
    assert launched.state is RunState.PENDING
    assert launched.existing is False
    assert launched.run_url == (
        f"https://console.cloud.google.com/vertex-ai/locations/{LOCATION}/pipelines/runs/{job_id}?project={PROJECT}"
    )


def test_resource_pipeline_root_and_service_account_apply_without_launcher_defaults(
    vertex: tuple[ContractServer, FakeVertex],
) -> None:
    server, _ = vertex
    runtime = {"parameters": {"repo": "r", "commit_sha": "c"}, "pipeline_root": "gs://other/root"}
    launcher_for(server, pipeline_root=None).launch(request(runtime_config=runtime))
    (post,) = creates(server)
    assert post.body["runtimeConfig"]["gcsOutputDirectory"] == "gs://other/root"
    assert post.body["serviceAccount"] == "pipeline-runner"


def test_same_key_conflicts_and_returns_the_existing_job(vertex: tuple[ContractServer, FakeVertex]) -> None:
    server, fake = vertex
    first = launcher_for(server).launch(request("key-1"))
    fake.jobs[first.run_id]["state"] = "PIPELINE_STATE_RUNNING"
    again = launcher_for(server).launch(request("key-1"))
    assert (again.run_id, again.existing, again.state) == (first.run_id, True, RunState.RUNNING)
    assert len(fake.jobs) == 1
    assert server.targets()[-2:] == [
        f"POST {PARENT}/pipelineJobs",
        f"GET {PARENT}/pipelineJobs/{first.run_id}",
    ]
    other = launcher_for(server).launch(request("key-2"))
    assert other.run_id != first.run_id


@pytest.mark.parametrize(
    "key",
    [
        "github-push/train-on-main/72d4bf30-5a3c-11ef-8f4c-a1b2c3d4e5f6",
        "Ünïcode key",
        "123",
        "",
        "x" * 500,
        "--",
    ],
)
def test_job_ids_are_valid_and_stable(key: str) -> None:
    job_id = job_id_for(key)
    assert JOB_ID.match(job_id)
    assert job_id == job_id_for(key)
    assert job_id != job_id_for(key + " ")


def test_labels_follow_vertex_rules() -> None:
    labels = vertex_labels({"9lives": "UPPER case", "a" * 80: "b" * 80, "ok-key_1": "v", "/": "x"})
    assert labels == {"l9lives": "upper_case", "a" * 63: "b" * 63, "ok-key_1": "v", "l_": "x"}
    many = vertex_labels({f"k{i:03d}": "v" for i in range(70)})
    assert len(many) == 64
    assert "k000" in many
    assert "k069" not in many


def test_stored_pipelines_and_platform_specs_are_refused(
    vertex: tuple[ContractServer, FakeVertex], tmp_path: Path
) -> None:
    server, _ = vertex
    launcher = launcher_for(server)
    with pytest.raises(LaunchRejected, match="runs a compiled pipeline"):
        launcher.launch(request(pipeline_package=None, pipeline_version_reference={"pipeline_id": "p"}))
    package = tmp_path / "k8s.yaml"
    package.write_text(TRAIN.read_text() + "\n---\nplatforms:\n  kubernetes: {}\n")
    with pytest.raises(LaunchRejected, match="PlatformSpec"):
        launcher.launch(request(pipeline_package=str(package)))
    assert server.seen == []


def test_client_errors_are_rejected(vertex: tuple[ContractServer, FakeVertex]) -> None:
    server, _ = vertex
    server.fail(
        "POST", f"{PARENT}/pipelineJobs", 400, google_error(400, "INVALID_ARGUMENT", "bad pipelineSpec")
    )
    with pytest.raises(LaunchRejected) as info:
        launcher_for(server).launch(request())
    assert str(info.value) == f"POST {PARENT}/pipelineJobs: HTTP 400 Bad Request: bad pipelineSpec"
    assert info.value.status == 400
    assert TOKEN not in str(info.value)


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_and_quota_are_retryable(
    vertex: tuple[ContractServer, FakeVertex], status: int
) -> None:
    server, _ = vertex
    server.fail("POST", f"{PARENT}/pipelineJobs", status, google_error(status, "UNAVAILABLE", "try later"))
    with pytest.raises(LaunchUnavailable, match="try later") as info:
        launcher_for(server).launch(request())
    assert info.value.retryable is True


def test_a_timed_out_create_is_found_by_the_retry(vertex: tuple[ContractServer, FakeVertex]) -> None:
    server, fake = vertex
    server.stall("POST", f"{PARENT}/pipelineJobs")
    with pytest.raises(LaunchUnavailable, match="no answer within"):
        launcher_for(server, timeout_s=0.3).launch(request("key-T"))
    retry = launcher_for(server).launch(request("key-T"))
    assert retry.existing is True
    assert list(fake.jobs) == [retry.run_id]


def test_missing_credentials_are_retryable_and_nothing_is_sent(
    vertex: tuple[ContractServer, FakeVertex],
) -> None:
    server, _ = vertex

    def no_token() -> str:
        raise LaunchUnavailable("no Google credentials: DefaultCredentialsError")

    launcher = VertexLauncher(PROJECT, LOCATION, token_provider=no_token, base_url=f"{server.base_url}/v1")
    with pytest.raises(LaunchUnavailable, match="no Google credentials"):
        launcher.launch(request())
    assert server.seen == []


@pytest.mark.parametrize(
    ("raw", "want"),
    list(
        zip(
            STATES,
            [
                RunState.UNKNOWN,
                RunState.PENDING,
                RunState.PENDING,
                RunState.RUNNING,
                RunState.SUCCEEDED,
                RunState.FAILED,
                RunState.CANCELING,
                RunState.CANCELED,
                RunState.PAUSED,
            ],
            strict=True,
        )
    ),
)
def test_get_state_maps_every_pipeline_state(
    vertex: tuple[ContractServer, FakeVertex], raw: str, want: RunState
) -> None:
    server, fake = vertex
    fake.jobs["job-1"] = {"name": f"{PARENT[4:]}/pipelineJobs/job-1", "state": raw}
    status = launcher_for(server).get_state("job-1")
    assert status.state is want
    assert status.raw_state == raw
    assert status.finished_at is None


def test_get_state_of_a_failed_job_by_resource_name(vertex: tuple[ContractServer, FakeVertex]) -> None:
    server, fake = vertex
    name = f"{PARENT[4:]}/pipelineJobs/job-2"
    fake.jobs["job-2"] = {
        "name": name,
        "state": "PIPELINE_STATE_FAILED",
        "endTime": "2026-11-24T11:00:00Z",
        "error": {"code": 9, "message": "The DAG failed because some tasks failed."},
        "jobDetail": {
            "taskDetails": [
                {"taskName": "train", "state": "FAILED"},
                {"taskName": "prepare", "state": "SUCCEEDED"},
            ]
        },
    }
    status = launcher_for(server).get_state(name)
    assert status.state is RunState.FAILED
    assert status.error == "The DAG failed because some tasks failed."
    assert status.finished_at == "2026-11-24T11:00:00Z"
    assert status.details["tasks"] == {"train": "FAILED", "prepare": "SUCCEEDED"}


def test_get_state_errors(vertex: tuple[ContractServer, FakeVertex]) -> None:
    server, _ = vertex
    with pytest.raises(LaunchRejected, match="PipelineJob nope not found") as info:
        launcher_for(server).get_state("nope")
    assert info.value.status == 404
    with pytest.raises(LaunchRejected, match="not a PipelineJob id"):
        launcher_for(server).get_state("Bad_Id")
    server.fail("GET", f"{PARENT}/pipelineJobs/.*", 502)
    with pytest.raises(LaunchUnavailable):
        launcher_for(server).get_state("job-3")


# --- cancel ---------------------------------------------------------------------------------


def add_job(fake: FakeVertex, job_id: str, state: str, **fields: Any) -> str:
    fake.jobs[job_id] = {"name": f"{PARENT[4:]}/pipelineJobs/{job_id}", "state": state, **fields}
    return job_id


@pytest.mark.parametrize(
    "state",
    ["PIPELINE_STATE_QUEUED", "PIPELINE_STATE_PENDING", "PIPELINE_STATE_RUNNING", "PIPELINE_STATE_PAUSED"],
)
def test_cancel_sends_the_published_request(vertex: tuple[ContractServer, FakeVertex], state: str) -> None:
    server, fake = vertex
    add_job(fake, "job-c", state)
    status = launcher_for(server).cancel("job-c")
    assert status.state is RunState.CANCELING
    assert status.raw_state == "PIPELINE_STATE_CANCELLING"
    job = f"{PARENT}/pipelineJobs/job-c"
    assert server.targets() == [f"GET {job}", f"POST {job}:cancel", f"GET {job}"]
    post = server.seen[1]
    assert post.body == {}
    assert post.query == {}
    assert post.headers["content-type"] == "application/json"
    assert post.headers["authorization"] == f"Bearer {TOKEN}"
    later = launcher_for(server).get_state("job-c")  # the job has stopped by now
    assert later.state is RunState.CANCELED
    assert later.error == "CANCELED"


def test_cancel_is_idempotent(vertex: tuple[ContractServer, FakeVertex]) -> None:
    server, fake = vertex
    add_job(fake, "job-i", "PIPELINE_STATE_RUNNING")
    launcher = launcher_for(server)
    assert launcher.cancel("job-i").state is RunState.CANCELING
    assert launcher.cancel("job-i").state is RunState.CANCELED
    assert launcher.cancel("job-i").state is RunState.CANCELED
    assert server.targets().count(f"POST {PARENT}/pipelineJobs/job-i:cancel") == 1


def test_cancel_of_a_cancelling_job_sends_nothing(vertex: tuple[ContractServer, FakeVertex]) -> None:
    server, fake = vertex
    add_job(fake, "job-g", "PIPELINE_STATE_CANCELLING")
    assert launcher_for(server).cancel("job-g").state is RunState.CANCELING
    assert server.targets() == [f"GET {PARENT}/pipelineJobs/job-g"]


@pytest.mark.parametrize(
    ("state", "want"),
    [
        ("PIPELINE_STATE_SUCCEEDED", RunState.SUCCEEDED),
        ("PIPELINE_STATE_FAILED", RunState.FAILED),
        ("PIPELINE_STATE_CANCELLED", RunState.CANCELED),
    ],
)
def test_cancel_leaves_a_finished_job_alone(
    vertex: tuple[ContractServer, FakeVertex], state: str, want: RunState
) -> None:
    server, fake = vertex
    add_job(fake, "job-f", state, endTime="2026-11-24T11:00:00Z")
    status = launcher_for(server).cancel("job-f")
    assert status.state is want
    assert status.finished_at == "2026-11-24T11:00:00Z"
    assert server.targets() == [f"GET {PARENT}/pipelineJobs/job-f"]


def test_cancel_of_a_job_finishing_meanwhile_is_done(vertex: tuple[ContractServer, FakeVertex]) -> None:
    """Vertex's FAILED_PRECONDITION for a job that ended between the read and the cancel."""
    server, fake = vertex
    add_job(fake, "job-m", "PIPELINE_STATE_RUNNING")
    fake.after_read["job-m"] = "PIPELINE_STATE_SUCCEEDED"
    status = launcher_for(server).cancel("job-m")
    assert status.state is RunState.SUCCEEDED
    job = f"{PARENT}/pipelineJobs/job-m"
    assert server.targets() == [f"GET {job}", f"POST {job}:cancel", f"GET {job}"]


def test_a_cancel_refused_for_a_live_job_is_rejected(vertex: tuple[ContractServer, FakeVertex]) -> None:
    server, fake = vertex
    add_job(fake, "job-r", "PIPELINE_STATE_RUNNING")
    refusal = google_error(400, "FAILED_PRECONDITION", "not now")
    server.fail("POST", f"{PARENT}/pipelineJobs/job-r:cancel", 400, refusal)
    with pytest.raises(LaunchRejected, match="not now") as info:
        launcher_for(server).cancel("job-r")
    assert info.value.status == 400


def test_cancel_by_resource_name_and_bad_ids(vertex: tuple[ContractServer, FakeVertex]) -> None:
    server, fake = vertex
    add_job(fake, "job-n", "PIPELINE_STATE_RUNNING")
    assert launcher_for(server).cancel(f"{PARENT[4:]}/pipelineJobs/job-n").state is RunState.CANCELING
    with pytest.raises(LaunchRejected, match="not a PipelineJob id"):
        launcher_for(server).cancel("Bad_Id")
    assert server.targets()[-1] == f"GET {PARENT}/pipelineJobs/job-n"


def test_cancel_of_an_unknown_job_is_rejected(vertex: tuple[ContractServer, FakeVertex]) -> None:
    server, _ = vertex
    with pytest.raises(LaunchRejected, match="PipelineJob nope not found") as info:
        launcher_for(server).cancel("nope")
    assert info.value.status == 404
    assert server.targets() == [f"GET {PARENT}/pipelineJobs/nope"]


@pytest.mark.parametrize(("method", "suffix"), [("GET", ""), ("POST", ":cancel")])
@pytest.mark.parametrize("status", [500, 503, 429])
def test_cancel_server_errors_are_retryable(
    vertex: tuple[ContractServer, FakeVertex], method: str, suffix: str, status: int
) -> None:
    server, fake = vertex
    add_job(fake, "job-e", "PIPELINE_STATE_RUNNING")
    server.fail(method, f"{PARENT}/pipelineJobs/job-e{re.escape(suffix)}", status)
    launcher = launcher_for(server)
    with pytest.raises(LaunchUnavailable) as info:
        launcher.cancel("job-e")
    assert info.value.status == status
    assert launcher.cancel("job-e").state is RunState.CANCELING  # the retry does it


def test_cancel_timeout_is_retryable(vertex: tuple[ContractServer, FakeVertex]) -> None:
    server, fake = vertex
    add_job(fake, "job-t", "PIPELINE_STATE_RUNNING")
    server.stall("POST", f"{PARENT}/pipelineJobs/job-t:cancel")
    with pytest.raises(LaunchUnavailable, match="no answer within"):
        launcher_for(server, timeout_s=0.3).cancel("job-t")
    assert launcher_for(server).cancel("job-t").state is RunState.CANCELING  # cancelling meanwhile
    assert server.targets().count(f"POST {PARENT}/pipelineJobs/job-t:cancel") == 1


def test_provenance_labels_reach_the_job_within_vertex_label_rules(
    vertex: tuple[ContractServer, FakeVertex],
) -> None:
    """The labels launch stamps every run with (stages.provenance) pass Vertex's label rules as sent."""
    from kfp_triggers.stages.provenance import run_labels
    from kfp_triggers.wire.events import ObjectRef, RunRequested

    server, fake = vertex
    sha = "9f3c2b1a" * 5
    requested = RunRequested(
        event_id="0b6f5a2e-c9d1-11f0-8a1e-4f2c7a9d3b01",
        listener=ObjectRef("default", "github-push"),
        trigger=ObjectRef("default", "train-on-main"),
        idempotency_key="k",
        uid="u",
        origin={"verifiedBy": "github", "github": {"owner": "Acme-ML", "repo": "fraud.model", "sha": sha}},
    )
    base = request()
    launcher_for(server).launch(
        LaunchRequest(base.spec, "k-prov", event_id=base.event_id, labels=run_labels(requested))
    )
    (post,) = creates(server)  # the fake refuses a label that breaks Vertex's rules
    labels = post.body["labels"]
    assert labels["triggers_tekton_dev_eventid"] == "0b6f5a2e-c9d1-11f0-8a1e-4f2c7a9d3b01"
    assert labels["triggers_tekton_dev_trigger"] == "train-on-main"
    assert labels["kfp-triggers_dev_verified-by"] == "github"
    assert labels["kfp-triggers_dev_repository"] == "acme-ml_fraud_model"
    assert labels["kfp-triggers_dev_commit"] == sha
    assert fake.jobs[post.query["pipelineJobId"][0]]["labels"] == labels
