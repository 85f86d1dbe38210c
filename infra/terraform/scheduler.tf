# The status tick: every minute (tick_schedule) Cloud Scheduler publishes a structured-mode
# CloudEvent of type dev.kfptriggers.status.tick.v1 on the status stage's input topic, so the
# status function polls the runs that are not finished yet. The message data is the JSON event
# and the content-type attribute marks it as structured mode (Google's CloudEvents binding for
# Pub/Sub), exactly what the engine's Pub/Sub transport publishes.
#
# Scheduler sends the same bytes every time, so every tick carries the same CloudEvent id; a tick
# belongs to no request and the status stage does not deduplicate ticks, so that is harmless.
# tickAt is null because Scheduler cannot stamp the time into the payload.

locals {
  status_tick_job = "${var.prefix}-status-tick"

  status_tick_event = {
    specversion     = "1.0"
    id              = local.status_tick_job
    source          = "//cloudscheduler.googleapis.com/projects/${var.project}/locations/${var.region}/jobs/${local.status_tick_job}"
    type            = local.status_tick_type
    datacontenttype = "application/json"
    data = {
      tickAt = null
    }
  }
}

resource "google_cloud_scheduler_job" "status_tick" {
  project     = var.project
  region      = var.region
  name        = local.status_tick_job
  description = "Makes the kfp-triggers status function poll unfinished runs."
  schedule    = var.tick_schedule
  time_zone   = var.tick_time_zone

  pubsub_target {
    topic_name = google_pubsub_topic.topic[local.status_tick_topic].id
    data       = base64encode(jsonencode(local.status_tick_event))
    attributes = {
      "content-type" = "application/cloudevents+json; charset=utf-8"
    }
  }

  depends_on = [
    google_project_service.api,
    google_pubsub_topic_iam_member.scheduler_publisher,
  ]
}
