# The five functions: one module call per stage over a declarative map. Each stage deploys its own
# bundle directory (infra/bundle.py), so ingest ships without the launchers' dependencies and a
# change to one bundle redeploys only that function.

data "google_project" "this" {
  project_id = var.project
}

resource "google_project_service" "api" {
  for_each = var.enable_apis ? toset([
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudscheduler.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ]) : toset([])

  project            = var.project
  service            = each.value
  disable_on_destroy = false
}

resource "google_storage_bucket" "sources" {
  count = var.source_bucket == null ? 1 : 0

  project                     = var.project
  name                        = "${var.project}-${var.prefix}-sources"
  location                    = var.region
  labels                      = var.labels
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
}

locals {
  bundle_dir    = coalesce(var.bundle_dir, "${path.root}/../../build/functions")
  source_bucket = var.source_bucket != null ? var.source_bucket : google_storage_bucket.sources[0].name

  store_url = (
    var.firestore_database == "(default)"
    ? "firestore://${var.project}"
    : "firestore://${var.project}/${var.firestore_database}"
  )

  # Where secrets are mounted: <secrets dir>/<secretName>/<key>, the layout the engine reads.
  secrets_dir = "/secrets"

  # The stages. input_topic/output_topic follow kfp_triggers.wire.eventtypes.HOPS, each topic carrying
  # this deployment's prefix (KFPT_TOPIC_PREFIX, below); extra_output_topics are the other topics a
  # stage publishes on, per HOPS too (status hands queued run requests back to launch when a
  # concurrency slot frees), and get a publisher grant like output_topic (iam.tf); uses_store marks
  # the stages that read or write the journal, ledger and runs; uses_launcher the ones that talk to
  # the pipeline backend; uses_notifiers the one that reports run states back (GitHub statuses).
  #
  # Memory: memory_mib must cover memory_sizing (below) for max_body_bytes. body_factor is the
  # peak of one request per byte of webhook body, for the worst body an unauthenticated sender
  # can choose (a JSON array of tiny objects decodes into about 30 bytes of Python objects per
  # byte): measured 31 for ingest and render and 48 for intercept (the event, the body and CEL's
  # view of it), counted as 36, 48 and 36; launch and status never see the body. Each instance
  # serves one request at a time (concurrency), so with the 4 MiB default: ingest and render
  # 64 + 36 x 4 = 208 Mi < 256 Mi, intercept 64 + 48 x 4 = 256 Mi < 512 Mi.
  stages = {
    ingest = {
      entry_point         = "ingest_webhook"
      input_topic         = null
      output_topic        = "${var.prefix}-events"
      extra_output_topics = []
      memory_mib          = 256
      concurrency         = 1
      body_factor         = 36
      timeout             = 60
      uses_store          = false
      uses_launcher       = false
      uses_notifiers      = false
    }
    intercept = {
      entry_point         = "intercept_event"
      input_topic         = "${var.prefix}-events"
      output_topic        = "${var.prefix}-matched"
      extra_output_topics = []
      memory_mib          = 512
      concurrency         = 1
      body_factor         = 48
      timeout             = 120
      uses_store          = true
      uses_launcher       = false
      uses_notifiers      = false
    }
    render = {
      entry_point         = "render_run"
      input_topic         = "${var.prefix}-matched"
      output_topic        = "${var.prefix}-launch"
      extra_output_topics = []
      memory_mib          = 256
      concurrency         = 1
      body_factor         = 36
      timeout             = 60
      uses_store          = true
      uses_launcher       = false
      uses_notifiers      = false
    }
    launch = {
      entry_point         = "launch_run"
      input_topic         = "${var.prefix}-launch"
      output_topic        = "${var.prefix}-runs"
      extra_output_topics = []
      memory_mib          = 512
      concurrency         = 1
      body_factor         = 0
      timeout             = 300
      uses_store          = true
      uses_launcher       = true
      uses_notifiers      = false
    }
    status = {
      entry_point         = "collect_status"
      input_topic         = "${var.prefix}-runs"
      output_topic        = "${var.prefix}-run-states"
      extra_output_topics = ["${var.prefix}-launch", "${var.prefix}-events"]
      memory_mib          = 512
      concurrency         = 1
      body_factor         = 0
      timeout             = 300
      uses_store          = true
      uses_launcher       = true
      uses_notifiers      = true
    }
  }

  # Settings every function gets (see kfp_triggers.app.runtime.Settings and the factories).
  common_env = {
    KFPT_TRANSPORT      = "pubsub"
    KFPT_PUBSUB_PROJECT = var.project
    KFPT_STORE          = local.store_url
    KFPT_CONFIG         = var.config_dir
    KFPT_SECRETS_DIR    = local.secrets_dir
    KFPT_RETENTION_DAYS = tostring(var.retention_days)
    KFPT_TOPIC_PREFIX   = var.prefix
    KFPT_MAX_BODY_BYTES = tostring(var.max_body_bytes)
    # Bodies over the claim-check threshold wait in the bucket of bodies.tf.
    KFPT_CLAIM_CHECK_BYTES = tostring(var.claim_check_bytes)
    KFPT_BODY_STORE        = local.body_store_url
    # Each metric value is a log line the log-based metrics of monitoring.tf count (kfp_triggers.metrics).
    KFPT_METRICS = var.metrics
    # Every stage signs what it publishes and checks what it receives (kfp_triggers.wire.messageauth).
    KFPT_MESSAGE_KEY_SECRET = var.message_key_secret != null ? "${local.message_key.name}/${local.message_key.key}" : null
  }

  # The memory each stage needs at its worst: a baseline of 64 Mi per instance, and per request
  # in flight body_factor times the largest body ingest accepts (outputs.tf refuses a plan where a
  # stage's memory_mib falls short).
  memory_sizing = {
    for stage, s in local.stages : stage => {
      memory_mib = s.memory_mib
      needed_mib = 64 + s.concurrency * s.body_factor * var.max_body_bytes / 1048576
    }
  }

  # Settings of the launcher, for the stages that start or follow runs.
  launcher_env = {
    KFPT_LAUNCHER               = var.launcher
    KFPT_KFP_HOST               = var.launcher == "kfp" ? var.kfp_host : null
    KFPT_KFP_NAMESPACE          = var.launcher == "kfp" ? var.kfp_namespace : null
    KFPT_KFP_UI_HOST            = var.launcher == "kfp" ? var.kfp_ui_host : null
    KFPT_KFP_TOKEN_FILE         = var.launcher == "kfp" && var.kfp_token_secret != null ? "${local.secrets_dir}/kfp-token/token" : null
    KFPT_VERTEX_PROJECT         = var.launcher == "vertex" ? var.project : null
    KFPT_VERTEX_LOCATION        = var.launcher == "vertex" ? coalesce(var.vertex_location, var.region) : null
    KFPT_VERTEX_PIPELINE_ROOT   = var.launcher == "vertex" ? var.vertex_pipeline_root : null
    KFPT_VERTEX_SERVICE_ACCOUNT = var.launcher == "vertex" ? var.vertex_service_account : null
  }

  # GitHub commit statuses, posted by the status stage (kfp_triggers.adapters.notifiers): the token is the
  # file <secrets dir>/<github_token.name>/<github_token.key>, which KFPT_GITHUB_TOKEN_SECRET names.
  # Both are unset (so the notifier is off) without github_token_secret.
  github_token = { name = "github-token", key = "token" }
  message_key  = { name = "message-key", key = "key" }
  dispatch_key = { name = "dispatch-key", key = "key" }
  notifier_env = {
    KFPT_GITHUB_TOKEN_SECRET = var.github_token_secret != null ? "${local.github_token.name}/${local.github_token.key}" : null
    KFPT_GITHUB_API_URL      = var.github_token_secret != null ? var.github_api_url : null
  }

  # Secret volumes per stage: the webhook secrets on intercept (and those named in
  # verify_at_ingest_secrets on ingest too), the KFP token on launch and status, the GitHub token
  # on status only.
  webhook_volumes = [
    for name, s in var.webhook_secrets : {
      name       = name
      secret     = s.secret
      project_id = coalesce(s.project_id, data.google_project.this.number)
      versions   = s.keys
    }
  ]
  kfp_token_volumes = var.launcher == "kfp" && var.kfp_token_secret != null ? [{
    name       = "kfp-token"
    secret     = var.kfp_token_secret
    project_id = data.google_project.this.number
    versions   = tomap({ token = "latest" })
  }] : []
  github_token_volumes = var.github_token_secret != null ? [{
    name       = local.github_token.name
    secret     = var.github_token_secret
    project_id = data.google_project.this.number
    versions   = tomap({ (local.github_token.key) = "latest" })
  }] : []
  message_key_volumes = var.message_key_secret != null ? [{
    name       = local.message_key.name
    secret     = var.message_key_secret
    project_id = data.google_project.this.number
    versions   = tomap({ (local.message_key.key) = "latest" })
  }] : []
  # The dispatch key is launch's alone: what it signs is taken as a manual run (kfp_triggers.app.dispatch).
  dispatch_key_volumes = var.dispatch_key_secret != null ? [{
    name       = local.dispatch_key.name
    secret     = var.dispatch_key_secret
    project_id = data.google_project.this.number
    versions   = tomap({ (local.dispatch_key.key) = "latest" })
  }] : []
  stage_secrets = {
    for stage, s in local.stages : stage => concat(
      local.message_key_volumes,
      stage == "launch" ? local.dispatch_key_volumes : [],
      stage == "intercept" ? local.webhook_volumes : [],
      stage == "ingest" ? [for v in local.webhook_volumes : v if contains(var.verify_at_ingest_secrets, v.name)] : [],
      s.uses_launcher ? local.kfp_token_volumes : [],
      s.uses_notifiers ? local.github_token_volumes : [],
    )
  }

  functions = {
    for stage, s in local.stages : stage => merge(s, {
      name       = "${var.prefix}-${stage}"
      source_dir = "${local.bundle_dir}/${stage}"
      environment = {
        for k, v in merge(
          local.common_env,
          # Launch claims last a quarter of the stage's time limit (see kfp_triggers.stages.lease).
          { KFPT_STAGE_TIMEOUT_S = tostring(s.timeout) },
          {
            KFPT_DISPATCH_KEY_SECRET = stage == "launch" && var.dispatch_key_secret != null ? "${local.dispatch_key.name}/${local.dispatch_key.key}" : null
          },
          { for name, value in local.launcher_env : name => value if s.uses_launcher },
          { for name, value in local.notifier_env : name => value if s.uses_notifiers },
          var.extra_env,
        ) : k => tostring(v) if v != null && v != ""
      }
      secret_volumes = [
        for v in local.stage_secrets[stage] : {
          mount_path = "${local.secrets_dir}/${v.name}"
          secret     = v.secret
          project_id = tostring(v.project_id)
          versions   = v.versions
        }
      ]
    })
  }
}

