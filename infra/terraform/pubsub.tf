# Topics between the stages, one dead-letter topic per topic, and a pull subscription on each
# dead-letter topic so dead letters are kept (Pub/Sub drops messages published on a topic without
# subscriptions). The names and event types are the engine's (kfp_triggers.wire.eventtypes), with this
# deployment's prefix (var.prefix, passed to the functions as KFPT_TOPIC_PREFIX) so several
# deployments can share a project; the tests check that they agree.
#
#   type                                 producer -> consumer     topic
#   dev.kfptriggers.event.received.v1    ingest    -> intercept   <prefix>-events
#   dev.kfptriggers.trigger.matched.v1   intercept -> render      <prefix>-matched
#   dev.kfptriggers.run.requested.v1     render    -> launch      <prefix>-launch
#   dev.kfptriggers.run.created.v1       launch    -> status      <prefix>-runs
#   dev.kfptriggers.status.tick.v1       scheduler -> status      <prefix>-runs
#   dev.kfptriggers.run.requested.v1     status    -> launch      <prefix>-launch
#   dev.kfptriggers.run.state.v1         status    -> anyone      <prefix>-run-states
#
# Status hands a queued run request back to launch when a concurrency slot frees, on launch's own
# topic (extra_output_topics in functions.tf); launch re-renders and verifies every run request.
#
# How a stage receives its messages: each CloudEvent stage has a push subscription owned here (see
# modules/function), pointing at the function's URL with an OIDC token. A gen2 function's
# event_trigger would instead create an Eventarc trigger whose Pub/Sub subscription Eventarc owns:
# `retry_policy = "RETRY_POLICY_RETRY"` makes it retry, but its dead-letter policy cannot be set in
# Terraform, so a poison message would be retried until the retention period ends. An owned push
# subscription has both a dead_letter_policy and an exponential retry_policy, and the function
# decodes its raw push envelope as well as the Eventarc form.

locals {
  # Every stage-input topic in chain order (kfp_triggers.wire.eventtypes.TOPICS, whose names are
  # "kfpt-" and these), under this deployment's prefix.
  topic_names = ["events", "matched", "launch", "runs", "run-states"]
  topics      = [for name in local.topic_names : "${var.prefix}-${name}"]

  # kfp_triggers.wire.eventtypes.DEAD_LETTER_SUFFIX
  dead_letter_suffix = "-dead-letter"

  # The pull subscription keeping each topic's dead letters (monitoring.tf watches them).
  dead_letter_subscriptions = { for t in local.topics : t => "${var.prefix}-${t}${local.dead_letter_suffix}" }

  # The tick shares the status stage's input topic (kfp_triggers.wire.eventtypes.STATUS_TICK).
  status_tick_type  = "dev.kfptriggers.status.tick.v1"
  status_tick_topic = "${var.prefix}-runs"
}

resource "google_pubsub_topic" "topic" {
  for_each = toset(local.topics)

  project = var.project
  name    = each.value
  labels  = var.labels

  depends_on = [google_project_service.api]
}

resource "google_pubsub_topic" "dead_letter" {
  for_each = toset(local.topics)

  project = var.project
  name    = "${each.value}${local.dead_letter_suffix}"
  labels  = var.labels

  depends_on = [google_project_service.api]
}

resource "google_pubsub_subscription" "dead_letter" {
  for_each = toset(local.topics)

  project = var.project
  name    = local.dead_letter_subscriptions[each.value]
  topic   = google_pubsub_topic.dead_letter[each.value].id
  labels  = var.labels

  # Keep dead letters for inspection and replay; never let the subscription expire.
  message_retention_duration = var.dead_letter_retention
  retain_acked_messages      = false
  ack_deadline_seconds       = 60

  expiration_policy {
    ttl = ""
  }
}
