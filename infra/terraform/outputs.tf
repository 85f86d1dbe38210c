output "ingest_url" {
  description = "Webhook URL: point GitHub (or any sender) here. POST / or /<listener>; GET /live answers 200."
  value       = module.function["ingest"].uri
}

output "function_urls" {
  description = "URL of every function, by stage."
  value       = { for stage, f in module.function : stage => f.uri }
}

output "topics" {
  description = "Topic name of each hop, in chain order."
  value       = [for t in local.topics : google_pubsub_topic.topic[t].name]
}

output "dead_letter_topics" {
  description = "Dead-letter topic of each topic."
  value       = { for t in local.topics : t => google_pubsub_topic.dead_letter[t].name }
}

output "dead_letter_subscriptions" {
  description = "Pull subscriptions keeping dead letters, by topic (inspect with gcloud pubsub subscriptions pull)."
  value       = { for t in local.topics : t => google_pubsub_subscription.dead_letter[t].name }
}

output "subscriptions" {
  description = "Push subscription feeding each CloudEvent stage."
  value       = { for stage, s in local.event_stages : stage => module.function[stage].subscription_id }
}

output "service_accounts" {
  description = "Service account email of each function."
  value       = { for stage, sa in google_service_account.function : stage => sa.email }
}

output "store_url" {
  description = "KFPT_STORE of the functions; use it with `kfp-triggers events/runs --store` to read the journal."
  value       = local.store_url
}

output "status_tick_job" {
  description = "Cloud Scheduler job publishing the status tick."
  value       = google_cloud_scheduler_job.status_tick.name
}

output "push_service_accounts" {
  description = "Push identity of each CloudEvent function: the only account holding roles/run.invoker on it."
  value       = { for stage, sa in google_service_account.push : stage => sa.email }
}

output "memory_sizing" {
  description = "Per stage, its memory and the memory its requests need at worst with max_body_bytes, in MiB."
  value       = local.memory_sizing

  precondition {
    condition     = alltrue([for s in values(local.memory_sizing) : s.needed_mib < s.memory_mib])
    error_message = "A function's memory does not cover max_body_bytes: raise its memory_mib in functions.tf or lower max_body_bytes (see memory_sizing)."
  }
}

output "ingest_secrets" {
  description = "The webhook secrets mounted on the ingest function (verify_at_ingest_secrets)."
  value       = var.verify_at_ingest_secrets

  precondition {
    condition     = alltrue([for name in var.verify_at_ingest_secrets : contains(keys(var.webhook_secrets), name)])
    error_message = "Every name in verify_at_ingest_secrets must be a key of webhook_secrets."
  }
}

output "log_metric_types" {
  description = "Cloud Monitoring metric type of each metric of the engine's catalog (log-based, from the functions' metric log lines); empty with metrics = \"off\"."
  value       = { for name, m in google_logging_metric.kfpt : name => local.log_metrics[name].type }
}

output "dashboard" {
  description = "The Cloud Monitoring dashboard of this deployment (its resource id), or null with metrics = \"off\"."
  value       = one(google_monitoring_dashboard.kfpt[*].id)
}
