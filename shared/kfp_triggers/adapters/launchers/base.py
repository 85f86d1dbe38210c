"""The launcher contract: run states, the parsed ``Run`` resource, requests, results and errors.

Every backend reports state in KFP's ``RuntimeState`` names (:class:`RunState`), whatever its own
spelling (Vertex says ``CANCELLED`` and ``QUEUED``), so the status stage and the CLI see one
vocabulary. :class:`RunSpec` is the rendered ``pipelines.kubeflow.org/v2beta1`` ``Run`` resource,
checked once (every problem reported together) before any backend is called.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from http import HTTPStatus
from pathlib import Path
from typing import Any, Protocol

from kfp_triggers.adapters.launchers.outputs import RunOutput
from kfp_triggers.errors import KfptError


class LaunchError(KfptError):
    """A run could not be launched or read; see the two subclasses for what to do about it."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class LaunchRejected(LaunchError, ValueError):  # noqa: N818 - the name says what to do: nothing
    """The run cannot be created as asked (bad spec, bad parameters, a 4xx answer): do not retry.

    ``status`` is the backend's HTTP status when there was one.
    """

    http_status = HTTPStatus.UNPROCESSABLE_ENTITY


class LaunchUnavailable(LaunchError):  # noqa: N818 - the name says what to do: retry
    """The backend could not be reached or failed on its side (5xx, timeout, connection): retry.

    ``status`` is the backend's HTTP status when there was one.
    """

    retryable = True
    http_status = HTTPStatus.SERVICE_UNAVAILABLE


class InvalidRunSpec(LaunchRejected):
    """The rendered ``Run`` resource is malformed; ``problems`` lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid Run resource: " + "; ".join(problems))


class ParameterError(LaunchRejected):
    """A run parameter is unknown, missing, or cannot be converted to the pipeline's declared type."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        self.param = param
        super().__init__(message)


