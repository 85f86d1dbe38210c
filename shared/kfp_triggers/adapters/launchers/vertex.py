"""Launch and follow Vertex AI PipelineJobs through the Vertex REST API (no Google SDK at import).

Idempotency is the backend's own: the job id (``pipelineJobId``, ``^[a-z][-a-z0-9]{0,127}$``) is
derived from the idempotency key alone, so a second create for the same key fails with
409 ALREADY_EXISTS and the launcher returns the job that exists. The id is a readable slug of the
key plus 16 hex digits of its SHA-256, so two keys never meet on one id.

What a KFP ``Run`` resource becomes: ``display_name`` -> ``displayName`` (128 characters at most),
the compiled pipeline -> ``pipelineSpec`` (a PlatformSpec, i.e. kfp-kubernetes settings, is refused:
Vertex cannot honour it), coerced parameters -> ``runtimeConfig.parameterValues``,
``runtime_config.pipeline_root`` (else the launcher's) -> ``runtimeConfig.gcsOutputDirectory``, labels
-> ``labels`` rewritten to Vertex's rules. The launcher's ``service_account`` wins over the
resource's, which usually names a Kubernetes service account. Vertex runs no stored KFP pipeline
versions and has no run description; ``experiment_*`` is not sent.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import urllib.parse
from collections.abc import Mapping
from typing import Any

from kfp_triggers.adapters.launchers._http import TokenProvider, request_json
from kfp_triggers.adapters.launchers.base import (
    LaunchedRun,
    LaunchRejected,
    LaunchRequest,
    LaunchUnavailable,
    RunStatus,
    is_settled,
    normalise_state,
)
from kfp_triggers.adapters.launchers.outputs import vertex_outputs
from kfp_triggers.adapters.launchers.params import coerce_parameters, load_pipeline

log = logging.getLogger(__name__)

BACKEND = "vertex"
JOB_ID = re.compile(r"^[a-z][-a-z0-9]{0,127}$")
MAX_LABELS = 64
_LABEL_LEN = 63
_SCOPE = "https://www.googleapis.com/auth/cloud-platform"


def job_id_for(key: str) -> str:
    """The PipelineJob id for an idempotency key: ``kfpt-<slug of the key>-<16 hex>``."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    slug = re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-")[:80].rstrip("-")
    return f"kfpt-{slug}-{digest}" if slug else f"kfpt-{digest}"


def _label_part(text: str) -> str:
    return re.sub(r"[^a-z0-9_-]", "_", text.lower())[:_LABEL_LEN]


def vertex_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """Labels rewritten to Vertex's rules: lowercase letters, digits, ``_`` and ``-``; keys start with a
    letter; 63 characters at most; at most 64 labels (the first 64 keys in sorted order are kept).

    ``triggers.tekton.dev/eventlistener`` becomes ``triggers_tekton_dev_eventlistener``.
    """
    out: dict[str, str] = {}
    for key in sorted(labels):
        k = _label_part(key)
        if not k:
            continue
        if not k[0].isalpha():
            k = ("l" + k)[:_LABEL_LEN]
        out[k] = _label_part(str(labels[key]))
    if len(out) > MAX_LABELS:
        log.warning("Vertex allows %d labels; dropping %d", MAX_LABELS, len(out) - MAX_LABELS)
        out = dict(list(out.items())[:MAX_LABELS])
    return out


