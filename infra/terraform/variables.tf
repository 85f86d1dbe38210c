# Inputs of the kfp-triggers deployment on Google Cloud. Only `project` is required; the defaults
# deploy the five functions with the dry-run launcher, which records what it would start.

variable "project" {
  description = "Google Cloud project id to deploy into. Topics, functions, Firestore and the scheduler job all live here."
  type        = string
}

variable "region" {
  description = "Region of the functions, the scheduler job and the source bucket (for example europe-west1)."
  type        = string
  default     = "us-central1"
}

variable "prefix" {
  description = "Prefix of every named resource this module creates (functions, service accounts, topics, subscriptions, scheduler job); the functions get it as KFPT_TOPIC_PREFIX. Give each deployment sharing a project its own prefix (and its own firestore_database)."
  type        = string
  default     = "kfpt"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,14}$", var.prefix))
    error_message = "prefix must be 1-15 lowercase letters, digits or dashes, starting with a letter (service account ids are <prefix>-<stage> and <prefix>-push-<stage>, at most 30 characters)."
  }
}

variable "enable_apis" {
  description = "Enable the Google APIs the deployment needs. Turn off when a platform team manages project services."
  type        = bool
  default     = true
}

variable "labels" {
  description = "Labels added to the functions, topics, subscriptions and bucket."
  type        = map(string)
  default     = {}
}

variable "source_bucket" {
  description = "Existing Cloud Storage bucket for the zipped function sources. Null creates <project>-<prefix>-sources in the region."
  type        = string
  default     = null
}

variable "bundle_dir" {
  description = "Directory holding one bundle per stage, as written by `make bundle` (infra/bundle.py). Null means build/functions at the repository root."
  type        = string
  default     = null
}

variable "config_dir" {
  description = "KFPT_CONFIG inside each bundle: where the listener configuration sits relative to main.py. infra/bundle.py writes it to config/."
  type        = string
  default     = "config"
}

variable "runtime" {
  description = "Cloud Run functions Python runtime. The pinned requirements are tested on Python 3.11."
  type        = string
  default     = "python311"
}

variable "build_service_account" {
  description = "Service account (full resource name projects/<p>/serviceAccounts/<email>) Cloud Build uses to build the functions. Null uses the project's default build account."
  type        = string
  default     = null
}

variable "max_instance_count" {
  description = "Upper bound of instances per function."
  type        = number
  default     = 20
}

variable "ingest_min_instances" {
  description = "Instances of the ingest function kept warm, so webhook senders do not wait for a cold start."
  type        = number
  default     = 0
}

variable "ingest_public" {
  description = "Let anyone invoke the ingest function (roles/run.invoker for allUsers). Webhook senders such as GitHub cannot present Google credentials; requests are authenticated by the listener's interceptors (signatures, tokens). An organisation policy restricting allUsers blocks this."
  type        = bool
  default     = true
}

variable "vpc_connector" {
  description = "Serverless VPC Access connector (projects/<p>/locations/<r>/connectors/<name>) for the launch and status functions, when the KFP API is only reachable inside a VPC. Null means none."
  type        = string
  default     = null
}

variable "launcher" {
  description = "KFPT_LAUNCHER of the launch and status functions: kfp (a KFP API server), vertex (Vertex AI Pipelines) or dry-run (record what would be started). The local launcher runs pipelines in-process and is not offered here."
  type        = string
  default     = "dry-run"

  validation {
    condition     = contains(["kfp", "vertex", "dry-run"], var.launcher)
    error_message = "launcher must be kfp, vertex or dry-run."
  }
}

variable "kfp_host" {
  description = "KFPT_KFP_HOST: base URL of the KFP API (for example https://kfp.example.com/pipeline). Required when launcher is kfp."
  type        = string
  default     = null
}

variable "kfp_namespace" {
  description = "KFPT_KFP_NAMESPACE: the profile namespace of a multi-user KFP. Null for single-user KFP."
  type        = string
  default     = null
}

