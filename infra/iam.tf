# Identities and least-privilege grants: the functions' runtime identity, the push identity, the build identity.

locals {
  role_prefix = replace(var.prefix, "-", "_")

  # Secret Manager IAM conditions see names in project-number form; versions
  # (".../secrets/NAME/versions/N") match the same prefix.
  own_secrets_condition = "resource.name.startsWith(\"projects/${local.project_number}/secrets/${var.secret_prefix}-\")"
}

resource "google_service_account" "accounts" {
  for_each = {
    runtime = { display_name = "meshlink functions (runtime)", description = "Runtime identity of the meshlink functions." }
    push    = { display_name = "meshlink Pub/Sub push", description = "Identity in the OIDC token of meshlink's push subscriptions; may only invoke the event functions." }
    build   = { display_name = "meshlink function builds", description = "Cloud Build identity that builds the meshlink function images." }
  }

  project      = var.project_id
  account_id   = "${var.prefix}-${each.key}"
  display_name = each.value.display_name
  description  = each.value.description

  depends_on = [google_project_service.apis]
}

# The accounts were one resource each: their state moves to the instances, nothing is replaced.
moved {
  from = google_service_account.runtime
  to   = google_service_account.accounts["runtime"]
}

moved {
  from = google_service_account.push
  to   = google_service_account.accounts["push"]
}

moved {
  from = google_service_account.build
  to   = google_service_account.accounts["build"]
}

# --- Secret Manager: meshlink's own secrets only -----------------------------------------------

# Read and update metadata (renewal annotations, etag preconditions) and delete meshlink's secrets.
resource "google_project_iam_custom_role" "secret_keeper" {
  project     = var.project_id
  role_id     = "${local.role_prefix}_secretKeeper"
  title       = "meshlink secret keeper"
  description = "Get, update and delete a secret; granted with a condition on meshlink's secret prefix."
  permissions = [
    "secretmanager.secrets.get",
    "secretmanager.secrets.update",
    "secretmanager.secrets.delete",
  ]

  depends_on = [google_project_service.apis]
}

# Everything the runtime does to meshlink's own secrets, under the one name condition: read
# payloads, add/enable/disable/destroy versions, and the secret keeper's metadata and delete.
# Keyed by name, not role: the custom role's id is known only after it is created.
resource "google_project_iam_member" "runtime_own_secrets" {
  for_each = {
    "roles/secretmanager.secretAccessor"       = "roles/secretmanager.secretAccessor"
    "roles/secretmanager.secretVersionManager" = "roles/secretmanager.secretVersionManager"
    secret_keeper                              = google_project_iam_custom_role.secret_keeper.id
  }

  project = var.project_id
  role    = each.value
  member  = google_service_account.accounts["runtime"].member

  condition {
    title       = "meshlink-own-secrets"
    description = "Only secrets whose id starts with ${var.secret_prefix}-"
    expression  = local.own_secrets_condition
  }
}

moved {
  from = google_project_iam_member.runtime_secret_keeper
  to   = google_project_iam_member.runtime_own_secrets["secret_keeper"]
}

# secrets.create and secrets.list are checked on the project, where a name condition cannot apply:
# they get a role of their own, holding nothing else. Listing returns metadata, never payloads.
resource "google_project_iam_custom_role" "secret_catalog" {
  project     = var.project_id
  role_id     = "${local.role_prefix}_secretCatalog"
  title       = "meshlink secret catalog"
  description = "Create secrets and list secret metadata (no payload access)."
  permissions = [
    "secretmanager.secrets.create",
    "secretmanager.secrets.list",
  ]

  depends_on = [google_project_service.apis]
}

resource "google_project_iam_member" "runtime_secret_catalog" {
  project = var.project_id
  role    = google_project_iam_custom_role.secret_catalog.id
  member  = google_service_account.accounts["runtime"].member
}

# --- Clusters ----------------------------------------------------------------------------------

# GKE: read the cluster endpoint and CA, nothing inside the cluster. What meshlink may touch in a
# cluster is granted there by Kubernetes RBAC (rbac/meshlink-rbac.yaml), never by
# roles/container.developer, which opens every Secret of every cluster in the project.
resource "google_project_iam_custom_role" "cluster_access" {
  count = var.enable_gke ? 1 : 0

  project     = var.project_id
  role_id     = "${local.role_prefix}_clusterAccess"
  title       = "meshlink cluster access"
  description = "Get a GKE cluster's endpoint and credentials; in-cluster rights come from RBAC."
  permissions = [
    "container.clusters.get",
    "container.clusters.getCredentials",
  ]

  depends_on = [google_project_service.apis]
}

resource "google_project_iam_member" "runtime_cluster_access" {
  count = var.enable_gke ? 1 : 0

  project = var.project_id
  role    = google_project_iam_custom_role.cluster_access[0].id
  member  = google_service_account.accounts["runtime"].member
}

# Fleet: read memberships, and send read and write verbs through the Connect gateway (cluster
# RBAC still decides what they may do).
resource "google_project_iam_member" "runtime_fleet_viewer" {
  count = var.enable_fleet ? 1 : 0

  project = local.fleet_project_id
  role    = "roles/gkehub.viewer"
  member  = google_service_account.accounts["runtime"].member
}

resource "google_project_iam_member" "runtime_fleet_gateway" {
  count = var.enable_fleet ? 1 : 0

  project = local.fleet_project_id
  role    = "roles/gkehub.gatewayEditor"
  member  = google_service_account.accounts["runtime"].member
}

# --- Pub/Sub -----------------------------------------------------------------------------------

# The sweep fans due links out on the rotation topic; the functions publish nowhere else.
resource "google_pubsub_topic_iam_member" "runtime_rotation_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.feed["rotate-link"].name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.accounts["runtime"].member
}

# The push identity may invoke the event functions and nothing else.
resource "google_cloud_run_v2_service_iam_member" "push_invoker" {
  for_each = local.event_functions

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.functions[each.key].name
  role     = "roles/run.invoker"
  member   = google_service_account.accounts["push"].member
}

# The HTTP API: only the principals listed in var.api_invokers.
resource "google_cloud_run_v2_service_iam_member" "api_invoker" {
  for_each = toset(var.api_invokers)

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.functions["api"].name
  role     = "roles/run.invoker"
  member   = each.value
}

# --- Build -------------------------------------------------------------------------------------
# Roles the Cloud Run functions documentation lists for a user-specified build service account
# (logs writer, Artifact Registry writer, storage object access), each on the narrowest scope.

resource "google_project_iam_member" "build_log_writer" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = google_service_account.accounts["build"].member
}

resource "google_artifact_registry_repository_iam_member" "build_writer" {
  project    = var.project_id
  location   = google_artifact_registry_repository.functions.location
  repository = google_artifact_registry_repository.functions.name
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.accounts["build"].member
}

resource "google_storage_bucket_iam_member" "build_source_reader" {
  bucket = google_storage_bucket.source.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.accounts["build"].member
}

# The function build stages the source in Google-managed buckets named gcf-v2-sources-* and
# gcf-v2-uploads-*; the grant is limited to those buckets by name.
resource "google_project_iam_member" "build_staging_objects" {
  project = var.project_id
  role    = "roles/storage.objectAdmin"
  member  = google_service_account.accounts["build"].member

  condition {
    title       = "gcf-staging-buckets"
    description = "Only the Cloud Functions staging buckets"
    expression  = "resource.name.startsWith(\"projects/_/buckets/gcf-v2-\")"
  }
}
