"""The official CEL conformance suite (cel-spec ``tests/simple``) on both CEL backends.

Every vendored case runs on the in-process evaluator and on the C++ runtime; the cases that do
not apply to Tekton's environment are skipped with their reason (:mod:`tests.conformance.skips`).
The counts below pin the suite itself, so that a change to the data or to the skip rules is a
visible change here rather than a silent drop in coverage.
"""

from __future__ import annotations

import pytest

from tests.conformance import skips
from tests.conformance.cases import Case, load_cases
from tests.conformance.runner import run
from tests.unit.cel_support import BACKENDS, CEL_EXPR_AVAILABLE

CASES = load_cases()

TOTAL_CASES = 1591
APPLICABLE_CASES = 1481
NATIVE_FLOOR = 1170
"""Applicable cases the C++ runtime evaluates itself (the rest it hands to the in-process one)."""


def skip_reason(case: Case, backend: str | None = None) -> str | None:
    """Why ``case`` is not run (on ``backend``), or None."""
    reason = (
        case.skip or skips.reason(case.id, skips.CEL_GO_SKIPS) or skips.reason(case.id, skips.NOT_IN_TEKTON)
    )
    if reason is None and backend == "cel-expr":
        reason = skips.reason(case.id, skips.CEL_EXPR_DIFFERENCES)
    return reason


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case, backend: str) -> None:
    reason = skip_reason(case, backend)
    if reason is not None:
        pytest.skip(reason)
    outcome = run(case, backend)
    assert outcome.passed, f"{case.expr}: {outcome.detail}"


def test_suite_size_is_pinned() -> None:
    assert len(CASES) == TOTAL_CASES
    assert len({c.id for c in CASES}) == TOTAL_CASES, "case ids must be unique"
    assert sum(skip_reason(c) is None for c in CASES) == APPLICABLE_CASES


@pytest.mark.parametrize(
    "table",
    [skips.CEL_GO_SKIPS, skips.NOT_IN_TEKTON, skips.CEL_EXPR_DIFFERENCES],
    ids=["cel-go", "tekton", "cel-expr"],
)
def test_every_skip_entry_names_a_case(table: dict[str, str]) -> None:
    ids = [c.id for c in CASES]
    for prefix in table:
        head, _, names = prefix.rpartition("/")
        for name in names.split(","):
            assert skips.reason(f"{head}/{name}", {prefix: "x"}) and any(
                skips.reason(i, {f"{head}/{name}": "x"}) for i in ids
            ), f"stale skip entry {head}/{name}"


@pytest.mark.skipif(not CEL_EXPR_AVAILABLE, reason="cel-expr-python is not installed")
def test_cel_expr_evaluates_most_cases_itself() -> None:
    """Routing to the in-process evaluator must stay the exception, or the C++ suite proves little."""
    native = sum(run(c, "cel-expr").native for c in CASES if skip_reason(c, "cel-expr") is None)
    assert native >= NATIVE_FLOOR
