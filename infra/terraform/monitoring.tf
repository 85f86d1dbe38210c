# Metrics, a dashboard and alerts for this deployment.
#
# The functions write each metric value as one JSON log line (KFPT_METRICS=log, functions.tf):
# jsonPayload.metric = {name, value, labels}, with jsonPayload.logger = "kfp_triggers.metrics". The
# log-based metrics below turn those lines back into the engine's catalog
# (kfp_triggers.metrics.CATALOG), one metric per catalog entry, named <prefix>/<catalog name>: so
# Cloud Monitoring's metric type is logging.googleapis.com/user/<prefix>/<catalog name>, and two
# deployments sharing a project keep apart. Each filters on this deployment's five functions only
# (a gen2 function logs as the Cloud Run service of the same name).
#
# Counters count log lines (DELTA INT64): the engine writes one line per increment, always of 1
# (tests/infra checks that no counter is ever incremented by more). Logging cannot sum a value
# from the lines for a counter: a value_extractor is only accepted on a DISTRIBUTION metric, whose
# sum a threshold or chart cannot read as a rate. Histograms are DISTRIBUTION metrics of the
# line's value, in seconds, with the engine's own bucket bounds.
#
# Pub/Sub's own metrics watch the dead-letter subscriptions (pubsub.tf): nothing there depends on
# the functions' logs.

locals {
  # kfp_triggers.metrics.CATALOG: each metric's kind and label names (tests/infra compares them).
  metric_catalog = {
    kfpt_events_received_total       = { kind = "counter", labels = ["listener", "code"] }
    kfpt_trigger_decisions_total     = { kind = "counter", labels = ["listener", "trigger", "decision", "interceptor"] }
    kfpt_run_launches_total          = { kind = "counter", labels = ["backend", "outcome"] }
    kfpt_run_state_transitions_total = { kind = "counter", labels = ["backend", "state"] }
    kfpt_messages_dropped_total      = { kind = "counter", labels = ["stage", "reason"] }
    kfpt_messages_retried_total      = { kind = "counter", labels = ["stage"] }
    kfpt_dead_letters_total          = { kind = "counter", labels = ["topic"] }
    kfpt_stage_duration_seconds      = { kind = "histogram", labels = ["stage"] }
    kfpt_webhook_to_run_seconds      = { kind = "histogram", labels = ["listener", "trigger"] }
  }

  # kfp_triggers.metrics.LATENCY_BUCKETS_S: the histograms' bucket bounds, in seconds.
  latency_buckets_s = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

  # The metric lines of this deployment's functions.
  metric_lines_filter = join(" AND ", [
    "resource.type=\"cloud_run_revision\"",
    "resource.labels.service_name=(${join(" OR ", [for stage, f in local.functions : "\"${f.name}\""])})",
    "jsonPayload.logger=\"kfp_triggers.metrics\"",
  ])

  log_metrics = {
    for name, m in local.metric_catalog : name => {
      id               = "${var.prefix}/${name}"
      type             = "logging.googleapis.com/user/${var.prefix}/${name}"
      kind             = m.kind
      labels           = m.labels
      filter           = "${local.metric_lines_filter} AND jsonPayload.metric.name=\"${name}\""
      value_type       = m.kind == "histogram" ? "DISTRIBUTION" : "INT64"
      unit             = m.kind == "histogram" ? "s" : "1"
      value_extractor  = m.kind == "histogram" ? "EXTRACT(jsonPayload.metric.value)" : null
      label_extractors = { for label in m.labels : label => "EXTRACT(jsonPayload.metric.labels.${label})" }
      buckets          = m.kind == "histogram" ? local.latency_buckets_s : []
    }
  }

  # The time series of one log-based metric, from this deployment's functions.
  metric_series = {
    for name, m in local.log_metrics : name => "metric.type=\"${m.type}\" AND resource.type=\"cloud_run_revision\""
  }

  # The dead-letter subscriptions of pubsub.tf, watched through Pub/Sub's own metric.
  dead_letter_backlog = join(" AND ", [
    "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\"",
    "resource.type=\"pubsub_subscription\"",
    "resource.label.subscription_id=one_of(${join(", ", [for t in local.topics : "\"${local.dead_letter_subscriptions[t]}\""])})",
  ])

  # Webhooks a listener accepted (ingest answered 202).
  accepted_webhooks = "${local.metric_series.kfpt_events_received_total} AND metric.label.code=\"202\""

  # The dashboard's charts, two per row: each data set is a filter and how its series are combined
  # (counters as a rate per second, histograms as a percentile of the merged distributions).
  dashboard_charts = [
    {
      title = "Webhooks received, by HTTP status (per second)"
      sets  = [{ filter = local.metric_series.kfpt_events_received_total, aligner = "ALIGN_RATE", reducer = "REDUCE_SUM", by = ["metric.label.code"] }]
    },
    {
      title = "Trigger decisions, by trigger and decision (per second)"
      sets  = [{ filter = local.metric_series.kfpt_trigger_decisions_total, aligner = "ALIGN_RATE", reducer = "REDUCE_SUM", by = ["metric.label.trigger", "metric.label.decision"] }]
    },
    {
      title = "Runs launched, by outcome (per second)"
      sets  = [{ filter = local.metric_series.kfpt_run_launches_total, aligner = "ALIGN_RATE", reducer = "REDUCE_SUM", by = ["metric.label.outcome"] }]
    },
    {
      title = "Run state transitions, by state (per second)"
      sets  = [{ filter = local.metric_series.kfpt_run_state_transitions_total, aligner = "ALIGN_RATE", reducer = "REDUCE_SUM", by = ["metric.label.state"] }]
    },
    {
      title = "Stage latency p50 and p95, by stage (seconds)"
      sets = [
        { filter = local.metric_series.kfpt_stage_duration_seconds, aligner = "ALIGN_DELTA", reducer = "REDUCE_PERCENTILE_50", by = ["metric.label.stage"] },
        { filter = local.metric_series.kfpt_stage_duration_seconds, aligner = "ALIGN_DELTA", reducer = "REDUCE_PERCENTILE_95", by = ["metric.label.stage"] },
      ]
    },
    {
      title = "Webhook to run p95, by trigger (seconds)"
      sets  = [{ filter = local.metric_series.kfpt_webhook_to_run_seconds, aligner = "ALIGN_DELTA", reducer = "REDUCE_PERCENTILE_95", by = ["metric.label.trigger"] }]
    },
    {
      title = "Messages dropped, by stage and reason (per second)"
      sets  = [{ filter = local.metric_series.kfpt_messages_dropped_total, aligner = "ALIGN_RATE", reducer = "REDUCE_SUM", by = ["metric.label.stage", "metric.label.reason"] }]
    },
    {
      title = "Dead letters waiting, by dead-letter subscription"
      sets  = [{ filter = local.dead_letter_backlog, aligner = "ALIGN_MAX", reducer = "REDUCE_MAX", by = ["resource.label.subscription_id"] }]
    },
  ]

  dashboard = {
    displayName = "kfp-triggers (${var.prefix})"
    mosaicLayout = {
      columns = 12
      tiles = [
        for i, chart in local.dashboard_charts : {
          xPos   = (i % 2) * 6
          yPos   = floor(i / 2) * 4
          width  = 6
          height = 4
          widget = {
            title = chart.title
            xyChart = {
              dataSets = [
                for set in chart.sets : {
                  plotType       = "LINE"
                  legendTemplate = "${join(" ", [for field in set.by : "$${${replace(field, ".label.", ".labels.")}}"])}${startswith(set.reducer, "REDUCE_PERCENTILE_") ? " p${trimprefix(set.reducer, "REDUCE_PERCENTILE_")}" : ""}"
                  timeSeriesQuery = {
                    timeSeriesFilter = {
                      filter = set.filter
                      aggregation = {
                        alignmentPeriod    = "60s"
                        perSeriesAligner   = set.aligner
                        crossSeriesReducer = set.reducer
                        groupByFields      = set.by
                      }
                    }
                  }
                }
              ]
            }
          }
        }
      ]
    }
  }
}