variable "kfp_ui_host" {
  description = "KFPT_KFP_UI_HOST: base of the run links reported back. Null uses kfp_host."
  type        = string
  default     = null
}

variable "kfp_token_secret" {
  description = "Secret Manager secret id holding a bearer token for the KFP API. It is mounted on the launch and status functions at /secrets/kfp-token/token and named by KFPT_KFP_TOKEN_FILE; the file is re-read on every call, so rotating the secret needs no redeploy. Null sends no token."
  type        = string
  default     = null
}

variable "github_token_secret" {
  description = "Secret Manager secret id holding a GitHub token the status function posts commit statuses with (a fine-grained personal access token with \"Commit statuses: write\" or a classic one with repo:status). It is mounted on the status function only, at /secrets/github-token/token, and named by KFPT_GITHUB_TOKEN_SECRET=github-token/token; only the status function's service account may read it. The file is re-read for every status, so rotating the secret needs no redeploy. Null (the default) posts no commit statuses."
  type        = string
  default     = null

  validation {
    condition     = var.github_token_secret == null || can(regex("^[A-Za-z0-9_-]{1,255}$", var.github_token_secret))
    error_message = "github_token_secret must be a Secret Manager secret id (letters, digits, _ and -), not a resource name or a version."
  }
}

variable "message_key_secret" {
  description = "Secret Manager secret id holding the key every stage signs its messages with and checks its inputs against (KFPT_MESSAGE_KEY_SECRET; 32 random bytes or more, for example `openssl rand -base64 48`). It is mounted on all five functions at /secrets/message-key/key, and each function's service account may read it. Null (the default) leaves messages unsigned: IAM alone then decides who may reach a stage."
  type        = string
  default     = null

  validation {
    condition     = var.message_key_secret == null || can(regex("^[A-Za-z0-9_-]{1,255}$", var.message_key_secret))
    error_message = "message_key_secret must be a Secret Manager secret id (letters, digits, _ and -), not a resource name or a version."
  }
}

variable "dispatch_key_secret" {
  description = "Secret Manager secret id holding the key `kfp-triggers dispatch` and `rerun` sign run requests with (KFPT_DISPATCH_KEY_SECRET; 32 random bytes or more). It is mounted on the launch function only, which takes what it signs as manual runs with an origin of its own; give it to whoever may start runs by hand instead of the message key. Null (the default): a dispatch to a signed deployment needs the message key."
  type        = string
  default     = null

  validation {
    condition     = var.dispatch_key_secret == null || can(regex("^[A-Za-z0-9_-]{1,255}$", var.dispatch_key_secret))
    error_message = "dispatch_key_secret must be a Secret Manager secret id (letters, digits, _ and -), not a resource name or a version."
  }
}

variable "github_api_url" {
  description = "KFPT_GITHUB_API_URL of the status function, for GitHub Enterprise Server: its REST API root, https://<host>/api/v3/. Null uses https://api.github.com/. Only set together with github_token_secret."
  type        = string
  default     = null

  validation {
    condition     = var.github_api_url == null || can(regex("^https?://[^/?#]+", var.github_api_url))
    error_message = "github_api_url must be an http(s) URL such as https://github.example.com/api/v3/."
  }
}

variable "vertex_location" {
  description = "KFPT_VERTEX_LOCATION: the Vertex AI region pipelines run in. Null uses region."
  type        = string
  default     = null
}

variable "vertex_pipeline_root" {
  description = "KFPT_VERTEX_PIPELINE_ROOT: default gs:// output directory of Vertex AI pipeline jobs."
  type        = string
  default     = null
}

variable "vertex_service_account" {
  description = "KFPT_VERTEX_SERVICE_ACCOUNT: the service account email Vertex AI pipeline jobs run as. The launch function's account gets roles/iam.serviceAccountUser on it."
  type        = string
  default     = null
}

