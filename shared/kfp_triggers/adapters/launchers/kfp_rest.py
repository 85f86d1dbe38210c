"""Launch and follow runs on a Kubeflow Pipelines server through its v2beta1 REST API (no kfp import).

Requests are the ones kfp.Client makes (``POST /apis/v2beta1/runs`` with a ``V2beta1Run`` body in
snake_case, experiments looked up by a ``display_name EQUALS`` filter and created when absent), plus a
backend-side idempotency check, because KFP lets no client choose a run id and display names are not
unique:

Dedupe scheme. The run's ``description`` ends with a marker line ``kfp-triggers: event <event id>,
kfpt-key-<32 hex>``, where the hex is the start of SHA-256 of the idempotency key (fixed alphabet: no
LIKE wildcards, safe in any text). ``description`` is filterable on runs and takes ``IS_SUBSTRING``,
so before creating, ``GET /apis/v2beta1/runs?filter=`` asks for runs whose description contains the
marker; a candidate counts only if its description *ends* with it (user text cannot forge a match, as
the launcher always appends the marker last). If one exists, it is returned and nothing is created.
That query is skipped on a key's first attempt (``LaunchRequest.first_attempt``: the ledger has
never seen the key, so no run can carry its marker); on a KFP server it scans the runs table.
After creating, the same query runs again: when two launches raced, every launcher sees the same
earliest run (``created_at``, then ``run_id``), keeps it, and terminates its own later duplicate.
In multi-user deployments give ``namespace``: listing runs requires it there.

A v2beta1 ``Run`` has no labels, so ``metadata.labels`` and request labels are not sent; the event id
travels in the description's marker line.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import urllib.parse
from typing import Any

from kfp_triggers.adapters.launchers._http import TokenProvider, request_json
from kfp_triggers.adapters.launchers.base import (
    LaunchedRun,
    LaunchError,
    LaunchRejected,
    LaunchRequest,
    RunSpec,
    RunState,
    RunStatus,
    VersionReference,
    is_settled,
    normalise_state,
)
from kfp_triggers.adapters.launchers.outputs import kfp_outputs
from kfp_triggers.adapters.launchers.params import coerce_parameters, load_pipeline, pipeline_from_mapping

log = logging.getLogger(__name__)

BACKEND = "kfp"
API = "/apis/v2beta1"
MARKER_PREFIX = "kfpt-key-"
_EPOCH = "1970-01-01T00:00:00"
EXPERIMENT_ID_TTL_S = 300.0
"""How long an experiment id found by name is used without asking the server again."""


def idempotency_marker(key: str) -> str:
    """The text that identifies the run launched for ``key`` in its description."""
    return MARKER_PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def _filter(key: str, operation: str, value: str) -> str:
    """A ``Filter`` as the ``filter`` query parameter wants it: JSON (URL-encoding is the caller's)."""
    return json.dumps({"predicates": [{"key": key, "operation": operation, "string_value": value}]})


class KfpRestLauncher:
    """A KFP API server reached over HTTP(S); see the module docstring for the dedupe scheme."""

    backend = BACKEND

    def __init__(
        self,
        host: str,
        token: str | None = None,
        namespace: str | None = None,
        timeout_s: float = 10.0,
        *,
        token_provider: TokenProvider | None = None,
        ui_host: str | None = None,
    ) -> None:
        """Args:
        host: the API base URL, as for kfp.Client (``http://ml-pipeline.kubeflow:8888``,
            ``https://example.com/pipeline``).
        token: a bearer token; or ``token_provider`` to read a fresh one per request
            (e.g. a rotated service-account token file).
        namespace: the user namespace of a multi-user deployment.
        ui_host: where run links point (default ``host``).
        """
        if not host.startswith(("http://", "https://")):
            raise ValueError(f"KFP host must be an http(s) URL, got {host!r}")
        self.host = host.rstrip("/")
        self.namespace = namespace or None
        self.timeout_s = timeout_s
        self.ui_host = (ui_host or host).rstrip("/")
        self._token = token
        self._token_provider = token_provider
        # Experiment ids by display name, with when they were looked up (time.monotonic()).
        self._experiments: dict[str, tuple[str, float]] = {}

    # -- HTTP --------------------------------------------------------------------------------

    def _call(
        self, method: str, path: str, query: dict[str, str] | None = None, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        url = self.host + API + path
        if query:
            url += "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
        token = self._token_provider() if self._token_provider else self._token
        return request_json(method, url, body=body, token=token, timeout_s=self.timeout_s)

    def run_url(self, run_id: str) -> str:
        """The KFP UI page of a run."""
        return f"{self.ui_host}/#/runs/details/{run_id}"

    # -- launching ---------------------------------------------------------------------------

    def launch(self, request: LaunchRequest) -> LaunchedRun:
        """Create the run unless a run with this idempotency key already exists.

        Raises:
            LaunchRejected: invalid spec or parameters, or a 4xx from the server.
            LaunchUnavailable: 5xx, timeout or connection failure (retrying is safe: the
                retry finds the run if the server created it).
        """
        marker = idempotency_marker(request.idempotency_key)
        found = None if request.first_attempt else self._find(marker)
        if found is not None:
            log.info("run %s already exists for this idempotency key", found["run_id"])
            return self._launched(found, existing=True)
        started = time.monotonic()
        body = self._run_body(request, marker)
        try:
            created = self._call("POST", "/runs", body=body)
        except LaunchRejected:
            # An experiment id remembered from before may be of a deleted experiment: look again, once.
            if not self._forget_experiment(request.spec, found_before=started):
                raise
            body = self._run_body(request, marker)
            created = self._call("POST", "/runs", body=body)
        run_id = str(created.get("run_id") or "")
        if not run_id:
            raise LaunchRejected("POST /apis/v2beta1/runs answered without a run_id")
        winner = self._settle(marker, created)
        return self._launched(winner, existing=winner.get("run_id") != run_id)

    def find(self, idempotency_key: str) -> LaunchedRun | None:
        """The earliest run whose description carries the key's marker, or ``None``."""
        found = self._find(idempotency_marker(idempotency_key))
        return None if found is None else self._launched(found, existing=True)

    def _launched(self, run: dict[str, Any], existing: bool) -> LaunchedRun:
        run_id = str(run["run_id"])
        state = normalise_state(BACKEND, run.get("state"))
        return LaunchedRun(run_id, BACKEND, state, self.run_url(run_id), existing=existing)

    def _candidates(self, marker: str) -> list[dict[str, Any]]:
        query = {"filter": _filter("description", "IS_SUBSTRING", marker), "page_size": "20"}
        query["sort_by"] = "created_at"
        if self.namespace:
            query["namespace"] = self.namespace
        runs = self._call("GET", "/runs", query).get("runs") or []
        mine = [
            r
            for r in runs
            if isinstance(r, dict) and r.get("run_id") and str(r.get("description") or "").endswith(marker)
        ]
        return sorted(mine, key=lambda r: (str(r.get("created_at") or ""), str(r["run_id"])))

    def _find(self, marker: str) -> dict[str, Any] | None:
        found = self._candidates(marker)
        return found[0] if found else None

    def _settle(self, marker: str, created: dict[str, Any]) -> dict[str, Any]:
        """After a create: if a concurrent launch created an earlier run, keep that one."""
        try:
            found = self._candidates(marker)
        except LaunchError as exc:  # the run exists; a retry would find it anyway
            log.warning("could not re-check for duplicate runs: %s", exc)
            return created
        if not found or found[0]["run_id"] == created["run_id"]:
            return created
        log.warning("run %s duplicates %s; terminating it", created["run_id"], found[0]["run_id"])
        try:
            self.terminate(str(created["run_id"]))
        except LaunchError as exc:
            log.error("could not terminate duplicate run %s: %s", created["run_id"], exc)
        return found[0]

    def terminate(self, run_id: str) -> None:
        """Ask the server to stop a run (``POST /runs/{id}:terminate``)."""
        self._call("POST", f"/runs/{urllib.parse.quote(run_id, safe='')}:terminate")

    def cancel(self, run_id: str) -> RunStatus:
        """Terminate the run unless it is already CANCELING or finished; its state afterwards.

        The server terminates only a PENDING, RUNNING or PAUSED run and answers 400 otherwise, so
        the run is read first and a settled run is left alone. A 400 to the terminate (the run
        finished between the read and the request) counts as done when a second read finds the run
        settled. After a terminate the run is read again: the server has marked it CANCELING by
        then, and stops its workflow asynchronously.

        Raises:
            LaunchRejected: no such run (404), not allowed (401/403), or a refusal that a second
                read does not explain.
            LaunchUnavailable: the server could not be reached or failed; retrying is safe.
        """
        before = self.get_state(run_id)
        if is_settled(before.state):
            return before
        try:
            self.terminate(run_id)
        except LaunchRejected as exc:
            if exc.status != 400:
                raise
            after = self.get_state(run_id)
            if is_settled(after.state):
                return after
            raise
        log.info("run %s: terminate requested (was %s)", run_id, before.state)
        return self.get_state(run_id)

    def _run_body(self, request: LaunchRequest, marker: str) -> dict[str, Any]:
        spec = request.spec
        body: dict[str, Any] = {"display_name": spec.display_name}
        footer = f"kfp-triggers: event {request.event_id or '-'}, {marker}"
        provenance = ", ".join(
            f"{name.rpartition('/')[2]} {value}" for name, value in request.labels.items() if value
        )
        if provenance:  # a line above the footer: the dedupe marker stays the description's end
            footer = f"kfp-triggers: {provenance}\n{footer}"
        body["description"] = f"{spec.description}\n\n{footer}" if spec.description else footer
        doc = load_pipeline(spec)
        if doc is not None:
            body["pipeline_spec"] = doc.as_kfp_pipeline_spec()
            parameters = coerce_parameters(doc, spec.parameters)
        else:
            ref = spec.pipeline_version_reference
            if ref is None:
                raise LaunchRejected("no pipeline source in the run spec")
            body["pipeline_version_reference"] = {"pipeline_id": ref.pipeline_id}
            if ref.pipeline_version_id:
                body["pipeline_version_reference"]["pipeline_version_id"] = ref.pipeline_version_id
            parameters = self._coerce_for_version(ref, spec)
        runtime: dict[str, Any] = {"parameters": parameters}
        if spec.pipeline_root:
            runtime["pipeline_root"] = spec.pipeline_root
        body["runtime_config"] = runtime
        experiment_id = spec.experiment_id or (
            self.experiment_id(spec.experiment_name) if spec.experiment_name else None
        )
        if experiment_id:
            body["experiment_id"] = experiment_id
        if spec.service_account:
            body["service_account"] = spec.service_account
        return body

    def _coerce_for_version(self, ref: VersionReference, spec: RunSpec) -> dict[str, Any]:
        """Convert parameters with the stored version's IR (the latest version when none is named)."""
        pid = urllib.parse.quote(ref.pipeline_id, safe="")
        if ref.pipeline_version_id:
            vid = urllib.parse.quote(ref.pipeline_version_id, safe="")
            version: dict[str, Any] | None = self._call("GET", f"/pipelines/{pid}/versions/{vid}")
        else:
            listed = self._call(
                "GET", f"/pipelines/{pid}/versions", {"page_size": "1", "sort_by": "created_at desc"}
            )
            versions = listed.get("pipeline_versions") or []
            version = versions[0] if versions and isinstance(versions[0], dict) else None
        ir = (version or {}).get("pipeline_spec")
        if not isinstance(ir, dict):
            log.warning("pipeline %s: no pipeline_spec to check parameters against", ref.pipeline_id)
            return dict(spec.parameters)
        return coerce_parameters(pipeline_from_mapping(ir, f"pipeline {ref.pipeline_id}"), spec.parameters)

    def experiment_id(self, name: str) -> str:
        """The id of the experiment with this display name, creating the experiment if absent.

        An id is remembered for :data:`EXPERIMENT_ID_TTL_S`, so a burst of launches into one
        experiment does not list experiments for every run.

        Raises:
            LaunchRejected, LaunchUnavailable: as the server answers.
        """
        remembered = self._experiments.get(name)
        if remembered is not None and time.monotonic() - remembered[1] < EXPERIMENT_ID_TTL_S:
            return remembered[0]
        experiment_id = self._experiment_by_name(name) or self._create_experiment(name)
        self._experiments[name] = (experiment_id, time.monotonic())
        return experiment_id

    def _forget_experiment(self, spec: RunSpec, found_before: float) -> bool:
        """Forget the id of ``spec``'s experiment if it was found before ``found_before``; True if so."""
        if spec.experiment_id or not spec.experiment_name:
            return False
        remembered = self._experiments.get(spec.experiment_name)
        if remembered is None or remembered[1] >= found_before:
            return False
        self._experiments.pop(spec.experiment_name, None)
        return True

    def _create_experiment(self, name: str) -> str:
        """Create the experiment ``name``; its id (a concurrent creator's when it won)."""
        body: dict[str, Any] = {"display_name": name}
        if self.namespace:
            body["namespace"] = self.namespace
        try:
            created = self._call("POST", "/experiments", body=body)
        except LaunchRejected as exc:
            if exc.status != 409:  # 409: created meanwhile by a concurrent launch
                raise
            created = {"experiment_id": self._experiment_by_name(name)}
        experiment_id = created.get("experiment_id")
        if not experiment_id:
            raise LaunchRejected(f"experiment {name!r} could not be created or found")
        return str(experiment_id)

    def _experiment_by_name(self, name: str) -> str | None:
        query = {"filter": _filter("display_name", "EQUALS", name), "page_size": "1"}
        if self.namespace:
            query["namespace"] = self.namespace
        experiments = self._call("GET", "/experiments", query).get("experiments") or []
        for exp in experiments:
            if isinstance(exp, dict) and exp.get("display_name") == name and exp.get("experiment_id"):
                return str(exp["experiment_id"])
        return None

    # -- reading -----------------------------------------------------------------------------

    def get_state(self, run_id: str) -> RunStatus:
        """Read ``GET /apis/v2beta1/runs/{run_id}``.

        Raises:
            LaunchRejected: no such run (404) or not allowed (401/403).
            LaunchUnavailable: the server could not be reached or failed.
        """
        run = self._call("GET", f"/runs/{urllib.parse.quote(run_id, safe='')}")
        raw = run.get("state")
        finished = run.get("finished_at")
        if not isinstance(finished, str) or not finished or finished.startswith(_EPOCH):
            finished = None
        details: dict[str, Any] = {
            k: run[k] for k in ("display_name", "experiment_id", "storage_state", "created_at") if run.get(k)
        }
        tasks = (run.get("run_details") or {}).get("task_details") or []
        details["tasks"] = {
            str(t.get("display_name") or t.get("task_id")): t.get("state")
            for t in tasks
            if isinstance(t, dict)
        }
        details["run_url"] = self.run_url(run_id)
        state = normalise_state(BACKEND, raw)
        outputs = kfp_outputs(run) if state.is_terminal else ()
        return RunStatus(state, raw, _error_text(run, state), finished, details, outputs)


def _error_text(run: dict[str, Any], state: RunState) -> str | None:
    """The run's error; for a failed run without one, the latest error in its state history.

    (An error in the history of a run that is still going is a system error being retried.)
    """
    err = run.get("error")
    if isinstance(err, dict) and err.get("message"):
        return str(err["message"])
    if state is not RunState.FAILED:
        return None
    for status in reversed(run.get("state_history") or []):
        hist_err = status.get("error") if isinstance(status, dict) else None
        if isinstance(hist_err, dict) and hist_err.get("message"):
            return str(hist_err["message"])
    return None