resource "google_logging_metric" "kfpt" {
  for_each = var.metrics == "log" ? local.log_metrics : {}

  project          = var.project
  name             = each.value.id
  description      = "kfp-triggers ${each.key} (kfp_triggers.metrics.CATALOG), from the metric log lines of the ${var.prefix}-* functions."
  filter           = each.value.filter
  value_extractor  = each.value.value_extractor
  label_extractors = each.value.label_extractors

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = each.value.value_type
    unit         = each.value.unit
    display_name = "${each.key} (${var.prefix})"

    dynamic "labels" {
      for_each = each.value.labels
      content {
        key         = labels.value
        value_type  = "STRING"
        description = "The ${labels.value} label of ${each.key}."
      }
    }
  }

  dynamic "bucket_options" {
    for_each = each.value.kind == "histogram" ? [each.value.buckets] : []
    content {
      explicit_buckets {
        bounds = bucket_options.value
      }
    }
  }

  depends_on = [google_project_service.api]
}

resource "google_monitoring_dashboard" "kfpt" {
  count = var.metrics == "log" ? 1 : 0

  project        = var.project
  dashboard_json = jsonencode(local.dashboard)

  depends_on = [google_logging_metric.kfpt]
}

# Dead letters: a message a stage failed on max_delivery_attempts times sits on its topic's
# dead-letter subscription until someone pulls it (pubsub.tf). One incident per subscription,
# open while it holds any message.
resource "google_monitoring_alert_policy" "dead_letters" {
  count = var.alerts ? 1 : 0

  project               = var.project
  display_name          = "kfp-triggers (${var.prefix}): messages dead-lettered"
  combiner              = "OR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "A dead-letter subscription holds messages"
    condition_threshold {
      filter          = local.dead_letter_backlog
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
      trigger {
        count = 1
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A stage gave up on a message after ${var.max_delivery_attempts} deliveries. Inspect it with `gcloud pubsub subscriptions pull <subscription> --project ${var.project}` (the subscriptions are the `dead_letter_subscriptions` output); the stage's error is in its function's logs. The incident closes once the subscription is empty."
  }

  depends_on = [google_project_service.api]
}

# A listener that stops accepting webhooks. The log-based metric writes no point while no line
# matches (a silent listener has no series at all, not a series of zeros), so a threshold on its
# rate would have nothing to compare and would never fire; a metric-absence condition fires when
# a series that had points has none for the window. The series are summed per listener across
# functions' revisions and instances, so a new revision does not look like an absence. A listener
# is watched once it has accepted a webhook since the policy was created or changed.
resource "google_monitoring_alert_policy" "accepted_silence" {
  count = var.alerts && var.metrics == "log" ? 1 : 0

  project               = var.project
  display_name          = "kfp-triggers (${var.prefix}): a listener accepted no webhook for ${var.accepted_silence_window}"
  combiner              = "OR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "No accepted webhook on a listener for ${var.accepted_silence_window}"
    condition_absent {
      filter   = local.accepted_webhooks
      duration = var.accepted_silence_window
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.listener"]
      }
      trigger {
        count = 1
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "No webhook was accepted (202) on this listener for ${var.accepted_silence_window}. Check the sender's webhook deliveries and the `kfpt_events_received_total` chart of the kfp-triggers (${var.prefix}) dashboard: 401 means signatures are refused, 404 an unknown listener."
  }

  depends_on = [google_logging_metric.kfpt]
}
