"""Who may reach each stage, as deployed: senders, invokers, secrets at ingest, memory under load.

On Knative: the Broker takes each event type only from the stage that produces it (the authz
component's EventPolicies, one SinkBinding identity per stage), every Trigger delivery carries a
token for its subscriber, and only Knative's data plane reaches the pods. On Google Cloud: each
event function is internal-only and invoked by its own push subscription's identity alone. On
both: the webhook secrets reach ingest only when asked for, and the memory limits cover the
requests in flight with the largest body ingest accepts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from kfp_triggers.secretstore import FileSecrets
from kfp_triggers.wire.eventtypes import EVENT_TYPES, HOPS, RUN_REQUESTED
from tests.conftest import ROOT
from tests.infra import hcl
from tests.infra.conftest import KNATIVE, TERRAFORM
from tests.infra.test_knative import container, env_of, kustomize, of_kind, secret_volumes
from tests.infra.test_terraform import _terraform, _write_probe

STAGES = ("ingest", "intercept", "render", "launch", "status")
PING_TYPE = "dev.knative.sources.ping"
BROKER = {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "name": "kfp-triggers"}
#: Peak memory of one request per byte of webhook body, worst body shape (services.yaml).
BODY_FACTOR = {"ingest": 36, "intercept": 48, "render": 36, "launch": 0, "status": 0}
BASELINE_MIB = 64
ENGINE_DEFAULT_BODY = 10 * 1024 * 1024


def overlay(tmp_path: Path, *components: str) -> list[dict[str, Any]]:
    """Render the base with the named components, as an operator's overlay does."""
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(KNATIVE, tmp_path)],
        "components": [os.path.relpath(KNATIVE / c, tmp_path) for c in components],
    }
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(kustomization), encoding="utf-8")
    return kustomize(tmp_path)


def by_name(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in of_kind(docs, kind)}


