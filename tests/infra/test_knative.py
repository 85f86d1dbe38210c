"""The Knative manifests render with kustomize and agree with the engine: routing, settings, secrets."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kfp_triggers.adapters.notifiers import GitHubStatusNotifier, notifiers_from_env
from kfp_triggers.adapters.notifiers.factory import secret_token
from kfp_triggers.app.runtime import Settings
from kfp_triggers.app.scrape import METRICS_PATH
from kfp_triggers.metrics import Metrics
from kfp_triggers.secretstore import FileSecrets
from kfp_triggers.wire.eventtypes import HOPS, STATUS_TICK
from tests.infra.conftest import INFRA, KNATIVE, engine_settings, read, require_tool, tool_env
from tests.infra.test_bundle import ENTRY_POINTS

#: The type Knative gives every PingSource event; ceOverrides cannot change it.
PING_TYPE = "dev.knative.sources.ping"
BROKER_REF = {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "name": "kfp-triggers"}


def kustomize(directory: Path) -> list[dict[str, Any]]:
    """The documents ``kubectl kustomize`` renders from ``directory``."""
    kubectl = require_tool("kubectl")
    proc = subprocess.run(
        [kubectl, "kustomize", str(directory)],
        capture_output=True,
        text=True,
        env=tool_env(),
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    return kustomize(KNATIVE)


def of_kind(docs: list[dict[str, Any]], kind: str) -> Iterator[dict[str, Any]]:
    return (d for d in docs if d["kind"] == kind)


@pytest.fixture(scope="module")
def services(rendered: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found = {
        d["metadata"]["name"]: d
        for d in of_kind(rendered, "Service")
        if d["apiVersion"] == "serving.knative.dev/v1"
    }
    assert set(found) == {f"kfpt-{stage}" for stage in ENTRY_POINTS}
    return found


def container(service: dict[str, Any]) -> dict[str, Any]:
    [only] = service["spec"]["template"]["spec"]["containers"]
    result: dict[str, Any] = only
    return result


def env_of(service: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container(service).get("env", [])}


def test_every_object_lands_in_one_namespace(rendered: list[dict[str, Any]]) -> None:
    [namespace] = of_kind(rendered, "Namespace")
    name = namespace["metadata"]["name"]
    assert {d["metadata"].get("namespace") for d in rendered if d["kind"] != "Namespace"} == {name}


def test_services_run_their_stage_from_one_image_over_http(services: dict[str, dict[str, Any]]) -> None:
    images = {container(s)["image"] for s in services.values()}
    assert len(images) == 1
    for stage, entry in ENTRY_POINTS.items():
        env = env_of(services[f"kfpt-{stage}"])
        assert env["FUNCTION_TARGET"] == entry
        assert env["FUNCTION_SOURCE"] == f"/functions/{stage}/main.py"
        assert env["KFPT_CONFIG"] == f"/functions/{stage}/config"
        assert env["KFPT_TRANSPORT"] == "http"
        assert env["KFPT_SECRETS_DIR"] == "/secrets"


def test_settings_are_settings_the_engine_reads(
    rendered: list[dict[str, Any]], services: dict[str, dict[str, Any]]
) -> None:
    known = engine_settings()
    configmaps = {d["metadata"]["name"]: d for d in of_kind(rendered, "ConfigMap")}
    for service in services.values():
        for name in env_of(service):
            assert name in known or name.startswith("FUNCTION_"), name
        for source in container(service)["envFrom"]:
            settings = configmaps[source["configMapRef"]["name"]]["data"]
            assert settings, "the settings ConfigMap is empty"
            assert set(settings) <= known, set(settings) - known
            assert settings["KFPT_STORE"].startswith("firestore://")


def test_only_ingest_is_public(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        local = (
            service["metadata"].get("labels", {}).get("networking.knative.dev/visibility") == "cluster-local"
        )
        assert local == (name != "kfpt-ingest"), name


def test_triggers_route_each_input_type_to_its_stage(rendered: list[dict[str, Any]]) -> None:
    [broker] = of_kind(rendered, "Broker")
    routes: dict[str, set[str]] = {}
    for trigger in of_kind(rendered, "Trigger"):
        spec = trigger["spec"]
        assert spec["broker"] == broker["metadata"]["name"]
        ref = spec["subscriber"]["ref"]
        assert (ref["apiVersion"], ref["kind"]) == ("serving.knative.dev/v1", "Service")
        routes.setdefault(ref["name"], set()).add(spec["filter"]["attributes"]["type"])
    expected: dict[str, set[str]] = {}
    for hop in HOPS:
        if hop.consumer in ENTRY_POINTS:
            expected.setdefault(f"kfpt-{hop.consumer}", set()).add(hop.event_type)
    expected["kfpt-status"].add(PING_TYPE)
    assert routes == expected
    assert {STATUS_TICK, PING_TYPE} <= routes["kfpt-status"]


def test_the_ping_reaches_only_the_status_stage_with_a_tick_payload(rendered: list[dict[str, Any]]) -> None:
    [ping] = of_kind(rendered, "PingSource")
    spec = ping["spec"]
    assert spec["schedule"] == "* * * * *"
    assert spec["sink"]["ref"] == BROKER_REF
    assert spec["contentType"] == "application/json"
    assert json.loads(spec["data"]) == {"tickAt": None}
    extensions = spec["ceOverrides"]["extensions"]
    assert not {"type", "source", "id", "specversion"} & set(extensions)  # Knative refuses those
    [route] = [
        t for t in of_kind(rendered, "Trigger") if t["spec"]["filter"]["attributes"]["type"] == PING_TYPE
    ]
    attributes = route["spec"]["filter"]["attributes"]
    assert {k: v for k, v in attributes.items() if k != "type"} == extensions
    assert route["spec"]["subscriber"]["ref"]["name"] == "kfpt-status"


def test_every_stage_publishes_to_the_broker(
    rendered: list[dict[str, Any]], services: dict[str, dict[str, Any]]
) -> None:
    # One SinkBinding per stage, each selecting exactly its own Service: with authentication-oidc
    # each binding is an identity of its own, which the Broker's EventPolicies tell apart.
    bound: dict[str, str] = {}
    for binding in of_kind(rendered, "SinkBinding"):
        assert binding["spec"]["sink"]["ref"] == BROKER_REF
        subject = binding["spec"]["subject"]
        assert (subject["apiVersion"], subject["kind"]) == ("serving.knative.dev/v1", "Service")
        selector = subject["selector"]["matchLabels"]
        [name] = [
            name
            for name, service in services.items()
            if all(service["metadata"]["labels"].get(k) == v for k, v in selector.items())
        ]
        assert name not in bound, name
        bound[name] = binding["metadata"]["name"]
    assert set(bound) == set(services)
    [broker] = of_kind(rendered, "Broker")
    assert broker["metadata"]["name"] == BROKER_REF["name"]
    assert broker["spec"]["delivery"]["retry"] >= 3


def test_secrets_are_mounted_in_the_secret_name_key_layout(services: dict[str, dict[str, Any]]) -> None:
    mounted = 0
    for service in services.values():
        volumes = {v["name"]: v for v in service["spec"]["template"]["spec"].get("volumes", [])}
        for mount in container(service).get("volumeMounts", []):
            volume = volumes[mount["name"]]
            assert mount.get("readOnly") is True
            if "secret" in volume:
                assert mount["mountPath"] == f"/secrets/{volume['secret']['secretName']}"
                mounted += 1
    intercept = services["kfpt-intercept"]
    assert "/secrets/github-webhook" in {m["mountPath"] for m in container(intercept)["volumeMounts"]}
    assert mounted >= 1


def test_launch_and_status_get_a_kfp_token_for_their_own_service_account(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in ("kfpt-launch", "kfpt-status"):
        service = services[name]
        token_file = env_of(service)["KFPT_KFP_TOKEN_FILE"]
        [mount] = [
            m for m in container(service)["volumeMounts"] if token_file.startswith(m["mountPath"] + "/")
        ]
        [volume] = [v for v in service["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"]]
        [source] = volume["projected"]["sources"]
        assert source["serviceAccountToken"]["audience"] == "pipelines.kubeflow.org"
        assert token_file == f"{mount['mountPath']}/{source['serviceAccountToken']['path']}"
    for name in ("kfpt-ingest", "kfpt-intercept", "kfpt-render"):
        assert "KFPT_KFP_TOKEN_FILE" not in env_of(services[name])


def secret_volumes(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Mount path => the Secret volume mounted there."""
    volumes = {v["name"]: v for v in service["spec"]["template"]["spec"].get("volumes", [])}
    return {
        m["mountPath"]: volumes[m["name"]]["secret"]
        for m in container(service).get("volumeMounts", [])
        if "secret" in volumes[m["name"]]
    }


