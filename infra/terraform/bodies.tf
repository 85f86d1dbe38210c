# The body store of the claim check (kfp_triggers.stages.bodies): a webhook body larger than
# claim_check_bytes is written here by ingest under its SHA-256 and travels between the stages as
# that digest. Intercept and render read it back; launch and status never need it. Objects expire
# with the journal's retention, so a body outlives no journal entry that could name it.
#
#   ingest             roles/storage.objectCreator: create objects, never read, replace or delete
#   intercept, render  roles/storage.objectViewer: read only

locals {
  body_bucket        = coalesce(var.body_bucket, "${var.project}-${var.prefix}-bodies")
  body_store_url     = "gs://${local.body_bucket}/bodies"
  body_writer_stages = ["ingest"]
  body_reader_stages = ["intercept", "render"]
}

resource "google_storage_bucket" "bodies" {
  project                     = var.project
  name                        = local.body_bucket
  location                    = var.region
  labels                      = var.labels
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  # Bodies are webhook payloads: never kept for good, never served publicly.
  force_destroy = true

  dynamic "lifecycle_rule" {
    for_each = var.retention_days > 0 ? [var.retention_days] : []
    content {
      condition {
        age = lifecycle_rule.value
      }
      action {
        type = "Delete"
      }
    }
  }

  depends_on = [google_project_service.api]
}

resource "google_storage_bucket_iam_member" "body_writer" {
  for_each = toset(local.body_writer_stages)

  bucket = google_storage_bucket.bodies.name
  role   = "roles/storage.objectCreator"
  member = "serviceAccount:${google_service_account.function[each.key].email}"
}

resource "google_storage_bucket_iam_member" "body_reader" {
  for_each = toset(local.body_reader_stages)

  bucket = google_storage_bucket.bodies.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.function[each.key].email}"
}
