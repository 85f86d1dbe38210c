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