def test_only_the_status_stage_gets_the_github_token(
    rendered: list[dict[str, Any]], services: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    status = services["kfpt-status"]
    env = env_of(status)
    reference = env["KFPT_GITHUB_TOKEN_SECRET"]
    name, _, key = reference.partition("/")
    assert (name, key) == ("github-token", "token")
    mounted = secret_volumes(status)
    token_secret = mounted[f"{env['KFPT_SECRETS_DIR']}/{name}"]
    assert token_secret == {"secretName": name, "optional": True}  # the whole Secret, may be absent

    # The engine, with the Secret's keys as files in that layout, reads the token from there.
    (tmp_path / name).mkdir()
    (tmp_path / name / key).write_text("ghp_example\n", encoding="utf-8")
    [notifier] = notifiers_from_env(env, FileSecrets(tmp_path))
    assert isinstance(notifier, GitHubStatusNotifier)
    assert secret_token(FileSecrets(tmp_path), reference, "KFPT_GITHUB_TOKEN_SECRET")() == "ghp_example"

    # No other Service has the setting or the Secret, and the shared ConfigMap does not carry it.
    for service_name, service in services.items():
        if service_name == "kfpt-status":
            continue
        assert not [k for k in env_of(service) if k.startswith("KFPT_GITHUB_")], service_name
        assert name not in {v["secretName"] for v in secret_volumes(service).values()}, service_name
    for configmap in of_kind(rendered, "ConfigMap"):
        assert not [k for k in configmap.get("data", {}) if k.startswith("KFPT_GITHUB_TOKEN")]


def documented_overlay(directory: Path, *words: str) -> Path:
    """``directory`` made an overlay of the base with the one patch of infra/README.md holding ``words``."""
    readme = read(INFRA / "README.md")
    [patches] = [
        block for block in re.findall(r"```yaml\n(.*?)```", readme, re.S) if all(w in block for w in words)
    ]
    overlay = yaml.safe_load(patches)
    overlay.update(resources=[os.path.relpath(KNATIVE, directory)])
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(overlay), encoding="utf-8")
    return directory