def stage_services(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    services = {n: d for n, d in by_name(docs, "Service").items() if d["apiVersion"].startswith("serving.")}
    return {d["metadata"]["labels"]["app.kubernetes.io/component"]: d for d in services.values()}


def exact_alternatives(filter_: dict[str, Any]) -> list[dict[str, str]]:
    """The attribute sets one EventPolicy filter admits: an ``exact``, or an ``any`` of ``exact``s.

    Any other shape (a ``prefix``, ``cesql``, a nested ``all``...) fails the test: the policies
    stay simple enough to read at a glance.
    """
    if set(filter_) == {"exact"}:
        return [filter_["exact"]]
    assert set(filter_) == {"any"}, f"a filter is an exact or an any of exacts: {filter_}"
    alternatives = filter_["any"]
    assert len(alternatives) >= 2, f"an any of fewer than two filters: {filter_}"
    assert all(set(f) == {"exact"} for f in alternatives), f"an any of exacts only: {filter_}"
    exacts = [f["exact"] for f in alternatives]
    assert len({tuple(sorted(e.items())) for e in exacts}) == len(exacts), f"a repeated filter: {filter_}"
    return exacts


def admits(filters: list[dict[str, Any]], attributes: dict[str, str]) -> bool:
    """Whether an event passes a policy's ``filters`` as Knative evaluates them.

    Knative ANDs the filters of a policy (``CreateSubscriptionsAPIFilters`` wraps them in an
    ``all``); ``any`` passes when one of its filters does, ``exact`` when every attribute it names
    has exactly that value.
    """

    def one(filter_: dict[str, Any]) -> bool:
        [(dialect, arg)] = filter_.items()
        if dialect == "exact":
            return all(attributes.get(k) == v for k, v in arg.items())
        if dialect == "any":
            return any(one(f) for f in arg)
        if dialect == "all":
            return all(one(f) for f in arg)
        raise AssertionError(f"unexpected filter dialect {dialect!r}")

    return all(one(f) for f in filters)


# --- Knative: the Broker ------------------------------------------------------------------------


def test_the_broker_takes_each_type_only_from_the_stage_that_produces_it(tmp_path: Path) -> None:
    docs = overlay(tmp_path, "authz")
    services = stage_services(docs)
    bindings = by_name(docs, "SinkBinding")
    namespace = services["ingest"]["metadata"]["namespace"]

    # Who may send which type: (kind, name) of the sender => the exact attribute sets it may send
    # (one per type; Knative ANDs a policy's filters, so "either type" is one `any` of exacts).
    allowed: dict[tuple[str, str], list[dict[str, str]]] = {}
    filters_of: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for policy in of_kind(docs, "EventPolicy"):
        assert policy["apiVersion"] == "eventing.knative.dev/v1alpha1"
        assert policy["metadata"]["namespace"] == namespace
        spec = policy["spec"]
        assert spec["to"] == [{"ref": BROKER}], "every policy guards the Broker and nothing else"
        [sender] = spec["from"]
        [only] = spec["filters"]
        key = (sender["ref"]["kind"], sender["ref"]["name"])
        assert key not in allowed, f"{key} appears in two policies: Knative reads only the first"
        assert "namespace" not in sender["ref"]  # defaulted to the policy's own
        allowed[key] = exact_alternatives(only)
        filters_of[key] = spec["filters"]

    # The SinkBinding each policy names is the one whose subject is that stage's Service alone.
    stage_of_binding: dict[str, str] = {}
    for name, binding in bindings.items():
        selector = binding["spec"]["subject"]["selector"]["matchLabels"]
        [stage] = [
            s
            for s, svc in services.items()
            if all(svc["metadata"]["labels"].get(k) == v for k, v in selector.items())
        ]
        stage_of_binding[name] = stage

    expected = {
        (hop.producer, hop.event_type) for hop in HOPS if hop.producer in STAGES
    }  # status.tick has no producer among the stages, so nobody may post one here
    granted = {
        (stage_of_binding[name], attrs["type"])
        for (kind, name), alternatives in allowed.items()
        if kind == "SinkBinding"
        for attrs in alternatives
    }
    assert granted == expected
    assert all(
        set(attrs) == {"type"}
        for (kind, _), alternatives in allowed.items()
        if kind == "SinkBinding"
        for attrs in alternatives
    )
    [ping] = by_name(docs, "PingSource").values()
    assert allowed[("PingSource", ping["metadata"]["name"])] == [
        {"type": PING_TYPE, **ping["spec"]["ceOverrides"]["extensions"]}
    ]
    # One policy per sender: every stage that produces something, and the PingSource.
    assert len(allowed) == len({stage for stage, _ in expected}) + 1

    # The same, read as Knative evaluates the filters: for every sender and every type of ours,
    # the Broker admits exactly the pairs above.
    admitted = {
        (stage_of_binding[name], event_type)
        for (kind, name), filters in filters_of.items()
        if kind == "SinkBinding"
        for event_type in EVENT_TYPES | {PING_TYPE}
        if admits(filters, {"type": event_type})
    }
    assert admitted == expected

    # The attack: a run request reaches launch only from render's and status's identities (status
    # hands queued run requests back; launch re-renders and verifies every one), never from
    # ingest's, intercept's or launch's.
    # (The sender chooses every attribute, the ping's extension included.)
    senders = [
        key
        for key, filters in filters_of.items()
        if admits(filters, {"type": RUN_REQUESTED, **ping["spec"]["ceOverrides"]["extensions"]})
    ]
    assert all(kind == "SinkBinding" for kind, _ in senders), senders
    assert sorted(stage_of_binding[name] for _, name in senders) == ["render", "status"]
    assert not {"ingest", "intercept", "launch"} & {stage_of_binding[name] for _, name in senders}


def test_the_base_applies_without_the_oidc_feature(rendered: list[dict[str, Any]]) -> None:
    """Knative refuses to create an EventPolicy unless authentication-oidc is on: they stay opt-in."""
    assert not list(of_kind(rendered, "EventPolicy"))


def test_every_trigger_delivery_carries_a_token_for_its_own_subscriber(
    rendered: list[dict[str, Any]],
) -> None:
    audiences: dict[str, set[str]] = {}
    for trigger in of_kind(rendered, "Trigger"):
        subscriber = trigger["spec"]["subscriber"]
        audience = subscriber.get("audience")
        assert audience, f"Trigger {trigger['metadata']['name']} sends no token"
        audiences.setdefault(subscriber["ref"]["name"], set()).add(audience)
    # One audience per receiving Service, different for each: a token minted for render's
    # deliveries is no good at launch.
    assert all(len(a) == 1 for a in audiences.values())
    flat = [a for values in audiences.values() for a in values]
    assert len(set(flat)) == len(flat) == len(audiences)
    for name, (audience,) in audiences.items():
        assert audience.endswith("/" + name)


def test_only_knatives_data_plane_reaches_the_pods(rendered: list[dict[str, Any]]) -> None:
    [policy] = of_kind(rendered, "NetworkPolicy")
    spec = policy["spec"]
    assert spec["podSelector"] == {}, "every pod of the namespace"
    assert spec["policyTypes"] == ["Ingress"]
    sources: dict[str, list[Any]] = {}
    for rule in spec["ingress"]:
        for peer in rule["from"]:
            assert set(peer) == {"namespaceSelector"}, "no pod or address range is let in"
            [(key, value)] = peer["namespaceSelector"]["matchLabels"].items()
            assert key == "kubernetes.io/metadata.name"
            sources[value] = rule.get("ports", [])
    # Knative's namespaces reach every port; the monitoring namespace only the metrics port.
    assert sources == {
        "knative-serving": [],
        "kourier-system": [],
        "monitoring": [{"protocol": "TCP", "port": 9095}],
    }


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    return kustomize(KNATIVE)


# --- verify-at-ingest: the webhook secrets on ingest, only when asked for ------------------------


def test_ingest_holds_no_secret_unless_the_component_mounts_the_webhook_secret(
    rendered: list[dict[str, Any]], tmp_path: Path
) -> None:
    base = stage_services(rendered)
    assert secret_volumes(base["ingest"]) == {}
    with_secret = stage_services(overlay(tmp_path, "verify-at-ingest"))
    ingest, intercept = with_secret["ingest"], with_secret["intercept"]
    assert secret_volumes(ingest) == secret_volumes(intercept), "the same secrets, at the same paths"
    secrets_dir = env_of(ingest)["KFPT_SECRETS_DIR"]
    for path, volume in secret_volumes(ingest).items():
        assert path == f"{secrets_dir}/{volume['secretName']}"
    # Everything else about ingest is as in the base.
    assert {k: v for k, v in container(ingest).items() if k != "volumeMounts"} == {
        k: v for k, v in container(base["ingest"]).items() if k != "volumeMounts"
    }


# --- memory: the requests in flight with the largest body fit the limit -------------------------


def _mib(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1.0, "Gi": 1024.0}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return float(quantity[: -len(suffix)]) * factor
    return float(quantity) / 2**20


def test_knative_memory_limits_cover_concurrent_requests_with_the_largest_body(
    rendered: list[dict[str, Any]],
) -> None:
    [settings] = [
        c for c in of_kind(rendered, "ConfigMap") if c["metadata"]["name"].startswith("kfpt-settings")
    ]
    body_mib = int(settings["data"].get("KFPT_MAX_BODY_BYTES", ENGINE_DEFAULT_BODY)) / 2**20
    for stage, service in stage_services(rendered).items():
        concurrency = service["spec"]["template"]["spec"]["containerConcurrency"]
        assert concurrency >= 1, f"{stage}: unbounded concurrency cannot be sized"
        assert "KFPT_MAX_BODY_BYTES" not in env_of(service), "one body limit, in kfpt-settings"
        limit = _mib(container(service)["resources"]["limits"]["memory"])
        needed = BASELINE_MIB + concurrency * BODY_FACTOR[stage] * body_mib
        assert needed < limit, f"{stage}: {needed:.0f} Mi needed at worst, limit {limit:.0f} Mi"


_MEASURE = textwrap.dedent(
    """
    import http.server, os, resource, sys, threading

    class Sink(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    os.environ["KFPT_SINK_URL"] = f"http://127.0.0.1:{server.server_port}/"
    from kfp_triggers.tekton.request import RawRequest
    from kfp_triggers.app.runtime import context, handle_http

    ctx = context()
    size = int(sys.argv[1])
    unit = b'{"k":1},'
    body = b'{"a":[' + unit * ((size - 8) // len(unit) - 1) + b'{"k":1}]}'
    request = RawRequest("POST", "/", {"Content-Type": ["application/json"]}, body)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    status = handle_http(request, ctx).status
    grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
    print(status, len(body), grew)
    """
)


def test_one_ingest_request_stays_within_its_counted_share_of_memory(tmp_path: Path) -> None:
    """The worst body shape at 1 MiB, through the real ingest stage and a real HTTP sink."""
    env = dict(os.environ)
    env.update(
        KFPT_TRANSPORT="http",
        KFPT_CONFIG=str(ROOT / "examples" / "github-push"),
        KFPT_SECRETS_DIR=str(tmp_path),
        KFPT_MAX_BODY_BYTES=str(2**20),
    )
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(2**20)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    status, size, grew = (int(x) for x in proc.stdout.split())
    assert status == 202
    assert 0.9 * 2**20 < size <= 2**20
    assert grew < BODY_FACTOR["ingest"] * size, f"{grew / size:.1f} x body"


# --- Google Cloud -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def root() -> hcl.Body:
    return hcl.parse_dir(TERRAFORM)


def test_each_event_function_is_internal_and_invoked_only_by_its_own_push_identity(root: hcl.Body) -> None:
    call = root.one("module", "function")
    assert call.body.attributes["ingress_settings"].text == (
        'each.key == "ingest" ? "ALLOW_ALL" : "ALLOW_INTERNAL_ONLY"'
    )
    assert call.body.attributes["push_service_account"].text == (
        "each.value.input_topic == null ? null : google_service_account.push[each.key].email"
    )
    push = root.one("resource", "google_service_account", "push")
    assert push.body.attributes["for_each"].text == "local.event_stages"
    assert push.body.attributes["account_id"].text == '"${var.prefix}-push-${each.key}"'
    invokers = {
        b.labels[1]: b
        for b in root.blocks
        if b.type == "resource"
        and b.labels[0].endswith("_iam_member")
        and b.body.attributes.get("role") is not None
        and b.body.attributes["role"].text == '"roles/run.invoker"'
    }
    assert set(invokers) == {"push_invoker", "ingest_public"}
    own = invokers["push_invoker"].body.attributes
    assert own["for_each"].text == "local.event_stages"
    assert own["name"].text == "module.function[each.key].service_name"
    assert own["member"].text == "google_service_account.push[each.key].member"
    public = invokers["ingest_public"].body.attributes
    assert public["name"].text == 'module.function["ingest"].service_name'
    creator = root.one("resource", "google_service_account_iam_member", "push_token_creator")
    assert creator.body.attributes["service_account_id"].text == "google_service_account.push[each.key].name"


def _plan(root: hcl.Body, workdir: Path, tfvars: str) -> subprocess.CompletedProcess[str]:
    """Plan the root module's variables, locals and checked outputs without providers."""
    _write_probe(root, workdir, tfvars, checked_outputs=("memory_sizing", "ingest_secrets"))
    init = _terraform(workdir, "init", "-backend=false", "-input=false")
    assert init.returncode == 0, init.stdout + init.stderr
    return _terraform(workdir, "plan", "-input=false", "-out=probe.plan")


def _outputs(workdir: Path) -> dict[str, Any]:
    shown = _terraform(workdir, "show", "-json", "probe.plan")
    assert shown.returncode == 0, shown.stderr
    return {k: v["value"] for k, v in json.loads(shown.stdout)["planned_values"]["outputs"].items()}


_SECRETS = (
    'project = "p"\n'
    "webhook_secrets = {\n"
    '  "github-webhook" = { secret = "gh-hook", keys = { secret = "latest" } }\n'
    '  "gitlab-token" = { secret = "gl-token", keys = { token = "latest" } }\n'
    "}\n"
)


def test_terraform_mounts_only_the_named_webhook_secrets_on_ingest(root: hcl.Body, tmp_path: Path) -> None:
    proc = _plan(root, tmp_path / "off", _SECRETS)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    off = _outputs(tmp_path / "off")
    assert off["functions"]["ingest"]["secret_volumes"] == []
    assert not [k for k in off["secret_grants"] if k.startswith("ingest/")]

    proc = _plan(root, tmp_path / "on", _SECRETS + 'verify_at_ingest_secrets = ["github-webhook"]\n')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    on = _outputs(tmp_path / "on")
    functions = on["functions"]
    [volume] = functions["ingest"]["secret_volumes"]
    assert volume in functions["intercept"]["secret_volumes"]
    assert volume["mount_path"] == "/secrets/github-webhook"
    assert {k for k in on["secret_grants"] if k.startswith("ingest/")} == {"ingest/github-webhook"}
    assert on["ingest_secrets"] == ["github-webhook"]

    # The engine at ingest reads the listener's secretRef from that mount.
    mounted = tmp_path / "mounted" / "github-webhook"
    mounted.mkdir(parents=True)
    (mounted / "secret").write_text("s3cret", encoding="utf-8")
    assert FileSecrets(tmp_path / "mounted").get("github-webhook", "secret") == b"s3cret"


def test_terraform_refuses_an_unknown_verify_at_ingest_secret(root: hcl.Body, tmp_path: Path) -> None:
    proc = _plan(root, tmp_path / "bad", _SECRETS + 'verify_at_ingest_secrets = ["nope"]\n')
    assert proc.returncode == 1
    assert "Every name in verify_at_ingest_secrets must be a key of webhook_secrets" in proc.stderr


def test_terraform_memory_covers_one_request_with_the_largest_body(root: hcl.Body, tmp_path: Path) -> None:
    proc = _plan(root, tmp_path / "default", 'project = "p"\n')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    outputs = _outputs(tmp_path / "default")
    functions = outputs["functions"]
    for stage, sizing in outputs["memory_sizing"].items():
        body_mib = int(functions[stage]["environment"]["KFPT_MAX_BODY_BYTES"]) / 2**20
        needed = BASELINE_MIB + functions[stage]["concurrency"] * BODY_FACTOR[stage] * body_mib
        assert sizing["needed_mib"] == pytest.approx(needed)
        assert needed < sizing["memory_mib"], stage
    # A body limit the memory does not cover is refused at plan time.
    proc = _plan(root, tmp_path / "large", 'project = "p"\nmax_body_bytes = 7340032\n')
    assert proc.returncode == 1
    assert "A function's memory does not cover max_body_bytes" in proc.stderr


def test_every_function_serves_the_concurrency_its_memory_is_sized_for(root: hcl.Body) -> None:
    call = root.one("module", "function")
    assert call.body.attributes["concurrency"].text == "each.value.concurrency"
    assert call.body.attributes["memory"].text == '"${each.value.memory_mib}Mi"'
    module = hcl.parse_dir(TERRAFORM / "modules" / "function")
    function = module.one("resource", "google_cloudfunctions2_function", "function")
    service = function.body.one("service_config")
    assert service.body.attributes["max_instance_request_concurrency"].text == "var.concurrency"
