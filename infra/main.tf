# Shared values of the deployment: the functions meshlink registers, names, runtime settings, and the APIs it needs.

data "google_project" "this" {
  project_id = var.project_id
}

data "google_project" "fleet" {
  count      = var.enable_fleet ? 1 : 0
  project_id = local.fleet_project_id
}

locals {
  source_dir       = coalesce(var.source_dir, "${path.module}/..")
  fleet_project_id = coalesce(var.fleet_project_id, var.project_id)
  scheduler_region = coalesce(var.scheduler_region, var.region)
  project_number   = data.google_project.this.number
  labels           = merge(var.labels, { "managed-by" = "terraform", "app" = "meshlink" })

  # The entry points are those of functions/names.ts (FUNCTION_NAMES); test/infra checks both
  # sides agree. The HTTP function is google_cloudfunctions2_function.functions["api"].
  api_entry_point = "meshlinkApi"

  # Each event function is fed by one topic (named "<prefix>-<topic>") through a push
  # subscription of the same key, with a dead-letter topic of its own.
  event_functions = {
    sweep = {
      entry_point   = "meshlinkSweep"
      topic         = "schedule"
      max_instances = 1 # one sweep at a time: overlapping sweeps would only duplicate fan-out
    }
    "rotate-link" = {
      entry_point   = "meshlinkRotateLink"
      topic         = "rotation"
      max_instances = var.rotation_max_instances
    }
    "cluster-registration" = {
      entry_point   = "meshlinkClusterRegistration"
      topic         = "registration"
      max_instances = 3
    }
  }

  # Every function: the API and the event functions, one resource (functions.tf). What an entry
  # does not name is the event functions' (internal ingress: Pub/Sub push from this project).
  api_function = {
    api = {
      entry_point     = local.api_entry_point
      description     = "meshlink HTTP API: create, read, list, delete and force-rotate links."
      ingress         = var.api_ingress
      timeout_seconds = var.api_timeout_seconds
      max_instances   = var.api_max_instances
    }
  }
  functions = merge(local.api_function, local.event_functions)

  # Runtime configuration of every function (names listed in README.md).
  runtime_env = {
    MESHLINK_STORE                = "secret-manager"
    MESHLINK_PROJECT              = var.project_id
    MESHLINK_PROJECT_NUMBER       = local.project_number
    MESHLINK_SECRET_PREFIX        = var.secret_prefix
    MESHLINK_CLAIMS_BUCKET        = google_storage_bucket.claims.name
    MESHLINK_ROTATION_TOPIC       = google_pubsub_topic.feed["rotate-link"].id
    MESHLINK_CLUSTER_ACCESS       = join(",", compact([var.enable_gke ? "gke" : "", var.enable_fleet ? "fleet" : ""]))
    MESHLINK_FLEET_PROJECT        = var.enable_fleet ? local.fleet_project_id : ""
    MESHLINK_FLEET_PROJECT_NUMBER = var.enable_fleet ? data.google_project.fleet[0].number : ""
    MESHLINK_LOG_FORMAT           = "json"
    MESHLINK_LOG_LEVEL            = var.log_level
  }

  # dist/ is built before `terraform apply` (cloudbuild.yaml); the function build must not run
  # `npm run build` again (it would need the dev dependencies).
  build_env = {
    GOOGLE_NODE_RUN_SCRIPTS = ""
  }

  apis = concat(
    [
      "artifactregistry.googleapis.com",
      "cloudbuild.googleapis.com",
      "cloudfunctions.googleapis.com",
      "cloudresourcemanager.googleapis.com",
      "cloudscheduler.googleapis.com",
      "iam.googleapis.com",
      "logging.googleapis.com",
      "monitoring.googleapis.com",
      "pubsub.googleapis.com",
      "run.googleapis.com",
      "secretmanager.googleapis.com",
      "storage.googleapis.com",
    ],
    var.enable_gke ? ["container.googleapis.com"] : [],
    var.enable_fleet ? ["gkehub.googleapis.com", "connectgateway.googleapis.com"] : [],
  )
}

resource "google_project_service" "apis" {
  for_each = toset(local.apis)

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
