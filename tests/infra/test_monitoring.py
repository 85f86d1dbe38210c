"""Metrics on Google Cloud (monitoring.tf) agree with the engine's catalog and its metric log lines.

The log-based metrics, the dashboard and the alert filters are built in locals, which terraform
evaluates offline (the provider-free probe of test_terraform.py); the resources that use them are
read with the HCL reader. The filters are then applied to the log lines the engine really writes.
"""

from __future__ import annotations

import ast
import io
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.logs import CloudLoggingFormatter
from kfp_triggers.metrics import CATALOG, LATENCY_BUCKETS_S, Metrics
from kfp_triggers.wire.eventtypes import TOPICS
from tests.infra import hcl
from tests.infra.conftest import ENGINE, TERRAFORM
from tests.infra.test_bundle import ENTRY_POINTS
from tests.infra.test_terraform import _evaluate_locals, _terraform, _write_probe, attr

EVENTS_RECEIVED = "kfpt_events_received_total"


@pytest.fixture(scope="module")
def root() -> hcl.Body:
    return hcl.parse_dir(TERRAFORM)


@pytest.fixture(scope="module")
def planned(root: hcl.Body, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The probe's outputs for a deployment with prefix ``kfpt`` (the default)."""
    return _evaluate_locals(root, tmp_path_factory.mktemp("monitoring") / "probe", 'project = "p"\n')


@pytest.fixture(scope="module")
def dashboard(planned: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(planned["dashboard_json"])
    return value


# --- the engine's metric lines, as Cloud Logging stores them ----------------------------------


def metric_entries(service: str, record: Any) -> list[dict[str, Any]]:
    """The log entries a Cloud Run function ``service`` writes while ``record(metrics)`` runs.

    Each is the LogEntry Cloud Logging makes of one stdout JSON line: the line (without the fields
    Cloud Logging moves out of the payload) is ``jsonPayload``, the resource is the revision's.
    """
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(CloudLoggingFormatter("p"))
    logger = logging.getLogger("kfp_triggers.metrics")
    saved = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        record(Metrics.of("log"))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
    entries = []
    for line in stream.getvalue().splitlines():
        payload = json.loads(line)
        severity = payload.pop("severity")
        payload.pop("time")
        entries.append(
            {
                "resource": {"type": "cloud_run_revision", "labels": {"service_name": service}},
                "severity": severity,
                "jsonPayload": payload,
            }
        )
    return entries


def _field(entry: dict[str, Any], path: str) -> Any:
    value: Any = entry
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


_TERM = re.compile(r'^([A-Za-z_.]+)=(?:"([^"]*)"|\(((?:"[^"]*")(?: OR "[^"]*")*)\))$')


def matches(log_filter: str, entry: dict[str, Any]) -> bool:
    """Apply a filter of the form monitoring.tf writes (``a="x" AND b=("y" OR "z")``) to an entry."""
    for term in log_filter.split(" AND "):
        found = _TERM.match(term)
        assert found, f"not a term of the expected form: {term!r}"
        path, one, many = found.groups()
        allowed = [one] if one is not None else re.findall(r'"([^"]*)"', many)
        if str(_field(entry, path)) not in allowed:
            return False
    return True


def extract(extractor: str, entry: dict[str, Any]) -> Any:
    found = re.fullmatch(r"EXTRACT\(([A-Za-z_.]+)\)", extractor)
    assert found, extractor
    return _field(entry, found.group(1))


# --- the log-based metrics ---------------------------------------------------------------------


def test_the_catalog_in_terraform_is_the_engines(root: hcl.Body) -> None:
    local = hcl.locals_of(root)
    catalog = local["metric_catalog"].literal()
    assert catalog == {m.name: {"kind": m.kind, "labels": list(m.labels)} for m in CATALOG}
    assert tuple(local["latency_buckets_s"].literal()) == LATENCY_BUCKETS_S
    assert {m.buckets for m in CATALOG if m.kind == "histogram"} == {LATENCY_BUCKETS_S}


def test_one_log_based_metric_per_catalog_metric(planned: dict[str, Any]) -> None:
    metrics = planned["log_metrics"]
    assert sorted(metrics) == sorted(m.name for m in CATALOG)
    functions = sorted(f"kfpt-{stage}" for stage in ENTRY_POINTS)
    for metric in CATALOG:
        spec = metrics[metric.name]
        assert spec["id"] == f"kfpt/{metric.name}"
        assert spec["type"] == f"logging.googleapis.com/user/kfpt/{metric.name}"
        assert spec["filter"].count("jsonPayload.metric.name=") == 1
        assert spec["filter"].endswith(f'AND jsonPayload.metric.name="{metric.name}"')
        assert 'resource.type="cloud_run_revision"' in spec["filter"]
        named = re.search(r"resource\.labels\.service_name=\(([^)]*)\)", spec["filter"])
        assert named and sorted(re.findall(r'"([^"]*)"', named.group(1))) == functions
        assert spec["labels"] == list(metric.labels)
        assert spec["label_extractors"] == {
            label: f"EXTRACT(jsonPayload.metric.labels.{label})" for label in metric.labels
        }
        if metric.kind == "counter":
            assert (spec["value_type"], spec["unit"], spec["value_extractor"]) == ("INT64", "1", None)
            assert spec["buckets"] == []
        else:
            assert (spec["value_type"], spec["unit"]) == ("DISTRIBUTION", "s")
            assert spec["value_extractor"] == "EXTRACT(jsonPayload.metric.value)"
            assert tuple(spec["buckets"]) == metric.buckets


def test_the_logging_metric_resource_takes_every_field_from_the_table(root: hcl.Body) -> None:
    metric = root.one("resource", "google_logging_metric", "kfpt")
    assert attr(metric, "for_each").text == 'var.metrics == "log" ? local.log_metrics : {}'
    for name, value in {
        "name": "each.value.id",
        "filter": "each.value.filter",
        "value_extractor": "each.value.value_extractor",
        "label_extractors": "each.value.label_extractors",
    }.items():
        assert attr(metric, name).text == value, name
    descriptor = metric.body.one("metric_descriptor")
    assert attr(descriptor, "metric_kind").literal() == "DELTA"
    assert attr(descriptor, "value_type").text == "each.value.value_type"
    assert attr(descriptor, "unit").text == "each.value.unit"
    labels = descriptor.body.one("dynamic", "labels")
    assert attr(labels, "for_each").text == "each.value.labels"
    content = labels.body.one("content")
    assert attr(content, "key").text == "labels.value"
    assert attr(content, "value_type").literal() == "STRING"
    buckets = metric.body.one("dynamic", "bucket_options")
    assert attr(buckets, "for_each").text == 'each.value.kind == "histogram" ? [each.value.buckets] : []'
    explicit = buckets.body.one("content").body.one("explicit_buckets")
    assert attr(explicit, "bounds").text == "bucket_options.value"


def _record_everything(metrics: Metrics) -> None:
    """One value of every catalog metric, each label set to a value naming it."""
    for metric in CATALOG:
        labels = [f"{label}-value" for label in metric.labels]
        if metric.kind == "counter":
            metrics.count(metric, *labels)
        else:
            metrics.observe(metric, 0.3, *labels)


def test_each_metric_counts_exactly_its_own_lines_from_this_deployment(planned: dict[str, Any]) -> None:
    metrics = planned["log_metrics"]
    entries = metric_entries("kfpt-intercept", _record_everything)
    assert len(entries) == len(CATALOG)
    for entry in entries:
        name = entry["jsonPayload"]["metric"]["name"]
        assert [m for m, spec in metrics.items() if matches(spec["filter"], entry)] == [name]
        spec = metrics[name]
        extracted = {label: extract(e, entry) for label, e in spec["label_extractors"].items()}
        assert extracted == {label: f"{label}-value" for label in spec["labels"]}
        if spec["value_extractor"]:
            assert extract(spec["value_extractor"], entry) == 0.3
    # Another deployment's functions (another prefix) and other loggers' lines are not counted.
    for entry in metric_entries("other-intercept", _record_everything):
        assert not [m for m, spec in metrics.items() if matches(spec["filter"], entry)]
    entry = metric_entries("kfpt-ingest", _record_everything)[0]
    entry["jsonPayload"]["logger"] = "kfp_triggers.stages.ingest"
    assert not [m for m, spec in metrics.items() if matches(spec["filter"], entry)]


def test_every_counter_increment_is_one_line_of_one() -> None:
    """A counter metric counts lines, so the engine may never add more than 1 in one call."""
    calls = 0
    for path in ENGINE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "count"
                and isinstance(node.func.value, ast.Attribute)
                and node.func.value.attr == "metrics"
            ):
                calls += 1
                assert not node.keywords, f"{path}:{node.lineno}: a counter incremented by a value"
    assert calls >= len([m for m in CATALOG if m.kind == "counter"]) - 1  # dead letters: in-process bus
    [entry] = metric_entries("kfpt-ingest", lambda m: m.count(CATALOG[0], "l", "202"))
    assert entry["jsonPayload"]["metric"]["value"] == 1


# --- the dashboard -------------------------------------------------------------------------------


def _data_sets(dashboard: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (tile["widget"]["title"], data_set["timeSeriesQuery"]["timeSeriesFilter"])
        for tile in dashboard["mosaicLayout"]["tiles"]
        for data_set in tile["widget"]["xyChart"]["dataSets"]
    ]


def _charted(dashboard: dict[str, Any], metric_type: str) -> list[dict[str, Any]]:
    return [
        query["aggregation"]
        for _title, query in _data_sets(dashboard)
        if f'metric.type="{metric_type}"' in query["filter"]
    ]


def test_the_dashboard_is_rendered_from_the_local(root: hcl.Body) -> None:
    board = root.one("resource", "google_monitoring_dashboard", "kfpt")
    assert hcl.jsonencode_argument(attr(board, "dashboard_json")).text == "local.dashboard"
    assert attr(board, "count").text == 'var.metrics == "log" ? 1 : 0'


def test_the_dashboard_charts_the_catalog_and_the_dead_letters(
    dashboard: dict[str, Any], planned: dict[str, Any]
) -> None:
    tiles = dashboard["mosaicLayout"]["tiles"]
    cells = set()
    for tile in tiles:
        assert tile["xPos"] + tile["width"] <= dashboard["mosaicLayout"]["columns"]
        for x in range(tile["xPos"], tile["xPos"] + tile["width"]):
            for y in range(tile["yPos"], tile["yPos"] + tile["height"]):
                assert (x, y) not in cells, f"tiles overlap at {x},{y}"
                cells.add((x, y))
    types = {name: spec["type"] for name, spec in planned["log_metrics"].items()}

    def grouped(name: str) -> list[tuple[str, str, list[str]]]:
        return [
            (a["perSeriesAligner"], a["crossSeriesReducer"], a["groupByFields"])
            for a in _charted(dashboard, types[name])
        ]

    assert grouped(EVENTS_RECEIVED) == [("ALIGN_RATE", "REDUCE_SUM", ["metric.label.code"])]
    assert grouped("kfpt_trigger_decisions_total") == [
        ("ALIGN_RATE", "REDUCE_SUM", ["metric.label.trigger", "metric.label.decision"])
    ]
    assert grouped("kfpt_run_launches_total") == [("ALIGN_RATE", "REDUCE_SUM", ["metric.label.outcome"])]
    assert grouped("kfpt_run_state_transitions_total") == [
        ("ALIGN_RATE", "REDUCE_SUM", ["metric.label.state"])
    ]
    assert grouped("kfpt_stage_duration_seconds") == [
        ("ALIGN_DELTA", "REDUCE_PERCENTILE_50", ["metric.label.stage"]),
        ("ALIGN_DELTA", "REDUCE_PERCENTILE_95", ["metric.label.stage"]),
    ]
    assert grouped("kfpt_webhook_to_run_seconds") == [
        ("ALIGN_DELTA", "REDUCE_PERCENTILE_95", ["metric.label.trigger"])
    ]
    [backlog] = _charted(dashboard, "pubsub.googleapis.com/subscription/num_undelivered_messages")
    assert backlog["groupByFields"] == ["resource.label.subscription_id"]
    [(_, query)] = [(t, q) for t, q in _data_sets(dashboard) if "pubsub.googleapis.com" in q["filter"]]
    assert query["filter"] == planned["dead_letter_backlog"]
    # Every chart's labels are labels of its metric, so no group comes out empty.
    labels = {spec["type"]: spec["labels"] for spec in planned["log_metrics"].values()}
    for _title, query in _data_sets(dashboard):
        metric_type = re.match(r'metric\.type="([^"]+)"', query["filter"])
        assert metric_type
        for field in query["aggregation"]["groupByFields"]:
            if field.startswith("metric.label."):
                assert field.removeprefix("metric.label.") in labels[metric_type.group(1)]


# --- the alerts ----------------------------------------------------------------------------------


def _subscription_ids(backlog_filter: str) -> list[str]:
    found = re.search(r"resource\.label\.subscription_id=one_of\(([^)]*)\)", backlog_filter)
    assert found, backlog_filter
    return re.findall(r'"([^"]*)"', found.group(1))


def test_the_dead_letter_alert_watches_every_dead_letter_subscription(
    root: hcl.Body, planned: dict[str, Any]
) -> None:
    keep = root.one("resource", "google_pubsub_subscription", "dead_letter")
    assert attr(keep, "name").text == "local.dead_letter_subscriptions[each.value]"
    assert sorted(planned["dead_letter_subscriptions"]) == sorted(TOPICS)
    assert _subscription_ids(planned["dead_letter_backlog"]) == [
        planned["dead_letter_subscriptions"][t] for t in TOPICS
    ]
    assert planned["dead_letter_subscriptions"]["kfpt-events"] == "kfpt-kfpt-events-dead-letter"
    policy = root.one("resource", "google_monitoring_alert_policy", "dead_letters")
    assert attr(policy, "count").text == "var.alerts ? 1 : 0"
    assert attr(policy, "notification_channels").text == "var.notification_channels"
    threshold = policy.body.one("conditions").body.one("condition_threshold")
    assert attr(threshold, "filter").text == "local.dead_letter_backlog"
    assert attr(threshold, "comparison").literal() == "COMPARISON_GT"
    assert attr(threshold, "threshold_value").literal() == 0
    assert (
        'metric.type="pubsub.googleapis.com/subscription/num_undelivered_messages"'
        in planned["dead_letter_backlog"]
    )


def test_the_silence_alert_watches_accepted_webhooks_per_listener(
    root: hcl.Body, planned: dict[str, Any]
) -> None:
    events = planned["log_metrics"][EVENTS_RECEIVED]
    assert planned["accepted_webhooks"] == (
        f'metric.type="{events["type"]}" AND resource.type="cloud_run_revision" AND metric.label.code="202"'
    )
    assert "code" in events["labels"] and "listener" in events["labels"]
    # What ingest records for an accepted webhook is what the alert's label filter selects.
    [entry] = metric_entries("kfpt-ingest", lambda m: m.count(CATALOG[0], "github-push", "202"))
    assert extract(events["label_extractors"]["code"], entry) == "202"
    policy = root.one("resource", "google_monitoring_alert_policy", "accepted_silence")
    assert attr(policy, "count").text == 'var.alerts && var.metrics == "log" ? 1 : 0'
    assert attr(policy, "notification_channels").text == "var.notification_channels"
    assert "google_logging_metric.kfpt" in attr(policy, "depends_on").text
    absent = policy.body.one("conditions").body.one("condition_absent")
    assert attr(absent, "filter").text == "local.accepted_webhooks"
    assert attr(absent, "duration").text == "var.accepted_silence_window"
    aggregation = absent.body.one("aggregations")
    assert attr(aggregation, "cross_series_reducer").literal() == "REDUCE_SUM"
    assert attr(aggregation, "group_by_fields").literal() == ["metric.label.listener"]


# --- the functions' setting and the variables ------------------------------------------------------


def test_every_function_logs_its_metrics(planned: dict[str, Any]) -> None:
    assert sorted(planned["functions"]) == sorted(ENTRY_POINTS)
    for stage, spec in planned["functions"].items():
        assert spec["environment"]["KFPT_METRICS"] == "log", stage
        assert "KFPT_METRICS_PORT" not in spec["environment"], stage


def test_metrics_can_be_turned_off(root: hcl.Body, tmp_path: Path) -> None:
    outputs = _evaluate_locals(root, tmp_path / "off", 'project = "p"\nmetrics = "off"\n')
    assert {spec["environment"]["KFPT_METRICS"] for spec in outputs["functions"].values()} == {"off"}
    assert metric_entries("kfpt-ingest", lambda _: _record_everything(Metrics.of("off"))) == []


@pytest.mark.parametrize(
    ("tfvars", "message"),
    [
        ('metrics = "prometheus"', "metrics must be log or off"),
        ('extra_env = { KFPT_METRICS = "prometheus" }', "Set metrics with the metrics variable"),
        ('extra_env = { KFPT_METRICS_PORT = "9095" }', "Set metrics with the metrics variable"),
        ('accepted_silence_window = "90s"', "accepted_silence_window must be whole minutes"),
        ('accepted_silence_window = "1h"', "accepted_silence_window must be whole minutes"),
        ('accepted_silence_window = "86400s"', "accepted_silence_window must be whole minutes"),
        ('notification_channels = ["123"]', "notification_channels must be full names"),
    ],
)
def test_bad_monitoring_variables_are_refused(
    root: hcl.Body, tmp_path: Path, tfvars: str, message: str
) -> None:
    workdir = tmp_path / "bad"
    _write_probe(root, workdir, f'project = "p"\n{tfvars}\n')
    assert _terraform(workdir, "init", "-backend=false", "-input=false").returncode == 0
    proc = _terraform(workdir, "plan", "-input=false")
    assert proc.returncode != 0
    assert message in " ".join((proc.stdout + proc.stderr).split())


def test_good_monitoring_variables_are_taken(root: hcl.Body, tmp_path: Path) -> None:
    outputs = _evaluate_locals(
        root,
        tmp_path / "good",
        'project = "p"\nprefix = "ci"\naccepted_silence_window = "84600s"\n'
        'notification_channels = ["projects/p/notificationChannels/42"]\n',
    )
    assert outputs["log_metrics"][EVENTS_RECEIVED]["id"] == f"ci/{EVENTS_RECEIVED}"
    assert _subscription_ids(outputs["dead_letter_backlog"]) == [
        f"ci-ci-{t.removeprefix('kfpt-')}-dead-letter" for t in TOPICS
    ]
    assert '"ci-ingest"' in outputs["log_metrics"][EVENTS_RECEIVED]["filter"]
