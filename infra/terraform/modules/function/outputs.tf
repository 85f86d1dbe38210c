output "name" {
  description = "Function name."
  value       = google_cloudfunctions2_function.function.name
}

output "uri" {
  description = "HTTPS URL of the function."
  value       = google_cloudfunctions2_function.function.service_config[0].uri
}

output "service_name" {
  description = "Name of the Cloud Run service behind the function (for run.invoker bindings)."
  value       = google_cloudfunctions2_function.function.service_config[0].service
}

output "subscription_id" {
  description = "Id of the push subscription feeding the function; null for an HTTP-only function."
  value       = one(google_pubsub_subscription.input[*].id)
}

output "source_object" {
  description = "Bucket object holding the zipped source, named by its md5."
  value       = google_storage_bucket_object.source.name
}
