# Least privilege: one service account per function, each allowed only what its stage does.
#
#   every stage            roles/pubsub.publisher on its own output topic, nothing else on Pub/Sub
#   status                 also publisher on the launch topic, to hand queued run requests back
#                          (launch re-renders and verifies every run request it receives)
#   intercept .. status    roles/datastore.user (journal, ledger, runs in Firestore)
#   intercept              secret accessor on the webhook secrets it mounts
#   ingest                 secret accessor on verify_at_ingest_secrets only (none by default)
#   launch, status         secret accessor on the KFP token; with Vertex, roles/aiplatform.user
#   status                 secret accessor on the GitHub token (commit statuses)
#   push identities        one per CloudEvent function, presented by its push subscription alone:
#                          roles/run.invoker on that function and nothing else
#   Pub/Sub service agent  publisher on the dead-letter topics, subscriber on the push subscriptions,
#                          token creator on the push identities (to mint their OIDC tokens)
#   Scheduler service agent publisher on the status tick's topic
#   ingest                 object creator on the bucket of large bodies (bodies.tf)
#   intercept, render      object viewer on that bucket

locals {
  pubsub_agent    = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  scheduler_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-cloudscheduler.iam.gserviceaccount.com"

  event_stages    = { for stage, s in local.stages : stage => s if s.input_topic != null }
  store_stages    = { for stage, s in local.stages : stage => s if s.uses_store }
  launcher_stages = { for stage, s in local.stages : stage => s if s.uses_launcher }

  # One entry per (stage, extra output topic): the topics a stage publishes on besides its own.
  extra_publishers = merge([
    for stage, s in local.stages : {
      for topic in s.extra_output_topics : "${stage}/${topic}" => {
        stage = stage
        topic = topic
      }
    }
  ]...)

  # One entry per (stage, mounted secret): who may read which Secret Manager secret.
  secret_grants = merge([
    for stage, volumes in local.stage_secrets : {
      for v in volumes : "${stage}/${v.name}" => {
        stage      = stage
        secret     = v.secret
        project_id = v.project_id
      }
    }
  ]...)
}

resource "google_service_account" "function" {
  for_each = local.stages

  project      = var.project
  account_id   = "${var.prefix}-${each.key}"
  display_name = "kfp-triggers ${each.key} function"
  description  = "Runs the ${each.key} stage; publishes only on ${join(", ", concat([each.value.output_topic], each.value.extra_output_topics))}."

  depends_on = [google_project_service.api]
}

# One push identity per CloudEvent function: the token Pub/Sub presents to launch is that of
# launch's own subscription, so no other subscription (and no other holder of one push identity)
# can invoke launch.
resource "google_service_account" "push" {
  for_each = local.event_stages

  project      = var.project
  account_id   = "${var.prefix}-push-${each.key}"
  display_name = "kfp-triggers ${each.key} push identity"
  description  = "Presented by the ${each.key} push subscription, the only caller of the ${each.key} function."

  depends_on = [google_project_service.api]
}

resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = local.stages

  project = var.project
  topic   = google_pubsub_topic.topic[each.value.output_topic].name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.function[each.key].member
}

resource "google_pubsub_topic_iam_member" "extra_publisher" {
  for_each = local.extra_publishers

  project = var.project
  topic   = google_pubsub_topic.topic[each.value.topic].name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.function[each.value.stage].member
}

resource "google_project_iam_member" "store" {
  for_each = local.store_stages

  project = var.project
  role    = "roles/datastore.user"
  member  = google_service_account.function[each.key].member
}

resource "google_secret_manager_secret_iam_member" "accessor" {
  for_each = local.secret_grants

  project   = each.value.project_id
  secret_id = each.value.secret
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.function[each.value.stage].member
}

resource "google_project_iam_member" "vertex_user" {
  for_each = var.launcher == "vertex" ? local.launcher_stages : {}

  project = var.project
  role    = "roles/aiplatform.user"
  member  = google_service_account.function[each.key].member
}

resource "google_service_account_iam_member" "vertex_run_as" {
  count = var.launcher == "vertex" && var.vertex_service_account != null ? 1 : 0

  service_account_id = "projects/${var.project}/serviceAccounts/${var.vertex_service_account}"
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.function["launch"].member
}

resource "google_cloud_run_v2_service_iam_member" "push_invoker" {
  for_each = local.event_stages

  project  = var.project
  location = var.region
  name     = module.function[each.key].service_name
  role     = "roles/run.invoker"
  member   = google_service_account.push[each.key].member
}

resource "google_cloud_run_v2_service_iam_member" "ingest_public" {
  count = var.ingest_public ? 1 : 0

  project  = var.project
  location = var.region
  name     = module.function["ingest"].service_name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

resource "google_service_account_iam_member" "push_token_creator" {
  for_each = local.event_stages

  service_account_id = google_service_account.push[each.key].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent

  # The service agent exists once its API is enabled.
  depends_on = [google_project_service.api]
}

resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = local.event_stages

  project = var.project
  topic   = google_pubsub_topic.dead_letter[each.value.input_topic].name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_agent

  # The service agent exists once its API is enabled.
  depends_on = [google_project_service.api]
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each = local.event_stages

  project      = var.project
  subscription = module.function[each.key].subscription_id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent

  # The service agent exists once its API is enabled.
  depends_on = [google_project_service.api]
}

resource "google_pubsub_topic_iam_member" "scheduler_publisher" {
  project = var.project
  topic   = google_pubsub_topic.topic[local.status_tick_topic].name
  role    = "roles/pubsub.publisher"
  member  = local.scheduler_agent

  # The service agent exists once its API is enabled.
  depends_on = [google_project_service.api]
}