class GoogleAuthToken:
    """Access tokens from Application Default Credentials, loaded on first use and refreshed when stale."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._credentials: Any = None

    def __call__(self) -> str:
        """A valid access token.

        Raises:
            LaunchUnavailable: credentials cannot be found or refreshed.
        """
        with self._lock:
            try:
                import google.auth
                import google.auth.transport.requests

                if self._credentials is None:
                    self._credentials, _ = google.auth.default(scopes=[_SCOPE])
                if not self._credentials.valid:
                    self._credentials.refresh(google.auth.transport.requests.Request())
                return str(self._credentials.token)
            except Exception as exc:
                raise LaunchUnavailable(f"no Google credentials: {type(exc).__name__}") from exc


class VertexLauncher:
    """Vertex AI Pipelines in one project and region; see the module docstring."""

    backend = BACKEND

    def __init__(
        self,
        project: str,
        location: str,
        pipeline_root: str | None = None,
        service_account: str | None = None,
        token_provider: TokenProvider | None = None,
        *,
        base_url: str | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        """Args:
        project, location: where jobs are created (``us-central1``, ...).
        pipeline_root: default ``gs://`` output directory when a resource gives none.
        service_account: the service account jobs run as (wins over the resource's).
        token_provider: returns an access token (default: Application Default Credentials).
        base_url: API root, default ``https://{location}-aiplatform.googleapis.com/v1``.
        """
        if not project or not location:
            raise ValueError("VertexLauncher needs a project and a location")
        self.project = project
        self.location = location
        self.pipeline_root = pipeline_root
        self.service_account = service_account
        self.timeout_s = timeout_s
        self.base_url = (base_url or f"https://{location}-aiplatform.googleapis.com/v1").rstrip("/")
        self._tokens: TokenProvider = token_provider or GoogleAuthToken()

    @property
    def parent(self) -> str:
        """``projects/{project}/locations/{location}``."""
        return f"projects/{self.project}/locations/{self.location}"

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        url = f"{self.base_url}/{self.parent}/{path}"
        return request_json(method, url, body=body, token=self._tokens(), timeout_s=self.timeout_s)

    def run_url(self, job_id: str) -> str:
        """The Cloud console page of a job."""
        return (
            f"https://console.cloud.google.com/vertex-ai/locations/{self.location}/pipelines/runs/"
            f"{job_id}?project={urllib.parse.quote(self.project)}"
        )

    def launch(self, request: LaunchRequest) -> LaunchedRun:
        """Create the PipelineJob with the key's job id, or return the job that already has it.

        Raises:
            LaunchRejected: the spec cannot run on Vertex, bad parameters, or a 4xx answer.
            LaunchUnavailable: 5xx, 429, timeout, connection failure, missing credentials.
        """
        spec = request.spec
        doc = load_pipeline(spec)
        if doc is None:
            raise LaunchRejected(
                "Vertex AI runs a compiled pipeline: give spec.pipeline_package or pipeline_spec"
            )
        if doc.platform_spec:
            raise LaunchRejected(
                "the pipeline has a PlatformSpec (kfp-kubernetes settings) Vertex AI cannot run"
            )
        job_id = job_id_for(request.idempotency_key)
        runtime: dict[str, Any] = {"parameterValues": coerce_parameters(doc, spec.parameters)}
        root = spec.pipeline_root or self.pipeline_root
        if root:
            runtime["gcsOutputDirectory"] = root
        body: dict[str, Any] = {
            "displayName": spec.display_name[:128],
            "pipelineSpec": doc.pipeline_spec,
            "runtimeConfig": runtime,
            "labels": vertex_labels(request.all_labels()),
        }
        service_account = self.service_account or spec.service_account
        if service_account:
            body["serviceAccount"] = service_account
        query = urllib.parse.urlencode({"pipelineJobId": job_id})
        try:
            job = self._call("POST", f"pipelineJobs?{query}", body)
            existing = False
        except LaunchRejected as exc:
            if exc.status != 409:
                raise
            log.info("PipelineJob %s already exists for this idempotency key", job_id)
            job = self._call("GET", f"pipelineJobs/{job_id}")
            existing = True
        state = normalise_state(BACKEND, job.get("state"))
        return LaunchedRun(job_id, BACKEND, state, self.run_url(job_id), existing=existing)

    def find(self, idempotency_key: str) -> LaunchedRun | None:
        """The PipelineJob with the key's job id, or ``None`` when Vertex has none (404)."""
        job_id = job_id_for(idempotency_key)
        try:
            job = self._call("GET", f"pipelineJobs/{job_id}")
        except LaunchRejected as exc:
            if exc.status == 404:
                return None
            raise
        state = normalise_state(BACKEND, job.get("state"))
        return LaunchedRun(job_id, BACKEND, state, self.run_url(job_id), existing=True)

    def get_state(self, run_id: str) -> RunStatus:
        """Read the job (``run_id`` is the job id or its full resource name).

        Raises:
            LaunchRejected: no such job (404) or no permission.
            LaunchUnavailable: the API could not be reached or failed.
        """
        job_id = _job_id(run_id)
        job = self._call("GET", f"pipelineJobs/{job_id}")
        raw = job.get("state")
        error = job.get("error")
        message = str(error["message"]) if isinstance(error, dict) and error.get("message") else None
        details: dict[str, Any] = {
            k: job[k] for k in ("name", "displayName", "createTime", "startTime") if job.get(k)
        }
        tasks = (job.get("jobDetail") or {}).get("taskDetails") or []
        details["tasks"] = {str(t.get("taskName")): t.get("state") for t in tasks if isinstance(t, dict)}
        details["run_url"] = self.run_url(job_id)
        state = normalise_state(BACKEND, raw)
        outputs = vertex_outputs(job) if state.is_terminal else ()
        return RunStatus(state, raw, message, job.get("endTime") or None, details, outputs)

    def cancel(self, run_id: str) -> RunStatus:
        """Cancel the job (``POST .../pipelineJobs/{id}:cancel``) unless it is CANCELLING or finished.

        Vertex cancels asynchronously (CANCELLING, then CANCELLED) and answers 400
        FAILED_PRECONDITION for a job that has already finished, so the job is read first and a
        settled job left alone; a 400 to the cancel (the job finished between the read and the
        request) counts as done when a second read finds the job settled. The job is read again
        after the request, for the state it reached.

        Raises:
            LaunchRejected: no such job (404), no permission, or a refusal a second read does
                not explain.
            LaunchUnavailable: the API could not be reached or failed; retrying is safe.
        """
        job_id = _job_id(run_id)
        before = self.get_state(job_id)
        if is_settled(before.state):
            return before
        try:
            self._call("POST", f"pipelineJobs/{job_id}:cancel", {})
        except LaunchRejected as exc:
            if exc.status != 400:
                raise
            after = self.get_state(job_id)
            if is_settled(after.state):
                return after
            raise
        log.info("PipelineJob %s: cancellation requested (was %s)", job_id, before.state)
        return self.get_state(job_id)


def _job_id(run_id: str) -> str:
    """The job id of a job id or full resource name.

    Raises:
        LaunchRejected: it is not a valid PipelineJob id.
    """
    job_id = run_id.rsplit("/", 1)[-1]
    if not JOB_ID.match(job_id):
        raise LaunchRejected(f"not a PipelineJob id: {run_id!r}")
    return job_id
