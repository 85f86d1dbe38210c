# The store: a Firestore (native mode) database for the event journal (kfpt_events), the
# idempotency ledger (kfpt_ledger) and the runs (kfpt_runs), which the engine reaches over REST.
# Completed ledger entries carry `expireAt`; a TTL policy on it lets Firestore delete them once
# a redelivery can no longer arrive, so the ledger does not grow for ever.

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
  # kfp_triggers.store.firestore.LEDGER and the field the ledger's expiry is written to.
  ledger_collection = "kfpt_ledger"
  ledger_ttl_field  = "expireAt"
}

resource "google_firestore_field" "ledger_ttl" {
  project    = var.project
  database   = var.create_firestore_database ? google_firestore_database.store[0].name : var.firestore_database
  collection = local.ledger_collection
  field      = local.ledger_ttl_field

  # Delete a ledger document once its expireAt has passed.
  ttl_config {}

  # Nothing queries by expireAt: skip its single-field indexes (a TTL field's ever-growing values
  # would otherwise make an index hotspot).
  index_config {}
}