def test_the_documented_overlay_turns_github_statuses_off(
    services: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    overlay = documented_overlay(tmp_path, "KFPT_GITHUB_TOKEN_SECRET", "op: remove")
    off = {d["metadata"]["name"]: d for d in kustomize(overlay) if d["kind"] == "Service"}
    before, after = env_of(services["kfpt-status"]), env_of(off["kfpt-status"])
    assert set(before) - set(after) == {"KFPT_GITHUB_TOKEN_SECRET"}
    assert set(after) < set(before)
    assert notifiers_from_env(after, FileSecrets(tmp_path)) == []


def test_the_image_serves_the_bundles_where_the_services_look() -> None:
    dockerfile = read(KNATIVE / "Dockerfile")
    assert re.search(r"^COPY \. /functions$", dockerfile, re.M)
    for stage in ENTRY_POINTS:
        assert f"-r /tmp/requirements/{stage}.txt" in dockerfile
        assert f"COPY {stage}/requirements.txt /tmp/requirements/{stage}.txt" in dockerfile
    assert re.search(r'^CMD \["functions-framework"', dockerfile, re.M)
    assert re.search(r"^USER \d+$", dockerfile, re.M)


def test_the_image_compiles_the_engine_and_builds_the_cel_parser_tables_before_dropping_root() -> None:
    from kfp_triggers.cel import grammar

    dockerfile = read(KNATIVE / "Dockerfile")
    compiled = dockerfile.index("RUN python -m compileall -q /functions")
    tables = dockerfile.index("RUN cd /functions/intercept && python -c")
    assert "write_parser_tables(Path('kfp_triggers/cel').resolve())" in dockerfile
    assert callable(grammar.write_parser_tables)
    assert dockerfile.index("COPY . /functions") < compiled < tables < dockerfile.index("USER ")


# --- metrics: a Prometheus scrape port on every stage ------------------------------------------

SCRAPE = {"prometheus.io/scrape": "true", "prometheus.io/path": "/metrics"}


def settings_of(rendered: list[dict[str, Any]], service: dict[str, Any]) -> dict[str, str]:
    """What a stage's process sees: the ConfigMaps it loads, then its own env on top."""
    configmaps = {d["metadata"]["name"]: d for d in of_kind(rendered, "ConfigMap")}
    seen: dict[str, str] = {}
    for source in container(service).get("envFrom", []):
        seen.update(configmaps[source["configMapRef"]["name"]]["data"])
    seen.update(env_of(service))
    return seen


def metrics_rules(rendered: list[dict[str, Any]], port: int) -> list[dict[str, Any]]:
    """The NetworkPolicy rules that name ``port``."""
    [policy] = of_kind(rendered, "NetworkPolicy")
    return [r for r in policy["spec"]["ingress"] if any(p.get("port") == port for p in r.get("ports", []))]


def test_every_stage_serves_a_prometheus_scrape_on_its_annotated_port(
    rendered: list[dict[str, Any]], services: dict[str, dict[str, Any]]
) -> None:
    for name, service in services.items():
        seen = settings_of(rendered, service)
        settings = Settings.from_env(seen)
        assert Metrics.of(seen["KFPT_METRICS"]).tally is not None, name
        assert settings.metrics_port == 9095, name
        annotations = service["spec"]["template"]["metadata"]["annotations"]
        assert {k: v for k, v in annotations.items() if k.startswith("prometheus.io/")} == {
            **SCRAPE,
            "prometheus.io/port": str(settings.metrics_port),
        }, name
        assert annotations["prometheus.io/path"] == METRICS_PATH
        # Knative Serving takes one container port, the one it routes requests to; the scrape
        # port is not declared and is reached on the pod's address.
        declared = [p["containerPort"] for p in container(service).get("ports", [])]
        assert len(declared) <= 1 and settings.metrics_port not in declared, name
        assert int(seen.get("PORT", "8080")) != settings.metrics_port


def test_only_the_monitoring_namespace_is_let_in_for_the_scrape(rendered: list[dict[str, Any]]) -> None:
    [rule] = metrics_rules(rendered, 9095)
    assert rule["ports"] == [{"protocol": "TCP", "port": 9095}]
    assert rule["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]
    # Every other rule is Knative's data plane, as before the scrape port was added.
    [policy] = of_kind(rendered, "NetworkPolicy")
    others = [r for r in policy["spec"]["ingress"] if r is not rule]
    assert [sorted(p["namespaceSelector"]["matchLabels"].values()) for r in others for p in r["from"]] == [
        ["knative-serving"],
        ["kourier-system"],
    ]


def test_the_documented_overlay_moves_the_scrape_to_another_namespace(tmp_path: Path) -> None:
    moved = kustomize(documented_overlay(tmp_path, "NetworkPolicy", "namespaceSelector"))
    [rule] = metrics_rules(moved, 9095)
    [peer] = rule["from"]
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "prometheus"}
    assert rule["ports"] == [{"protocol": "TCP", "port": 9095}]