variable "webhook_secrets" {
  description = <<-EOT
    Secrets the listener's interceptors read (secretRef.secretName / secretRef.secretKey), mounted on
    the intercept function (and, for those named in verify_at_ingest_secrets, on ingest) in the
    <secretName>/<key> layout the engine reads from KFPT_SECRETS_DIR.
    The map key is the secretName; `secret` is the Secret Manager secret id (in `project`, or
    `project_id` if given); `keys` maps each secretKey (the file name) to a version ("latest" or a
    number). All keys of one secretName are versions of the same Secret Manager secret, because a
    mount path holds one secret. Example:
      { "github-webhook" = { secret = "github-webhook", keys = { secret = "latest" } } }
    mounts /secrets/github-webhook/secret.
  EOT
  type = map(object({
    secret     = string
    keys       = map(string)
    project_id = optional(string)
  }))
  default = {}

  validation {
    condition     = alltrue([for name, s in var.webhook_secrets : can(regex("^[a-z0-9][a-z0-9.-]*$", name)) && length(s.keys) > 0])
    error_message = "webhook_secrets keys must be Kubernetes-style secret names and each must list at least one key."
  }
}

variable "verify_at_ingest_secrets" {
  description = "Names (keys of webhook_secrets) of the webhook secrets the ingest function mounts too, for listeners annotated kfp-triggers.dev/verify-at-ingest: \"true\", whose signatures ingest checks itself. Only these secrets reach ingest, and only they are readable by its service account. Empty (the default): ingest holds no secret, and such listeners' requests are checked at intercept only."
  type        = list(string)
  default     = []
}

variable "max_body_bytes" {
  description = "KFPT_MAX_BODY_BYTES: the largest webhook body ingest accepts (413 above it). The functions' memory is sized for it (memory_sizing in functions.tf; a plan whose sizing falls short is refused). At most 7 MiB: a Pub/Sub message holds about 7.4 MB of body once base64-encoded."
  type        = number
  default     = 4194304

  validation {
    condition     = var.max_body_bytes >= 1024 && var.max_body_bytes <= 7340032 && floor(var.max_body_bytes) == var.max_body_bytes
    error_message = "max_body_bytes must be a whole number of bytes from 1024 to 7340032 (7 MiB)."
  }
}

variable "extra_env" {
  description = "More KFPT_* settings for every function (for example KFPT_MAX_EVENT_AGE_S, KFPT_PUBLISH_TIMEOUT). They override the defaults set here. The body limit is max_body_bytes, not a setting here."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.extra_env) : startswith(k, "KFPT_")])
    error_message = "extra_env only takes KFPT_* settings."
  }

  validation {
    condition     = !contains(keys(var.extra_env), "KFPT_MAX_BODY_BYTES")
    error_message = "Set the body limit with max_body_bytes (the functions' memory is sized for it), not in extra_env."
  }

  validation {
    condition     = length(setintersection(keys(var.extra_env), ["KFPT_METRICS", "KFPT_METRICS_PORT"])) == 0
    error_message = "Set metrics with the metrics variable, not in extra_env: a function cannot be scraped, so its metrics are log lines or nothing."
  }
}

variable "metrics" {
  description = "KFPT_METRICS of every function: log (each metric value is a JSON log line, counted by the log-based metrics of monitoring.tf, which also creates the dashboard and the silent-listener alert) or off (no metric lines, no log-based metrics, no dashboard)."
  type        = string
  default     = "log"

  validation {
    condition     = contains(["log", "off"], var.metrics)
    error_message = "metrics must be log or off (a function cannot be scraped, so prometheus is not offered)."
  }
}

variable "alerts" {
  description = "Create the alert policies: messages dead-lettered (from Pub/Sub's metrics) and, with metrics = \"log\", a listener that accepted no webhook for accepted_silence_window."
  type        = bool
  default     = true
}

