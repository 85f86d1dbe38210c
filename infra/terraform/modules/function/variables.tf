# Inputs of one kfp-triggers function: its source bundle, runtime settings, secrets and, for a
# CloudEvent stage, the topic it reads.

variable "project" {
  description = "Project of the function and its subscription."
  type        = string
}

variable "region" {
  description = "Region of the function."
  type        = string
}

variable "name" {
  description = "Function name; also the Cloud Run service name and the subscription name."
  type        = string
}

variable "description" {
  description = "Human-readable description of the function."
  type        = string
  default     = ""
}

variable "entry_point" {
  description = "Name of the function in main.py (functions-framework --target)."
  type        = string
}

variable "runtime" {
  description = "Cloud Run functions runtime, for example python311."
  type        = string
}

variable "source_dir" {
  description = "The stage's bundle directory: main.py, requirements.txt, kfp_triggers/ and config/ at its root."
  type        = string
}

variable "bucket" {
  description = "Bucket the zipped source is uploaded to."
  type        = string
}

variable "build_service_account" {
  description = "Service account Cloud Build uses (projects/<p>/serviceAccounts/<email>); null for the default."
  type        = string
  default     = null
}

variable "service_account_email" {
  description = "Identity the function runs as."
  type        = string
}

variable "memory" {
  description = "Memory of one instance, for example 256Mi."
  type        = string
  default     = "256Mi"
}

variable "concurrency" {
  description = "Requests one instance serves at once. The memory must cover this many requests with the largest body (see memory_sizing in the root module)."
  type        = number
  default     = 1
}

variable "timeout_seconds" {
  description = "Longest time one request may take; also the push subscription's ack deadline (capped at 600)."
  type        = number
  default     = 60
}

variable "max_instance_count" {
  description = "Upper bound of instances."
  type        = number
  default     = 20
}

variable "min_instance_count" {
  description = "Instances kept warm; 0 lets the function scale to zero."
  type        = number
  default     = 0
}

variable "ingress_settings" {
  description = "ALLOW_ALL for the webhook; ALLOW_INTERNAL_ONLY for functions only Pub/Sub calls."
  type        = string
  default     = "ALLOW_INTERNAL_ONLY"

  validation {
    condition     = contains(["ALLOW_ALL", "ALLOW_INTERNAL_ONLY"], var.ingress_settings)
    error_message = "ingress_settings must be ALLOW_ALL (the webhook) or ALLOW_INTERNAL_ONLY."
  }
}

variable "vpc_connector" {
  description = "Serverless VPC Access connector for private egress; null for none."
  type        = string
  default     = null
}

variable "environment" {
  description = "Environment variables (the KFPT_* settings)."
  type        = map(string)
  default     = {}
}

variable "secret_volumes" {
  description = "Secret Manager secrets mounted as files: mount_path (/secrets/<secretName>), secret id, project_id, and versions as {file name = version}."
  type = list(object({
    mount_path = string
    secret     = string
    project_id = string
    versions   = map(string)
  }))
  default = []
}

variable "labels" {
  description = "Labels of the function and its subscription."
  type        = map(string)
  default     = {}
}

variable "input_topic" {
  description = "Topic id (projects/<p>/topics/<t>) whose messages are pushed to this function; null for an HTTP-only function."
  type        = string
  default     = null
}

variable "dead_letter_topic" {
  description = "Topic id that receives messages this function failed on max_delivery_attempts times."
  type        = string
  default     = null
}

variable "push_service_account" {
  description = "Service account whose OIDC token Pub/Sub presents to the function: this subscription's own, the only identity holding roles/run.invoker on the function."
  type        = string
  default     = null
}

variable "max_delivery_attempts" {
  description = "Deliveries before a message is dead-lettered (5 to 100)."
  type        = number
  default     = 5
}

variable "retry_min_backoff" {
  description = "Shortest wait before a redelivery."
  type        = string
  default     = "10s"
}

variable "retry_max_backoff" {
  description = "Longest wait between redeliveries."
  type        = string
  default     = "600s"
}