module "function" {
  source   = "./modules/function"
  for_each = local.functions

  project               = var.project
  region                = var.region
  name                  = each.value.name
  description           = "kfp-triggers ${each.key} stage"
  entry_point           = each.value.entry_point
  runtime               = var.runtime
  source_dir            = each.value.source_dir
  bucket                = local.source_bucket
  build_service_account = var.build_service_account
  service_account_email = google_service_account.function[each.key].email
  memory                = "${each.value.memory_mib}Mi"
  concurrency           = each.value.concurrency
  timeout_seconds       = each.value.timeout
  max_instance_count    = var.max_instance_count
  min_instance_count    = each.key == "ingest" ? var.ingest_min_instances : 0
  ingress_settings      = each.key == "ingest" ? "ALLOW_ALL" : "ALLOW_INTERNAL_ONLY"
  vpc_connector         = each.value.uses_launcher ? var.vpc_connector : null
  environment           = each.value.environment
  secret_volumes        = each.value.secret_volumes
  labels                = merge(var.labels, { "kfpt-stage" = each.key })

  # The push subscription that feeds a CloudEvent stage; ingest has none (it is the webhook).
  input_topic           = each.value.input_topic == null ? null : google_pubsub_topic.topic[each.value.input_topic].id
  dead_letter_topic     = each.value.input_topic == null ? null : google_pubsub_topic.dead_letter[each.value.input_topic].id
  push_service_account  = each.value.input_topic == null ? null : google_service_account.push[each.key].email
  max_delivery_attempts = var.max_delivery_attempts
  retry_min_backoff     = var.retry_min_backoff
  retry_max_backoff     = var.retry_max_backoff

  depends_on = [
    google_project_service.api,
    google_secret_manager_secret_iam_member.accessor,
  ]
}