variable "notification_channels" {
  description = "Notification channels the alert policies notify, as full names (projects/<project>/notificationChannels/<id>, see `gcloud beta monitoring channels list`). Empty (the default): incidents are opened in Cloud Monitoring but nobody is notified."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.notification_channels : can(regex("^projects/[^/]+/notificationChannels/[^/]+$", c))])
    error_message = "notification_channels must be full names: projects/<project>/notificationChannels/<id>."
  }
}

variable "accepted_silence_window" {
  description = "How long a listener may go without an accepted webhook (ingest answered 202) before the silent-listener alert fires: a duration in whole minutes, written in seconds (60s to 84600s, Cloud Monitoring's limit for a metric-absence condition)."
  type        = string
  default     = "3600s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.accepted_silence_window)) && try(tonumber(trimsuffix(var.accepted_silence_window, "s")) % 60 == 0 && tonumber(trimsuffix(var.accepted_silence_window, "s")) >= 60 && tonumber(trimsuffix(var.accepted_silence_window, "s")) <= 84600, false)
    error_message = "accepted_silence_window must be whole minutes in seconds, from 60s to 84600s (23.5 hours), such as 3600s."
  }
}

variable "claim_check_bytes" {
  description = "KFPT_CLAIM_CHECK_BYTES: a webhook body larger than this travels between the stages as a reference to the body bucket (0: every body inline, and an event must fit in a Pub/Sub message)."
  type        = number
  default     = 262144

  validation {
    condition     = var.claim_check_bytes >= 0 && var.claim_check_bytes <= 7000000 && floor(var.claim_check_bytes) == var.claim_check_bytes
    error_message = "claim_check_bytes must be a whole number from 0 to 7000000 (a larger body would not fit in a Pub/Sub message once base64-encoded)."
  }
}

variable "body_bucket" {
  description = "Name of the Cloud Storage bucket of large bodies (created here)."
  type        = string
  default     = null
}

variable "retention_days" {
  description = "KFPT_RETENTION_DAYS: days the event journal and completed idempotency records are kept before Firestore's TTL policies delete them. It must cover three times KFPT_MAX_EVENT_AGE_S (1 day by default), the slowest redelivery that can still reach launch; 0 keeps them for good."
  type        = number
  default     = 30

  validation {
    condition     = var.retention_days == 0 || (var.retention_days >= 3 && var.retention_days <= 36500)
    error_message = "retention_days must be 0 (keep for good) or 3 to 36500 days."
  }
}

variable "max_delivery_attempts" {
  description = "Deliveries of one message to a stage before Pub/Sub moves it to the topic's dead-letter topic (5 to 100)."
  type        = number
  default     = 5

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "Pub/Sub accepts 5 to 100 delivery attempts."
  }
}

variable "retry_min_backoff" {
  description = "Shortest wait before Pub/Sub redelivers a message a stage failed on (a duration such as 10s)."
  type        = string
  default     = "10s"
}

variable "retry_max_backoff" {
  description = "Longest wait between redeliveries; the wait grows exponentially up to it (at most 600s)."
  type        = string
  default     = "600s"
}

variable "dead_letter_retention" {
  description = "How long dead-lettered messages are kept on the dead-letter subscriptions (at most 31 days)."
  type        = string
  default     = "604800s"
}

variable "tick_schedule" {
  description = "Cron schedule of the status tick that makes the status function poll unfinished runs."
  type        = string
  default     = "* * * * *"
}

variable "tick_time_zone" {
  description = "Time zone of tick_schedule."
  type        = string
  default     = "Etc/UTC"
}

variable "create_firestore_database" {
  description = "Create the Firestore database. Turn off when it exists already (a project has at most one (default) database)."
  type        = bool
  default     = true
}

variable "firestore_database" {
  description = "Firestore database id the store uses (KFPT_STORE=firestore://<project>[/<database>])."
  type        = string
  default     = "(default)"
}

variable "firestore_location" {
  description = "Location of a created Firestore database (a region such as europe-west1, or a multi-region such as nam5). Null uses region."
  type        = string
  default     = null
}
