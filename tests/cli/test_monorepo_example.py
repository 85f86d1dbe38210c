"""The monorepo example through the installed CLI: changed-path filters decide which trigger runs.

Expectations are derived from the sample payloads (their commits' file lists), not copied from an
earlier output.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from kfp_triggers.interceptors.signature import validate_signature
from tests.conftest import EXAMPLES, run_cli

EXAMPLE = EXAMPLES / "monorepo"
SECRETS = EXAMPLE / "secrets"


def _payload(stem: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLE / "payloads" / f"{stem}.json").read_text())
    return data


def _changed(payload: dict[str, Any]) -> list[str]:
    names = [n for c in payload["commits"] for key in ("added", "modified", "removed") for n in c[key]]
    return list(dict.fromkeys(names))


def _simulate(stem: str) -> dict[str, dict[str, Any]]:
    request = EXAMPLE / "requests" / f"{stem}.http"
    result = run_cli(
        [
            "simulate",
            "-c",
            EXAMPLE,
            "-r",
            request,
            "--secrets-dir",
            SECRETS,
            "--event-id",
            "ev-1",
            "--uid",
            "uid-1",
        ]
    )
    assert result.code == 0, result.stdout + result.stderr
    return {t["name"]: t for t in result.json()["triggers"]}


def test_validate_example_passes_without_warnings() -> None:
    result = run_cli(["validate", EXAMPLE])
    assert result.code == 0, result.stdout + result.stderr
    assert result.json()["listeners"] == ["default/monorepo"]
    assert result.json()["warnings"] == []


@pytest.mark.parametrize("stem", ["push-training", "push-docs"])
def test_sample_requests_are_signed_payloads(stem: str) -> None:
    raw = (EXAMPLE / "requests" / f"{stem}.http").read_bytes()
    head, body = raw.split(b"\r\n\r\n", 1)
    assert body == (EXAMPLE / "payloads" / f"{stem}.json").read_bytes()
    signature = next(
        line.split(b": ", 1)[1] for line in head.split(b"\r\n") if line.startswith(b"X-Hub-Signature-256")
    )
    validate_signature(signature.decode(), body, (SECRETS / "github-webhook" / "secret").read_bytes())


def test_training_change_trains_and_docs_trigger_sees_more_than_docs() -> None:
    payload = _payload("push-training")
    changed = _changed(payload)
    by_name = _simulate("push-training")
    train = by_name["train"]
    assert train["accepted"] is True, train
    assert train["extensions"]["changed_paths"]["files"] == changed
    # paths: training/** and pipelines/** but not markdown; the old name of the moved file does not match
    assert train["extensions"]["changed_paths"]["matched"] == [
        f for f in changed if f.startswith("training/") and not f.endswith(".md")
    ]
    [run] = train["resources"]
    assert run["spec"]["description"] == "changed: " + ",".join(changed)
    assert run["spec"]["runtime_config"]["parameters"]["epochs"] == "2"
    docs = by_name["docs-only"]
    assert docs["accepted"] is False
    assert [i["response"]["continue"] for i in docs["interceptors"]] == [True, True, False]


def test_docs_only_change_runs_the_docs_trigger_alone() -> None:
    payload = _payload("push-docs")
    by_name = _simulate("push-docs")
    train = by_name["train"]
    assert train["accepted"] is False
    assert train["interceptors"][1]["response"]["status"]["message"] == (
        f"none of the {len(_changed(payload))} changed files matches paths"
    )
    docs = by_name["docs-only"]
    assert docs["accepted"] is True, docs
    assert docs["params"]["short_sha"] == payload["after"][:7]
    assert docs["resources"][0]["spec"]["runtime_config"]["parameters"]["epochs"] == "0"


def test_make_requests_reproduces_the_committed_requests() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_monorepo_requests", EXAMPLE / "make_requests.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    key = (SECRETS / "github-webhook" / "secret").read_bytes()
    for stem, delivery in module.DELIVERIES.items():
        body = (EXAMPLE / "payloads" / f"{stem}.json").read_bytes()
        assert (
            module.request_bytes(body, delivery, key) == (EXAMPLE / "requests" / f"{stem}.http").read_bytes()
        )