class RunState(StrEnum):
    """A run's state, in KFP's ``RuntimeState`` names (``UNKNOWN`` stands for ``*_UNSPECIFIED``)."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    SKIPPED = "SKIPPED"
    FAILED = "FAILED"
    CANCELING = "CANCELING"
    CANCELED = "CANCELED"
    PAUSED = "PAUSED"
    UNKNOWN = "UNKNOWN"

    @property
    def is_terminal(self) -> bool:
        """True once the run can no longer change (PAUSED can be resumed, so it is not terminal)."""
        return self in _TERMINAL


_TERMINAL = frozenset({RunState.SUCCEEDED, RunState.SKIPPED, RunState.FAILED, RunState.CANCELED})


def is_terminal(state: RunState | str) -> bool:
    """True for SUCCEEDED, SKIPPED, FAILED and CANCELED (in any case); False for anything else."""
    try:
        return RunState(str(state).upper()).is_terminal
    except ValueError:
        return False


_KFP_STATES: dict[str, RunState] = {
    "RUNTIME_STATE_UNSPECIFIED": RunState.UNKNOWN,
    "RUNTIMESTATE_UNSPECIFIED": RunState.UNKNOWN,  # older snapshots of run.proto
    **{s.value: s for s in RunState},
    # KFP v1 run phases (Argo workflow phases), still seen from old API servers.
    "ERROR": RunState.FAILED,
    "TERMINATING": RunState.CANCELING,
    "TERMINATED": RunState.CANCELED,
}

_VERTEX_STATES: dict[str, RunState] = {
    "PIPELINE_STATE_UNSPECIFIED": RunState.UNKNOWN,
    "QUEUED": RunState.PENDING,
    "PENDING": RunState.PENDING,
    "RUNNING": RunState.RUNNING,
    "SUCCEEDED": RunState.SUCCEEDED,
    "FAILED": RunState.FAILED,
    "CANCELLING": RunState.CANCELING,
    "CANCELLED": RunState.CANCELED,
    "PAUSED": RunState.PAUSED,
}


def normalise_state(backend: str, raw: str | None) -> RunState:
    """Map a backend's own state name to :class:`RunState`; unknown or empty values give UNKNOWN.

    ``backend`` is ``"vertex"`` for Vertex AI ``PipelineState`` names (with or without the
    ``PIPELINE_STATE_`` prefix); every other backend speaks KFP's ``RuntimeState``. Any
    ``*UNSPECIFIED`` value is UNKNOWN. Matching ignores case and surrounding blanks.
    """
    text = (raw or "").strip().upper()
    if not text or text.endswith("UNSPECIFIED"):
        return RunState.UNKNOWN
    if backend == "vertex":
        return _VERTEX_STATES.get(text.removeprefix("PIPELINE_STATE_"), RunState.UNKNOWN)
    return _KFP_STATES.get(text, RunState.UNKNOWN)


@dataclass(frozen=True)
class VersionReference:
    """An uploaded pipeline on a KFP server; without a version id the latest version runs."""

    pipeline_id: str
    pipeline_version_id: str | None = None


@dataclass(frozen=True)
class RunSpec:
    """A rendered ``Run`` resource, validated: exactly one pipeline source, at most one experiment.

    ``parameters`` keep the values as rendered (usually strings); launchers convert them to the
    pipeline's declared types (:mod:`kfp_triggers.adapters.launchers.params`).
    """

    display_name: str
    description: str = ""
    pipeline_package: Path | None = None
    pipeline_spec: Mapping[str, Any] | None = None
    pipeline_version_reference: VersionReference | None = None
    experiment_name: str | None = None
    experiment_id: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    pipeline_root: str | None = None
    service_account: str | None = None
    name: str | None = None
    generate_name: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_resource(
        cls,
        resource: Mapping[str, Any],
        base_dir: str | os.PathLike[str] | None = None,
        roots: Sequence[str | os.PathLike[str]] | None = None,
    ) -> RunSpec:
        """Parse and check a rendered resource; ``pipeline_package`` is resolved against ``base_dir``.

        snake_case (the REST API's names) and camelCase (protobuf JSON) spellings are both accepted.
        A relative package path with no ``base_dir`` is taken from the working directory.
        ``roots``: the directories a package must resolve into (see
        :func:`~kfp_triggers.config.pipelines.package_roots`); ``None``: unconfined.

        Raises:
            InvalidRunSpec: listing every problem found (wrong kind, no or several pipeline
                sources, both experiment_name and experiment_id, missing package file, ...).
        """
        from kfp_triggers.adapters.launchers._runspec import parse_run

        return parse_run(
            resource,
            Path(base_dir) if base_dir is not None else Path.cwd(),
            None if roots is None else [Path(r) for r in roots],
        )


@dataclass(frozen=True)
class LaunchRequest:
    """What to launch, and the key that makes launching it twice create one run.

    ``first_attempt`` says the ledger has never seen the key before this launch (no earlier
    attempt, released or crashed), so the backend cannot hold a run for it: a launcher may skip
    asking for one before creating. Left false, every launcher asks.
    """

    spec: RunSpec
    idempotency_key: str
    event_id: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    first_attempt: bool = False

    def __post_init__(self) -> None:
        if not self.idempotency_key:
            raise ValueError("a launch request needs a non-empty idempotency_key")

    def all_labels(self) -> dict[str, str]:
        """The resource's ``metadata.labels`` overlaid with the request's labels."""
        return {**self.spec.labels, **self.labels}


@dataclass(frozen=True)
class LaunchedRun:
    """A run on a backend; ``existing`` is True when the key had already launched it."""

    run_id: str
    backend: str
    state: RunState
    run_url: str | None = None
    existing: bool = False


@dataclass(frozen=True)
class RunStatus:
    """A run's state as last read; ``finished_at`` is RFC 3339 text, or None while it runs."""

    state: RunState
    raw_state: str | None = None
    error: str | None = None
    finished_at: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    outputs: tuple[RunOutput, ...] = ()
    """What the run produced, read once it has ended (see :mod:`.outputs`)."""


class Launcher(Protocol):
    """Creates runs, reads their state and cancels them; one implementation per backend."""

    def launch(self, request: LaunchRequest) -> LaunchedRun:
        """Create the run, or return the run already created for ``request.idempotency_key``.

        Raises:
            LaunchRejected: the request is invalid or the backend refused it for good.
            LaunchUnavailable: the backend could not be reached or failed; retrying is safe.
        """
        ...

    def find(self, idempotency_key: str) -> LaunchedRun | None:
        """The run already created for ``idempotency_key`` on the backend, or ``None``.

        Launch asks this when another invocation holds the key's claim: if that holder died after
        the backend created the run, the run is adopted instead of waiting for the lease to end.

        Raises:
            LaunchUnavailable: the backend could not be reached or failed.
        """
        ...

    def get_state(self, run_id: str) -> RunStatus:
        """Read the run's current state.

        Raises:
            LaunchRejected: no such run (or not allowed to see it).
            LaunchUnavailable: the backend could not be reached or failed.
        """
        ...

    def cancel(self, run_id: str) -> RunStatus:
        """Ask the backend to stop the run; return its state once the request is made.

        Idempotent: a run already CANCELING, CANCELED or otherwise finished is left alone and its
        current state returned, so cancelling twice, or cancelling a run that finished meanwhile,
        is not an error. Stopping may be asynchronous (KFP and Vertex report CANCELING first), so
        the state returned is what the backend says right after the request, not a promise that
        the run is already over.

        Raises:
            LaunchRejected: no such run (or not allowed to stop it).
            LaunchUnavailable: the backend could not be reached or failed; retrying is safe.
        """
        ...


def is_settled(state: RunState) -> bool:
    """True when cancelling has nothing left to do: the run is finished or already stopping."""
    return state.is_terminal or state is RunState.CANCELING
