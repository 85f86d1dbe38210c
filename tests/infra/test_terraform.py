"""The Terraform configuration agrees with the engine: stages, topics, event types, settings, IAM.

The google provider cannot be downloaded here, so ``terraform validate`` cannot run; these checks
read the HCL itself (tests/infra/hcl.py) and compare it with the engine's own tables.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.adapters.notifiers import GitHubStatusNotifier, notifiers_from_env
from kfp_triggers.adapters.notifiers.factory import secret_token
from kfp_triggers.adapters.store.firestore import EVENTS, LEDGER
from kfp_triggers.adapters.transports.pubsub import topic_prefix_from_env
from kfp_triggers.secretstore import FileSecrets
from kfp_triggers.wire.events import CLOUDEVENTS_JSON, StatusTick, decode_stage_input, read_data
from kfp_triggers.wire.eventtypes import (
    DEAD_LETTER_SUFFIX,
    DEFAULT_TOPIC_PREFIX,
    EVENT_RECEIVED,
    HOPS,
    RUN_REQUESTED,
    RUN_STATE,
    STATUS_TICK,
    TOPICS,
    prefixed,
    topic_for,
)
from tests.infra import hcl
from tests.infra.conftest import TERRAFORM, engine_settings, require_tool, tool_env
from tests.infra.test_bundle import ENTRY_POINTS, load_bundle_module

MODULE = TERRAFORM / "modules" / "function"
EVENT_STAGES = ("intercept", "render", "launch", "status")
#: The only stage that reports run states back, and so the only one holding the GitHub token.
NOTIFYING_STAGES = ("status",)


@pytest.fixture(scope="module")
def root() -> hcl.Body:
    return hcl.parse_dir(TERRAFORM)


@pytest.fixture(scope="module")
def module() -> hcl.Body:
    return hcl.parse_dir(MODULE)


@pytest.fixture(scope="module")
def local(root: hcl.Body) -> dict[str, hcl.Expr]:
    return hcl.locals_of(root)


def _default_prefix_value(expr: hcl.Expr) -> Any:
    """A stage table value, its topic names read as the default prefix (``kfpt``) makes them."""
    if expr.kind == "template":
        text = expr.text.strip('"').replace("${var.prefix}", DEFAULT_TOPIC_PREFIX)
        assert "${" not in text, expr.text
        return text
    if expr.kind == "tuple":
        return [_default_prefix_value(item) for item in expr.items]
    return expr.literal()


@pytest.fixture(scope="module")
def stages(local: dict[str, hcl.Expr]) -> dict[str, dict[str, Any]]:
    """The stage table, its topics read as the default prefix (``kfpt``) makes them."""
    value: dict[str, dict[str, Any]] = {}
    for stage, spec in local["stages"].pairs:
        value[stage.key_name()] = {key.key_name(): _default_prefix_value(expr) for key, expr in spec.pairs}
    return value


def attr(block: hcl.Block, name: str) -> hcl.Expr:
    return block.body.attributes[name]


def test_terraform_fmt_is_clean() -> None:
    terraform = require_tool("terraform")
    proc = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", str(TERRAFORM)],
        capture_output=True,
        text=True,
        env=tool_env(),
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_file_parses_and_every_variable_is_documented(root: hcl.Body, module: hcl.Body) -> None:
    for body in (root, module):
        variables = body.find("variable")
        assert variables
        for variable in variables:
            description = attr(variable, "description")
            text = description.literal() if description.kind == "literal" else ""
            assert len(text.strip()) > 20, f"variable {variable.labels[0]} needs a description"
            assert "type" in variable.body.attributes, f"variable {variable.labels[0]} needs a type"
        for output in body.find("output"):
            assert attr(output, "description").literal()


def test_the_stage_table_matches_the_functions_and_the_hops(stages: dict[str, dict[str, Any]]) -> None:
    assert {s: v["entry_point"] for s, v in stages.items()} == ENTRY_POINTS
    # A type may have two producers (run.requested: render, and status handing queued run
    # requests back) but travels on one topic, so a stage's topics follow from the types it sends.
    assert all(h.topic == topic_for(h.event_type) for h in HOPS)
    for stage, spec in stages.items():
        consumed = {h.topic for h in HOPS if h.consumer == stage}
        produced = {h.topic for h in HOPS if h.producer == stage}
        assert spec["input_topic"] == (consumed.pop() if consumed else None), stage
        assert not consumed, f"{stage} reads more than one topic"
        extra = spec["extra_output_topics"]
        assert isinstance(extra, list) and len(set(extra)) == len(extra), stage
        assert spec["output_topic"] not in extra, stage
        assert {spec["output_topic"], *extra} == produced, stage
    # Only status publishes beyond its own output topic: queued run requests, back to launch, and
    # run ends to intercept as events of the listeners that chain pipelines.
    assert {s: v["extra_output_topics"] for s, v in stages.items() if v["extra_output_topics"]} == {
        "status": [topic_for(RUN_REQUESTED), topic_for(EVENT_RECEIVED)]
    }
    assert stages["status"]["output_topic"] == topic_for(RUN_STATE)
    assert {s for s, v in stages.items() if v["uses_store"]} == {"intercept", "render", "launch", "status"}
    assert {s for s, v in stages.items() if v["uses_launcher"]} == {"launch", "status"}
    assert {s for s, v in stages.items() if v["uses_notifiers"]} == set(NOTIFYING_STAGES)


def test_topics_and_dead_letter_topics_follow_the_engine(root: hcl.Body, local: dict[str, hcl.Expr]) -> None:
    names = local["topic_names"].literal()
    assert tuple(f"{DEFAULT_TOPIC_PREFIX}-{name}" for name in names) == TOPICS
    assert local["topics"].text == '[for name in local.topic_names : "${var.prefix}-${name}"]'
    assert local["dead_letter_suffix"].literal() == DEAD_LETTER_SUFFIX
    topic = root.one("resource", "google_pubsub_topic", "topic")
    assert attr(topic, "for_each").text == "toset(local.topics)"
    assert attr(topic, "name").text == "each.value"
    dead = root.one("resource", "google_pubsub_topic", "dead_letter")
    assert attr(dead, "for_each").text == "toset(local.topics)"
    assert attr(dead, "name").text == '"${each.value}${local.dead_letter_suffix}"'
    keep = root.one("resource", "google_pubsub_subscription", "dead_letter")
    assert attr(keep, "topic").text == "google_pubsub_topic.dead_letter[each.value].id"
    assert attr(keep.body.one("expiration_policy"), "ttl").literal() == ""


def test_each_event_stage_gets_a_push_subscription_with_retry_and_dead_letter(
    root: hcl.Body, module: hcl.Body, stages: dict[str, dict[str, Any]]
) -> None:
    call = root.one("module", "function")
    assert attr(call, "for_each").text == "local.functions"
    assert attr(call, "input_topic").text == (
        "each.value.input_topic == null ? null : google_pubsub_topic.topic[each.value.input_topic].id"
    )
    assert attr(call, "dead_letter_topic").text == (
        "each.value.input_topic == null ? null : google_pubsub_topic.dead_letter[each.value.input_topic].id"
    )
    assert [s for s, v in stages.items() if v["input_topic"] is not None] == list(EVENT_STAGES)
    sub = module.one("resource", "google_pubsub_subscription", "input")
    assert attr(sub, "count").text == "var.input_topic == null ? 0 : 1"
    assert attr(sub, "topic").text == "var.input_topic"
    push = sub.body.one("push_config")
    assert "service_config[0].uri" in attr(push, "push_endpoint").text
    assert attr(push.body.one("oidc_token"), "service_account_email").text == "var.push_service_account"
    dead = sub.body.one("dead_letter_policy")
    assert attr(dead, "dead_letter_topic").text == "var.dead_letter_topic"
    assert attr(dead, "max_delivery_attempts").text == "var.max_delivery_attempts"
    retry = sub.body.one("retry_policy")
    assert set(retry.body.attributes) == {"minimum_backoff", "maximum_backoff"}
    assert attr(sub.body.one("expiration_policy"), "ttl").literal() == ""


def test_the_function_module_builds_from_the_bundle(module: hcl.Body, local: dict[str, hcl.Expr]) -> None:
    archive = module.one("data", "archive_file", "source")
    assert attr(archive, "source_dir").text == "var.source_dir"
    obj = module.one("resource", "google_storage_bucket_object", "source")
    assert "data.archive_file.source.output_md5" in attr(obj, "name").text
    function = module.one("resource", "google_cloudfunctions2_function", "function")
    build = function.body.one("build_config")
    assert attr(build, "entry_point").text == "var.entry_point"
    storage = build.body.one("source").body.one("storage_source")
    assert attr(storage, "object").text == "google_storage_bucket_object.source.name"
    service = function.body.one("service_config")
    assert attr(service, "environment_variables").text == "var.environment"
    volumes = service.body.one("dynamic", "secret_volumes")
    content = volumes.body.one("content")
    assert attr(content, "mount_path").text == "secret_volumes.value.mount_path"
    versions = content.body.one("dynamic", "versions").body.one("content")
    assert attr(versions, "path").text == "versions.key"
    assert (
        "bundle_dir" in local["functions"].text
        and '"${local.bundle_dir}/${stage}"' in local["functions"].text
    )
    assert local["secrets_dir"].literal() == "/secrets"
    assert '"${local.secrets_dir}/${v.name}"' in local["functions"].text


def test_function_settings_are_settings_the_engine_reads(local: dict[str, hcl.Expr]) -> None:
    known = engine_settings()
    common = {key.key_name(): value for key, value in local["common_env"].pairs}
    launcher = {key.key_name(): value for key, value in local["launcher_env"].pairs}
    for name in (*common, *launcher):
        assert name in known, f"{name} is not a setting the engine reads"
    assert common["KFPT_TRANSPORT"].literal() == "pubsub"
    assert common["KFPT_SECRETS_DIR"].text == "local.secrets_dir"
    assert common["KFPT_CONFIG"].text == "var.config_dir"
    assert common["KFPT_STORE"].text == "local.store_url"
    assert '"firestore://${var.project}"' in local["store_url"].text
    required = {"KFPT_PUBSUB_PROJECT", "KFPT_TRANSPORT", "KFPT_STORE", "KFPT_CONFIG", "KFPT_SECRETS_DIR"}
    assert required <= set(common)
    assert "KFPT_LAUNCHER" in launcher


def test_github_statuses_are_off_unless_a_token_secret_is_given(
    root: hcl.Body, local: dict[str, hcl.Expr]
) -> None:
    for name in ("github_token_secret", "github_api_url"):
        variable = root.one("variable", name)
        assert attr(variable, "type").text == "string"
        assert attr(variable, "default").literal() is None, f"{name} must default to null (off)"
    # The notifier settings and the token volume exist only with var.github_token_secret, and
    # reach only the stages flagged uses_notifiers.
    settings = {key.key_name(): value for key, value in local["notifier_env"].pairs}
    assert set(settings) == {"KFPT_GITHUB_TOKEN_SECRET", "KFPT_GITHUB_API_URL"}
    assert set(settings) <= engine_settings()
    for name, value in settings.items():
        assert value.text.startswith("var.github_token_secret != null ?"), name
        assert value.text.endswith(": null"), name
    assert "var.github_token_secret != null ?" in local["github_token_volumes"].text
    assert "s.uses_notifiers ? local.github_token_volumes : []" in local["stage_secrets"].text
    assert "local.notifier_env : name => value if s.uses_notifiers" in local["functions"].text


def test_config_dir_default_is_where_the_bundle_puts_the_configuration(root: hcl.Body) -> None:
    assert attr(root.one("variable", "config_dir"), "default").literal() == load_bundle_module().CONFIG_DIR


def test_iam_is_one_account_per_function_with_least_privilege(
    root: hcl.Body, local: dict[str, hcl.Expr]
) -> None:
    def resource(kind: str, name: str) -> hcl.Block:
        return root.one("resource", kind, name)

    account = resource("google_service_account", "function")
    assert attr(account, "for_each").text == "local.stages"
    assert attr(account, "account_id").text == '"${var.prefix}-${each.key}"'
    publisher = resource("google_pubsub_topic_iam_member", "publisher")
    assert attr(publisher, "for_each").text == "local.stages"
    assert attr(publisher, "role").literal() == "roles/pubsub.publisher"
    assert attr(publisher, "topic").text == "google_pubsub_topic.topic[each.value.output_topic].name"
    assert attr(publisher, "member").text == "google_service_account.function[each.key].member"
    # The stages' other topics (extra_output_topics): one grant per (stage, topic) pair.
    extra = resource("google_pubsub_topic_iam_member", "extra_publisher")
    assert attr(extra, "for_each").text == "local.extra_publishers"
    assert attr(extra, "role").literal() == "roles/pubsub.publisher"
    assert attr(extra, "topic").text == "google_pubsub_topic.topic[each.value.topic].name"
    assert attr(extra, "member").text == "google_service_account.function[each.value.stage].member"
    assert "s.extra_output_topics" in local["extra_publishers"].text
    # No other grant on a topic reaches a function's account.
    for block in root.find("resource", "google_pubsub_topic_iam_member"):
        if block.labels[1] not in ("publisher", "extra_publisher"):
            assert "google_service_account.function" not in attr(block, "member").text, block.labels
    store = resource("google_project_iam_member", "store")
    assert attr(store, "role").literal() == "roles/datastore.user"
    assert attr(store, "for_each").text == "local.store_stages"
    assert "s.uses_store" in local["store_stages"].text
    secrets = resource("google_secret_manager_secret_iam_member", "accessor")
    assert attr(secrets, "role").literal() == "roles/secretmanager.secretAccessor"
    assert attr(secrets, "for_each").text == "local.secret_grants"
    assert attr(secrets, "secret_id").text == "each.value.secret"
    assert attr(secrets, "member").text == "google_service_account.function[each.value.stage].member"
    assert "local.stage_secrets" in local["secret_grants"].text
    invoker = resource("google_cloud_run_v2_service_iam_member", "push_invoker")
    assert attr(invoker, "role").literal() == "roles/run.invoker"
    assert attr(invoker, "member").text == "google_service_account.push[each.key].member"
    assert attr(invoker, "for_each").text == "local.event_stages"
    assert "s.input_topic != null" in local["event_stages"].text
    dl_pub = resource("google_pubsub_topic_iam_member", "dead_letter_publisher")
    assert attr(dl_pub, "member").text == "local.pubsub_agent"
    assert attr(dl_pub, "topic").text == "google_pubsub_topic.dead_letter[each.value.input_topic].name"
    dl_sub = resource("google_pubsub_subscription_iam_member", "dead_letter_subscriber")
    assert attr(dl_sub, "role").literal() == "roles/pubsub.subscriber"
    assert attr(dl_sub, "subscription").text == "module.function[each.key].subscription_id"
    assert "@gcp-sa-pubsub.iam.gserviceaccount.com" in local["pubsub_agent"].text
    token = resource("google_service_account_iam_member", "push_token_creator")
    assert attr(token, "role").literal() == "roles/iam.serviceAccountTokenCreator"
    # Nothing is granted project-wide on Pub/Sub or Secret Manager.
    for block in root.find("resource", "google_project_iam_member"):
        role = attr(block, "role").literal()
        assert not role.startswith(("roles/pubsub.", "roles/secretmanager.")), role


def test_the_ttl_policies_are_on_the_engines_ledger_and_journal(
    root: hcl.Body, local: dict[str, hcl.Expr]
) -> None:
    field = root.one("resource", "google_firestore_field", "ttl")
    for_each = attr(field, "for_each").text
    assert "ledger = local.ledger_collection" in for_each and "events = local.events_collection" in for_each
    assert attr(field, "collection").text == "each.value"
    assert attr(field, "field").text == "local.ttl_field"
    assert local["ledger_collection"].literal() == LEDGER
    assert local["events_collection"].literal() == EVENTS
    assert local["ttl_field"].literal() == "expireAt"
    assert field.body.find("ttl_config")
    assert root.one("resource", "google_firestore_database", "store")


def test_every_function_gets_the_retention_the_ttl_policies_apply(
    root: hcl.Body, local: dict[str, hcl.Expr]
) -> None:
    assert local["common_env"].text.count("KFPT_RETENTION_DAYS = tostring(var.retention_days)") == 1
    variable = root.one("variable", "retention_days")
    assert attr(variable, "default").literal() == 30


def test_the_scheduler_publishes_a_tick_the_status_stage_decodes(
    root: hcl.Body, local: dict[str, hcl.Expr]
) -> None:
    assert local["status_tick_type"].literal() == STATUS_TICK
    assert local["status_tick_topic"].text == '"${var.prefix}-runs"'
    assert prefixed(topic_for(STATUS_TICK), "x") == "x-runs"
    job = root.one("resource", "google_cloud_scheduler_job", "status_tick")
    target = job.body.one("pubsub_target")
    assert attr(target, "topic_name").text == "google_pubsub_topic.topic[local.status_tick_topic].id"
    assert attr(target, "attributes").literal() == {"content-type": CLOUDEVENTS_JSON}
    assert hcl.jsonencode_argument(attr(target, "data")).text == "local.status_tick_event"
    assert attr(root.one("variable", "tick_schedule"), "default").literal() == "* * * * *"

    # Build the message Scheduler would publish, then decode it as the status function does.
    values = {"var.project": "p", "var.region": "r", "local.status_tick_job": "kfpt-status-tick"}
    event: dict[str, Any] = {}
    for key, value in local["status_tick_event"].pairs:
        name = key.key_name()
        if value.kind == "template":
            event[name] = hcl.render_template(value.text, values)
        elif value.kind == "other":
            event[name] = {
                "local.status_tick_type": STATUS_TICK,
                "local.status_tick_job": "kfpt-status-tick",
            }[value.text]
        else:
            event[name] = value.literal()
    assert set(event) == {"specversion", "id", "source", "type", "datacontenttype", "data"}
    assert event["datacontenttype"] == "application/json"
    assert event["data"] == {"tickAt": None}
    envelope = {
        "message": {
            "data": base64.b64encode(json.dumps(event).encode()).decode(),
            "attributes": attr(target, "attributes").literal(),
            "messageId": "1",
        },
        "subscription": "projects/p/subscriptions/kfpt-status",
    }
    decoded = decode_stage_input(envelope)
    assert decoded["type"] == STATUS_TICK
    assert isinstance(read_data(decoded), StatusTick)


def test_outputs_name_the_webhook_and_the_topics(root: hcl.Body) -> None:
    outputs = {b.labels[0]: b for b in root.find("output")}
    assert {"ingest_url", "topics", "dead_letter_topics", "subscriptions", "service_accounts"} <= set(outputs)
    assert attr(outputs["ingest_url"], "value").text == 'module.function["ingest"].uri'


def test_no_terraform_file_outside_the_two_modules() -> None:
    modules = {path.parent for path in TERRAFORM.rglob("*.tf") if ".terraform" not in path.parts}
    assert modules == {TERRAFORM, Path(MODULE)}


# --- the locals, evaluated by terraform itself -------------------------------------------------

#: References to provider objects in the locals, replaced so terraform can run without providers.
_PROVIDER_REFERENCES = {
    "data.google_project.this.number": "var.project_number",
    "google_storage_bucket.sources[0].name": '"created-bucket"',
}

_PROBE = """
variable "project_number" {
  type    = string
  default = "123456789"
}

