# One kfp-triggers stage as a Cloud Run function (gen2).
#
# The bundle directory is zipped and uploaded under a name made of its md5, so the function is
# rebuilt exactly when the bundle's content changes (infra/bundle.py writes byte-identical trees
# for identical inputs). A CloudEvent stage gets a push subscription on its input topic that
# posts the raw Pub/Sub push envelope to the function's URL with an OIDC token; functions-framework
# turns the envelope into a messagePublished CloudEvent and the engine unwraps ours from it. The
# subscription retries with exponential backoff and dead-letters after max_delivery_attempts.

data "archive_file" "source" {
  type        = "zip"
  source_dir  = var.source_dir
  output_path = "${path.root}/.terraform/kfpt-sources/${var.name}.zip"
}

resource "google_storage_bucket_object" "source" {
  name   = "${var.name}/${data.archive_file.source.output_md5}.zip"
  bucket = var.bucket
  source = data.archive_file.source.output_path
}

resource "google_cloudfunctions2_function" "function" {
  project     = var.project
  location    = var.region
  name        = var.name
  description = var.description
  labels      = var.labels

  build_config {
    runtime         = var.runtime
    entry_point     = var.entry_point
    service_account = var.build_service_account

    source {
      storage_source {
        bucket = var.bucket
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory                 = var.memory
    max_instance_request_concurrency = var.concurrency
    timeout_seconds                  = var.timeout_seconds
    max_instance_count               = var.max_instance_count
    min_instance_count               = var.min_instance_count
    ingress_settings                 = var.ingress_settings
    all_traffic_on_latest_revision   = true
    service_account_email            = var.service_account_email
    vpc_connector                    = var.vpc_connector
    vpc_connector_egress_settings    = var.vpc_connector == null ? null : "PRIVATE_RANGES_ONLY"
    environment_variables            = var.environment

    # Each secret is a directory /secrets/<secretName> holding one file per key: the
    # <secretName>/<key> layout of KFPT_SECRETS_DIR, as Kubernetes mounts a Secret.
    dynamic "secret_volumes" {
      for_each = var.secret_volumes
      content {
        mount_path = secret_volumes.value.mount_path
        project_id = secret_volumes.value.project_id
        secret     = secret_volumes.value.secret

        dynamic "versions" {
          for_each = secret_volumes.value.versions
          content {
            path    = versions.key
            version = versions.value
          }
        }
      }
    }
  }
}

resource "google_pubsub_subscription" "input" {
  count = var.input_topic == null ? 0 : 1

  project = var.project
  name    = var.name
  topic   = var.input_topic
  labels  = var.labels

  # Pub/Sub waits this long for the function's answer before it counts a failed delivery.
  ack_deadline_seconds       = min(600, max(10, var.timeout_seconds))
  message_retention_duration = "604800s"

  push_config {
    # The path names the topic, so functions-framework gives the converted event a real source.
    push_endpoint = "${google_cloudfunctions2_function.function.service_config[0].uri}/${var.input_topic}"

    oidc_token {
      service_account_email = var.push_service_account
      audience              = google_cloudfunctions2_function.function.service_config[0].uri
    }
  }

  # A stage raises (HTTP 500) only when a retry can help; Pub/Sub then redelivers with growing
  # waits and, after max_delivery_attempts, moves the message to the dead-letter topic.
  retry_policy {
    minimum_backoff = var.retry_min_backoff
    maximum_backoff = var.retry_max_backoff
  }

  dead_letter_policy {
    dead_letter_topic     = var.dead_letter_topic
    max_delivery_attempts = var.max_delivery_attempts
  }

  # Push subscriptions of quiet stages must not expire after 31 idle days.
  expiration_policy {
    ttl = ""
  }
}
