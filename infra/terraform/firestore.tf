# The store: a Firestore (native mode) database for the event journal (kfpt_events), the
# idempotency ledger (kfpt_ledger) and the runs (kfpt_runs), which the engine reaches over REST.
# Completed ledger entries and journal entries carry `expireAt` (KFPT_RETENTION_DAYS after they
# were written); TTL policies on it let Firestore delete them once a redelivery can no longer
# arrive, so neither grows for ever. Run records are the history and are kept.

resource "google_firestore_database" "store" {
  count = var.create_firestore_database ? 1 : 0

  project     = var.project
  name        = var.firestore_database
  location_id = coalesce(var.firestore_location, var.region)
  type        = "FIRESTORE_NATIVE"

  # Destroying this configuration must not delete the journal and the ledger.
  deletion_policy         = "ABANDON"
  delete_protection_state = "DELETE_PROTECTION_ENABLED"

  depends_on = [google_project_service.api]
}

locals {
  # kfp_triggers.adapters.store.firestore.LEDGER and EVENTS, and the field their expiry is written to.
  ledger_collection = "kfpt_ledger"
  events_collection = "kfpt_events"
  ttl_field         = "expireAt"
}

resource "google_firestore_field" "ttl" {
  for_each = {
    ledger = local.ledger_collection
    events = local.events_collection
  }

  project    = var.project
  database   = var.create_firestore_database ? google_firestore_database.store[0].name : var.firestore_database
  collection = each.value
  field      = local.ttl_field

  # Delete a document (a completed ledger entry; an event with its triggers' records) once its
  # expireAt has passed.
  ttl_config {}

  # Nothing queries by expireAt: skip its single-field indexes (a TTL field's ever-growing values
  # would otherwise make an index hotspot).
  index_config {}
}

moved {
  from = google_firestore_field.ledger_ttl
  to   = google_firestore_field.ttl["ledger"]
}