output "functions" {
  value = local.functions
}

output "secret_grants" {
  value = local.secret_grants
}

output "event_stages" {
  value = keys(local.event_stages)
}

output "extra_publishers" {
  value = local.extra_publishers
}

output "status_tick_message" {
  value = base64encode(jsonencode(local.status_tick_event))
}

output "topics" {
  value = local.topics
}

output "status_tick_topic" {
  value = local.status_tick_topic
}

output "log_metrics" {
  value = local.log_metrics
}

output "dashboard_json" {
  value = jsonencode(local.dashboard)
}

output "dead_letter_subscriptions" {
  value = local.dead_letter_subscriptions
}

output "dead_letter_backlog" {
  value = local.dead_letter_backlog
}

output "accepted_webhooks" {
  value = local.accepted_webhooks
}
"""


def _write_probe(root: hcl.Body, workdir: Path, tfvars: str, checked_outputs: tuple[str, ...] = ()) -> None:
    """A provider-free copy of the root module's variables and locals, with outputs to read.

    ``checked_outputs`` names root outputs to copy too (those whose preconditions check the
    variables), so a plan of the probe refuses what a plan of the real configuration refuses.
    """
    blocks = [b.text for b in root.blocks if b.type in ("variable", "locals")]
    blocks += [b.text for b in root.find("output") if b.labels[0] in checked_outputs]
    text = "\n\n".join(blocks)
    for reference, replacement in _PROVIDER_REFERENCES.items():
        text = text.replace(reference, replacement)
    workdir.mkdir()
    (workdir / "main.tf").write_text(text + "\n" + _PROBE, encoding="utf-8")
    (workdir / "terraform.tfvars").write_text(tfvars, encoding="utf-8")


def _terraform(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_tool("terraform"), f"-chdir={workdir}", *args, "-no-color"],
        capture_output=True,
        text=True,
        env=tool_env(),
        timeout=120,
        check=False,
    )


def _evaluate_locals(root: hcl.Body, workdir: Path, tfvars: str) -> dict[str, Any]:
    """Plan the probe with terraform itself and return its outputs."""
    _write_probe(root, workdir, tfvars)
    for args in (("init", "-backend=false", "-input=false"), ("plan", "-input=false", "-out=probe.plan")):
        proc = _terraform(workdir, *args)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    shown = _terraform(workdir, "show", "-json", "probe.plan")
    assert shown.returncode == 0, shown.stderr
    return {name: out["value"] for name, out in json.loads(shown.stdout)["planned_values"]["outputs"].items()}


def test_terraform_evaluates_the_locals_for_kfp_with_secrets(root: hcl.Body, tmp_path: Path) -> None:
    outputs = _evaluate_locals(
        root,
        tmp_path / "kfp",
        'project = "p"\nlauncher = "kfp"\nkfp_host = "https://kfp.example.com"\n'
        'kfp_token_secret = "kfp-api"\n'
        'webhook_secrets = { "github-webhook" = { secret = "gh-hook", keys = { secret = "latest" } } }\n'
        'extra_env = { KFPT_MAX_EVENT_AGE_S = "1000" }\nmax_body_bytes = 2097152\n',
    )
    functions = outputs["functions"]
    assert sorted(functions) == sorted(ENTRY_POINTS)
    known = engine_settings()
    for stage, spec in functions.items():
        env = spec["environment"]
        assert set(env) <= known, set(env) - known
        assert env["KFPT_TRANSPORT"] == "pubsub"
        assert env["KFPT_STORE"] == "firestore://p"
        assert env["KFPT_CONFIG"] == "config"
        assert env["KFPT_MAX_EVENT_AGE_S"] == "1000"
        assert env["KFPT_MAX_BODY_BYTES"] == "2097152"
        assert ("KFPT_LAUNCHER" in env) == (stage in ("launch", "status"))
        assert spec["source_dir"].endswith(f"build/functions/{stage}")
        assert spec["name"] == f"kfpt-{stage}"
    assert functions["launch"]["environment"]["KFPT_KFP_HOST"] == "https://kfp.example.com"
    assert functions["launch"]["environment"]["KFPT_KFP_TOKEN_FILE"] == "/secrets/kfp-token/token"
    assert functions["intercept"]["secret_volumes"] == [
        {
            "mount_path": "/secrets/github-webhook",
            "secret": "gh-hook",
            "project_id": "123456789",
            "versions": {"secret": "latest"},
        }
    ]
    for stage in ("launch", "status"):
        [volume] = functions[stage]["secret_volumes"]
        assert (volume["mount_path"], volume["versions"]) == ("/secrets/kfp-token", {"token": "latest"})
    assert functions["ingest"]["secret_volumes"] == functions["render"]["secret_volumes"] == []
    assert set(outputs["secret_grants"]) == {
        "intercept/github-webhook",
        "launch/kfp-token",
        "status/kfp-token",
    }
    assert outputs["event_stages"] == sorted(EVENT_STAGES)
    # Every (stage, topic) a stage publishes on besides its output topic gets its own grant.
    grants = {(v["stage"], v["topic"]) for v in outputs["extra_publishers"].values()}
    hops = {(h.producer, h.topic) for h in HOPS if h.producer in functions}
    assert grants == {(s, t) for s, t in hops if t != functions[s]["output_topic"]}
    assert grants == {("status", "kfpt-launch"), ("status", "kfpt-events")}
    # Without github_token_secret no function gets GitHub status settings, so none posts statuses.
    for spec in functions.values():
        assert not [k for k in spec["environment"] if k.startswith("KFPT_GITHUB_")]
        assert notifiers_from_env(spec["environment"], FileSecrets(tmp_path)) == []

    # The exact bytes Cloud Scheduler will publish, decoded as the status function decodes them.
    envelope = {
        "message": {
            "data": outputs["status_tick_message"],
            "attributes": {"content-type": CLOUDEVENTS_JSON},
            "messageId": "1",
        },
        "subscription": "projects/p/subscriptions/kfpt-status",
    }
    decoded = decode_stage_input(envelope)
    assert decoded["type"] == STATUS_TICK
    assert (
        decoded["source"]
        == "//cloudscheduler.googleapis.com/projects/p/locations/us-central1/jobs/kfpt-status-tick"
    )
    assert isinstance(read_data(decoded), StatusTick)


def test_terraform_evaluates_the_locals_for_vertex(root: hcl.Body, tmp_path: Path) -> None:
    outputs = _evaluate_locals(
        root,
        tmp_path / "vertex",
        'project = "p"\nregion = "europe-west4"\nlauncher = "vertex"\nkfp_host = "https://ignored"\n'
        'vertex_pipeline_root = "gs://b/root"\ngithub_api_url = "https://ghe.example.com/api/v3/"\n',
    )
    env = outputs["functions"]["status"]["environment"]
    assert env["KFPT_LAUNCHER"] == "vertex"
    assert (env["KFPT_VERTEX_PROJECT"], env["KFPT_VERTEX_LOCATION"]) == ("p", "europe-west4")
    assert env["KFPT_VERTEX_PIPELINE_ROOT"] == "gs://b/root"
    assert not [k for k in env if k.startswith("KFPT_KFP_")]
    assert not [k for k in env if k.startswith("KFPT_GITHUB_")]  # an API URL without a token is unused
    assert outputs["secret_grants"] == {}


def _mount_secret_volumes(spec: dict[str, Any], root: Path) -> FileSecrets:
    """Lay a function's secret volumes out under ``root`` as Cloud Run mounts them under KFPT_SECRETS_DIR.

    Each file holds ``<secret id>@<version>``, so a reader shows which secret and version it got.
    """
    secrets_dir = Path(spec["environment"]["KFPT_SECRETS_DIR"])
    for volume in spec["secret_volumes"]:
        directory = root / Path(volume["mount_path"]).relative_to(secrets_dir)
        directory.mkdir(parents=True)
        for path, version in volume["versions"].items():
            (directory / path).write_text(f"{volume['secret']}@{version}\n", encoding="utf-8")
    return FileSecrets(root)


@pytest.mark.parametrize("api_url", [None, "https://ghe.example.com/api/v3/"])
def test_terraform_gives_the_github_token_to_the_status_function_only(
    root: hcl.Body, tmp_path: Path, api_url: str | None
) -> None:
    tfvars = (
        'project = "p"\nlauncher = "kfp"\nkfp_host = "https://kfp.example.com"\n'
        'kfp_token_secret = "kfp-api"\ngithub_token_secret = "gh-status"\n'
        'webhook_secrets = { "github-webhook" = { secret = "gh-hook", keys = { secret = "latest" } } }\n'
    )
    if api_url is not None:
        tfvars += f'github_api_url = "{api_url}"\n'
    outputs = _evaluate_locals(root, tmp_path / "probe", tfvars)
    functions = outputs["functions"]

    # Only status gets the settings and the volume; the other stages keep what they had.
    for stage, spec in functions.items():
        github_env = {k: v for k, v in spec["environment"].items() if k.startswith("KFPT_GITHUB_")}
        github_volumes = [v for v in spec["secret_volumes"] if v["secret"] == "gh-status"]
        if stage in NOTIFYING_STAGES:
            expected = {"KFPT_GITHUB_TOKEN_SECRET": "github-token/token"}
            if api_url is not None:
                expected["KFPT_GITHUB_API_URL"] = api_url
            assert github_env == expected
            assert github_volumes == [
                {
                    "mount_path": "/secrets/github-token",
                    "secret": "gh-status",
                    "project_id": "123456789",
                    "versions": {"token": "latest"},
                }
            ]
        else:
            assert github_env == {}, stage
            assert github_volumes == [], stage
    assert [v["secret"] for v in functions["status"]["secret_volumes"]] == ["kfp-api", "gh-status"]
    assert [v["secret"] for v in functions["launch"]["secret_volumes"]] == ["kfp-api"]
    assert [v["secret"] for v in functions["intercept"]["secret_volumes"]] == ["gh-hook"]

    # Secret Manager access to the token: the status function's account alone.
    grants = outputs["secret_grants"]
    assert {k: v for k, v in grants.items() if v["secret"] == "gh-status"} == {
        "status/github-token": {"stage": "status", "secret": "gh-status", "project_id": "123456789"}
    }
    assert set(grants) == {
        "intercept/github-webhook",
        "launch/kfp-token",
        "status/kfp-token",
        "status/github-token",
    }

    # The engine, given status's environment and its volumes as mounted, reads the token from
    # the Secret Manager secret and posts to the configured API; other stages have no notifier.
    for stage, spec in functions.items():
        secrets = _mount_secret_volumes(spec, tmp_path / "mounted" / stage)
        notifiers = notifiers_from_env(spec["environment"], secrets)
        if stage not in NOTIFYING_STAGES:
            assert notifiers == [], stage
            continue
        [notifier] = notifiers
        assert isinstance(notifier, GitHubStatusNotifier)
        assert notifier.api_url == (api_url or "https://api.github.com/")
        reference = spec["environment"]["KFPT_GITHUB_TOKEN_SECRET"]
        assert secret_token(secrets, reference, "KFPT_GITHUB_TOKEN_SECRET")() == "gh-status@latest"


def test_terraform_refuses_bad_variables(root: hcl.Body, tmp_path: Path) -> None:
    workdir = tmp_path / "bad"
    _write_probe(
        root,
        workdir,
        'project = "p"\nlauncher = "local"\nmax_delivery_attempts = 2\n'
        'github_token_secret = "projects/p/secrets/gh/versions/1"\ngithub_api_url = "ghe.example.com"\n',
    )
    assert _terraform(workdir, "init", "-backend=false", "-input=false").returncode == 0
    proc = _terraform(workdir, "plan", "-input=false")
    assert proc.returncode == 1
    assert "launcher must be kfp, vertex or dry-run" in proc.stderr
    assert "Pub/Sub accepts 5 to 100 delivery attempts" in proc.stderr
    assert "github_token_secret must be a Secret Manager secret id" in proc.stderr
    assert "github_api_url must be an http(s) URL" in proc.stderr


def test_a_second_deployment_in_the_project_gets_its_own_topics(root: hcl.Body, tmp_path: Path) -> None:
    """With another prefix the topics and the functions' settings move with it, as the engine maps them."""
    outputs = _evaluate_locals(root, tmp_path / "staging", 'project = "p"\nprefix = "staging"\n')
    assert outputs["topics"] == [prefixed(t, "staging") for t in TOPICS]
    assert outputs["topics"][0] == "staging-events"
    assert outputs["status_tick_topic"] == prefixed(topic_for(STATUS_TICK), "staging")
    functions = outputs["functions"]
    for stage, spec in functions.items():
        assert spec["environment"]["KFPT_TOPIC_PREFIX"] == "staging"
        assert spec["name"] == f"staging-{stage}"
        assert topic_prefix_from_env(spec["environment"]) == "staging"
        consumed = {prefixed(h.topic, "staging") for h in HOPS if h.consumer == stage}
        produced = {prefixed(h.topic, "staging") for h in HOPS if h.producer == stage}
        assert spec["input_topic"] == (consumed.pop() if consumed else None)
        assert {spec["output_topic"], *spec["extra_output_topics"]} == produced, stage
    # Publisher grants beyond the output topics: status on launch's and the events topic, under this prefix.
    assert outputs["extra_publishers"] == {
        "status/staging-launch": {"stage": "status", "topic": "staging-launch"},
        "status/staging-events": {"stage": "status", "topic": "staging-events"},
    }
