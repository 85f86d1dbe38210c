"""Every run state of KFP (v2beta1 ``RuntimeState``) and Vertex AI (``PipelineState``) maps to a RunState."""

from __future__ import annotations

import pytest

from kfp_triggers.adapters.launchers import RunState, is_terminal, normalise_state

# The enum of v2beta1RuntimeState in KFP's run.swagger.json, plus the old proto's spelling.
KFP_STATES = {
    "RUNTIME_STATE_UNSPECIFIED": RunState.UNKNOWN,
    "RUNTIMESTATE_UNSPECIFIED": RunState.UNKNOWN,
    "PENDING": RunState.PENDING,
    "RUNNING": RunState.RUNNING,
    "SUCCEEDED": RunState.SUCCEEDED,
    "SKIPPED": RunState.SKIPPED,
    "FAILED": RunState.FAILED,
    "CANCELING": RunState.CANCELING,
    "CANCELED": RunState.CANCELED,
    "PAUSED": RunState.PAUSED,
}

# google.cloud.aiplatform.v1 PipelineState, as the REST API spells it, and without the prefix.
VERTEX_STATES = {
    "PIPELINE_STATE_UNSPECIFIED": RunState.UNKNOWN,
    "PIPELINE_STATE_QUEUED": RunState.PENDING,
    "PIPELINE_STATE_PENDING": RunState.PENDING,
    "PIPELINE_STATE_RUNNING": RunState.RUNNING,
    "PIPELINE_STATE_SUCCEEDED": RunState.SUCCEEDED,
    "PIPELINE_STATE_FAILED": RunState.FAILED,
    "PIPELINE_STATE_CANCELLING": RunState.CANCELING,
    "PIPELINE_STATE_CANCELLED": RunState.CANCELED,
    "PIPELINE_STATE_PAUSED": RunState.PAUSED,
    "QUEUED": RunState.PENDING,
    "CANCELLING": RunState.CANCELING,
    "CANCELLED": RunState.CANCELED,
}


@pytest.mark.parametrize(("raw", "want"), sorted(KFP_STATES.items()))
def test_every_kfp_state(raw: str, want: RunState) -> None:
    assert normalise_state("kfp", raw) is want


@pytest.mark.parametrize(("raw", "want"), sorted(VERTEX_STATES.items()))
def test_every_vertex_state(raw: str, want: RunState) -> None:
    assert normalise_state("vertex", raw) is want


@pytest.mark.parametrize("backend", ["kfp", "local", "dry-run"])
def test_kfp_vocabulary_backends_read_their_states(backend: str) -> None:
    assert normalise_state(backend, "SUCCEEDED") is RunState.SUCCEEDED
    assert normalise_state(backend, "CANCELED") is RunState.CANCELED


@pytest.mark.parametrize(
    "raw", ["", None, "   ", "EXPLODED", "SOMETHING_UNSPECIFIED", "PIPELINE_STATE_BOGUS"]
)
@pytest.mark.parametrize("backend", ["kfp", "vertex"])
def test_unknown_and_empty_values_are_unknown(backend: str, raw: str | None) -> None:
    assert normalise_state(backend, raw) is RunState.UNKNOWN


def test_matching_ignores_case_and_blanks() -> None:
    assert normalise_state("kfp", " succeeded\n") is RunState.SUCCEEDED
    assert normalise_state("vertex", "pipeline_state_cancelled") is RunState.CANCELED


def test_spellings_stay_with_their_backend() -> None:
    """Vertex's British spelling is not a KFP state, and QUEUED exists only on Vertex."""
    assert normalise_state("kfp", "CANCELLED") is RunState.UNKNOWN
    assert normalise_state("kfp", "QUEUED") is RunState.UNKNOWN
    assert normalise_state("vertex", "SKIPPED") is RunState.UNKNOWN


def test_kfp_v1_phases_are_understood() -> None:
    assert normalise_state("kfp", "Error") is RunState.FAILED
    assert normalise_state("kfp", "Terminating") is RunState.CANCELING


def test_state_values_are_kfp_names() -> None:
    assert {s.value for s in RunState} - {"UNKNOWN"} == set(KFP_STATES) - {
        "RUNTIME_STATE_UNSPECIFIED",
        "RUNTIMESTATE_UNSPECIFIED",
    }
    assert str(RunState.CANCELED) == "CANCELED"


@pytest.mark.parametrize(
    ("state", "terminal"),
    [
        (RunState.PENDING, False),
        (RunState.RUNNING, False),
        (RunState.SUCCEEDED, True),
        (RunState.SKIPPED, True),
        (RunState.FAILED, True),
        (RunState.CANCELING, False),
        (RunState.CANCELED, True),
        (RunState.PAUSED, False),
        (RunState.UNKNOWN, False),
    ],
)
def test_terminal_states(state: RunState, terminal: bool) -> None:
    assert state.is_terminal is terminal
    assert is_terminal(state) is terminal
    assert is_terminal(state.value.lower()) is terminal


def test_is_terminal_of_foreign_text_is_false() -> None:
    assert is_terminal("PIPELINE_STATE_SUCCEEDED") is False
    assert is_terminal("done") is False
